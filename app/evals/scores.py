"""The scores an eval run stored, read back: one query for the run's summary, its page's
item table and its export."""

from __future__ import annotations

from typing import Any, NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db.models import EvalItem, EvalRun, EvalScore, Result
from app.errors import AppError
from app.evals.scoring import QUALITY_METRICS
from app.evals.summary import run_differences


class ScoredItem(NamedTuple):
    score: EvalScore
    item: EvalItem
    output: str | None  # the level's answer in the item's comparison


EXPORT_COLUMNS = ["eval_run_id", "item_id", "kind", "input", "level", "repeat", "comparison_id"]
EXPORT_COLUMNS += ["output", *QUALITY_METRICS, "latency_ms", "cost_usd", "prompt_tokens"]
EXPORT_COLUMNS += ["completion_tokens", "error"]


def scored_items(session: Session, run_id: int) -> list[ScoredItem]:
    """Every score of the run with its item and output, in the order they were stored."""
    statement = (
        select(EvalScore, EvalItem, Result.output)
        .join(EvalItem, EvalScore.eval_item_id == EvalItem.id)
        .outerjoin(
            Result,
            (Result.comparison_id == EvalScore.comparison_id) & (Result.level == EvalScore.level),
        )
        .where(EvalScore.eval_run_id == run_id)
        .order_by(EvalScore.id)
    )
    return [ScoredItem(*row) for row in session.execute(statement)]


def summary_rows(session: Session, run_id: int) -> list[dict[str, Any]]:
    """The run's scores as the summary reads them (item, kind, level, repeat, metrics)."""
    return [summary_row(s) for s in scored_items(session, run_id)]


def summary_row(scored: ScoredItem, item: Any = None) -> dict[str, Any]:
    """One score as the summary reads it; `item` names the item (default: its id)."""
    return {
        "item": scored.score.eval_item_id if item is None else item,
        "kind": scored.item.kind,
        "level": scored.score.level,
        "repeat": scored.score.repeat,
        "metrics": scored.score.metrics,
    }


class SameScenarioOnly(AppError):
    status = 422


def run_changes(session: Session, before: EvalRun, after: EvalRun) -> dict[str, Any]:
    """What changed from one run of a scenario to another, level by level and per kind, with
    the paired test of each change (`run_differences`). SameScenarioOnly for two scenarios."""
    if before.scenario_id != after.scenario_id:
        raise SameScenarioOnly("both eval runs must be of the same scenario")
    levels = list(dict.fromkeys([*after.levels, *before.levels]))
    return run_differences(*comparable_rows(session, before, after), levels)


def comparable_rows(
    session: Session, before: EvalRun, after: EvalRun
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Both runs' summary rows with items named alike: by id when the runs used one eval set,
    else by kind and input (an eval set uploaded again has new item ids, the same questions)."""
    if before.eval_set_id == after.eval_set_id:
        return summary_rows(session, before.id), summary_rows(session, after.id)

    def by_question(run: EvalRun) -> list[dict[str, Any]]:
        scored = scored_items(session, run.id)
        return [summary_row(s, item=(s.item.kind, s.item.input)) for s in scored]

    return by_question(before), by_question(after)


def export_rows(session: Session, run_id: int) -> list[dict[str, Any]]:
    """One row per item, level and repeat, with the output and every exported metric."""
    return [
        {
            "eval_run_id": run_id,
            "item_id": s.item.id,
            "kind": s.item.kind,
            "input": s.item.input,
            "level": s.score.level,
            "repeat": s.score.repeat,
            "comparison_id": s.score.comparison_id,
            "output": s.output,
            **{k: v for k, v in s.score.metrics.items() if k in EXPORT_COLUMNS},
        }
        for s in scored_items(session, run_id)
    ]


def list_eval_runs(session: Session, *, scenario_id: int, limit: int = 30) -> list[EvalRun]:
    """The scenario's eval runs, newest first."""
    return list(
        session.scalars(
            select(EvalRun)
            .where(EvalRun.scenario_id == scenario_id)
            .order_by(EvalRun.created_at.desc(), EvalRun.id.desc())
            .limit(limit)
        )
    )
