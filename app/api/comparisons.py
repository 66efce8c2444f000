"""`/api/v1/comparisons`: run, list, read and export comparisons."""

from __future__ import annotations

import csv
import io
import json
import logging
import queue
import threading
from collections.abc import Iterator
from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.responses import StreamingResponse

from app.api.schemas import ComparisonCreate, ComparisonPublic, ComparisonsPublic
from app.compare import run_comparison
from app.db.queries import get_comparison, get_scenario, iter_comparisons, list_comparisons
from app.deps import RuntimeDep, SessionDep
from app.errors import AppError
from app.runtime import Runtime

router = APIRouter(prefix="/api/v1/comparisons", tags=["comparisons"])
log = logging.getLogger(__name__)
MAX_ID = 2**31 - 1  # ids are Postgres integers; larger numbers are bad input, not a 500

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


class ExportFormat(StrEnum):
    csv = "csv"
    jsonl = "jsonl"


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
def stream_comparison(body: ComparisonCreate, session: SessionDep, runtime: RuntimeDep):
    """Run a comparison and stream it as Server-Sent Events: `token` events
    (`{"level", "text"}`, one per generated piece of text per level) while the levels
    generate, then one `comparison` event with the stored comparison (as from `POST`), or
    an `error` event (`{"detail", "status"}`). Bad input, an unknown scenario and models
    still loading are refused before the stream starts (422, 404, 503)."""
    get_scenario(session, body.scenario)
    runtime.models()
    events: queue.Queue[tuple[str, dict] | None] = queue.Queue()
    worker = threading.Thread(
        target=stream_worker, args=(runtime, body, events), name="tritune-stream", daemon=True
    )
    worker.start()
    return StreamingResponse(sse_lines(events), media_type="text/event-stream")


def stream_worker(runtime: Runtime, body: ComparisonCreate, events: queue.Queue) -> None:
    def on_token(level: str, text: str) -> None:
        events.put(("token", {"level": level, "text": text}))

    try:
        with runtime.session() as session:
            comparison = run_comparison(
                session=session,
                runtime=runtime,
                scenario=body.scenario,
                query=body.query,
                options=body.options(),
                on_token=on_token,
            )
            events.put(("comparison", ComparisonPublic.of(comparison).model_dump(mode="json")))
    except AppError as error:
        events.put(("error", {"detail": error.message, "status": error.status}))
    except Exception:
        log.exception("streamed comparison failed")
        events.put(("error", {"detail": "internal error; see the server log", "status": 500}))
    finally:
        events.put(None)


def sse_lines(events: queue.Queue) -> Iterator[str]:
    while (event := events.get()) is not None:
        name, data = event
        yield f"event: {name}\ndata: {json.dumps(data)}\n\n"


@router.get("", response_model=ComparisonsPublic)
def list_all(
    session: SessionDep,
    scenario: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
    offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
):
    """Comparisons, newest first, optionally of one scenario."""
    page, total = list_comparisons(session, scenario=scenario, limit=limit, offset=offset)
    return ComparisonsPublic(
        items=[ComparisonPublic.of(c) for c in page], total=total, limit=limit, offset=offset
    )


@router.get("/export", response_class=StreamingResponse)
def export(
    session: SessionDep, format: ExportFormat = ExportFormat.jsonl, scenario: str | None = None
):
    """Every comparison: `jsonl` (one comparison per line) or `csv` (one row per result)."""
    if scenario:
        get_scenario(session, scenario)
    rows = iter_comparisons(session, scenario=scenario)
    if format is ExportFormat.csv:
        body, media = csv_lines(rows), "text/csv"
    else:
        body, media = (
            (ComparisonPublic.of(c).model_dump_json() + "\n" for c in rows),
            ("application/x-ndjson"),
        )
    filename = f"tritune-comparisons.{format.value}"
    return StreamingResponse(
        body,
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get("/{comparison_id}", response_model=ComparisonPublic)
def read(comparison_id: Annotated[int, Path(ge=1, le=MAX_ID)], session: SessionDep):
    return ComparisonPublic.of(get_comparison(session, comparison_id))


def csv_lines(comparisons) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, CSV_COLUMNS)
    writer.writeheader()
    for comparison in comparisons:
        for result in comparison.results:
            writer.writerow(csv_row(comparison, result))
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()


def csv_row(comparison, result) -> dict:
    row = {column: getattr(result, column, None) for column in CSV_COLUMNS}
    row.update(
        comparison_id=comparison.id,
        created_at=comparison.created_at.isoformat(),
        scenario=comparison.scenario.slug,
        query=comparison.query,
    )
    return row
