"""`/api/v1` evals: upload eval sets, start eval runs, follow them, export their scores, and
the scenario's decision report."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import asdict
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, UploadFile
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select

from app.api.comparisons import MAX_ID
from app.db.models import EvalItem, EvalRun, EvalScore, Result
from app.db.queries import get_scenario
from app.deps import RuntimeDep, SessionDep, SettingsDep
from app.evals.decision import scenario_report
from app.evals.items import EvalSetInvalid, parse_eval_jsonl, store_eval_set
from app.evals.runner import (
    EvalOptions,
    cancel_eval_run,
    current_summary,
    get_eval_run,
    start_eval,
)
from app.evals.scoring import QUALITY_METRICS
from app.evals.summary import winners
from app.levels import level_names

router = APIRouter(prefix="/api/v1", tags=["evals"])
EvalId = Annotated[int, Path(ge=1, le=MAX_ID)]
MAX_UPLOAD_BYTES = 5_000_000


class EvalCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"limit": 6}, {"repeats": 3}]}
    )

    levels: list[str] | None = Field(None, min_length=1, description="Default: all levels.")
    limit: int | None = Field(None, ge=1, le=100_000, description="Only the first N items.")
    kinds: list[str] | None = Field(None, min_length=1, description="Only items of these kinds.")
    repeats: int = Field(1, ge=1, le=20, description="Runs of each item (needs temperature > 0).")
    max_new_tokens: int | None = Field(None, ge=1, le=1024, description="Default: setting.")
    temperature: float | None = Field(
        None, ge=0, le=2, description="Default 0; 0.7 when repeats > 1."
    )

    @field_validator("levels")
    @classmethod
    def known_levels(cls, levels: list[str] | None) -> list[str] | None:
        unknown = [lv for lv in levels or [] if lv not in level_names()]
        if unknown:
            raise ValueError(f"unknown level(s) {unknown}; choose from {level_names()}")
        return list(dict.fromkeys(levels)) if levels else None

    def options(self) -> EvalOptions:
        return EvalOptions(**self.model_dump())


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
            winners=winners(summary["levels"]) if summary else None,
        )


class EvalSetPublic(BaseModel):
    id: int
    scenario: str
    name: str
    sha256: str
    items: int
    kinds: dict[str, int]


class ExportFormat(StrEnum):
    csv = "csv"
    jsonl = "jsonl"


@router.post("/scenarios/{slug}/eval-sets", status_code=201, response_model=EvalSetPublic)
async def upload_eval_set(slug: str, file: UploadFile, session: SessionDep):
    """Upload eval items as JSONL (multipart field `file`); it becomes the scenario's current
    eval set. 422 naming every bad line, and nothing stored, if any line is bad."""
    scenario = get_scenario(session, slug)
    raw = await file.read(MAX_UPLOAD_BYTES + 1)
    if len(raw) > MAX_UPLOAD_BYTES:
        raise EvalSetInvalid([f"file: larger than {MAX_UPLOAD_BYTES} bytes"])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise EvalSetInvalid([f"file: not UTF-8 text (byte {error.start})"]) from None
    items = parse_eval_jsonl(text)
    eval_set = store_eval_set(
        session, scenario=scenario, name=file.filename or "upload.jsonl", items=items
    )
    session.commit()
    kinds: dict[str, int] = {}
    for item in items:
        kinds[item.kind] = kinds.get(item.kind, 0) + 1
    return EvalSetPublic(
        id=eval_set.id,
        scenario=slug,
        name=eval_set.name,
        sha256=eval_set.sha256,
        items=len(items),
        kinds=kinds,
    )


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
    runs = session.scalars(
        select(EvalRun)
        .where(EvalRun.scenario_id == scenario.id)
        .order_by(EvalRun.created_at.desc(), EvalRun.id.desc())
        .limit(limit)
    )
    return [EvalRunPublic.of(run, None) for run in runs]


@router.get("/evals/{eval_id}", response_model=EvalRunPublic)
def read_eval(eval_id: EvalId, session: SessionDep):
    """Status, progress (comparisons done / total) and the summary per level and per kind
    (so far, while it runs), with the winning level per metric."""
    run = get_eval_run(session, eval_id)
    return EvalRunPublic.of(run, current_summary(session, run))


@router.post("/evals/{eval_id}/cancel", response_model=EvalRunPublic)
def cancel_eval(eval_id: EvalId, session: SessionDep):
    """Cancel a queued run, or stop a running one after its current item; it keeps the scores
    it stored and its summary over them (409 when already finished or being cancelled)."""
    run = cancel_eval_run(session, eval_id)
    session.commit()
    return EvalRunPublic.of(run, current_summary(session, run))


@router.get("/evals/{eval_id}/export", response_class=StreamingResponse)
def export_eval(eval_id: EvalId, session: SessionDep, format: ExportFormat = ExportFormat.csv):
    """Every score of the run: one row per item, level and repeat, with the output."""
    run = get_eval_run(session, eval_id)
    rows = score_rows(session, run.id)
    if format is ExportFormat.csv:
        body, media = csv_lines(rows), "text/csv"
    else:
        body, media = (json_line(row) for row in rows), "application/x-ndjson"
    filename = f"tritune-eval-{run.id}.{format.value}"
    return StreamingResponse(
        body,
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


EXPORT_COLUMNS = ["eval_run_id", "item_id", "kind", "input", "level", "repeat", "comparison_id"]
EXPORT_COLUMNS += ["output", *QUALITY_METRICS, "latency_ms", "cost_usd", "prompt_tokens"]
EXPORT_COLUMNS += ["completion_tokens", "error"]


def score_rows(session, run_id: int) -> Iterator[dict[str, Any]]:
    statement = (
        select(EvalScore, EvalItem, Result.output)
        .join(EvalItem, EvalScore.eval_item_id == EvalItem.id)
        .outerjoin(
            Result,
            (Result.comparison_id == EvalScore.comparison_id) & (Result.level == EvalScore.level),
        )
        .where(EvalScore.eval_run_id == run_id)
        .order_by(EvalScore.id)
    )
    for score, item, output in session.execute(statement):
        yield {
            "eval_run_id": run_id,
            "item_id": item.id,
            "kind": item.kind,
            "input": item.input,
            "level": score.level,
            "repeat": score.repeat,
            "comparison_id": score.comparison_id,
            "output": output,
            **{k: v for k, v in score.metrics.items() if k in EXPORT_COLUMNS},
        }


def json_line(row: dict[str, Any]) -> str:
    return json.dumps(row) + "\n"


def csv_lines(rows) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, EXPORT_COLUMNS)
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()


@router.get("/scenarios/{slug}/report")
def report(
    slug: str,
    session: SessionDep,
    settings: SettingsDep,
    profile: Annotated[str | None, Query(max_length=100)] = None,
    queries_per_day: Annotated[float | None, Query(gt=0, le=1e9)] = None,
) -> dict[str, Any]:
    """Which level to use for this scenario and why, from its latest finished eval run and a
    pricing profile (`profile`, default the setting) at `queries_per_day`. 404 when the
    scenario has no finished eval run."""
    found = scenario_report(
        session, settings, slug, profile=profile, queries_per_day=queries_per_day
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
    }
