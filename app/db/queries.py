"""Read helpers shared by the API, the web pages and the CLI. Keyword-only, session first."""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, selectinload

from app.db.models import (
    Adapter,
    Chunk,
    Comparison,
    Dataset,
    Document,
    EvalItem,
    EvalSet,
    Example,
    Scenario,
    Training,
)
from app.errors import NotFound


def find_scenario(session: Session, slug: str) -> Scenario | None:
    return session.scalar(select(Scenario).where(Scenario.slug == slug))


def get_scenario(session: Session, slug: str) -> Scenario:
    """The scenario, or NotFound (404)."""
    scenario = find_scenario(session, slug)
    if scenario is None:
        raise NotFound(f"scenario {slug!r} not found")
    return scenario


def list_scenarios(session: Session) -> list[Scenario]:
    return list(session.scalars(select(Scenario).order_by(Scenario.slug)))


def scenario_counts(session: Session, scenario_id: int) -> dict[str, int]:
    def count(statement: Select) -> int:
        return session.scalar(statement) or 0

    return {
        "documents": count(
            select(func.count(Document.id)).where(Document.scenario_id == scenario_id)
        ),
        "chunks": count(select(func.count(Chunk.id)).where(Chunk.scenario_id == scenario_id)),
        "examples": count(
            select(func.count(Example.id)).join(Dataset).where(Dataset.scenario_id == scenario_id)
        ),
    }


def list_adapters(session: Session, *, scenario_id: int | None = None) -> list[Adapter]:
    """Adapters, newest first (of one scenario, or all)."""
    statement = select(Adapter).order_by(Adapter.created_at.desc(), Adapter.id.desc())
    if scenario_id is not None:
        statement = statement.where(Adapter.scenario_id == scenario_id)
    return list(session.scalars(statement))


def list_datasets(session: Session, *, scenario_id: int) -> list[Dataset]:
    """The scenario's datasets, newest first."""
    statement = select(Dataset).where(Dataset.scenario_id == scenario_id)
    return list(session.scalars(statement.order_by(Dataset.id.desc())))


def dataset_split_counts(session: Session, dataset_id: int) -> dict[str, int]:
    """Examples per split (`train`, `eval`) of one dataset."""
    statement = (
        select(Example.split, func.count(Example.id))
        .where(Example.dataset_id == dataset_id)
        .group_by(Example.split)
    )
    return {split: count for split, count in session.execute(statement).all()}


def get_comparison(session: Session, comparison_id: int) -> Comparison:
    comparison = session.scalar(comparisons_query().where(Comparison.id == comparison_id))
    if comparison is None:
        raise NotFound(f"comparison {comparison_id} not found")
    return comparison


def comparisons_query(
    scenario: str | None = None, text: str | None = None, served: bool | None = None
) -> Select:
    """Comparisons with their results (`served`: only calls to the OpenAI-compatible
    endpoint, or only the others)."""
    statement = select(Comparison).options(
        selectinload(Comparison.results), selectinload(Comparison.scenario)
    )
    if served is not None:
        is_served = Comparison.settings.has_key("served")
        statement = statement.where(is_served if served else ~is_served)
    if scenario:
        statement = statement.join(Scenario).where(Scenario.slug == scenario)
    if text:
        statement = statement.where(Comparison.query.ilike(f"%{like_escape(text)}%", escape="\\"))
    return statement


def like_escape(text: str) -> str:
    """`text` matched literally by LIKE: its `%`, `_` and backslashes escaped."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def list_comparisons(
    session: Session,
    *,
    scenario: str | None,
    limit: int,
    offset: int,
    q: str | None = None,
    served: bool | None = None,
) -> tuple[list[Comparison], int]:
    """A page of comparisons, newest first, and the total matching (`q`: text in the query,
    case-insensitive; `served`: calls to the OpenAI-compatible endpoint, or the others)."""
    if scenario:
        get_scenario(session, scenario)
    statement = comparisons_query(scenario, q, served)
    total = session.scalar(select(func.count()).select_from(statement.subquery())) or 0
    page = session.scalars(
        statement.order_by(Comparison.created_at.desc(), Comparison.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return list(page), total


def iter_comparisons(
    session: Session, *, scenario: str | None, q: str | None = None
) -> Iterator[Comparison]:
    """Every comparison (`q`: whose query contains that text, case-insensitive), oldest
    first, fetched in batches (for exports)."""
    statement = comparisons_query(scenario, q).order_by(Comparison.id)
    last = 0
    while True:
        batch = list(session.scalars(statement.where(Comparison.id > last).limit(200)))
        if not batch:
            return
        yield from batch
        last = batch[-1].id


def example_queries(session: Session, *, scenario_id: int, limit: int = 3) -> list[EvalItem]:
    """Queries to try a scenario with: the first item of each kind (up to `limit` kinds) in
    its newest eval set, in the set's order."""
    newest = (
        select(EvalSet.id)
        .where(EvalSet.scenario_id == scenario_id)
        .order_by(EvalSet.created_at.desc(), EvalSet.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    first_of_kind = (
        select(func.min(EvalItem.position))
        .where(EvalItem.eval_set_id == newest)
        .group_by(EvalItem.kind)
    )
    statement = (
        select(EvalItem)
        .where(EvalItem.eval_set_id == newest, EvalItem.position.in_(first_of_kind))
        .order_by(EvalItem.position)
        .limit(limit)
    )
    return list(session.scalars(statement))


def adapters_from_runs(session: Session, *, scenario_id: int) -> set[int]:
    """Ids of the scenario's adapters that a training run of this app registered (the
    others were trained at setup, by `tritune train`, or imported)."""
    statement = select(Training.adapter_id).where(
        Training.scenario_id == scenario_id, Training.adapter_id.is_not(None)
    )
    return {adapter_id for adapter_id in session.scalars(statement) if adapter_id is not None}
