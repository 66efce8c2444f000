"""A scenario's decision report: its latest finished eval run, priced, then `build_report`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.config import Settings
from app.db.models import EvalRun
from app.db.queries import get_scenario
from app.errors import NotFound
from app.evals.costing import (
    CostAtScale,
    CostEstimate,
    choose_profile,
    cost_at_scale,
    estimate_costs,
    scenario_fixed_inputs,
)
from app.evals.report import Report, build_report
from app.evals.runner import current_summary, in_order


class NoFinishedEval(NotFound):
    """404: the scenario has no finished eval run to report on (the report page offers one)."""


CONSTRAINED_NOTE = (
    "Every level decoded under the scenario's output JSON schema (a constrained run): none "
    "could write invalid JSON, so the differences are in what the answers say."
)


@dataclass
class ScenarioReport:
    scenario: str
    run: EvalRun
    costs: CostEstimate
    report: Report
    scale: CostAtScale  # the costs from 10^2 to 10^7 queries a month


def latest_finished_run(session: Session, scenario_id: int) -> EvalRun | None:
    return session.scalar(
        select(EvalRun)
        .where(EvalRun.scenario_id == scenario_id, EvalRun.status == "done")
        .order_by(EvalRun.created_at.desc(), EvalRun.id.desc())
    )


def finished_summary(run: EvalRun) -> dict[str, Any]:
    """The summary `run` stored when it finished."""
    if run.summary is None:
        raise ValueError(f"eval run {run.id} has no summary: it has not finished")
    return run.summary


def run_levels(run: EvalRun) -> dict[str, Any]:
    """Each level's stats in the finished run's summary, in the run's order of levels."""
    return in_order(finished_summary(run)["levels"], run.levels)


def run_costs(
    session: Session,
    settings: Settings,
    run: EvalRun,
    profile: str | None = None,
    queries_per_day: float | None = None,
    utilisation: float = 1.0,
) -> CostEstimate:
    return estimate_costs(
        run_levels(run),
        choose_profile(settings, profile, run.scenario),
        scenario_fixed_inputs(session, run.scenario),
        queries_per_day or settings.queries_per_day,
        utilisation,
    )


def scenario_report(
    session: Session,
    settings: Settings,
    slug: str,
    *,
    profile: str | None = None,
    queries_per_day: float | None = None,
    utilisation: float = 1.0,
) -> ScenarioReport:
    """The report priced by `profile` at `queries_per_day`, machines billed per hour busy a
    share `utilisation` of the time. NotFound when the scenario is unknown,
    NoFinishedEval when it has no finished eval run yet."""
    scenario = get_scenario(session, slug)
    run = latest_finished_run(session, scenario.id)
    if run is None:
        raise NoFinishedEval(f"scenario {slug!r} has no finished eval run; run an eval first")
    costs = run_costs(session, settings, run, profile, queries_per_day, utilisation)
    scale = cost_at_scale(run_levels(run), scenario_fixed_inputs(session, run.scenario), costs)
    report = build_report(current_summary(session, run), costs, run.skipped)
    if run.options.get("constrained"):
        report.notes.insert(0, CONSTRAINED_NOTE)
    return ScenarioReport(slug, run, costs, report, scale)
