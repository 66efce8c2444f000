"""The leakage guard: a document feeds eval items or training examples, never both, so that
no eval item shares a source with a training example the adapter learned from.

Each document has a side. A document that is already the `source` of an eval item in the
scenario's current eval set, or of an eval-item draft, is on the eval side; one that a
chat-example draft came from is on the training side; any other document takes its side
from a hash of its source name (`eval_share` of them on the eval side), so that the split
is the same in every run and on every machine. Drafting takes eval items only from eval
documents and chat examples only from training documents; accepting checks again
(`check_no_leak`), since a person may have added eval items since.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db.models import Draft, EvalItem, EvalSet, Scenario
from app.drafts.writing import CHAT_EXAMPLE, EVAL_ITEM
from app.errors import AppError

EVAL, TRAIN = "eval", "train"
SIDE_OF_KIND = {EVAL_ITEM: EVAL, CHAT_EXAMPLE: TRAIN}
LIVE = ("pending", "accepted")  # drafts that hold a document on their side


class LeakageRefused(AppError):
    """409: accepting the draft would give an eval item and a training example one source."""

    status = 409


def hashed_side(source: str, eval_share: float) -> str:
    """A document's side from its source name alone: stable across runs and machines."""
    digest = hashlib.sha256(source.encode()).digest()
    return EVAL if int.from_bytes(digest[:8], "big") / 2**64 < eval_share else TRAIN


def split_documents(
    sources: list[str], *, eval_share: float, eval_sources: set[str], train_sources: set[str]
) -> dict[str, str]:
    """Each source's side: held sides first (eval before training, should both hold one),
    then the hash."""
    sides = {}
    for source in sources:
        if source in eval_sources:
            sides[source] = EVAL
        elif source in train_sources:
            sides[source] = TRAIN
        else:
            sides[source] = hashed_side(source, eval_share)
    return sides


def held_sources(session: Session, scenario: Scenario) -> tuple[set[str], set[str]]:
    """The documents already on the eval side and on the training side."""
    eval_items = set(
        session.scalars(
            select(EvalItem.source)
            .join(EvalSet)
            .where(EvalSet.scenario_id == scenario.id, EvalItem.source.is_not(None))
        )
    )
    return eval_items | drafted_sources(session, scenario, EVAL_ITEM), drafted_sources(
        session, scenario, CHAT_EXAMPLE
    )


def drafted_sources(session: Session, scenario: Scenario, kind: str) -> set[str]:
    return set(
        session.scalars(
            select(Draft.document).where(
                Draft.scenario_id == scenario.id, Draft.kind == kind, Draft.status.in_(LIVE)
            )
        )
    )


def check_no_leak(session: Session, draft: Draft) -> None:
    """LeakageRefused when the draft's document already feeds the other side: an eval item
    from a document training examples came from, or the other way round."""
    scenario = session.get_one(Scenario, draft.scenario_id)
    on_eval, on_train = held_sources(session, scenario)
    other = on_train if draft.kind == EVAL_ITEM else on_eval
    if draft.document in other:
        side = "training examples" if draft.kind == EVAL_ITEM else "eval items"
        raise LeakageRefused(
            f"draft {draft.id}: {draft.document!r} is already a source of {side}; an eval "
            "item and a training example must not share a source document"
        )
