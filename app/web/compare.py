"""The compare page (`/`) and the comparison it runs (`POST /compare`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import ValidationError

from app.api.schemas import ComparisonCreate
from app.compare import run_comparison
from app.db.queries import list_adapters, list_scenarios
from app.deps import RuntimeDep, SessionDep
from app.levels import get_level, level_names
from app.web.forms import error_messages, form_fields
from app.web.render import render

router = APIRouter(include_in_schema=False)
FormFields = Annotated[dict[str, Any], Depends(form_fields)]


def form_context(session, runtime, submitted: dict[str, Any] | None = None) -> dict[str, Any]:
    """What the compare form shows: choices, defaults as placeholders, and what was sent."""
    return {
        "scenarios": list_scenarios(session),
        "adapters": list_adapters(session),
        "levels": [get_level(name) for name in level_names()],
        "defaults": runtime.settings,
        "submitted": submitted or {"levels": level_names()},
    }


@router.get("/")
def compare_page(request: Request, session: SessionDep, runtime: RuntimeDep):
    context = form_context(session, runtime)
    return render(request, "compare.html", "_partials/compare_form.html", context)


@router.post("/compare")
def compare(request: Request, session: SessionDep, runtime: RuntimeDep, submitted: FormFields):
    """Run the submitted query (sync, like the API: inference blocks a worker thread)."""
    context = form_context(session, runtime, submitted)
    try:
        body = ComparisonCreate(**submitted)
    except ValidationError as error:
        context["errors"] = error_messages(error)
        return render(request, "compare.html", "_partials/form_errors.html", context, 422)
    context["comparison"] = run_comparison(
        session=session,
        runtime=runtime,
        scenario=body.scenario,
        query=body.query,
        options=body.options(),
    )
    return render(request, "compare.html", "_partials/comparison.html", context)
