"""`/api/v1` drafts: draft eval items and training examples from a scenario's documents
(a background job), list the drafts with their source chunks, accept or reject each."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel

from app.api.bodies import TEXT_BODIES
from app.api.schemas import API_ERRORS
from app.db.models import Draft, DraftRun
from app.db.queries import get_scenario
from app.deps import RecordId, RuntimeDep, SessionDep
from app.drafts.jobs import cancel_draft_run, get_draft_run, start_drafting
from app.drafts.requests import DraftRunCreate, DraftVerdict
from app.drafts.review import accept_draft, reject_draft, scenario_drafts

router = APIRouter(
    prefix="/api/v1", tags=["drafts"], responses=API_ERRORS, dependencies=TEXT_BODIES
)


class DraftPublic(BaseModel):
    id: int
    run_id: int
    kind: str
    status: str
    document: str
    chunk_id: int | None
    chunk_text: str
    question: str
    answer: str
    output: str
    stored_in: str | None
    created_at: datetime
    reviewed_at: datetime | None

    @classmethod
    def of(cls, draft: Draft) -> DraftPublic:
        return cls.model_validate(draft, from_attributes=True)


class DraftRunPublic(BaseModel):
    id: int
    scenario: str
    status: str
    done: int
    total: int
    progress: float
    engine: str
    options: dict[str, Any]
    error: str | None
    created_at: datetime
    finished_at: datetime | None
    drafts: list[DraftPublic]

    @classmethod
    def of(cls, run: DraftRun) -> DraftRunPublic:
        return cls(
            id=run.id,
            scenario=run.scenario.slug,
            status=run.status,
            done=run.done,
            total=run.total,
            progress=round(run.done / run.total, 4) if run.total else 1.0,
            engine=run.engine,
            options={k: v for k, v in run.options.items() if k != "chunk_ids"},
            error=run.error,
            created_at=run.created_at,
            finished_at=run.finished_at,
            drafts=[DraftPublic.of(d) for d in run.drafts],
        )


@router.post("/scenarios/{slug}/drafts", status_code=202, response_model=DraftRunPublic)
def create_draft_run(
    slug: str, body: DraftRunCreate, session: SessionDep, runtime: RuntimeDep
) -> DraftRunPublic:
    """Queue a drafting job; drafts wait for a verdict and are stored nowhere until then."""
    scenario = get_scenario(session, slug)
    options = body.options()
    run = start_drafting(session, runtime, scenario=scenario, options=options)
    return DraftRunPublic.of(get_draft_run(session, run.id))


@router.get("/draft-runs/{run_id}", response_model=DraftRunPublic)
def read_draft_run(run_id: RecordId, session: SessionDep) -> DraftRunPublic:
    return DraftRunPublic.of(get_draft_run(session, run_id))


@router.post("/draft-runs/{run_id}/cancel", response_model=DraftRunPublic)
def cancel_drafting(run_id: RecordId, session: SessionDep) -> DraftRunPublic:
    run = cancel_draft_run(session, run_id)
    session.commit()
    return DraftRunPublic.of(run)


@router.get("/scenarios/{slug}/drafts", response_model=list[DraftPublic])
def list_drafts(
    slug: str,
    session: SessionDep,
    status: Literal["pending", "accepted", "rejected"] | None = Query(None),
) -> list[DraftPublic]:
    scenario = get_scenario(session, slug)
    return [DraftPublic.of(d) for d in scenario_drafts(session, scenario, status)]


@router.post("/drafts/{draft_id}/accept", response_model=DraftPublic)
def accept(
    draft_id: RecordId, session: SessionDep, runtime: RuntimeDep, body: DraftVerdict | None = None
) -> DraftPublic:
    """Store the draft (eval item: into the scenario's eval set; chat example: into its
    dataset), with the edits given; 409 when it already has a verdict or would leak."""
    edit = (body or DraftVerdict()).edit()
    draft = accept_draft(session, runtime.loaded_embedder(), draft_id, edit)
    session.commit()
    return DraftPublic.of(draft)


@router.post("/drafts/{draft_id}/reject", response_model=DraftPublic)
def reject(draft_id: RecordId, session: SessionDep) -> DraftPublic:
    draft = reject_draft(session, draft_id)
    session.commit()
    return DraftPublic.of(draft)
