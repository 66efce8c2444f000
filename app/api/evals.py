"""`/api/v1` evals: upload eval sets, start eval runs, follow them, export their scores, and
the scenario's decision report."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from app.api.bodies import TEXT_BODIES
from app.api.schemas import API_ERRORS
from app.db.models import MAX_ID, EvalRun, EvalSet, Scenario
from app.db.queries import get_scenario
from app.deps import RecordId, RuntimeDep, SessionDep, SettingsDep
from app.evals.decision import scenario_report
from app.evals.items import MAX_UPLOAD_BYTES, parse_eval_upload, store_eval_set
from app.evals.requests import EvalCreate
from app.evals.runner import (
    cancel_eval_run,
    current_summary,
    get_eval_run,
    start_eval,
)
from app.evals.scores import EXPORT_COLUMNS, export_rows, list_eval_runs, run_changes
from app.evals.summary import winners
from app.evals.wins import run_wins
from app.exports import MEDIA_TYPES, ExportFormat, attachment, csv_lines, json_lines
from app.jsonl import JsonlLimits
from app.scenarios.current import choose_eval_set, current_eval_set, list_eval_sets

router = APIRouter(prefix="/api/v1", tags=["evals"], responses=API_ERRORS, dependencies=TEXT_BODIES)


class EvalRunPublic(BaseModel):
    id: int
    scenario: str
    status: str
    done: int
    total: int
    progress: float
    levels: list[str]
    skipped: dict[str, str]
    options: dict[str, Any]
    cancel_requested: bool
    error: str | None
    created_at: datetime
    finished_at: datetime | None
    summary: dict[str, Any] | None
    winners: dict[str, Any] | None

    @classmethod
    def of(cls, run: EvalRun, summary: dict[str, Any] | None) -> EvalRunPublic:
        return cls(
            id=run.id,
            scenario=run.scenario.slug,
            status=run.status,
            done=run.done,
            total=run.total,
            progress=round(run.done / run.total, 4) if run.total else 1.0,
            levels=run.levels,
            skipped=run.skipped,
            options={k: v for k, v in run.options.items() if k != "item_ids"},
            cancel_requested=run.cancel_requested,
            error=run.error,
            created_at=run.created_at,
            finished_at=run.finished_at,
            summary=summary,
            winners=winners(summary["levels"], summary["pairs"]) if summary else None,
        )


class EvalSetPublic(BaseModel):
    id: int
    scenario: str
    name: str
    sha256: str
    items: int
    kinds: dict[str, int]
    current: bool = Field(description="Whether eval runs use this set (the scenario's current).")
    created_at: datetime

    @classmethod
    def of(cls, eval_set: EvalSet, scenario: Scenario, current: bool) -> EvalSetPublic:
        kinds = Counter(item.kind for item in eval_set.items)
        return cls(
            id=eval_set.id,
            scenario=scenario.slug,
            name=eval_set.name,
            sha256=eval_set.sha256,
            items=sum(kinds.values()),
            kinds=dict(sorted(kinds.items())),
            current=current,
            created_at=eval_set.created_at,
        )


@router.post(
    "/scenarios/{slug}/eval-sets",
    status_code=201,
    response_model=EvalSetPublic,
    form_limits={"max_files": 1},
)
async def upload_eval_set(slug: str, file: UploadFile, session: SessionDep, settings: SettingsDep):
    """Upload eval items as JSONL (multipart field `file`); it becomes the scenario's current
    eval set, also when the same items were uploaded before. 422 naming every bad line, and
    nothing stored, if any line is bad."""
    scenario = get_scenario(session, slug)
    raw = await file.read(MAX_UPLOAD_BYTES + 1)
    # off the event loop: a file of many lines takes seconds to check
    items = await run_in_threadpool(parse_eval_upload, raw, JsonlLimits.of(settings))
    eval_set = store_eval_set(
        session, scenario=scenario, name=file.filename or "upload.jsonl", items=items
    )
    choose_eval_set(session, scenario, eval_set.id)  # the same items again too
    session.commit()
    return EvalSetPublic.of(eval_set, scenario, current=True)


@router.get("/scenarios/{slug}/eval-sets", response_model=list[EvalSetPublic])
def eval_sets(slug: str, session: SessionDep):
    """The scenario's eval sets, newest first; `current` marks the one eval runs use."""
    scenario = get_scenario(session, slug)
    current = current_eval_set(session, scenario)
    return [
        EvalSetPublic.of(s, scenario, current=current is not None and s.id == current.id)
        for s in list_eval_sets(session, scenario)
    ]


@router.post("/scenarios/{slug}/eval-sets/{eval_set_id}/current", response_model=EvalSetPublic)
def make_eval_set_current(slug: str, eval_set_id: RecordId, session: SessionDep):
    """Make this eval set the scenario's current one: what eval runs use from now on (404 when
    the scenario has no eval set of that id)."""
    scenario = get_scenario(session, slug)
    eval_set = choose_eval_set(session, scenario, eval_set_id)
    session.commit()
    return EvalSetPublic.of(eval_set, scenario, current=True)


@router.post("/scenarios/{slug}/evals", status_code=202, response_model=EvalRunPublic)
def create_eval(
    slug: str, session: SessionDep, runtime: RuntimeDep, body: EvalCreate | None = None
):
    """Start an eval run in the background: each chosen item through every level the scenario
    can run (each becomes a stored comparison). Levels that cannot run are listed in
    `skipped` with the reason. 409 while another eval runs; 422 when nothing can run."""
    run = start_eval(session, runtime, slug, (body or EvalCreate()).options())
    return EvalRunPublic.of(run, None)


