"""Templates and how routes answer with them: the page, or only its fragment for htmx."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from app.auth.access import current_principal
from app.levels import level_label
from app.web import chart, comparison_view
from app.web.citations import link_citations
from app.web.current import nav_scenario

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "templates"
STATIC = ROOT / "static"


def readiness(request: Request) -> dict[str, Any]:
    """Every page shows a banner while the models load, and costs a month at the configured
    volume."""
    runtime = request.app.state.runtime
    return {
        "runtime_ready": runtime.ready,
        "runtime_stage": runtime.load_error or runtime.stage,
        "queries_per_day": runtime.settings.queries_per_day,
    }


def request_checks(request: Request) -> dict[str, Any]:
    """Every page's CSRF token (base.html puts it in each form and htmx request) and who is
    logged in (None on the public pages, `via == "open"` without accounts)."""
    return {
        "csrf_token": getattr(request.state, "csrf_token", ""),
        "principal": current_principal(request),
    }


def ms(value: float | None) -> str:
    return "–" if value is None else f"{value:,.0f} ms"


def usd(value: float | None) -> str:
    return "–" if value is None else f"${value:.6f}"


templates = Jinja2Templates(
    directory=TEMPLATES, context_processors=[readiness, nav_scenario, request_checks]
)
templates.env.filters.update(ms=ms, usd=usd)
templates.env.filters["cite"] = link_citations
templates.env.filters["level_label"] = level_label
templates.env.globals.update(latency_chart=chart.latency_chart, cost_chart=chart.cost_chart)
templates.env.globals.update(
    result_badges=comparison_view.result_badges,
    settings_in_words=comparison_view.settings_in_words,
    answer_preview=comparison_view.preview,
    cancelled=comparison_view.cancelled,
)


def from_htmx(request: Request) -> bool:
    return request.headers.get("HX-Request") == "true"


def go(request: Request, url: str) -> Response:
    """After a POST: htmx follows HX-Redirect, a plain form a 303."""
    if from_htmx(request):
        return Response(headers={"HX-Redirect": url})
    return RedirectResponse(url, 303)


def render(request: Request, page: str, fragment: str, context: dict[str, Any], status: int = 200):
    """`fragment` for htmx requests, else `page` (which includes the fragment)."""
    name = fragment if from_htmx(request) else page
    return templates.TemplateResponse(request, name, context, status_code=status)
