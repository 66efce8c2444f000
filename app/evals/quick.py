"""A quick eval: what the report page offers while a scenario has no finished eval run.

A small subset of the eval set, balanced over kinds as any limited run is (the runner takes
items from each kind in turn), `per_kind` items a kind by default enough for the report not
to call a kind thin; how long it should take, from what earlier runs and comparisons of the
scenario measured; and which tests its items allow (a kind needs `MIN_ITEMS` common items
for a paired test between levels).

How long: the seconds per item of the scenario's latest timed eval runs (their running time
over the comparisons they ran); else the median over its latest comparisons of the slowest
level's latency (the levels of a comparison run together, so it lasts about as long as its
slowest level; an eval also scores and embeds each answer, so this is a lower bound); else
nothing: "no measurement yet".
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.db.models import Comparison, EvalRun, Result, Scenario
from app.evals.report import MIN_KIND_ITEMS
from app.evals.runner import EvalNotPossible, EvalOptions, choose_items, current_eval_set
from app.evals.stats import MIN_ITEMS

QUICK_PER_KIND = MIN_KIND_ITEMS
RECENT_RUNS = 5
RECENT_COMPARISONS = 50


@dataclass(frozen=True)
class KindPlan:
    kind: str
    items: int  # in the quick eval
    available: int  # in the eval set
    testable: bool  # enough items for a paired test between levels


@dataclass(frozen=True)
class Timing:
    seconds_per_item: float
    measured_from: str  # "the latest 3 eval runs", "the latest comparison"


@dataclass(frozen=True)
class QuickEval:
    """`limit` is the run's item limit that gives `items` items, `kinds` how they spread;
    `seconds` the estimate (None without a measurement)."""

    per_kind: int
    limit: int
    items: int
    set_items: int
    kinds: list[KindPlan]
    timing: Timing | None
    seconds: float | None
    min_test_items: int = MIN_ITEMS


def plan_quick_eval(
    session: Session, scenario: Scenario, per_kind: int = QUICK_PER_KIND
) -> QuickEval | None:
    """The quick eval of the scenario's current eval set; None when it has none."""
    try:
        eval_set = current_eval_set(session, scenario)
    except EvalNotPossible:
        return None
    available: dict[str, int] = {}
    for item in eval_set.items:
        available[item.kind] = available.get(item.kind, 0) + 1
    # Taken in turn, a kind with fewer items than `per_kind` would leave its share to the
    # others: the limit counts only the items each kind has.
    limit = sum(min(per_kind, count) for count in available.values())
    chosen = choose_items(eval_set, EvalOptions(limit=limit))
    kinds = [
        KindPlan(kind, n, count, n >= MIN_ITEMS)
        for kind, count in available.items()
        if (n := sum(item.kind == kind for item in chosen))
    ]
    timing = measured_timing(session, scenario)
    seconds = timing.seconds_per_item * len(chosen) if timing else None
    return QuickEval(per_kind, limit, len(chosen), len(eval_set.items), kinds, timing, seconds)


def measured_timing(session: Session, scenario: Scenario) -> Timing | None:
    """Seconds an eval item takes, from the scenario's eval runs, else its comparisons."""
    return run_timing(session, scenario) or comparison_timing(session, scenario)


def run_timing(session: Session, scenario: Scenario) -> Timing | None:
    runs = session.scalars(
        select(EvalRun)
        .where(
            EvalRun.scenario_id == scenario.id,
            EvalRun.started_at.is_not(None),
            EvalRun.finished_at.is_not(None),
            EvalRun.done > 0,
        )
        .order_by(EvalRun.id.desc())
        .limit(RECENT_RUNS)
    ).all()
    spans = [
        ((r.finished_at - r.started_at).total_seconds(), r.done)
        for r in runs
        if r.finished_at and r.started_at
    ]
    if not spans:
        return None
    seconds, done = sum(s for s, _ in spans), sum(d for _, d in spans)
    return Timing(seconds / done, latest(len(spans), "eval run"))


def comparison_timing(session: Session, scenario: Scenario) -> Timing | None:
    slowest = session.scalars(
        select(func.max(Result.latency_total_ms))
        .join(Comparison, Result.comparison_id == Comparison.id)
        .where(Comparison.scenario_id == scenario.id, Result.error.is_(None))
        .group_by(Comparison.id)
        .order_by(Comparison.id.desc())
        .limit(RECENT_COMPARISONS)
    ).all()
    measured = [ms for ms in slowest if ms]
    if not measured:
        return None
    return Timing(statistics.median(measured) / 1000, latest(len(measured), "comparison"))


def latest(count: int, thing: str) -> str:
    return f"the latest {thing}" if count == 1 else f"the latest {count} {thing}s"
