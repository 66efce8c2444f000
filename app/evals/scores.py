"""The scores an eval run stored, read back: one query for the run's summary, its page's
item table and its export."""

from __future__ import annotations

from typing import Any, NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db.models import EvalItem, EvalRun, EvalScore, Result
from app.evals.scoring import QUALITY_METRICS


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
    return [
        {
            "item": s.score.eval_item_id,
            "kind": s.item.kind,
            "level": s.score.level,
            "repeat": s.score.repeat,
            "metrics": s.score.metrics,
        }
        for s in scored_items(session, run_id)
    ]


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
