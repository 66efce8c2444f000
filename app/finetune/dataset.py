"""Chat datasets in the OpenAI JSONL format: reading, checking and storing them."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from app.db.models import Adapter, Dataset, Example, Scenario
from app.jsonl import DEFAULT_LIMITS, load_line
from app.rag.embedding import Embedder

ROLES = ("system", "user", "assistant")
Messages = list[dict[str, str]]


class DatasetError(ValueError):
    """A dataset line that is not a usable chat example; names the file and line."""


@dataclass(frozen=True)
class ChatExample:
    messages: Messages

    @property
    def prompt(self) -> str:
        """The last user turn: what the model is asked."""
        return next(m["content"] for m in reversed(self.messages) if m["role"] == "user")

    @property
    def completion(self) -> str:
        return self.messages[-1]["content"]


def parse_record(record: object) -> ChatExample:
    """One JSON value as a chat example; ValueError says what is wrong with it."""
    if not isinstance(record, dict):
        raise ValueError("expected a JSON object")
    if "messages" in record:
        return ChatExample(check_messages(record["messages"]))
    if "prompt" in record or "completion" in record:
        prompt, completion = required_text(record, "prompt"), required_text(record, "completion")
        return ChatExample(
            [{"role": "user", "content": prompt}, {"role": "assistant", "content": completion}]
        )
    raise ValueError("expected 'messages' or 'prompt' and 'completion'")


def required_text(record: dict[str, object], name: str) -> str:
    value = record.get(name)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"'{name}' must be a non-empty string")
    return value


def check_messages(messages: object) -> list[dict[str, str]]:
    if not isinstance(messages, list) or not messages:
        raise ValueError("'messages' must be a non-empty list")
    for number, message in enumerate(messages, start=1):
        if not isinstance(message, dict) or message.get("role") not in ROLES:
            raise ValueError(f"message {number}: role must be system, user or assistant")
        if not isinstance(message.get("content"), str) or not message["content"].strip():
            raise ValueError(f"message {number} ({message['role']}): empty content")
    roles = [m["role"] for m in messages]
    turns = roles[1:] if roles[0] == "system" else roles
    expected = ["user", "assistant"] * (len(turns) // 2 + 1)
    if not turns or turns != expected[: len(turns)] or turns[-1] != "assistant":
        raise ValueError(
            f"wrong role order {roles}: an optional system turn, then user and assistant "
            "alternating, ending with assistant"
        )
    return [{"role": m["role"], "content": m["content"]} for m in messages]


def parse_example(line: str, where: str) -> ChatExample:
    try:
        return parse_record(load_line(line, DEFAULT_LIMITS))
    except ValueError as error:
        raise DatasetError(f"{where}: {error}") from None


def read_chat_jsonl(path: Path) -> list[ChatExample]:
    """Every non-blank line of `path` as a chat example; the first bad line raises."""
    examples = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            examples.append(parse_example(line, f"{path.name}:{number}"))
    return examples


def dataset_sha256(*paths: Path) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def store_dataset(
    session: Session,
    *,
    scenario: Scenario,
    name: str,
    sha256: str,
    splits: dict[str, list[ChatExample]],
    embedder: Embedder,
) -> Dataset:
    """Store a dataset with its examples (each embedded for few-shot selection); a dataset
    with the same hash in the scenario is returned as it is."""
    existing = session.scalar(
        select(Dataset).where(Dataset.scenario_id == scenario.id, Dataset.sha256 == sha256)
    )
    if existing is not None:
        return existing
    dataset = Dataset(scenario_id=scenario.id, name=name, sha256=sha256)
    for split, examples in splits.items():
        vectors = embedder.embed([example.prompt for example in examples])
        for position, (example, vector) in enumerate(zip(examples, vectors, strict=True)):
            dataset.examples.append(
                Example(
                    split=split,
                    position=position,
                    messages=example.messages,
                    prompt=example.prompt,
                    completion=example.completion,
                    embedding=vector,
                )
            )
    session.add(dataset)
    session.flush()
    return dataset


def split_examples(session: Session, dataset_id: int, split: str) -> list[ChatExample]:
    rows = session.scalars(
        select(Example)
        .where(Example.dataset_id == dataset_id, Example.split == split)
        .order_by(Example.position)
    )
    return [ChatExample(row.messages) for row in rows]


def training_dataset(session: Session, adapter: Adapter) -> Dataset | None:
    """The dataset the adapter was trained on (None when it has been deleted since)."""
    return session.scalar(
        select(Dataset).where(
            Dataset.scenario_id == adapter.scenario_id, Dataset.sha256 == adapter.dataset_sha256
        )
    )


def training_system_message(session: Session, dataset: Dataset) -> str | None:
    """The system message the dataset's training examples open with: the most common one
    (None when most have none), so that serving asks the way training taught."""
    first = Example.messages[0]
    system = case((first["role"].astext == "system", first["content"].astext)).label("system")
    opening = (
        select(system).where(Example.dataset_id == dataset.id, Example.split == "train").subquery()
    )
    count = func.count().label("n")
    most_common = (
        select(opening.c.system, count)
        .group_by(opening.c.system)
        .order_by(count.desc(), opening.c.system.nulls_first())
        .limit(1)
    )
    row = session.execute(most_common).first()
    return row.system if row else None
