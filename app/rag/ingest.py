"""Put a document into a scenario's knowledge base: chunk, embed, store (one transaction)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.config import Settings
from app.db.models import Chunk, Document, Scenario
from app.rag.chunking import chunk_markdown, markdown_title
from app.rag.embedding import Embedder


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def ingest_markdown(
    session: Session,
    *,
    scenario: Scenario,
    source: str,
    text: str,
    embedder: Embedder,
    settings: Settings,
) -> tuple[Document, bool]:
    """Store `text` (Markdown) as a document of `scenario`. Returns `(document, created)`:
    identical content is kept as it is; a changed document from the same `source` replaces
    the old one and its chunks."""
    digest = content_hash(text)
    same = session.scalar(
        select(Document).where(Document.scenario_id == scenario.id, Document.content_hash == digest)
    )
    if same is not None:
        return same, False
    session.execute(
        delete(Document).where(Document.scenario_id == scenario.id, Document.source == source)
    )
    title = markdown_title(text, fallback=Path(source).stem.replace("-", " ").title())
    pieces = chunk_markdown(
        text,
        size=settings.chunk_tokens,
        overlap=settings.chunk_overlap,
        count=embedder.count_tokens,
    )
    # The heading path (title first) goes into the embedded text: a chunk under "Tents" is
    # about tents even when its own sentences never say so.
    vectors = embedder.embed([f"{p.heading or title}\n{p.text}" for p in pieces])
    document = Document(
        scenario_id=scenario.id, title=title, source=source, content_hash=digest, text=text
    )
    for piece, vector in zip(pieces, vectors, strict=True):
        document.chunks.append(
            Chunk(
                scenario_id=scenario.id,
                position=piece.position,
                heading=piece.heading,
                text=piece.text,
                token_count=piece.token_count,
                embedding=vector,
                embedding_model=embedder.name,
            )
        )
    session.add(document)
    session.flush()
    return document, True
