"""The compare page (`/`) and the comparison it runs (`POST /compare`).

From htmx, `POST /compare` validates the form and answers with a live view at once: three
empty columns connected (htmx SSE extension) to `GET /compare/stream/{token}`, which runs the
comparison and sends each generated piece of text to its column, then the stored comparison
that replaces the live view. Without JavaScript the form posts normally and the page comes
back when the comparison is done.
"""

from __future__ import annotations

import secrets
import threading
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse
from markupsafe import escape
from pydantic import ValidationError
from sqlalchemy.orm import Session

from app.compare import ComparisonCreate, run_comparison
from app.compare.streaming import EventWriter, sse_event, stream_comparison
from app.config import Settings
from app.db.models import Adapter, Comparison, PromptVersion
from app.db.queries import find_scenario, get_scenario, list_adapters, list_scenarios
from app.deps import RuntimeDep, SessionDep
from app.errors import TITLES, Busy
from app.levels import get_level, level_names
from app.runtime import Runtime
from app.scenarios.versions import versions_by_level
from app.web.current import DEMO, remember, remembered_scenario
from app.web.forms import error_messages, form_fields
from app.web.render import from_htmx, render, templates

router = APIRouter(include_in_schema=False)
FormFields = Annotated[dict[str, Any], Depends(form_fields)]


def form_context(
    request: Request,
    session: Session,
    runtime: Runtime,
    submitted: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """What the compare form shows: choices, defaults as placeholders, and what was sent."""
    scenarios = list_scenarios(session)
    submitted = submitted or {"levels": level_names()}
    chosen = submitted.get("scenario") or default_scenario(request, [s.slug for s in scenarios])
    return {
        "scenarios": scenarios,
        "chosen_scenario": chosen,
        "adapters": scenario_adapters(session, chosen),
        "versions": scenario_versions(session, chosen),
        "levels": [get_level(name) for name in level_names()],
        "defaults": runtime.settings,
        "submitted": submitted,
    }


def default_scenario(request: Request, slugs: list[str]) -> str:
    """The scenario the browser chose last, while it exists; else the demo, else the first."""
    for slug in (remembered_scenario(request), DEMO):
        if slug in slugs:
            return slug
    return slugs[0] if slugs else DEMO


def scenario_adapters(session: Session, slug: str) -> list[Adapter]:
    scenario = find_scenario(session, slug)
    return list_adapters(session, scenario_id=scenario.id) if scenario else []


def scenario_versions(session: Session, slug: str) -> dict[str, list[PromptVersion]]:
    """Each level's prompt versions, newest first (a level may run an older one)."""
    scenario = find_scenario(session, slug)
    return versions_by_level(session, scenario.id) if scenario else {}


@router.get("/")
def compare_page(request: Request, session: SessionDep, runtime: RuntimeDep):
    context = form_context(request, session, runtime)
    return render(request, "compare.html", "_partials/compare_form.html", context)


@router.get("/compare/adapters")
def adapter_choices(request: Request, session: SessionDep, scenario: str = DEMO):
    """The adapter selector for one scenario, and (out of band) its prompt version selectors,
    swapped in when the scenario changes, which the browser then remembers."""
    context = {
        "adapters": scenario_adapters(session, scenario),
        "versions": scenario_versions(session, scenario),
        "submitted": {},
        "swap_versions": True,
    }
    response = templates.TemplateResponse(request, "_partials/adapter_select.html", context)
    return remember(response, scenario) if find_scenario(session, scenario) else response


@router.post("/compare")
def compare(request: Request, session: SessionDep, runtime: RuntimeDep, submitted: FormFields):
    """Run the submitted query (sync, like the API: inference blocks a worker thread)."""
    context = form_context(request, session, runtime, submitted)
    try:
        body = ComparisonCreate(**submitted)
    except ValidationError as error:
        context["errors"] = error_messages(error)
        return render(request, "compare.html", "_partials/form_errors.html", context, 422)
    if from_htmx(request):
        get_scenario(session, body.scenario)
        runtime.models()
        context.update(stream=pending(request).add(body), requested=body.levels or level_names())
        response = render(request, "compare.html", "_partials/live_comparison.html", context)
        return remember(response, body.scenario)
    context["comparison"] = run_comparison(
        session=session,
        runtime=runtime,
        scenario=body.scenario,
        query=body.query,
        options=body.options(),
    )
    response = render(request, "compare.html", "_partials/comparison.html", context)
    return remember(response, body.scenario)


@router.get("/compare/stream/{token}")
def stream(request: Request, token: str, runtime: RuntimeDep):
    """The live view's events: `token-{level}` (escaped text), then `done` (the stored
    comparison, or an error). A token is used once; an unknown or used one (a browser
    reconnecting) gets a `done` that says where to look instead."""
    body = pending(request).take(token)
    if body is None:
        events = iter([expired_event()])
        return StreamingResponse(events, media_type="text/event-stream")
    events = stream_comparison(runtime, body, html_events(runtime.settings))
    return StreamingResponse(events, media_type="text/event-stream")


class PendingStreams:
    """Validated comparisons waiting for their live view to connect (a minute at most)."""

    TTL_S = 60.0

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.waiting: dict[str, tuple[float, ComparisonCreate]] = {}
        self.lock = threading.Lock()

    def add(self, body: ComparisonCreate) -> str:
        token = secrets.token_urlsafe(16)
        with self.lock:
            self.drop_expired()
            if len(self.waiting) >= self.limit:
                raise Busy("too many comparisons are waiting to start; try again shortly")
            self.waiting[token] = (time.monotonic(), body)
        return token

    def take(self, token: str) -> ComparisonCreate | None:
        with self.lock:
            self.drop_expired()
            entry = self.waiting.pop(token, None)
        return entry[1] if entry else None

    def drop_expired(self) -> None:
        now = time.monotonic()
        for token in [t for t, (at, _) in self.waiting.items() if now - at > self.TTL_S]:
            del self.waiting[token]


def pending(request: Request) -> PendingStreams:
    state = request.app.state
    if not hasattr(state, "pending_streams"):
        state.pending_streams = PendingStreams(state.runtime.settings.max_pending_comparisons)
    return state.pending_streams


def fragment(name: str, **context: Any) -> str:
    return templates.env.get_template(name).render(**context)


def error_fragment(status: int, message: str) -> str:
    title = TITLES.get(status, "Error")
    return fragment("_partials/error.html", status=status, title=title, message=message)


def html_events(settings: Settings) -> EventWriter:
    """Escaped text per level, then the stored comparison's fragment (or an error)."""

    def done(comparison: Comparison) -> tuple[str, str]:
        html = fragment(
            "_partials/comparison.html",
            comparison=comparison,
            queries_per_day=settings.queries_per_day,
        )
        return "done", html

    return EventWriter(
        token=lambda level, text: (f"token-{level}", str(escape(text))),
        done=done,
        error=lambda status, message: ("done", error_fragment(status, message)),
    )


def expired_event() -> str:
    message = "This live view has ended; the comparison, if it ran, is in the history."
    return sse_event("done", error_fragment(410, message))
