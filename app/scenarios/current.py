"""A scenario's current dataset and eval set: what trainings, the prompt level's default pool,
eval runs and exports use.

An upload makes its dataset or eval set current, whether its content is new or the same as
one stored before; a team chooses another on the pages or over the API. A scenario that never
chose (`current_*_id` NULL, or the chosen one deleted) uses its latest upload.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db.models import Dataset, EvalSet, Scenario
from app.errors import NotFound


def current_dataset(session: Session, scenario: Scenario) -> Dataset | None:
    """The chosen dataset, else the latest one; None when the scenario has none."""
    if scenario.current_dataset_id is not None:
        chosen = session.get(Dataset, scenario.current_dataset_id)
        if chosen is not None:
            return chosen
    return session.scalar(
        select(Dataset)
        .where(Dataset.scenario_id == scenario.id)
        .order_by(Dataset.created_at.desc(), Dataset.id.desc())
        .limit(1)
    )


def current_eval_set(session: Session, scenario: Scenario) -> EvalSet | None:
    """The chosen eval set, else the latest one; None when the scenario has none."""
    if scenario.current_eval_set_id is not None:
        chosen = session.get(EvalSet, scenario.current_eval_set_id)
        if chosen is not None:
            return chosen
    return session.scalar(
        select(EvalSet)
        .where(EvalSet.scenario_id == scenario.id)
        .order_by(EvalSet.created_at.desc(), EvalSet.id.desc())
        .limit(1)
    )


def choose_dataset(session: Session, scenario: Scenario, dataset_id: int) -> Dataset:
    """Make the scenario's dataset `dataset_id` its current one (NotFound if it has none of
    that id). The caller commits."""
    dataset = session.get(Dataset, dataset_id)
    if dataset is None or dataset.scenario_id != scenario.id:
        raise NotFound(f"scenario {scenario.slug!r} has no dataset {dataset_id}")
    scenario.current_dataset_id = dataset.id
    return dataset


def choose_eval_set(session: Session, scenario: Scenario, eval_set_id: int) -> EvalSet:
    """Make the scenario's eval set `eval_set_id` its current one (NotFound if it has none
    of that id). The caller commits."""
    eval_set = session.get(EvalSet, eval_set_id)
    if eval_set is None or eval_set.scenario_id != scenario.id:
        raise NotFound(f"scenario {scenario.slug!r} has no eval set {eval_set_id}")
    scenario.current_eval_set_id = eval_set.id
    return eval_set


def list_eval_sets(session: Session, scenario: Scenario) -> list[EvalSet]:
    """The scenario's eval sets, newest first."""
    statement = select(EvalSet).where(EvalSet.scenario_id == scenario.id)
    return list(session.scalars(statement.order_by(EvalSet.id.desc())))
