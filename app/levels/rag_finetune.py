"""RAG on the fine-tuned model (`rag+finetune`): the scenario's retrieved sources in the
prompt of its adapter-tuned model.

The request is the `rag` level's retrieval and user message (the scenario's `rag_template`
with the numbered sources and the question) after the `finetune` level's system message, on
the base model plus the scenario's active adapter. An adapter trained with the training
option `raft` (app/finetune/raft.py) has seen prompts of exactly this shape, retrieved
context and distractors included; any other adapter answers them too, as it would any
longer prompt.
"""

from __future__ import annotations

from typing import Any

from app.config import LevelPrice
from app.costs import FixedCosts, PricingProfile, ScenarioFixedInputs, corpus_costs, training_cost
from app.evals.wording import metric, pct
from app.levels.base import Level, LevelInputs, LevelPlan, register
from app.levels.finetune import adapter_system_prompt, servable_adapter
from app.levels.rag import context_records, retrieve, sources_block
from app.rag.search import RETRIEVAL_FIELDS
from app.scenarios.prompts import render, text_record


def grounded_messages(
    system_prompt: str | None, template: str, scenario: str, sources: str, question: str
) -> list[dict[str, str]]:
    """The chat this level sends and a RAFT example is trained on: the adapter's system
    message (if any), then the rag template filled in with the sources and the question."""
    values = {"scenario": scenario, "sources": sources, "question": question}
    messages = [{"role": "system", "content": system_prompt}] if system_prompt else []
    return [*messages, {"role": "user", "content": render(template, **values)}]


@register
class RagFinetuneLevel(Level):
    name = "rag_finetune"
    label = "rag+finetune"
    description = "Retrieved sources in the prompt of the base model + the scenario's adapter"
    title = "RAG on the fine-tuned model"
    short_title = "RAG + adapter"
    rank = 40  # a knowledge base to keep and an adapter to train
    # billed as the fine-tuned model per token (custom weights), with RAG's longer prompts
    default_price = LevelPrice(input_usd_per_mtok=0.30, output_usd_per_mtok=1.20)
    price_key = "finetune"
    uses_query_embedding = True
    prompt_fields = ("finetune_system_prompt", "rag_template", *RETRIEVAL_FIELDS)

    def fixed_costs(self, profile: PricingProfile, inputs: ScenarioFixedInputs) -> FixedCosts:
        """Training the adapter once, plus embedding and keeping the knowledge base."""
        corpus = corpus_costs(profile, inputs.corpus_tokens)
        once = training_cost(
            profile, seconds=inputs.training_seconds, tokens=inputs.training_tokens
        )
        return FixedCosts(once_usd=corpus.once_usd + once, monthly_usd=corpus.monthly_usd)

    def reason(self, stats: dict[str, Any], simpler_stats: dict[str, Any]) -> str:
        hit = metric(stats, "retrieval_hit")
        found = f" (the right document was retrieved for {pct(hit)} of items)" if hit else ""
        return f"; the answers need both the team's documents{found} and the trained behaviour"

    def plan(self, inputs: LevelInputs) -> LevelPlan:
        adapter = servable_adapter(inputs)
        prompt = inputs.prompt(self.name)
        hits = retrieve(inputs, prompt)
        system_prompt, source = adapter_system_prompt(
            inputs, adapter, prompt["finetune_system_prompt"]
        )
        messages = grounded_messages(
            system_prompt,
            prompt["rag_template"],
            inputs.scenario.name,
            sources_block(hits),
            inputs.query,
        )
        prompts = {"template": text_record(prompt["rag_template"])}
        if system_prompt:
            prompts["system_prompt"] = text_record(system_prompt)
        provenance = {
            "dataset_sha256": adapter.dataset_sha256,
            "system_prompt_source": source,
            "prompts": prompts,
        }
        return LevelPlan(
            messages=messages, adapter=adapter, context=context_records(hits), provenance=provenance
        )
