"""Feedback on served calls: a person marks a call to the OpenAI-compatible endpoint right
(thumbs up: its answer becomes the reference) or wrong with the corrected answer (thumbs
down), and the call's query becomes an eval item of the scenario's eval set, so that
production traffic feeds the next eval.

The item checks the answer against the reference by embedding similarity (`reference`);
its kind is the one `auto` routed the call as, else the one the person chose, else
`general`. A call gets one verdict.
"""

from __future__ import annotations

from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db.models import Comparison, ServedFeedback
from app.db.queries import get_comparison
from app.errors import AppError
from app.evals.items import EvalItemSpec, extend_eval_set

Verdict = Literal["up", "down"]


class FeedbackRefused(AppError):
    status = 422


class FeedbackGiven(AppError):
    status = 409


def served_answer(comparison: Comparison) -> str:
    """What the call answered (a served call runs one level)."""
    return comparison.results[0].output if comparison.results else ""


def call_feedback(session: Session, comparison_id: int) -> ServedFeedback | None:
    return session.scalar(
        select(ServedFeedback).where(ServedFeedback.comparison_id == comparison_id)
    )


def give_feedback(
    session: Session,
    *,
    comparison_id: int,
    verdict: Verdict,
    corrected: str | None = None,
    kind: str | None = None,
) -> ServedFeedback:
    """Record the verdict and add the call as an eval item (the caller commits).
    FeedbackRefused for a comparison that was not served, or thumbs down without a
    corrected answer; FeedbackGiven when the call has a verdict already."""
    comparison = get_comparison(session, comparison_id)
    if "served" not in comparison.settings:
        raise FeedbackRefused(f"comparison {comparison_id} is not a served call")
    if call_feedback(session, comparison_id) is not None:
        raise FeedbackGiven(f"served call {comparison_id} already has feedback")
    corrected = (corrected or "").strip() or None
    if verdict == "down" and corrected is None:
        raise FeedbackRefused("thumbs down needs the corrected answer")
    reference = corrected if verdict == "down" else (corrected or served_answer(comparison))
    if not reference.strip():
        raise FeedbackRefused("the served answer is empty: give the corrected answer")
    item = EvalItemSpec(
        input=comparison.query,
        kind=comparison.settings.get("route_kind") or (kind or "").strip() or "general",
        reference=reference,
    )
    eval_set = extend_eval_set(session, scenario=comparison.scenario, items=[item])
    feedback = ServedFeedback(
        comparison_id=comparison_id, verdict=verdict, corrected=corrected, eval_set_id=eval_set.id
    )
    session.add(feedback)
    session.flush()
    return feedback
