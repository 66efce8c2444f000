"""Small factories for the scenario tests: a scenario made through the API, a chat dataset
whose examples open with a system message (the shape BANKING77's has), and a bundle with a
problem in each file."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from app.scenarios.bundles import init_bundle

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
