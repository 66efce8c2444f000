"""Pages for data from the knowledge base and from served traffic: draft eval items and
training examples from the scenario's documents and judge each draft
(`/scenarios/{slug}/drafts`), and judge served calls into eval items
(`/scenarios/{slug}/served`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import ValidationError
from sqlalchemy.orm import Session

from app.db.models import Draft
from app.db.queries import get_comparison, get_scenario, list_comparisons
from app.deps import RecordId, RuntimeDep, SessionDep
from app.drafts.jobs import get_draft_run, start_drafting
from app.drafts.requests import DraftRunCreate, DraftVerdict
from app.drafts.review import PENDING, accept_draft, reject_draft, scenario_drafts
from app.errors import AppError
from app.serving.feedback import call_feedback, give_feedback, served_answer
from app.web.forms import error_messages
from app.web.render import render

router = APIRouter(include_in_schema=False)


def drafts_context(session: Session, slug: str) -> dict[str, Any]:
    scenario = get_scenario(session, slug)
    return {"scenario": scenario, "drafts": scenario_drafts(session, scenario, PENDING)}


@router.get("/scenarios/{slug}/drafts")
def drafts_page(request: Request, slug: str, session: SessionDep):
    """The drafting form and every draft waiting for a verdict, each with its chunk."""
    context = drafts_context(session, slug)
    return render(request, "drafts.html", "drafts.html", context)


@router.post("/scenarios/{slug}/drafts")
async def draft_from_form(request: Request, slug: str, session: SessionDep, runtime: RuntimeDep):
    """Queue a drafting job; htmx gets its progress, which lists the drafts when done."""
    form = await request.form()
    submitted = {k: form.get(k) or None for k in ("count", "engine", "label", "eval_share")}
    submitted |= {k: form.get(k) or None for k in ("teacher_base_url", "teacher_model")}
    submitted["kinds"] = form.getlist("kinds") or None
    try:
        body = DraftRunCreate(**{k: v for k, v in submitted.items() if v is not None})
        scenario = get_scenario(session, slug)
        run = start_drafting(session, runtime, scenario=scenario, options=body.options())
    except (ValidationError, AppError) as error:
        messages = error_messages(error) if isinstance(error, ValidationError) else [error.message]
        status = 422 if isinstance(error, ValidationError) else error.status
        context = drafts_context(session, slug) | {"errors": messages}
        return render(request, "drafts.html", "_partials/draft_run.html", context, status)
    return render(request, "drafts.html", "_partials/draft_run.html", {"run": run})


@router.get("/draft-runs/{run_id}/progress")
def draft_run_progress(request: Request, run_id: RecordId, session: SessionDep):
    run = get_draft_run(session, run_id)
    return render(request, "drafts.html", "_partials/draft_run.html", {"run": run})


@router.post("/drafts/{draft_id}/{action}")
async def judge_draft(
    request: Request, draft_id: RecordId, action: str, session: SessionDep, runtime: RuntimeDep
):
    """Accept (with the form's edits) or reject; the draft's card comes back with its verdict,
    or with why it cannot be accepted."""
    form = await request.form()
    try:
        if action == "accept":
            verdict = DraftVerdict(question=form.get("question"), answer=form.get("answer"))
            draft = accept_draft(session, runtime.loaded_embedder(), draft_id, verdict.edit())
        elif action == "reject":
            draft = reject_draft(session, draft_id)
        else:
            raise AppError(f"unknown action {action!r}: accept or reject")
        session.commit()
    except AppError as error:
        session.rollback()
        draft = session.get(Draft, draft_id)
        if draft is None:
            raise
        context = {"draft": draft, "error": error.message}
        return render(request, "drafts.html", "_partials/draft.html", context, error.status)
    return render(request, "drafts.html", "_partials/draft.html", {"draft": draft})


@router.get("/scenarios/{slug}/served")
def served_page(request: Request, slug: str, session: SessionDep):
    """The scenario's served calls, newest first, each with its verdict or the form for it."""
    scenario = get_scenario(session, slug)
    calls, total = list_comparisons(session, scenario=slug, limit=50, offset=0, served=True)
    context = {
        "scenario": scenario,
        "total": total,
        "calls": [served_row(session, call) for call in calls],
    }
    return render(request, "served.html", "served.html", context)


def served_row(session: Session, call: Any, error: str | None = None) -> dict[str, Any]:
    return {
        "call": call,
        "answer": served_answer(call),
        "feedback": call_feedback(session, call.id),
        "error": error,
    }


@router.post("/comparisons/{comparison_id}/feedback")
async def feedback_from_form(request: Request, comparison_id: RecordId, session: SessionDep):
    """Thumbs up or down (with the corrected answer) from the served calls page."""
    form = await request.form()
    verdict = form.get("verdict")
    try:
        if verdict not in ("up", "down"):
            raise AppError("verdict: up or down")
        give_feedback(
            session,
            comparison_id=comparison_id,
            verdict=verdict,
            corrected=str(form.get("corrected") or ""),
            kind=str(form.get("kind") or ""),
        )
        session.commit()
        row, status = served_row(session, get_comparison(session, comparison_id)), 200
    except AppError as error:
        session.rollback()
        row = served_row(session, get_comparison(session, comparison_id), error.message)
        status = error.status
    return render(request, "served.html", "_partials/served_call.html", row, status)
