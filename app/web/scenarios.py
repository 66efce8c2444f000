"""The scenario page: what a scenario holds."""

from __future__ import annotations

from fastapi import APIRouter, Request

from app.db.queries import get_scenario, list_adapters, scenario_counts
from app.deps import SessionDep
from app.evals.runner import eval_item_count
from app.web.render import render

router = APIRouter(include_in_schema=False)


@router.get("/scenarios/{slug}")
def scenario_page(request: Request, slug: str, session: SessionDep):
    scenario = get_scenario(session, slug)
    context = {
        "scenario": scenario,
        "counts": scenario_counts(session, scenario.id),
        "adapters": list_adapters(session, scenario_id=scenario.id),
        "eval_items": eval_item_count(session, scenario),
    }
    return render(request, "scenario.html", "_partials/scenario.html", context)
