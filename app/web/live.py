"""Live comparisons: a run validated by a page waits (a minute at most) for its live view
to connect to `GET /compare/stream/{token}`, which runs it and streams each level's stage
and text as HTML, then the stored comparison. `POST /compare/stream/{token}/cancel` skips
the levels the engine has not started yet.

The waiting and running streams are rows in Postgres (app/compare/pending.py): the form,
the stream and its cancel may each reach a different replica.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, StreamingResponse
from markupsafe import escape

from app.compare.pending import CancelWatch, add_pending, cancel_pending, take_pending
from app.compare.streaming import EventWriter, StreamedRun, sse_event, stream_comparison
from app.config import Settings
from app.db.models import Comparison
from app.deps import RuntimeDep, SessionDep
from app.errors import TITLES
from app.levels import level_names
from app.web.render import render, templates

router = APIRouter(include_in_schema=False)
STAGE_WORDS = {
    "queued": "queued",
    "prefill": "prefill (reading the prompt)",
    "generating": "generating",
    "done": "done",
    "failed": "failed",
    "cancelled": "cancelled",
}


def live_view(request: Request, run: StreamedRun, context: dict[str, Any]):
    """The columns of `run`, each queued until its level starts, connected to its stream."""
    runtime = request.app.state.runtime
    with runtime.session() as session:
        token = add_pending(session, run, runtime.settings.max_pending_comparisons)
        session.commit()
    context = {
        **context,
        "stream": token,
        "requested": run.options.levels or level_names(),
        "stage_words": STAGE_WORDS,
    }
    return render(request, "compare.html", "_partials/live_comparison.html", context)


@router.get("/compare/stream/{token}")
def stream(token: str, runtime: RuntimeDep):
    """The live view's events: `stage-{level}` and `token-{level}` (escaped text), then
    `done` (the stored comparison, or an error). A token is used once; an unknown or used one
    (a browser reconnecting) gets a `done` that says where to look instead."""
    with runtime.session() as session:
        run = take_pending(session, token)
    if run is None:
        return StreamingResponse(iter([expired_event()]), media_type="text/event-stream")
    watch = CancelWatch(runtime, token, run)
    watch.thread.start()
    events = stream_comparison(runtime, run, html_events(runtime.settings))
    return StreamingResponse(ending(events, watch), media_type="text/event-stream")


def ending(events: Iterator[str], watch: CancelWatch) -> Iterator[str]:
    try:
        yield from events
    finally:  # also when the browser goes away: the run goes on, but no one can cancel it
        watch.end()


@router.post("/compare/stream/{token}/cancel")
def cancel(token: str, session: SessionDep) -> HTMLResponse:
    """Skip the levels of a live comparison that the engine has not started yet (a level
    already generating finishes); they are stored as cancelled."""
    if cancel_pending(session, token):
        return HTMLResponse(
            '<span class="meta cancelling" role="status">Cancelling: levels not started '
            "yet are skipped.</span>"
        )
    message = "This comparison has already ended; it is in the history."
    return HTMLResponse(error_fragment(410, message), status_code=410)


def fragment(name: str, **context: Any) -> str:
    return templates.env.get_template(name).render(**context)


def error_fragment(status: int, message: str) -> str:
    title = TITLES.get(status, "Error")
    return fragment("_partials/error.html", status=status, title=title, message=message)


def stage_fragment(level: str, stage: str, seconds: float) -> tuple[str, str]:
    """A column's stage, with the seconds it has lasted (the page's clock ticks on)."""
    html = fragment("_partials/stage.html", stage=stage, seconds=seconds, words=STAGE_WORDS)
    return f"stage-{level}", html


def html_events(settings: Settings) -> EventWriter:
    """Each level's stage and escaped text, then the stored comparison's fragment (or an
    error)."""

    def done(comparison: Comparison) -> tuple[str, str]:
        html = fragment(
            "_partials/comparison.html",
            comparison=comparison,
            queries_per_day=settings.queries_per_day,
            just_run=True,
        )
        return "done", html

    return EventWriter(
        token=lambda level, text: (f"token-{level}", str(escape(text))),
        done=done,
        error=lambda status, message: ("done", error_fragment(status, message)),
        stage=stage_fragment,
    )


def expired_event() -> str:
    message = "This live view has ended; the comparison, if it ran, is in the history."
    return sse_event("done", error_fragment(410, message))
