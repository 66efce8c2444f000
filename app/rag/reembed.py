"""Which embedding model a scenario's chunks were embedded with, and re-embedding them.

Vectors of two models live in different spaces: a query embedded with one model compared
against chunks of another gives meaningless distances. So search, the rag level and ingest
refuse a scenario whose chunks were embedded with another model than the loaded one, and
`tritune reembed` brings them over.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.db.models import Chunk, Document, Scenario
from app.errors import AppError
from app.rag.chunking import embedding_input
from app.rag.embedding import Embedder


class EmbeddingModelMismatch(AppError):
    status = 409


def other_models(session: Session, *, scenario_id: int, model: str) -> dict[str, int]:
    """Chunk counts of the scenario embedded with any model but `model` (index-only)."""
    rows = session.execute(
        select(Chunk.embedding_model, func.count())
        .where(Chunk.scenario_id == scenario_id, Chunk.embedding_model != model)
        .group_by(Chunk.embedding_model)
    )
    return dict(rows.tuples().all())


def mismatch_message(scenario: Scenario, model: str, others: dict[str, int]) -> str:
    found = ", ".join(f"{count} with {name!r}" for name, count in sorted(others.items()))
    return (
        f"scenario {scenario.slug!r} has chunks embedded with another model ({found}) than the "
        f"loaded embedding model {model!r}; re-embed them with "
        f"`tritune reembed --scenario {scenario.slug}` (vectors of different models are not "
        "comparable, so they are not mixed)"
    )


def require_embedding_model(session: Session, *, scenario: Scenario, model: str) -> None:
    """EmbeddingModelMismatch (HTTP 409) unless every chunk of `scenario` used `model`."""
    others = other_models(session, scenario_id=scenario.id, model=model)
    if others:
        raise EmbeddingModelMismatch(mismatch_message(scenario, model, others))


def reembed_scenario(
    session: Session,
    *,
    scenario: Scenario,
    embedder: Embedder,
    everything: bool = False,
    batch_size: int = 256,
    on_progress: Callable[[int, int], None] | None = None,
) -> int:
    """Embed again the chunks of `scenario` embedded with another model (or all of them with
    `everything`), in one transaction (committed), so that search never sees a mix. Returns
    how many chunks were re-embedded; `on_progress(done, total)` after each batch."""

    statement = (
        select(Chunk, Document.title)
        .join(Document)
        .where(Chunk.scenario_id == scenario.id)
        .order_by(Chunk.id)
    )
    if not everything:
        statement = statement.where(Chunk.embedding_model != embedder.name)
    rows = session.execute(statement).all()
    for start in range(0, len(rows), batch_size):
        batch = rows[start : start + batch_size]
        texts = [embedding_input(title, chunk.heading, chunk.text) for chunk, title in batch]
        for (chunk, _), vector in zip(batch, embedder.embed(texts), strict=True):
            chunk.embedding = vector
            chunk.embedding_model = embedder.name
        session.flush()
        if on_progress:
            on_progress(min(start + batch_size, len(rows)), len(rows))
    session.commit()
    return len(rows)
