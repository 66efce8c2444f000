"""`/api/v1/comparisons`: run, list, read and export comparisons."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from app.api.bodies import TEXT_BODIES
from app.api.schemas import API_ERRORS, ComparisonsPublic
from app.compare import ComparisonCreate, ComparisonPublic, run_comparison
from app.compare.streaming import EventWriter, StreamedRun, stream_comparison
from app.db.models import Comparison
from app.db.queries import get_comparison, get_scenario, iter_comparisons, list_comparisons
from app.deps import MAX_ID, RecordId, RuntimeDep, SessionDep
from app.exports import MEDIA_TYPES, ExportFormat, attachment, csv_lines

router = APIRouter(
    prefix="/api/v1/comparisons",
    tags=["comparisons"],
    responses=API_ERRORS,
    dependencies=TEXT_BODIES,
)

CSV_COLUMNS = [
    "comparison_id",
    "created_at",
    "scenario",
    "query",
    "level",
    "output",
    "error",
    "engine",
    "model",
    "adapter",
    "adapter_checksum",
    "prompt_tokens",
    "completion_tokens",
    "latency_total_ms",
    "latency_retrieval_ms",
    "latency_first_token_ms",
    "latency_generation_ms",
    "tokens_per_s",
    "cost_usd",
]


@router.post("", status_code=201, response_model=ComparisonPublic)
def create_comparison(body: ComparisonCreate, session: SessionDep, runtime: RuntimeDep):
    """Run one query through the chosen levels and store the comparison.

    A level that cannot run (no adapter, no documents) or fails carries `error`; the other
    levels still return. 404 for an unknown scenario, 503 while models are loading."""
    get_scenario(session, body.scenario)
    options = body.options()
    comparison = run_comparison(
        session=session,
        runtime=runtime,
        scenario=body.scenario,
        query=body.query,
        options=options,
    )
    return ComparisonPublic.of(comparison)


@router.post(
    "/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
def stream(body: ComparisonCreate, session: SessionDep, runtime: RuntimeDep):
    """Run a comparison and stream it as Server-Sent Events: `token` events
    (`{"level", "text"}`, one per generated piece of text per level) while the levels
    generate, then one `comparison` event with the stored comparison (as from `POST`), or
    an `error` event (`{"detail", "status"}`). Bad input, an unknown scenario and models
    still loading are refused before the stream starts (422, 404, 503)."""
    get_scenario(session, body.scenario)
    runtime.models()
    return StreamingResponse(
        stream_comparison(runtime, StreamedRun.of(body), JSON_EVENTS),
        media_type="text/event-stream",
    )


JSON_EVENTS = EventWriter(
    token=lambda level, text: ("token", json.dumps({"level": level, "text": text})),
    done=lambda comparison: (
        "comparison",
        ComparisonPublic.of(comparison).model_dump_json(),
    ),
    error=lambda status, detail: ("error", json.dumps({"detail": detail, "status": status})),
)


@router.get("", response_model=ComparisonsPublic)
def list_all(
    session: SessionDep,
    scenario: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
    offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
    served: Annotated[
        bool | None,
        Query(description="true: only calls to `/v1/chat/completions`; false: only the others"),
    ] = None,
):
    """Comparisons, newest first, optionally of one scenario."""
    page, total = list_comparisons(
        session, scenario=scenario, limit=limit, offset=offset, served=served
    )
    return ComparisonsPublic(
        items=[ComparisonPublic.of(c) for c in page], total=total, limit=limit, offset=offset
    )


@router.get("/export", response_class=StreamingResponse)
def export(
    session: SessionDep,
    format: ExportFormat = ExportFormat.jsonl,
    scenario: str | None = None,
    q: Annotated[
        str | None,
        Query(max_length=500, description="Only comparisons whose query contains this text."),
    ] = None,
):
    """Every comparison (of `scenario`, with `q` in its query, when given): `jsonl` (one
    comparison per line) or `csv` (one row per result)."""
    if scenario:
        get_scenario(session, scenario)
    q = (q or "").strip() or None
    rows = iter_comparisons(session, scenario=scenario, q=q)
    if format is ExportFormat.csv:
        body = csv_lines(csv_rows(rows), CSV_COLUMNS)
    else:
        body = (ComparisonPublic.of(c).model_dump_json() + "\n" for c in rows)
    return StreamingResponse(
        body,
        media_type=MEDIA_TYPES[format],
        headers=attachment(f"tritune-comparisons.{format.value}"),
    )


@router.get("/{comparison_id}", response_model=ComparisonPublic)
def read(comparison_id: RecordId, session: SessionDep):
    return ComparisonPublic.of(get_comparison(session, comparison_id))


def csv_rows(comparisons: Iterable[Comparison]) -> Iterator[dict[str, Any]]:
    """One row per result, with its comparison's id, time, scenario and query."""
    for comparison in comparisons:
        for result in comparison.results:
            row = {column: getattr(result, column, None) for column in CSV_COLUMNS}
            row.update(
                comparison_id=comparison.id,
                created_at=comparison.created_at.isoformat(),
                scenario=comparison.scenario.slug,
                query=comparison.query,
            )
            yield row
