"""Put documents into a scenario's knowledge base: extract, chunk, embed, store.

One service for the API, the web upload and the CLI (`ingest_files`): each file is checked
before anything is stored, then stored in its own transaction, so a changed file replaces
its old chunks atomically and a bad file is reported (name and reason) while the others go in.
Identical content is kept as it is (deduplicated by the hash of its text).

The chunks of several files are embedded in one call (up to `EMBED_GROUP` chunks), in a
worker thread while the next files are read and chunked and the group before is stored; then
each file is stored. Embedding a document's few chunks at a time ran at half the model's own
rate (10.7 chunks/s against 21.7 for sentence-transformers' `encode` of the same texts; the
embedding was 96% of ingest's time).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from app.config import Settings
from app.db.models import Chunk, Document, Scenario
from app.rag.chunking import ChunkText, chunk_markdown, embedding_input, markdown_title
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


EMBED_GROUP = 256  # chunks embedded in one call across files (module docstring)


@dataclass
class PlannedDocument:
    """A document checked and chunked, waiting for its vectors."""

    source: str
    title: str
    extracted: Extracted
    size_bytes: int
    digest: str
    pieces: list[ChunkText]

    def inputs(self) -> list[str]:
        return [embedding_input(self.title, p.heading, p.text) for p in self.pieces]


class IngestGroup:
    """Documents of one upload on their way: waiting to be embedded together, then embedding
    (in a worker thread, while the next files are read and chunked and the previous group is
    stored), then stored in their files' order (an unchanged one waits its turn too, so that
    the report keeps that order)."""

    def __init__(
        self,
        session: Session,
        scenario: Scenario,
        embedder: Embedder,
        report: IngestReport,
        on_file: Callable[[str], None] | None,
        worker: ThreadPoolExecutor,
    ) -> None:
        self.session, self.scenario, self.embedder = session, scenario, embedder
        self.report, self.on_file, self.worker = report, on_file, worker
        self.waiting: list[PlannedDocument | StoredDocument] = []
        self.embedding: tuple[list[PlannedDocument | StoredDocument], Future[np.ndarray]] | None
        self.embedding = None

    def holds(self, digest: str) -> bool:
        """Whether a document of this text is on its way (not stored yet)."""
        on_way = self.waiting + (self.embedding[0] if self.embedding else [])
        return any(isinstance(d, PlannedDocument) and d.digest == digest for d in on_way)

    def add(self, document: PlannedDocument | StoredDocument) -> None:
        self.waiting.append(document)
        chunks = sum(len(d.pieces) for d in self.waiting if isinstance(d, PlannedDocument))
        if chunks >= EMBED_GROUP:
            self.embed_waiting()

    def embed_waiting(self) -> None:
        """Start embedding the waiting documents' chunks in one call; store the group before."""
        texts = [t for d in self.waiting if isinstance(d, PlannedDocument) for t in d.inputs()]
        started = self.worker.submit(self.embedder.embed, texts)
        self.store_embedded()
        self.embedding, self.waiting = (self.waiting, started), []

    def settle(self) -> None:
        """Everything on its way stored (committed)."""
        self.embed_waiting()
        self.store_embedded()

    def store_embedded(self) -> None:
        """Store the group being embedded, each document in its own transaction."""
        if self.embedding is None:
            return
        documents, started = self.embedding
        self.session.commit()  # the planning reads end: embedding may wait for the cores
        vectors = iter(started.result())
        self.embedding = None
        for document in documents:
            if isinstance(document, PlannedDocument):
                own = [next(vectors) for _ in document.pieces]
                document = write_document(
                    self.session,
                    scenario=self.scenario,
                    planned=document,
                    vectors=own,
                    embedder=self.embedder,
                )
                self.session.commit()
            self.report.stored.append(document)
            if self.on_file:
                self.on_file(document.source)


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
    session.commit()  # the check's read ends: chunking may wait for the cores
    report = IngestReport()
    with ThreadPoolExecutor(1, thread_name_prefix="ingest-embed") as worker:
        group = IngestGroup(session, scenario, embedder, report, on_file, worker)
        for source in files:
            ingest_one(session, group, source, scenario, embedder, settings)
        group.settle()
    return report


