"""Eval pages: start a run and watch its progress, its results (per level and per kind, the
winner per metric, charts, every item), two runs side by side, and the decision report."""

from __future__ import annotations

from collections import defaultdict
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from app.config import Settings
from app.db.models import EvalRun
from app.db.queries import get_scenario
from app.deps import RecordId, RuntimeDep, SessionDep, SettingsDep
from app.errors import AppError
from app.evals.costing import pricing_profiles
from app.evals.decision import NoFinishedEval, run_costs, scenario_report
from app.evals.items import (
    MAX_UPLOAD_BYTES,
    EvalSetInvalid,
    expected_text,
    item_page,
    parse_eval_upload,
    store_eval_set,
)
from app.evals.quick import QUICK_PER_KIND, plan_quick_eval
from app.evals.requests import EvalCreate
from app.evals.runner import (
    cancel_eval_run,
    current_eval_set,
    current_summary,
    eval_item_count,
    get_eval_run,
    start_eval,
)
from app.evals.scores import list_eval_runs, run_changes, scored_items
from app.evals.scoring import QUALITY_METRICS
from app.evals.summary import USAGE, winners
from app.evals.wins import run_wins
from app.jobs import ACTIVE
from app.jsonl import JsonlLimits
from app.levels import level_names
from app.scenarios.current import choose_eval_set, list_eval_sets
from app.web.forms import error_messages
from app.web.render import from_htmx, go, render
from app.web.scale_chart import scale_chart
from app.web.scatter import quality_charts

router = APIRouter(include_in_schema=False)


PAGE_SIZE = 20  # eval items a page on the evals page


