"""A person's verdict on drafts: accepted drafts are stored (eval items into the scenario's
eval set, chat examples into its dataset), rejected ones are kept as rejected, and nothing
drafted is stored anywhere else. Accepting checks the leakage guard again
(app/drafts/split.py) and may carry the person's edits of the question and the answer.

The eval set and the dataset are immutable (keyed by content hash): accepting adds a new
version of each with the accepted drafts appended (`extend_eval_set`, `extend_dataset`),
which then is the scenario's current one.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db.models import Dataset, Draft, Example, Scenario
from app.drafts.split import check_no_leak
from app.drafts.writing import EVAL_ITEM
from app.errors import AppError, NotFound
from app.evals.items import EvalItemSpec, extend_eval_set
from app.finetune.dataset import training_system_message
from app.rag.embedding import Embedder
from app.scenarios.current import choose_dataset, current_dataset

PENDING, ACCEPTED, REJECTED = "pending", "accepted", "rejected"


class DraftReviewed(AppError):
    """409: the draft already has a verdict."""

    status = 409


class DraftIncomplete(AppError):
    status = 422


@dataclass(frozen=True)
class Edit:
    """The person's version of a draft's question and answer (None: as drafted)."""

    question: str | None = None
    answer: str | None = None


def pending_draft(session: Session, draft_id: int) -> Draft:
    draft = session.get(Draft, draft_id, with_for_update=True)
    if draft is None:
        raise NotFound(f"draft {draft_id} not found")
    if draft.status != PENDING:
        raise DraftReviewed(f"draft {draft_id} is already {draft.status}")
    return draft


def accept_draft(session: Session, embedder: Embedder, draft_id: int, edit: Edit) -> Draft:
    """Store the draft (with the edit) where its kind belongs and mark it accepted (the
    caller commits). DraftIncomplete without a question and an answer; LeakageRefused when
    its document feeds the other side."""
    draft = pending_draft(session, draft_id)
    draft.question = (edit.question if edit.question is not None else draft.question).strip()
    draft.answer = (edit.answer if edit.answer is not None else draft.answer).strip()
    if not draft.question or not draft.answer:
        raise DraftIncomplete(f"draft {draft_id}: write the question and the answer to accept it")
    check_no_leak(session, draft)
    scenario = session.get_one(Scenario, draft.scenario_id)
    if draft.kind == EVAL_ITEM:
        eval_set = extend_eval_set(session, scenario=scenario, items=[eval_item(draft)])
        draft.stored_in = f"eval set {eval_set.id}"
    else:
        dataset = extend_dataset(session, scenario, draft, embedder)
        draft.stored_in = f"dataset {dataset.id}"
    return verdict(draft, ACCEPTED)


def reject_draft(session: Session, draft_id: int) -> Draft:
    """Mark the draft rejected; it is stored nowhere (the caller commits)."""
    return verdict(pending_draft(session, draft_id), REJECTED)


def verdict(draft: Draft, status: str) -> Draft:
    draft.status, draft.reviewed_at = status, datetime.now(UTC)
    return draft


def eval_item(draft: Draft) -> EvalItemSpec:
    """The draft as an eval item: its answer the reference, its document the source that
    retrieval should find."""
    label = draft.run.options.get("label") or "knowledge"
    return EvalItemSpec(
        input=draft.question, kind=label, reference=draft.answer, source=draft.document
    )


def extend_dataset(
    session: Session, scenario: Scenario, draft: Draft, embedder: Embedder
) -> Dataset:
    """The scenario's current dataset with the draft appended to its training split, stored as
    a new dataset (the old one's examples copied with their embeddings) and made current. The
    example opens with the system message the dataset's examples open with, so it asks as
    they do."""
    latest = current_dataset(session, scenario)
    system = training_system_message(session, latest) if latest else None
    messages = [{"role": "system", "content": system}] if system else []
    messages += [
        {"role": "user", "content": draft.question},
        {"role": "assistant", "content": draft.answer},
    ]
    base = latest.sha256 if latest else ""
    dataset = Dataset(
        scenario_id=scenario.id,
        name=latest.name if latest else f"{scenario.slug} drafted",
        sha256=hashlib.sha256(f"{base}+draft:{draft.id}".encode()).hexdigest(),
    )
    old = (
        list(session.scalars(select(Example).where(Example.dataset_id == latest.id)))
        if latest
        else []
    )
    dataset.examples = [copy_example(example) for example in old]
    position = sum(1 for example in old if example.split == "train")
    dataset.examples.append(
        Example(
            split="train",
            position=position,
            messages=messages,
            prompt=draft.question,
            completion=draft.answer,
            embedding=embedder.embed_one(draft.question),
        )
    )
    session.add(dataset)
    session.flush()
    choose_dataset(session, scenario, dataset.id)
    return dataset


def copy_example(example: Example) -> Example:
    return Example(
        split=example.split,
        position=example.position,
        messages=example.messages,
        prompt=example.prompt,
        completion=example.completion,
        embedding=example.embedding,
    )


def scenario_drafts(
    session: Session, scenario: Scenario, status: str | None = None, limit: int = 200
) -> list[Draft]:
    """The scenario's drafts, newest first (of one status, or all)."""
    statement = select(Draft).where(Draft.scenario_id == scenario.id)
    if status:
        statement = statement.where(Draft.status == status)
    return list(session.scalars(statement.order_by(Draft.id.desc()).limit(limit)))
