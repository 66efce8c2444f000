"""Live comparisons: a run validated by a page waits (a minute at most) for its live view
to connect to `GET /compare/stream/{token}`, which runs it and streams each level's stage
and text as HTML, then the stored comparison. `POST /compare/stream/{token}/cancel` skips
the levels the engine has not started yet.

The waiting and running streams live in this process, as the stream itself does: the
browser's stream and its cancel reach the replica that answered the form.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, StreamingResponse
from markupsafe import escape

from app.compare.streaming import EventWriter, StreamedRun, sse_event, stream_comparison
from app.config import Settings
from app.db.models import Comparison
from app.deps import RuntimeDep
from app.errors import TITLES, Busy
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


class LiveStreams:
    """Runs waiting for their live view (`add`, `take`) and running (`cancel`, `end`)."""

    TTL_S = 60.0

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.waiting: dict[str, tuple[float, StreamedRun]] = {}
        self.running: dict[str, StreamedRun] = {}
        self.lock = threading.Lock()

    def add(self, run: StreamedRun) -> str:
        token = secrets.token_urlsafe(16)
        with self.lock:
            self.drop_expired()
            if len(self.waiting) >= self.limit:
                raise Busy("too many comparisons are waiting to start; try again shortly")
            self.waiting[token] = (time.monotonic(), run)
        return token

    def take(self, token: str) -> StreamedRun | None:
        """The run for its stream, once: it counts as running until `end`."""
        with self.lock:
            self.drop_expired()
            entry = self.waiting.pop(token, None)
            if entry is not None:
                self.running[token] = entry[1]
        return entry[1] if entry else None

    def cancel(self, token: str) -> bool:
        """Skip the run's levels not started yet; False when no such run waits or runs."""
        with self.lock:
            waiting = self.waiting.get(token)
            run = waiting[1] if waiting else self.running.get(token)
        if run is not None:
            run.cancel.set()
        return run is not None

    def end(self, token: str) -> None:
        with self.lock:
            self.running.pop(token, None)

    def drop_expired(self) -> None:
        now = time.monotonic()
        for token in [t for t, (at, _) in self.waiting.items() if now - at > self.TTL_S]:
            del self.waiting[token]


def live_streams(request: Request) -> LiveStreams:
    state = request.app.state
    if not hasattr(state, "live_streams"):
        state.live_streams = LiveStreams(state.runtime.settings.max_pending_comparisons)
    return state.live_streams


def live_view(request: Request, run: StreamedRun, context: dict[str, Any]):
    """The columns of `run`, each queued until its level starts, connected to its stream."""
    context = {
        **context,
        "stream": live_streams(request).add(run),
        "requested": run.options.levels or level_names(),
        "stage_words": STAGE_WORDS,
    }
    return render(request, "compare.html", "_partials/live_comparison.html", context)


@router.get("/compare/stream/{token}")
def stream(request: Request, token: str, runtime: RuntimeDep):
    """The live view's events: `stage-{level}` and `token-{level}` (escaped text), then
    `done` (the stored comparison, or an error). A token is used once; an unknown or used one
    (a browser reconnecting) gets a `done` that says where to look instead."""
    streams = live_streams(request)
    run = streams.take(token)
    if run is None:
        return StreamingResponse(iter([expired_event()]), media_type="text/event-stream")
    events = stream_comparison(runtime, run, html_events(runtime.settings))
    return StreamingResponse(ending(events, streams, token), media_type="text/event-stream")


def ending(events: Iterator[str], streams: LiveStreams, token: str) -> Iterator[str]:
    try:
        yield from events
    finally:  # also when the browser goes away: the run goes on, but no one can cancel it
        streams.end(token)


@router.post("/compare/stream/{token}/cancel")
def cancel(request: Request, token: str) -> HTMLResponse:
    """Skip the levels of a live comparison that the engine has not started yet (a level
    already generating finishes); they are stored as cancelled."""
    if live_streams(request).cancel(token):
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