@router.get("/scenarios/{slug}/evals", response_model=list[EvalRunPublic])
def list_evals(slug: str, session: SessionDep, limit: Annotated[int, Query(ge=1, le=100)] = 20):
    """The scenario's eval runs, newest first (without summaries)."""
    scenario = get_scenario(session, slug)
    runs = list_eval_runs(session, scenario_id=scenario.id, limit=limit)
    return [EvalRunPublic.of(run, None) for run in runs]


@router.get("/evals/{eval_id}", response_model=EvalRunPublic)
def read_eval(eval_id: RecordId, session: SessionDep):
    """Status, progress (comparisons done / total) and the summary per level and per kind
    (so far, while it runs), with the winning level per metric."""
    run = get_eval_run(session, eval_id)
    return EvalRunPublic.of(run, current_summary(session, run))


@router.post("/evals/{eval_id}/cancel", response_model=EvalRunPublic)
def cancel_eval(eval_id: RecordId, session: SessionDep):
    """Cancel a queued run, or stop a running one after its current item; it keeps the scores
    it stored and its summary over them (409 when already finished or being cancelled)."""
    run = cancel_eval_run(session, eval_id)
    session.commit()
    return EvalRunPublic.of(run, current_summary(session, run))


@router.get("/evals/{eval_id}/export", response_class=StreamingResponse)
def export_eval(eval_id: RecordId, session: SessionDep, format: ExportFormat = ExportFormat.csv):
    """Every score of the run: one row per item, level and repeat, with the output."""
    run = get_eval_run(session, eval_id)
    rows = export_rows(session, run.id)
    body = csv_lines(rows, EXPORT_COLUMNS) if format is ExportFormat.csv else json_lines(rows)
    return StreamingResponse(
        body,
        media_type=MEDIA_TYPES[format],
        headers=attachment(f"tritune-eval-{run.id}.{format.value}"),
    )


Level = Annotated[str | None, Query(max_length=64)]
Direction = Literal["both", "a", "b"]


@router.get("/evals/{eval_id}/wins")
def eval_wins(
    eval_id: RecordId,
    session: SessionDep,
    a: Level = None,
    b: Level = None,
    metric: Annotated[str, Query(max_length=64)] = "quality",
    kind: Annotated[str | None, Query(max_length=64)] = None,
    direction: Direction = "both",
) -> dict[str, Any]:
    """Per-item wins and losses between two levels of the run (default its first two): the
    items where `a` scored higher on `metric` (for pass/fail metrics: passed where b failed)
    and where `b` did (`direction` a, b or both), of `kind` or every kind, with each level's
    outputs and comparison ids, the counts (`a_won`, `b_won`, `same`, `common`) and the
    pair's paired test from the run's summary (from a's side; Holm-adjusted as the summary
    shows it). 422 for a level, metric or direction the run does not have."""
    run = get_eval_run(session, eval_id)
    wins = run_wins(session, run, a=a, b=b, metric=metric, kind=kind or None, direction=direction)
    return {"eval_run_id": run.id, **asdict(wins)}


@router.get("/evals/{eval_id}/changes")
def eval_changes(
    eval_id: RecordId,
    session: SessionDep,
    other: Annotated[int, Query(ge=1, le=MAX_ID, description="the earlier run")],
) -> dict[str, Any]:
    """This run against an earlier run (`other`) of the same scenario: per level, and per kind
    and level, each quality metric's mean in both runs and the change tested on the items
    both scored (`test`: McNemar or Wilcoxon, Holm-adjusted across the levels of a metric;
    `notable`: significant at 0.05). Items match by id within one eval set, else by kind and
    input. 422 for runs of two scenarios."""
    after, before = get_eval_run(session, eval_id), get_eval_run(session, other)
    return {"before": before.id, "after": after.id, **run_changes(session, before, after)}


@router.get("/scenarios/{slug}/report")
def report(
    slug: str,
    session: SessionDep,
    settings: SettingsDep,
    profile: Annotated[str | None, Query(max_length=100)] = None,
    queries_per_day: Annotated[float | None, Query(gt=0, le=1e9)] = None,
    utilisation_pct: Annotated[float, Query(gt=0, le=100)] = 100,
) -> dict[str, Any]:
    """Which level to use for this scenario and why, from its latest finished eval run and a
    pricing profile (`profile`, default the scenario's, else the setting's) at
    `queries_per_day`, with machines billed per hour busy `utilisation_pct` percent of the
    time (their compute costs 100/utilisation_pct times as much per query). `cost_at_scale`:
    each level's monthly cost from 10^2 to 10^7 queries a month, the break-evens, and the
    cost per 1,000 queries of the levels billed per hour at 100, 50, 25 and 10% utilisation.
    404 when the scenario has no finished eval run."""
    found = scenario_report(
        session,
        settings,
        slug,
        profile=profile,
        queries_per_day=queries_per_day,
        utilisation=utilisation_pct / 100,
    )
    costs = found.costs
    return {
        "scenario": slug,
        "eval_run_id": found.run.id,
        **asdict(found.report),
        "pricing": {
            "profile": costs.profile.name,
            "title": costs.profile.title,
            "as_of": costs.profile.as_of,
            "source": costs.profile.source,
            "queries_per_day": costs.queries_per_day,
            "levels": {lv: asdict(c) for lv, c in costs.levels.items()},
            "break_evens": [asdict(b) for b in costs.break_evens],
        },
        "cost_at_scale": asdict(found.scale),
    }
