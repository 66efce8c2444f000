"""The compare page (`/`) and the comparison it runs (`POST /compare`).

From htmx, `POST /compare` validates the form and answers with a live view at once
(app/web/live.py): one column per level, each queued until the engine starts it, connected
(htmx SSE extension) to a stream that runs the comparison and sends each level's stage and
text to its column, then the stored comparison that replaces the live view. Without
JavaScript the form posts normally and the page comes back when the comparison is done.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import ValidationError
from sqlalchemy.orm import Session

from app.compare import ComparisonCreate, run_comparison
from app.compare.shapes import QUERY_EXAMPLE
from app.compare.streaming import StreamedRun
from app.db.models import Adapter, PromptVersion
from app.db.queries import (
    example_queries,
    find_scenario,
    get_scenario,
    list_adapters,
    list_scenarios,
)
from app.deps import RuntimeDep, SessionDep
from app.levels import get_level, level_names
from app.runtime import Runtime
from app.scenarios.versions import versions_by_level
from app.web.current import DEMO, remember, remembered_scenario
from app.web.forms import error_messages, form_fields
from app.web.live import live_view
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
        "examples": scenario_examples(session, chosen),
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


def scenario_examples(session: Session, slug: str) -> list[str]:
    """Queries to try: one of each kind from the scenario's eval set; the API's example
    for the demo when it has none."""
    scenario = find_scenario(session, slug)
    items = example_queries(session, scenario_id=scenario.id) if scenario else []
    if not items and slug == DEMO:
        return [QUERY_EXAMPLE]
    return [item.input for item in items]


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
    """The adapter selector for one scenario, and (out of band) its prompt version selectors
    and example queries, swapped in when the scenario changes, which the browser then
    remembers."""
    context = {
        "adapters": scenario_adapters(session, scenario),
        "versions": scenario_versions(session, scenario),
        "examples": scenario_examples(session, scenario),
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
        response = live_view(request, StreamedRun.of(body), context)
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
