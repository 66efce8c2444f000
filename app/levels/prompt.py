"""Few-shot prompt: the scenario's system prompt, the k training examples closest to the
query (cosine similarity of their embeddings), then the query, on the base model.

The examples come from the scenario's example pool (`few_shot_dataset_id`; the latest dataset
when it names none), shown as the user and assistant turns they were written as: their own
system messages are left out, the scenario's system prompt speaks for the level.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.config import LevelPrice
from app.db.models import Dataset, Example, Scenario
from app.finetune.dataset import latest_dataset
from app.levels.base import Level, LevelInputs, LevelPlan, register
from app.rag.search import filtered_hnsw_scan
from app.scenarios.prompts import text_record


def example_pool(session: Session, scenario: Scenario) -> Dataset | None:
    """The dataset the examples are chosen from: the scenario's choice, else its latest."""
    if scenario.few_shot_dataset_id is not None:
        return session.get(Dataset, scenario.few_shot_dataset_id)
    return latest_dataset(session, scenario.id)


@register
class PromptLevel(Level):
    name = "prompt"
    description = "System prompt + k similar worked examples, base model"
    title = "the few-shot prompt"
    short_title = "the prompt"
    rank = 10  # the simplest: nothing to build, a prompt to edit
    default_price = LevelPrice(input_usd_per_mtok=0.15, output_usd_per_mtok=0.60)
    uses_query_embedding = True  # it picks the examples closest to the query's vector

    def plan(self, inputs: LevelInputs) -> LevelPlan:
        system_prompt = inputs.scenario.system_prompt
        messages = [{"role": "system", "content": system_prompt}]
        dataset = example_pool(inputs.session, inputs.scenario)
        examples: list[dict[str, Any]] = []
        if dataset is not None and inputs.few_shot_k > 0:
            filtered_hnsw_scan(inputs.session, inputs.settings.hnsw_ef_search)
            distance = Example.embedding.cosine_distance(inputs.query_embedding)
            rows = inputs.session.execute(
                select(Example, distance)
                .where(Example.dataset_id == dataset.id, Example.split == "train")
                .order_by(distance)
                .limit(inputs.few_shot_k)
            ).all()
            for example, dist in rows:
                messages += [m for m in example.messages if m["role"] != "system"]
                examples.append(
                    {
                        "example_id": example.id,
                        "prompt": example.prompt,
                        "completion": example.completion,
                        "score": round(1 - float(dist), 4),
                    }
                )
        messages.append({"role": "user", "content": inputs.query})
        provenance = {
            "dataset_sha256": dataset.sha256 if dataset else None,
            "prompts": {"system_prompt": text_record(system_prompt)},
        }
        return LevelPlan(messages=messages, examples=examples, provenance=provenance)
