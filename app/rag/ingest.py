"""Put documents into a scenario's knowledge base: extract, chunk, embed, store.

One service for the API, the web upload and the CLI (`ingest_files`): each file is checked
before anything is stored, then stored in its own transaction, so a changed file replaces
its old chunks atomically and a bad file is reported (name and reason) while the others go in.
Identical content is kept as it is (deduplicated by the hash of its text).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.config import Settings
from app.db.models import Chunk, Document, Scenario
from app.rag.chunking import chunk_markdown, embedding_input, markdown_title
from app.rag.embedding import Embedder
from app.rag.extract import MEDIA_TYPES, Extracted, Rejected, extract, kind_of
from app.rag.reembed import require_embedding_model


@dataclass(frozen=True)
class SourceFile:
    """A file to ingest: its name (the document's `source`), size, and how to read it (read
    only once the size is known to be within the limit)."""

    name: str
    size: int
    read: Callable[[], bytes]
    kind: str | None = None  # by the name's extension unless given
    title: str | None = None  # from the text (first heading, <title>) or the name unless given

    @classmethod
    def of_bytes(cls, name: str, data: bytes, **given: str | None) -> SourceFile:
        return cls(name, len(data), lambda: data, **given)

    @classmethod
    def of_path(cls, name: str, path: Path) -> SourceFile:
        return cls(name, path.stat().st_size, path.read_bytes)

    @classmethod
    def of_upload(cls, upload: Any) -> SourceFile:
        """A file of a multipart upload (Starlette's `UploadFile`: `filename`, `size`,
        `file`), spooled by the server; named by its file name without NULs."""
        name = (upload.filename or "").replace("\x00", "").strip() or "upload"
        size = upload.size if upload.size is not None else len(upload.file.read())
        upload.file.seek(0)
        return cls(name, size, upload.file.read)


@dataclass(frozen=True)
class StoredDocument:
    source: str
    document_id: int
    title: str
    media_type: str
    chunks: int
    status: str  # created | replaced | unchanged


@dataclass(frozen=True)
class Rejection:
    source: str
    reason: str


@dataclass
class IngestReport:
    stored: list[StoredDocument] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def read_checked(source: SourceFile, max_bytes: int) -> Extracted:
    """The file's text, or `Rejected`: unsupported type, too large, empty, binary, no text."""
    kind = source.kind or kind_of(source.name)
    if source.size > max_bytes:
        raise Rejected(f"the file is {source.size:,} bytes; the limit is {max_bytes:,}")
    return extract(source.name, source.read(), kind=kind)


def default_title(source: str, extracted: Extracted) -> str:
    """A document's title unless one is given: its first heading (Markdown, HTML), else the
    file's own title (HTML `<title>`, PDF metadata), else its name."""
    fallback = extracted.title or Path(source).stem.replace("-", " ").replace("_", " ").title()
    return markdown_title(extracted.text, fallback) if extracted.has_headings else fallback


def ingest_files(
    session: Session,
    *,
    scenario: Scenario,
    files: Iterable[SourceFile],
    embedder: Embedder,
    settings: Settings,
    on_file: Callable[[str], None] | None = None,
) -> IngestReport:
    """Ingest each file in its own transaction (committed); returns what was stored and what
    was rejected with the reason. Raises EmbeddingModelMismatch (nothing stored) when the
    scenario's chunks were embedded with another model than `embedder`."""
    require_embedding_model(session, scenario=scenario, model=embedder.name)
    report = IngestReport()
    for source in files:
        try:
            extracted = read_checked(source, settings.max_upload_bytes)
            stored = store_extracted(
                session,
                scenario=scenario,
                source=source.name,
                extracted=extracted,
                size_bytes=source.size,
                embedder=embedder,
                settings=settings,
                title=source.title,
            )
            session.commit()
            report.stored.append(stored)
        except Rejected as error:
            session.rollback()
            report.rejected.append(Rejection(source.name, str(error)))
        if on_file:
            on_file(source.name)
    return report


def store_extracted(
    session: Session,
    *,
    scenario: Scenario,
    source: str,
    extracted: Extracted,
    size_bytes: int,
    embedder: Embedder,
    settings: Settings,
    title: str | None = None,
) -> StoredDocument:
    """Store one document (not committed). Same text already in the scenario: unchanged. Else
    the document of the same `source`, if any, is deleted with its chunks and replaced."""
    text = extracted.text
    digest = content_hash(text)
    same = session.scalar(
        select(Document).where(Document.scenario_id == scenario.id, Document.content_hash == digest)
    )
    if same is not None:
        count = len(same.chunks)
        return StoredDocument(source, same.id, same.title, same.media_type, count, "unchanged")
    old = session.execute(
        delete(Document)
        .where(Document.scenario_id == scenario.id, Document.source == source)
        .returning(Document.id)
    ).all()
    title = default_title(source, extracted) if title is None else title
    pieces = chunk_markdown(
        text,
        size=settings.chunk_tokens,
        overlap=settings.chunk_overlap,
        count=embedder.count_tokens,
        headings=extracted.has_headings,
    )
    if not pieces:
        raise Rejected("no text left to index")
    vectors = embedder.embed([embedding_input(title, p.heading, p.text) for p in pieces])
    document = Document(
        scenario_id=scenario.id,
        title=title[:300],
        source=source[:500],
        content_hash=digest,
        media_type=MEDIA_TYPES[extracted.kind],
        size_bytes=size_bytes,
        text=text,
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
    status = "replaced" if old else "created"
    return StoredDocument(source, document.id, title, document.media_type, len(pieces), status)


def ingest_markdown(
    session: Session,
    *,
    scenario: Scenario,
    source: str,
    text: str,
    embedder: Embedder,
    settings: Settings,
) -> tuple[Document, bool]:
    """Store Markdown `text` as a document of `scenario` (not committed; the demo loader's
    entry). Returns `(document, created)`."""
    stored = store_extracted(
        session,
        scenario=scenario,
        source=source,
        extracted=Extracted("markdown", text, None),
        size_bytes=len(text.encode("utf-8")),
        embedder=embedder,
        settings=settings,
    )
    return session.get_one(Document, stored.document_id), stored.status != "unchanged"
