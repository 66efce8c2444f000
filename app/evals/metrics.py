"""Eval metrics: pure functions of one output (or of many measurements).

Each quality metric returns a float in [0, 1], or None when it does not apply to the item
(no expected answer, no facts, not a JSON item, not the rag level). None is "not measured",
never zero: summaries average only the items a metric applies to.
"""

from __future__ import annotations

import json
import math
import re
import statistics
import unicodedata
from collections.abc import Collection, Sequence
from typing import Any

import jsonschema

_PUNCTUATION = re.compile(r"[^\w\s]")
_SPACES = re.compile(r"\s+")
_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.DOTALL)


def normalise(text: str) -> str:
    """Lower case, accents folded, punctuation dropped, runs of spaces made one."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return _SPACES.sub(" ", _PUNCTUATION.sub(" ", folded.lower())).strip()


def exact_match(output: str, expected: str | None) -> float | None:
    """1.0 when the output equals the expected answer after `normalise`."""
    if expected is None:
        return None
    return float(normalise(output) == normalise(expected))


def fact_recall(output: str, facts: Sequence[str] | None) -> float | None:
    """Share of `facts` found in the output (case-insensitive substrings)."""
    if not facts:
        return None
    text = output.lower()
    return sum(fact.lower() in text for fact in facts) / len(facts)


def keyword_hit(output: str, keywords: Sequence[str] | None) -> float | None:
    """1.0 when any of `keywords` appears in the output (case-insensitive): a sensible answer
    to an open question mentions at least one of them."""
    if not keywords:
        return None
    text = output.lower()
    return float(any(keyword.lower() in text for keyword in keywords))


def parse_json_object(output: str) -> dict[str, Any] | None:
    """The output as a JSON object (a ```json fence around it allowed), else None."""
    text = output.strip()
    fenced = _FENCE.match(text)
    if fenced:
        text = fenced.group(1)
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def json_validity(output: str, expects_json: bool) -> float | None:
    """1.0 when the whole output is one JSON object; only for items that expect JSON."""
    if not expects_json:
        return None
    return float(parse_json_object(output) is not None)


def schema_validity(output: str, schema: dict[str, Any] | None) -> float | None:
    """1.0 when the output is a JSON object that satisfies `schema`."""
    if not schema:
        return None
    value = parse_json_object(output)
    if value is None:
        return 0.0
    return float(jsonschema.Draft202012Validator(schema).is_valid(value))


def field_accuracy(output: str, fields: dict[str, Any] | None) -> float | None:
    """Share of the expected fields whose value the output's JSON object has (strings
    compared case-insensitively, trimmed); an output that is not JSON scores 0."""
    if not fields:
        return None
    value = parse_json_object(output)
    if value is None:
        return 0.0
    return sum(same_value(value.get(key), want) for key, want in fields.items()) / len(fields)


def same_value(got: Any, want: Any) -> bool:
    if isinstance(got, str) and isinstance(want, str):
        return got.strip().lower() == want.strip().lower()
    return got == want


def embedding_similarity(
    output_vector: Collection[float] | None, reference_vector: Collection[float] | None
) -> float | None:
    """Cosine similarity of the output's and the reference's embeddings (None without a
    reference; 0.0 for a zero vector)."""
    if output_vector is None or reference_vector is None:
        return None
    dot = sum(a * b for a, b in zip(output_vector, reference_vector, strict=True))
    norms = math.hypot(*output_vector) * math.hypot(*reference_vector)
    # A Python float: embeddings are float32 arrays, and the score is stored as JSON.
    return float(dot / norms) if norms else 0.0


def retrieval_hit(
    context: Sequence[dict[str, Any]] | None, expected_source: str | None, k: int
) -> float | None:
    """hit@k for a retrieval level: 1.0 when a chunk of the expected document is among the
    first `k` chunks it put in the prompt. None for levels that retrieve nothing (context is
    None) and for items that name no document."""
    if context is None or not expected_source:
        return None
    return float(any(chunk_source(chunk) == expected_source for chunk in context[:k]))


def chunk_source(chunk: dict[str, Any]) -> str | None:
    return chunk.get("source") or chunk.get("document")


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0..100), linear between the closest ranks; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def latency_summary(latencies_ms: Sequence[float]) -> dict[str, float | None]:
    return {"p50": percentile(latencies_ms, 50), "p95": percentile(latencies_ms, 95)}


def mean(values: Sequence[float | None]) -> float | None:
    """Mean of the values that were measured (Nones left out); None when none were."""
    measured = [v for v in values if v is not None]
    return sum(measured) / len(measured) if measured else None


def mean_and_spread(values: Sequence[float | None]) -> tuple[float | None, float | None]:
    """Mean and sample standard deviation of the measured values (spread None below two)."""
    measured = [v for v in values if v is not None]
    if not measured:
        return None, None
    spread = statistics.stdev(measured) if len(measured) > 1 else None
    return statistics.fmean(measured), spread


def total_tokens(prompt_tokens: int, completion_tokens: int) -> int:
    return prompt_tokens + completion_tokens
