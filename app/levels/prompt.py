"""Few-shot prompt: the scenario's system prompt, k worked examples, then the query, on the
base model.

The examples come from the scenario's example pool (`few_shot_dataset_id`; the latest dataset
when it names none), from its train split, chosen by `few_shot_selection`:

- `nearest` (the default): the k examples closest to the query (cosine similarity of their
  embeddings), so each query gets its own;
- `fixed`: the train lines listed in `few_shot_examples` (1-based, in that order); k
  defaults to the list's length;
- `random`: k examples drawn once with `few_shot_seed` (NULL: 0), the same for every query.

They are shown as the user and assistant turns they were written as: their own system
messages are left out, the scenario's system prompt speaks for the level.
"""

from __future__ import annotations

import random
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.config import LevelPrice
from app.db.models import Dataset, Example, Scenario
from app.levels.base import Level, LevelInputs, LevelPlan, register
from app.rag.search import filtered_hnsw_scan
from app.scenarios.current import current_dataset
from app.scenarios.prompts import text_record

SELECTIONS = ("nearest", "fixed", "random")


def example_pool(session: Session, scenario: Scenario, dataset_id: int | None) -> Dataset | None:
    """The dataset the examples are chosen from: `dataset_id`, else the scenario's current
    one (app/scenarios/current.py)."""
    if dataset_id is not None:
        return session.get(Dataset, dataset_id)
    return current_dataset(session, scenario)


def chosen_positions(
    session: Session, dataset: Dataset, prompt: dict[str, Any], k: int
) -> list[int]:
    """The train positions (0-based) a `fixed` or `random` selection shows, in order."""
    if prompt["few_shot_selection"] == "fixed":
        return [line - 1 for line in prompt["few_shot_examples"] or []][:k]
    positions = session.scalars(
        select(Example.position)
        .where(Example.dataset_id == dataset.id, Example.split == "train")
        .order_by(Example.position)
    ).all()
    return random.Random(prompt["few_shot_seed"] or 0).sample(
        list(positions), min(k, len(positions))
    )


def choose_examples(
    inputs: LevelInputs, dataset: Dataset, prompt: dict[str, Any]
) -> list[tuple[Example, float]]:
    """The examples to show with their distance to the query."""
    distance = Example.embedding.cosine_distance(inputs.query_embedding)
    rows = select(Example, distance).where(
        Example.dataset_id == dataset.id, Example.split == "train"
    )
    if prompt["few_shot_selection"] == "nearest":
        filtered_hnsw_scan(inputs.session, inputs.settings.hnsw_ef_search)
        found = inputs.session.execute(rows.order_by(distance).limit(inputs.few_shot_k)).all()
        return [(example, float(dist)) for example, dist in found]
    positions = chosen_positions(inputs.session, dataset, prompt, inputs.few_shot_k)
    found = inputs.session.execute(rows.where(Example.position.in_(positions))).all()
    by_position = {example.position: (example, float(dist)) for example, dist in found}
    return [by_position[p] for p in positions if p in by_position]


@register
class PromptLevel(Level):
    name = "prompt"
    description = "System prompt + k worked examples, base model"
    title = "the few-shot prompt"
    short_title = "the prompt"
    rank = 10  # the simplest: nothing to build, a prompt to edit
    default_price = LevelPrice(input_usd_per_mtok=0.15, output_usd_per_mtok=0.60)
    uses_query_embedding = True  # it picks the examples closest to the query's vector
    prompt_fields = (
        "system_prompt",
        "few_shot_k",
        "few_shot_dataset_id",
        "few_shot_selection",
        "few_shot_seed",
        "few_shot_examples",
    )

    def plan(self, inputs: LevelInputs) -> LevelPlan:
        prompt = inputs.prompt(self.name)
        system_prompt = prompt["system_prompt"]
        messages = [{"role": "system", "content": system_prompt}]
        dataset = example_pool(inputs.session, inputs.scenario, prompt["few_shot_dataset_id"])
        examples: list[dict[str, Any]] = []
        if dataset is not None and inputs.few_shot_k > 0:
            for example, dist in choose_examples(inputs, dataset, prompt):
                messages += [m for m in example.messages if m["role"] != "system"]
                examples.append(
                    {
                        "example_id": example.id,
                        "line": example.position + 1,
                        "prompt": example.prompt,
                        "completion": example.completion,
                        "score": round(1 - dist, 4),
                    }
                )
        messages.append({"role": "user", "content": inputs.query})
        provenance = {
            "dataset_sha256": dataset.sha256 if dataset else None,
            "few_shot_selection": prompt["few_shot_selection"],
            "prompts": {"system_prompt": text_record(system_prompt)},
        }
        return LevelPlan(messages=messages, examples=examples, provenance=provenance)
