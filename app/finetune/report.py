"""Before/after: the held-out split through the base model and through a new adapter.

Scored against each example's reference answer: exact match (case and spacing ignored),
JSON validity (for references that are JSON) and field match (for JSON objects: the share of
the reference's fields with the same value). The training loss on the same split comes from
the training run itself.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from app.engine import Engine, GenerationRequest
from app.finetune.adapters import adapter_checksum
from app.finetune.dataset import ChatExample

BATCH = 8


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
    references = [e.completion for e in examples]
    return {
        "items": len(examples),
        "max_new_tokens": max_new_tokens,
        "base": score_outputs(outputs["base"], references),
        "adapter": score_outputs(outputs["adapter"], references),
        "samples": [
            {"prompt": e.prompt, "reference": e.completion, "base": b, "adapter": a}
            for e, b, a in list(zip(examples, outputs["base"], outputs["adapter"], strict=True))[:3]
        ],
    }


def score_outputs(outputs: list[str], references: list[str]) -> dict[str, float | None]:
    """Mean exact match, JSON validity and field match over the items each applies to."""
    exact = [normalised(o) == normalised(r) for o, r in zip(outputs, references, strict=True)]
    json_refs = [(o, parse_json(r)) for o, r in zip(outputs, references, strict=True)]
    json_refs = [(o, ref) for o, ref in json_refs if ref is not None]
    valid = [parse_json(o) is not None for o, _ in json_refs]
    fields = [
        field_match(parse_json(o), ref) for o, ref in json_refs if isinstance(ref, dict) and ref
    ]
    return {"exact_match": mean(exact), "json_valid": mean(valid), "field_match": mean(fields)}


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
