"""Retrieval-augmented generation: hybrid search over the scenario's knowledge base, the best
chunks that fit the token budget numbered as sources in the prompt, on the base model.

The prompt is the scenario's: its `rag_instruction` as the system message and its
`rag_template` as the user message, with `{sources}` and `{question}` filled in (defaults and
placeholders in app/scenarios/prompts.py).
"""

from __future__ import annotations

from typing import Any

from app.config import LevelPrice
from app.costs import FixedCosts, PricingProfile, ScenarioFixedInputs, corpus_costs
from app.db.models import Scenario
from app.evals.wording import metric, pct
from app.levels.base import Level, LevelInputs, LevelPlan, LevelUnavailable, register
from app.rag.embedding import embedding_model_name
from app.rag.reembed import mismatch_message, other_models
from app.rag.search import RETRIEVAL_FIELDS, ChunkHit, hybrid_search, settings_fusion
from app.scenarios.prompts import render, text_record


def fit_budget(hits: list[ChunkHit], budget: int) -> list[ChunkHit]:
    """The best-ranked hits whose tokens add up to at most `budget` (always the first)."""
    kept: list[ChunkHit] = []
    used = 0
    for hit in hits:
        if kept and used + hit.token_count > budget:
            break
        kept.append(hit)
        used += hit.token_count
    return kept


def sources_block(hits: list[ChunkHit]) -> str:
    return "\n\n".join(
        f"[{n}] {hit.heading or hit.document}\n{hit.text}" for n, hit in enumerate(hits, 1)
    )


def prompt_messages(
    scenario: Scenario, prompt: dict[str, Any], hits: list[ChunkHit], query: str
) -> list[dict[str, str]]:
    """The prompt version's instruction and template, filled in with the scenario's name,
    the numbered sources and the question."""
    values = {"scenario": scenario.name, "sources": sources_block(hits), "question": query}
    return [
        {"role": "system", "content": render(prompt["rag_instruction"], **values)},
        {"role": "user", "content": render(prompt["rag_template"], **values)},
    ]


@register
class RagLevel(Level):
    name = "rag"
    description = "Hybrid retrieval (pgvector HNSW + full-text, RRF), cited chunks, base model"
    title = "RAG"
    rank = 20  # a knowledge base to keep, no training
    default_price = LevelPrice(input_usd_per_mtok=0.15, output_usd_per_mtok=0.60)
    uses_query_embedding = True
    # the prompt's texts, then its retrieval settings (NULL: the settings'; a version from
    # before they were kept lacks them, which reads the same)
    prompt_fields = ("rag_instruction", "rag_template", *RETRIEVAL_FIELDS)

    def fixed_costs(self, profile: PricingProfile, inputs: ScenarioFixedInputs) -> FixedCosts:
        """Embedding the knowledge base once, and keeping it in a vector store."""
        return corpus_costs(profile, inputs.corpus_tokens)

    def reason(self, stats: dict[str, Any], simpler_stats: dict[str, Any]) -> str:
        hit = metric(stats, "retrieval_hit")
        if hit is None:  # the items name no source document: context helped, not knowledge
            return "; the retrieved context helps these answers"
        return (
            "; the answers need the team's own documents"
            f" (the right document was retrieved for {pct(hit)} of items)"
        )

    def plan(self, inputs: LevelInputs) -> LevelPlan:
        prompt = inputs.prompt(self.name)
        hits = retrieve(inputs, prompt)
        messages = prompt_messages(inputs.scenario, prompt, hits, inputs.query)
        prompts = {
            "instruction": text_record(prompt["rag_instruction"]),
            "template": text_record(prompt["rag_template"]),
        }
        return LevelPlan(
            messages=messages, context=context_records(hits), provenance={"prompts": prompts}
        )


def retrieve(inputs: LevelInputs, prompt: dict[str, Any]) -> list[ChunkHit]:
    """The chunks of the scenario's knowledge base for `inputs.query` that fit the context
    budget, searched with the prompt version's retrieval settings; LevelUnavailable when the
    chunks were embedded with another model or there are none."""
    model = embedding_model_name(inputs.settings.embedding_model)
    others = other_models(inputs.session, scenario_id=inputs.scenario.id, model=model)
    if others:  # the query's vector and those chunks are not comparable
        raise LevelUnavailable(mismatch_message(inputs.scenario, model, others))
    hits = hybrid_search(
        inputs.session,
        scenario_id=inputs.scenario.id,
        query=inputs.query,
        embedding=inputs.query_embedding,
        k=inputs.top_k,
        fusion=settings_fusion(inputs.settings, prompt),
        ef_search=inputs.settings.hnsw_ef_search,
    )
    if not hits:
        raise LevelUnavailable(
            f"scenario {inputs.scenario.slug!r} has no documents to retrieve from"
        )
    return fit_budget(hits, inputs.settings.context_token_budget)


def context_records(hits: list[ChunkHit]) -> list[dict[str, Any]]:
    """The retrieved chunks as a result's `context`, numbered as cited in the prompt."""
    return [
        {
            "citation": n,
            "chunk_id": hit.chunk_id,
            "document_id": hit.document_id,
            "document": hit.document,
            "source": hit.source,
            "heading": hit.heading,
            "score": round(hit.score, 6),
            "vector_rank": hit.vector_rank,
            "keyword_rank": hit.keyword_rank,
            "text": hit.text,
        }
        for n, hit in enumerate(hits, 1)
    ]
