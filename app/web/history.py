"""History: the table of stored comparisons, one comparison's page, running it again, and
running one of its levels again with an edited prompt.

From htmx both re-runs answer with a live view (app/web/live.py) that streams into the page
and ends with the new comparison, whose address the page then shows; a plain form runs it
and goes to the new comparison's page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from app.compare import ComparisonOptions, run_comparison
from app.compare.service import Messages
from app.compare.streaming import StreamedRun
from app.db.models import Comparison
from app.db.queries import get_comparison, list_comparisons, list_scenarios
from app.deps import RecordId, RuntimeDep, SessionDep
from app.errors import AppError, NotFound
from app.levels import level_names
from app.runtime import Runtime
from app.web.live import live_view
from app.web.render import from_htmx, render

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 20
MAX_MESSAGES = 64  # an edited prompt: the messages a level built, give or take a few
MAX_MESSAGE_CHARS = 100_000


class EditRefused(AppError):
    status = 422


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
        "filtered": bool(scenario or q),
        "scenarios": list_scenarios(session),
    }
    return render(request, "comparisons.html", "_partials/history_table.html", context)


@router.get("/comparisons/{comparison_id}")
def detail(request: Request, comparison_id: RecordId, session: SessionDep):
    context = {"comparison": get_comparison(session, comparison_id)}
    return render(request, "comparison.html", "_partials/comparison.html", context)


@router.post("/comparisons/{comparison_id}/rerun")
def run_again(request: Request, comparison_id: RecordId, session: SessionDep, runtime: RuntimeDep):
    """The same query and settings once more, stored as a new comparison."""
    earlier = get_comparison(session, comparison_id)
    options = ComparisonOptions.from_stored(earlier.settings)
    return start(request, session, runtime, earlier, options)


@router.post("/comparisons/{comparison_id}/levels/{level}/rerun")
async def run_level_edited(
    request: Request, comparison_id: RecordId, level: str, session: SessionDep, runtime: RuntimeDep
):
    """One level of the comparison alone, with the chat messages as edited in the form
    (`role` and `content`, in order), once: a new comparison records them; the scenario's
    prompt is unchanged."""
    if level not in level_names():
        raise NotFound(f"no level {level!r}")
    messages = edited_messages(await request.form())
    earlier = get_comparison(session, comparison_id)
    options = ComparisonOptions.from_stored(earlier.settings)
    options.levels = [level]
    options.edited_messages = {level: messages}
    return start(request, session, runtime, earlier, options)


def edited_messages(form: FormData) -> Messages:
    """The form's messages; EditRefused when they are missing, too many or too long."""
    roles, contents = form.getlist("role"), form.getlist("content")
    if not contents or len(roles) != len(contents) or len(contents) > MAX_MESSAGES:
        raise EditRefused("the edited prompt needs its messages, each with a role")
    if any(role not in ("system", "user", "assistant") for role in roles):
        raise EditRefused("each message's role is system, user or assistant")
    if any(len(str(text)) > MAX_MESSAGE_CHARS for text in contents):
        raise EditRefused(f"a message is longer than {MAX_MESSAGE_CHARS:,} characters")
    messages = [{"role": str(r), "content": str(c)} for r, c in zip(roles, contents, strict=True)]
    if not any(m["role"] == "user" and m["content"].strip() for m in messages):
        raise EditRefused("the prompt needs a user message with some text")
    return messages


def start(
    request: Request,
    session: Session,
    runtime: Runtime,
    earlier: Comparison,
    options: ComparisonOptions,
) -> Response:
    """Stream the run into the page (htmx), or run it and go to its page."""
    run = StreamedRun(scenario=earlier.scenario.slug, query=earlier.query, options=options)
    if from_htmx(request):
        runtime.models()
        return live_view(request, run, {})
    comparison = run_comparison(
        session=session,
        runtime=runtime,
        scenario=run.scenario,
        query=run.query,
        options=run.options,
    )
    return RedirectResponse(f"/comparisons/{comparison.id}", 303)
