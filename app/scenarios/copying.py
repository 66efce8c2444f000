"""Copying a scenario's contents into another one, in SQL (`INSERT ... SELECT`): documents
with their chunks, datasets with their examples, eval sets with their items. Vectors are
copied as stored, not computed again; generated columns (a chunk's `tsv`) compute themselves.

A child row finds its new parent by the parent's content key, unique within a scenario
(a document's `content_hash`, a dataset's or eval set's `sha256`), so no id map is kept.
"""

from __future__ import annotations

from typing import cast

from sqlalchemy import Column, Table, and_, insert, literal, select
from sqlalchemy.orm import Session

from app.db.models import Base, Chunk, Dataset, Document, EvalItem, EvalSet, Example


def table_of(model: type[Base]) -> Table:
    return cast(Table, model.__table__)  # a mapped class's table (typed as any FROM clause)


# (parent, child, the child's key to its parent, the parent's content key)
PARTS = (
    (table_of(Document), table_of(Chunk), "document_id", "content_hash"),
    (table_of(Dataset), table_of(Example), "dataset_id", "sha256"),
    (table_of(EvalSet), table_of(EvalItem), "eval_set_id", "sha256"),
)


def copy_contents(session: Session, *, source_id: int, target_id: int) -> None:
    """Copy every document, dataset and eval set of scenario `source_id`, with their rows,
    into scenario `target_id` (flushed; the caller commits)."""
    session.flush()
    for parent, child, parent_key, content_key in PARTS:
        copy_owned(session, parent, source_id=source_id, target_id=target_id)
        copy_children(
            session,
            child,
            parent,
            parent_key,
            content_key,
            source_id=source_id,
            target_id=target_id,
        )


def copied_columns(table: Table, *skip: str) -> list[Column]:
    """The columns a copy takes over as they are: not the id, not `skip`, not generated."""
    return [c for c in table.c if c.name not in ("id", *skip) and c.computed is None]


def copy_owned(session: Session, table: Table, *, source_id: int, target_id: int) -> None:
    columns = copied_columns(table, "scenario_id")
    rows = (
        select(literal(target_id), *columns)
        .where(table.c.scenario_id == source_id)
        .order_by(table.c.id)
    )
    session.execute(insert(table).from_select(["scenario_id", *(c.name for c in columns)], rows))


def copy_children(
    session: Session,
    child: Table,
    parent: Table,
    parent_key: str,
    content_key: str,
    *,
    source_id: int,
    target_id: int,
) -> None:
    old, new = parent.alias("old_parent"), parent.alias("new_parent")
    owned = ["scenario_id"] if "scenario_id" in child.c else []  # chunks name it too
    columns = copied_columns(child, parent_key, *owned)
    same_parent = and_(new.c.scenario_id == target_id, new.c[content_key] == old.c[content_key])
    rows = (
        select(new.c.id, *(literal(target_id) for _ in owned), *columns)
        .select_from(child.join(old, child.c[parent_key] == old.c.id).join(new, same_parent))
        .where(old.c.scenario_id == source_id)
        .order_by(child.c.id)
    )
    names = [parent_key, *owned, *(c.name for c in columns)]
    session.execute(insert(child).from_select(names, rows))
