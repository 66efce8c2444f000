"""History: the table of stored comparisons, one comparison's page, and running it again."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from app.compare import ComparisonOptions, run_comparison
from app.db.queries import get_comparison, list_comparisons, list_scenarios
from app.deps import RecordId, RuntimeDep, SessionDep
from app.web.render import from_htmx, render

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 20


@router.get("/comparisons")
def history(
    request: Request,
    session: SessionDep,
    scenario: str | None = None,
    q: Annotated[str | None, Query(max_length=500)] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
):
    """Newest first, `PAGE_SIZE` a page, filtered by scenario and by text in the query."""
    scenario, q = scenario or None, (q or "").strip() or None
    rows, total = list_comparisons(
        session, scenario=scenario, q=q, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE
    )
    context = {
        "comparisons": rows,
        "total": total,
        "page": page,
        "pages": max(1, -(-total // PAGE_SIZE)),
        "scenario": scenario,
        "q": q,
        "scenarios": list_scenarios(session),
    }
    return render(request, "comparisons.html", "_partials/history_table.html", context)


@router.get("/comparisons/{comparison_id}")
def detail(request: Request, comparison_id: RecordId, session: SessionDep):
    context = {"comparison": get_comparison(session, comparison_id)}
    return render(request, "comparison.html", "_partials/comparison.html", context)


@router.post("/comparisons/{comparison_id}/rerun")
def run_again(request: Request, comparison_id: RecordId, session: SessionDep, runtime: RuntimeDep):
    """The same query and settings once more, stored as a new comparison; goes to its page."""
    earlier = get_comparison(session, comparison_id)
    comparison = run_comparison(
        session=session,
        runtime=runtime,
        scenario=earlier.scenario.slug,
        query=earlier.query,
        options=ComparisonOptions.from_stored(earlier.settings),
    )
    url = f"/comparisons/{comparison.id}"
    if from_htmx(request):
        return Response(headers={"HX-Redirect": url})
    return RedirectResponse(url, 303)
