"""One level's answer to one eval item -> its scores (a flat dict stored per result)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from app.evals import metrics as m

QUALITY_METRICS = (
    "quality",
    "exact_match",
    "fact_recall",
    "keyword_hit",
    "json_validity",
    "schema_validity",
    "field_accuracy",
    "embedding_similarity",
    "retrieval_hit",
)
# `quality`, the headline score of an item, is the mean of these that apply to it: whether
# the answer is right, whichever way the item says "right" (retrieval and similarity are
# diagnostics, not answers).
HEADLINE = ("exact_match", "fact_recall", "keyword_hit", "field_accuracy", "schema_validity")


def item_schema(item: Any, scenario_schema: dict | None) -> dict | None:
    """The item's own schema; items with expected fields but no schema use the scenario's
    output schema (the demo's triage tickets)."""
    return item.json_schema or (scenario_schema if item.fields else None)


def score_result(
    item: Any,
    result: Any,
    *,
    schema: dict | None,
    k: int,
    output_vector: Collection[float] | None = None,  # an embedding (a numpy row) or a list
    reference_vector: Collection[float] | None = None,
) -> dict[str, float | None]:
    """Scores of `result` (a stored level result) against `item` (an eval item). A level
    that failed scores None everywhere and `error` 1."""
    usage = {
        "latency_ms": result.latency_total_ms,
        "cost_usd": result.cost_usd,
        "prompt_tokens": float(result.prompt_tokens),
        "completion_tokens": float(result.completion_tokens),
    }
    if result.error:
        return {name: None for name in QUALITY_METRICS} | usage | {"error": 1.0}
    output = result.output
    scores = {
        "exact_match": m.exact_match(output, item.expected),
        "fact_recall": m.fact_recall(output, item.facts),
        "keyword_hit": m.keyword_hit(output, item.keywords),
        "json_validity": m.json_validity(output, bool(item.fields or schema)),
        "schema_validity": m.schema_validity(output, schema),
        "field_accuracy": m.field_accuracy(output, item.fields),
        "embedding_similarity": m.embedding_similarity(output_vector, reference_vector),
        # Only a level that put chunks in its prompt has a retrieval to score.
        "retrieval_hit": m.retrieval_hit(result.context or None, item.source, k),
    }
    scores["quality"] = m.mean([scores[name] for name in HEADLINE])
    return scores | usage | {"error": 0.0}
