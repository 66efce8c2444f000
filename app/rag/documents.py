"""The knowledge base's documents: list with chunk counts, one with its chunks, delete.
Keyword-only, session first; used by the API, the web pages and the CLI."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from app.db.models import Chunk, DeletedDocument, Document, Scenario
from app.errors import NotFound


@dataclass(frozen=True)
class DocumentSummary:
    id: int
    title: str
    source: str
    media_type: str
    size_bytes: int
    content_hash: str
    created_at: datetime
    chunks: int
    tokens: int


def list_documents(session: Session, *, scenario: Scenario) -> list[DocumentSummary]:
    """The scenario's documents by title, each with its chunk and token counts."""
    rows = session.execute(
        select(
            Document,
            func.count(Chunk.id),
            func.coalesce(func.sum(Chunk.token_count), 0),
        )
        .outerjoin(Chunk, Chunk.document_id == Document.id)
        .where(Document.scenario_id == scenario.id)
        .group_by(Document.id)
        .order_by(Document.title, Document.id)
    ).all()
    return [summary(document, chunks, tokens) for document, chunks, tokens in rows]


def summary(document: Document, chunks: int, tokens: int) -> DocumentSummary:
    return DocumentSummary(
        id=document.id,
        title=document.title,
        source=document.source,
        media_type=document.media_type,
        size_bytes=document.size_bytes,
        content_hash=document.content_hash,
        created_at=document.created_at,
        chunks=chunks,
        tokens=int(tokens),
    )


def get_document(session: Session, *, scenario: Scenario, document_id: int) -> Document:
    document = session.scalar(
        select(Document).where(Document.id == document_id, Document.scenario_id == scenario.id)
    )
    if document is None:
        raise NotFound(f"document {document_id} not found in scenario {scenario.slug!r}")
    return document


def document_chunks(session: Session, *, document: Document) -> list[Chunk]:
    return list(
        session.scalars(
            select(Chunk).where(Chunk.document_id == document.id).order_by(Chunk.position)
        )
    )


def get_chunk(session: Session, chunk_id: int) -> Chunk:
    chunk = session.get(Chunk, chunk_id)
    if chunk is None:
        raise NotFound(f"chunk {chunk_id} not found")
    return chunk


def delete_document(session: Session, *, scenario: Scenario, document_id: int) -> None:
    """Delete the document; its chunks go with it (ON DELETE CASCADE). Its source is
    remembered as deleted, so that the demo's load at start does not bring it back. The
    caller commits."""
    document = get_document(session, scenario=scenario, document_id=document_id)
    session.execute(
        insert(DeletedDocument)
        .values(scenario_id=scenario.id, source=document.source)
        .on_conflict_do_nothing()
    )
    session.execute(delete(Document).where(Document.id == document_id))
