"""Before/after: the held-out split through the base model and through a new adapter.

Scored against each example's reference answer: exact match (case and spacing ignored),
JSON validity (for references that are JSON) and field match (for JSON objects: the share of
the reference's fields with the same value). The training loss on the same split comes from
the training run itself.

Besides the means it keeps every example's outputs and scores (`per_item`), so that the
adapter's page can list the examples the adapter got right and the base model wrong and the
other way round, with a paired test (app/evals/wins.py). Reports stored before it did have
no `per_item`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from app.engine import Engine, GenerationRequest
from app.finetune.adapters import adapter_checksum
from app.finetune.dataset import ChatExample

BATCH = 8
METRICS = ("field_match", "json_valid", "exact_match")  # each example's, in `item_scores`


def before_after(
    engine: Engine,
    *,
    adapter: str,
    adapter_path: Path,
    examples: list[ChatExample],
    max_new_tokens: int,
) -> dict:
    """Scores of the base model and of `adapter` on `examples` (run in small batches)."""
    engine.load_adapter(adapter, str(adapter_path), adapter_checksum(Path(adapter_path)))
    outputs: dict[str, list[str]] = {"base": [], "adapter": []}
    for start in range(0, len(examples), BATCH):
        part = examples[start : start + BATCH]
        requests = [
            GenerationRequest(e.messages[:-1], adapter=name, max_new_tokens=max_new_tokens)
            for name in (None, adapter)
            for e in part
        ]
        results = engine.generate(requests)
        outputs["base"] += [r.text for r in results[: len(part)]]
        outputs["adapter"] += [r.text for r in results[len(part) :]]
    per_item: list[dict[str, Any]] = [
        {
            "prompt": e.prompt,
            "reference": e.completion,
            "base": base,
            "adapter": tuned,
            "scores": {
                "base": item_scores(base, e.completion),
                "adapter": item_scores(tuned, e.completion),
            },
        }
        for e, base, tuned in zip(examples, outputs["base"], outputs["adapter"], strict=True)
    ]
    return {
        "items": len(examples),
        "max_new_tokens": max_new_tokens,
        "base": score_outputs([e["scores"]["base"] for e in per_item]),
        "adapter": score_outputs([e["scores"]["adapter"] for e in per_item]),
        "samples": [
            {k: e[k] for k in ("prompt", "reference", "base", "adapter")} for e in per_item[:3]
        ],
        "per_item": per_item,
    }


def item_scores(output: str, reference: str) -> dict[str, float | None]:
    """One example's exact match (0 or 1), JSON validity (0 or 1, for a JSON reference) and
    field match (the share of a JSON object reference's fields); None where it does not
    apply."""
    expected = parse_json(reference)
    is_object = isinstance(expected, dict) and bool(expected)
    return {
        "exact_match": float(normalised(output) == normalised(reference)),
        "json_valid": None if expected is None else float(parse_json(output) is not None),
        "field_match": field_match(parse_json(output), expected) if is_object else None,
    }


def score_outputs(scores: list[dict[str, float | None]]) -> dict[str, float | None]:
    """Mean exact match, JSON validity and field match over the items each applies to."""
    return {name: mean([s[name] for s in scores if s[name] is not None]) for name in METRICS}


def normalised(text: str) -> str:
    return " ".join(text.lower().split())


def parse_json(text: str) -> Any:
    try:
        return json.loads(text)
    except (json.JSONDecodeError, TypeError):
        return None


def field_match(output: object, reference: dict[str, Any]) -> float:
    if not isinstance(output, dict):
        return 0.0
    return sum(output.get(key) == value for key, value in reference.items()) / len(reference)


def mean(values: list) -> float | None:
    return round(sum(values) / len(values), 4) if values else None