def ingest_one(
    session: Session,
    group: IngestGroup,
    source: SourceFile,
    scenario: Scenario,
    embedder: Embedder,
    settings: Settings,
) -> None:
    """Check and chunk one file and put it on its way, or report it rejected."""
    try:
        extracted = read_checked(source, settings.max_upload_bytes)
        if group.holds(content_hash(extracted.text)):
            group.settle()  # the same text again: stored first, then found unchanged
        planned = plan_document(
            session,
            scenario=scenario,
            source=source.name,
            extracted=extracted,
            size_bytes=source.size,
            embedder=embedder,
            settings=settings,
            title=source.title,
        )
        session.commit()  # its reads end: the next file's chunking may wait for the cores
        group.add(planned)
    except Rejected as error:
        session.rollback()
        group.report.rejected.append(Rejection(source.name, str(error)))
        if group.on_file:
            group.on_file(source.name)


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
    planned = plan_document(
        session,
        scenario=scenario,
        source=source,
        extracted=extracted,
        size_bytes=size_bytes,
        embedder=embedder,
        settings=settings,
        title=title,
    )
    if isinstance(planned, StoredDocument):
        return planned
    vectors = list(embedder.embed(planned.inputs()))
    return write_document(
        session, scenario=scenario, planned=planned, vectors=vectors, embedder=embedder
    )


def plan_document(
    session: Session,
    *,
    scenario: Scenario,
    source: str,
    extracted: Extracted,
    size_bytes: int,
    embedder: Embedder,
    settings: Settings,
    title: str | None = None,
) -> PlannedDocument | StoredDocument:
    """The document chunked, or the stored one when the scenario has its text already
    (Rejected when no text is left to index)."""
    digest = content_hash(extracted.text)
    # chunked before the query: counting tokens may wait for the embedding model, which
    # waits for the cores, and no transaction should be open meanwhile
    pieces = chunk_markdown(
        extracted.text,
        size=settings.chunk_tokens,
        overlap=settings.chunk_overlap,
        count=embedder.count_tokens,
        headings=extracted.has_headings,
    )
    same = stored_text(session, scenario=scenario, source=source, digest=digest)
    if same is not None:
        return same
    if not pieces:
        raise Rejected("no text left to index")
    title = default_title(source, extracted) if title is None else title
    return PlannedDocument(source, title, extracted, size_bytes, digest, pieces)


def stored_text(
    session: Session, *, scenario: Scenario, source: str, digest: str
) -> StoredDocument | None:
    """The scenario's document with this text (hash), as `unchanged`; None when it has none."""
    same = session.scalar(
        select(Document).where(Document.scenario_id == scenario.id, Document.content_hash == digest)
    )
    if same is None:
        return None
    count = len(same.chunks)
    return StoredDocument(source, same.id, same.title, same.media_type, count, "unchanged")


INGEST_LOCK = 0x7472_6167  # advisory lock space of ingest (with the scenario's id as key)


def write_document(
    session: Session,
    *,
    scenario: Scenario,
    planned: PlannedDocument,
    vectors: list[np.ndarray],
    embedder: Embedder,
) -> StoredDocument:
    """Delete the document of the same source, if any, and insert this one with its chunks
    and their vectors (not committed). Writes to a scenario's knowledge base take turns (a
    lock held until the caller commits), so that parallel uploads of the same text or the
    same source, each checked before the others stored theirs, still leave one document."""
    session.execute(select(func.pg_advisory_xact_lock(INGEST_LOCK, scenario.id)))
    same = stored_text(session, scenario=scenario, source=planned.source, digest=planned.digest)
    if same is not None:  # stored by a parallel upload since this one was checked
        return same
    old = session.execute(
        delete(Document)
        .where(Document.scenario_id == scenario.id, Document.source == planned.source)
        .returning(Document.id)
    ).all()
    document = Document(
        scenario_id=scenario.id,
        title=planned.title[:300],
        source=planned.source[:500],
        content_hash=planned.digest,
        media_type=MEDIA_TYPES[planned.extracted.kind],
        size_bytes=planned.size_bytes,
        text=planned.extracted.text,
    )
    for piece, vector in zip(planned.pieces, vectors, strict=True):
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
    pieces = len(planned.pieces)
    return StoredDocument(
        planned.source, document.id, planned.title, document.media_type, pieces, status
    )


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