def evals_context(session: Session, slug: str, page: int = 1) -> dict[str, Any]:
    """The evals page: the start form, the runs, and a page of the current eval set."""
    scenario = get_scenario(session, slug)
    try:
        eval_set = current_eval_set(session, scenario)
    except AppError:
        eval_set = None
    count = eval_item_count(session, scenario)
    shown = item_page(session, eval_set, page=page, size=PAGE_SIZE) if eval_set else []
    return {
        "scenario": scenario,
        "eval_sets": list_eval_sets(session, scenario),
        "items": count,
        "kinds": sorted({item.kind for item in eval_set.items}) if eval_set else [],
        "levels": level_names(),
        "runs": list_eval_runs(session, scenario_id=scenario.id),
        "eval_set": eval_set,
        "page_items": [(item, expected_text(item)) for item in shown],
        "page": page,
        "pages": max(1, -(-count // PAGE_SIZE)),
        "page_size": PAGE_SIZE,
    }


@router.get("/scenarios/{slug}/evals")
def evals_page(
    request: Request,
    slug: str,
    session: SessionDep,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
):
    context = evals_context(session, slug, page)
    return render(request, "evals.html", "_partials/eval_runs.html", context)


@router.post("/scenarios/{slug}/eval-sets", form_limits={"max_files": 1})
async def upload_eval_set(
    request: Request,
    slug: str,
    session: SessionDep,
    runtime: RuntimeDep,
    file: Annotated[UploadFile, File()],
):
    """Store an uploaded JSONL eval set as the scenario's current one, then show the evals
    page; every bad line next to the form (422) and nothing stored if any is bad."""
    scenario = get_scenario(session, slug)
    raw = await file.read(MAX_UPLOAD_BYTES + 1)
    limits = JsonlLimits.of(runtime.settings)
    try:
        # off the event loop: a file of many lines takes seconds to check
        items = await run_in_threadpool(parse_eval_upload, raw, limits)
    except EvalSetInvalid as error:
        context = evals_context(session, slug) | {"upload_errors": error.errors}
        return render(request, "evals.html", "_partials/eval_set_errors.html", context, 422)
    name = file.filename or "upload.jsonl"
    eval_set = store_eval_set(session, scenario=scenario, name=name, items=items)
    choose_eval_set(session, scenario, eval_set.id)  # the same items again too
    session.commit()
    return go(request, f"/scenarios/{slug}/evals")


@router.post("/scenarios/{slug}/eval-sets/{eval_set_id}/current")
def make_eval_set_current(request: Request, slug: str, eval_set_id: RecordId, session: SessionDep):
    """Make the eval set the scenario's current one (what eval runs use), then show the evals
    page again."""
    choose_eval_set(session, get_scenario(session, slug), eval_set_id)
    session.commit()
    return go(request, f"/scenarios/{slug}/evals")


@router.post("/scenarios/{slug}/evals")
async def start_from_form(request: Request, slug: str, session: SessionDep, runtime: RuntimeDep):
    """Start a run from the form; htmx gets the progress partial, a plain form the run page."""
    form = await request.form()
    submitted: dict[str, Any] = {
        key: form.get(key) or None for key in ("limit", "repeats", "max_new_tokens", "temperature")
    }
    submitted["repeats"] = submitted["repeats"] or 1
    submitted["levels"] = form.getlist("levels") or None
    submitted["kinds"] = form.getlist("kinds") or None
    submitted["constrained"] = form.get("constrained") == "true"
    try:
        body = EvalCreate(**submitted)
        run = start_eval(session, runtime, slug, body.options())
    except (ValidationError, AppError) as error:
        context = evals_context(session, slug)
        context["errors"] = (
            error_messages(error) if isinstance(error, ValidationError) else [error.message]
        )
        status = 422 if isinstance(error, ValidationError) else error.status
        return render(request, "evals.html", "_partials/eval_errors.html", context, status)
    if from_htmx(request):
        return render(request, "eval_run.html", "_partials/eval_progress.html", {"run": run})
    return RedirectResponse(f"/evals/{run.id}", 303)


def run_context(session: Session, settings: Settings, run: EvalRun) -> dict[str, Any]:
    summary = current_summary(session, run)
    done = run.status == "done"
    return {
        "run": run,
        "summary": summary,
        "metrics": QUALITY_METRICS,
        "usage": USAGE,
        "winners": winners(summary["levels"], summary["pairs"]),
        "kind_winners": {
            k: winners(g, summary["kind_pairs"].get(k)) for k, g in summary["kinds"].items()
        },
        "charts": quality_charts(summary["levels"]),
        "items": item_rows(session, run),
        "costs": run_costs(session, settings, run) if done and summary["levels"] else None,
        "others": [
            r for r in list_eval_runs(session, scenario_id=run.scenario_id) if r.id != run.id
        ],
    }


def item_rows(session: Session, run: EvalRun) -> list[dict[str, Any]]:
    """One row per item: its quality per level (mean over repeats) and its comparisons."""
    rows: dict[int, dict[str, Any]] = {}
    scored = sorted(scored_items(session, run.id), key=lambda s: (s.item.position, s.score.repeat))
    for score, item, _ in scored:
        row = rows.setdefault(
            item.id, {"item": item, "quality": defaultdict(list), "comparisons": []}
        )
        row["quality"][score.level].append(score.metrics.get("quality"))
        if score.comparison_id and score.comparison_id not in row["comparisons"]:
            row["comparisons"].append(score.comparison_id)
    for row in rows.values():
        row["quality"] = {lv: mean_or_none(v) for lv, v in row["quality"].items()}
    return list(rows.values())


def mean_or_none(values: list[float | None]) -> float | None:
    measured = [v for v in values if v is not None]
    return sum(measured) / len(measured) if measured else None


@router.get("/evals/{eval_id}")
def run_page(request: Request, eval_id: RecordId, session: SessionDep, settings: SettingsDep):
    context = run_context(session, settings, get_eval_run(session, eval_id))
    return render(request, "eval_run.html", "_partials/eval_results.html", context)


@router.get("/evals/{eval_id}/progress")
def progress(request: Request, eval_id: RecordId, session: SessionDep):
    """The progress partial; it polls itself while the run is active, and once it is over
    sends the browser to the full results (htmx) or shows them."""
    run = get_eval_run(session, eval_id)
    if from_htmx(request) and run.status not in ACTIVE:
        return Response(headers={"HX-Redirect": f"/evals/{run.id}"})
    return render(request, "eval_run.html", "_partials/eval_progress.html", {"run": run})


@router.post("/evals/{eval_id}/cancel")
def cancel(request: Request, eval_id: RecordId, session: SessionDep):
    """Cancel the run (it stops after its current item), then show its page."""
    cancel_eval_run(session, eval_id)
    session.commit()
    return go(request, f"/evals/{eval_id}")


@router.get("/evals/{eval_id}/compare")
def compare_runs(
    request: Request,
    eval_id: RecordId,
    session: SessionDep,
    other: Annotated[int, Query(ge=1, le=2**31 - 1)],
):
    """This run against another run of the same scenario (`other`: the earlier one)."""
    after, before = get_eval_run(session, eval_id), get_eval_run(session, other)
    context = {
        "before": before,
        "after": after,
        "metrics": QUALITY_METRICS,
        "diff": run_changes(session, before, after),
    }
    return render(request, "eval_compare.html", "eval_compare.html", context)


def no_report(session: Session, slug: str, per_kind: int) -> dict[str, Any]:
    scenario = get_scenario(session, slug)
    runs = list_eval_runs(session, scenario_id=scenario.id, limit=5)
    return {
        "scenario": scenario,
        "quick": plan_quick_eval(session, scenario, per_kind),
        "active": next((r for r in runs if r.status in ACTIVE), None),
        "ended": next((r for r in runs if r.status not in ACTIVE), None),
    }


Choice = Annotated[str | None, Query(max_length=64)]


@router.get("/evals/{eval_id}/wins")
def wins_page(
    request: Request,
    eval_id: RecordId,
    session: SessionDep,
    a: Choice = None,
    b: Choice = None,
    metric: Annotated[str, Query(max_length=64)] = "quality",
    kind: Choice = None,
    direction: Literal["both", "a", "b"] = "both",
):
    """Two levels of the run item by item: the items either won, both answers side by side,
    the counts and the pair's test (the same numbers as `/api/v1/evals/{id}/wins`)."""
    run = get_eval_run(session, eval_id)
    wins = run_wins(
        session,
        run,
        a=a or None,
        b=b or None,
        metric=metric,
        kind=kind or None,
        direction=direction,
    )
    context = {"run": run, "wins": wins, "metrics": QUALITY_METRICS}
    return render(request, "eval_wins.html", "eval_wins.html", context)


@router.get("/scenarios/{slug}/report")
def report_page(
    request: Request,
    slug: str,
    session: SessionDep,
    settings: SettingsDep,
    profile: Annotated[str | None, Query(max_length=100)] = None,
    queries_per_day: Annotated[float | None, Query(gt=0, le=1e9)] = None,
    utilisation_pct: Annotated[float, Query(gt=0, le=100)] = 100,
    per_kind: Annotated[int, Query(ge=1, le=1000)] = QUICK_PER_KIND,
):
    """The decision report; without a finished eval run, what a quick eval would take and
    tell (`per_kind` items of each kind), and a button to start it."""
    try:
        found = scenario_report(
            session,
            settings,
            slug,
            profile=profile or None,
            queries_per_day=queries_per_day,
            utilisation=utilisation_pct / 100,
        )
    except NoFinishedEval:
        return render(
            request, "report_empty.html", "report_empty.html", no_report(session, slug, per_kind)
        )
    context = {
        "found": found,
        "profiles": pricing_profiles(settings, found.run.scenario),
        "summary": found.run.summary,
        "scale_chart": scale_chart(found.scale, found.costs),
    }
    return render(request, "report.html", "report.html", context)
