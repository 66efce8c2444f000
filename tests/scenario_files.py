"""Small factories for the scenario tests: a scenario made through the API, a chat dataset
whose examples open with a system message (the shape BANKING77's has), and a bundle with a
problem in each file."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from app.scenarios.bundles import init_bundle

# Public data beside the repository (../shared/data; see each folder's SOURCE.md), read in
# place and never copied into the repository.
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
BANKING77 = SHARED_DATA / "banking77"
UV_DOCS = SHARED_DATA / "uv-docs"
UV_PAGES = ("concepts/cache.md", "concepts/resolution.md", "concepts/python-versions.md")
needs_shared_data = pytest.mark.skipif(
    not (BANKING77.is_dir() and UV_DOCS.is_dir()),
    reason=f"the shared public data ({SHARED_DATA}) is absent",
)

LABELS_PROMPT = (
    "Classify the bank customer's message into one intent: activate_my_card, card_arrival, "
    'change_pin. Reply with only a JSON object: {"intent": "<label>"}.'
)
MESSAGES = [
    ("How do I activate my new card?", "activate_my_card"),
    ("My card still has not arrived", "card_arrival"),
    ("I want to change my PIN", "change_pin"),
    ("Where do I turn on the card you sent me?", "activate_my_card"),
    ("When will my card be delivered?", "card_arrival"),
    ("Can I pick a new PIN at an ATM?", "change_pin"),
]


def unique_slug(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def intent_examples(system: str | None = LABELS_PROMPT) -> list[list[dict[str, str]]]:
    """Chat examples: (system,) user, assistant with `{"intent": ...}`."""
    opening = [{"role": "system", "content": system}] if system else []
    return [
        [
            *opening,
            {"role": "user", "content": text},
            {"role": "assistant", "content": json.dumps({"intent": label})},
        ]
        for text, label in MESSAGES
    ]


def intent_jsonl(system: str | None = LABELS_PROMPT) -> bytes:
    lines = (json.dumps({"messages": m}) for m in intent_examples(system))
    return ("\n".join(lines) + "\n").encode()


def create(client, slug: str, **fields) -> dict:
    answer = client.post("/api/v1/scenarios", json={"slug": slug, "name": slug.title(), **fields})
    assert answer.status_code == 201, answer.text
    return answer.json()


def banking77_subset(out: Path, count: int, source: str = "train.jsonl") -> Path:
    """The first `count` lines of a BANKING77 file, written to `out`."""
    lines = (BANKING77 / source).read_text(encoding="utf-8").splitlines()[:count]
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out


def banking77_system_prompt() -> str:
    """The system message BANKING77's examples open with (the label list)."""
    first = json.loads((BANKING77 / "train.jsonl").read_text(encoding="utf-8").splitlines()[0])
    return first["messages"][0]["content"]


def broken_bundle(root: Path) -> Path:
    """The template bundle with one problem in each file."""
    init_bundle(root)
    manifest = root / "scenario.yaml"
    manifest.write_text(manifest.read_text().replace("few_shot_k: 2 ", "few_shot_k: 42"))
    train = (root / "train.jsonl").read_text().splitlines()
    lines = [train[0], "{not json", json.dumps({"messages": [{"role": "user", "content": "hi"}]})]
    (root / "train.jsonl").write_text("\n".join(lines) + "\n")
    (root / "evalset.jsonl").write_text('{"input": "q", "facts": ["x"]}\n{"input": ""}\n')
    (root / "documents" / "photo.png").write_bytes(b"\x89PNG\r\n")
    (root / "pricing.toml").write_text("[profiles.cheap\n")
    return root
