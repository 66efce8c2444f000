"""`/api/v1/scenarios/{slug}/documents` and `/search`: the knowledge base over REST."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError, field_validator
from starlette.datastructures import UploadFile

from app.api.bodies import TEXT_BODIES
from app.api.schemas import API_ERRORS
from app.db.queries import get_scenario
from app.deps import MAX_ID, RecordId, RuntimeDep, SessionDep
from app.errors import AppError
from app.rag.documents import delete_document, document_chunks, get_document, list_documents
from app.rag.ingest import IngestReport, SourceFile, ingest_files
from app.rag.search import SearchMode, search_scenario

router = APIRouter(
    prefix="/api/v1/scenarios",
    tags=["knowledge base"],
    responses=API_ERRORS,
    dependencies=TEXT_BODIES,
)


class DocumentCreate(BaseModel):
    """A document given as text (Markdown headings are honoured)."""

    title: str = Field(min_length=1, max_length=300, description="Document title.")
    text: str = Field(min_length=1, description="Markdown or plain text.")

    @field_validator("title", "text")
    @classmethod
    def has_text(cls, value: str) -> str:
        if "\x00" in value:
            raise ValueError("must not contain NUL characters")
        if not value.strip():
            raise ValueError("must not be empty")
        return value


class StoredPublic(BaseModel):
    source: str
    document_id: int
    title: str
    media_type: str
    chunks: int
    status: str = Field(description="created, replaced (same source, new content) or unchanged")


class RejectedPublic(BaseModel):
    source: str
    reason: str


class IngestPublic(BaseModel):
    stored: list[StoredPublic]
    rejected: list[RejectedPublic]

    @classmethod
    def of(cls, report: IngestReport) -> IngestPublic:
        return cls(
            stored=[StoredPublic(**vars(s)) for s in report.stored],
            rejected=[RejectedPublic(**vars(r)) for r in report.rejected],
        )


class DocumentPublic(BaseModel):
    id: int
    title: str
    source: str
    media_type: str
    size_bytes: int
    content_hash: str
    created_at: datetime
    chunks: int
    tokens: int


class ChunkPublic(BaseModel):
    id: int
    position: int
    heading: str
    text: str
    token_count: int
    embedding_model: str


class DocumentDetail(BaseModel):
    id: int
    title: str
    source: str
    media_type: str
    size_bytes: int
    content_hash: str
    created_at: datetime
    chunks: list[ChunkPublic]


class HitPublic(BaseModel):
    rank: int
    chunk_id: int
    document_id: int
    document: str
    source: str
    heading: str
    text: str
    score: float = Field(description="Fused reciprocal-rank score.")
    vector_rank: int | None
    vector_score: float | None = Field(description="Cosine similarity.")
    keyword_rank: int | None
    keyword_score: float | None = Field(
        description="Sum over the query's lexemes of idf x saturated ts_rank_cd (BM25-style)."
    )


class SearchPublic(BaseModel):
    query: str
    mode: SearchMode
    k: int
    document_id: int | None
    embedding_model: str
    hits: list[HitPublic]


UPLOAD_SCHEMA = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "files": {"type": "array", "items": {"type": "string", "format": "binary"}}
                    },
                    "required": ["files"],
                }
            },
            "application/json": {"schema": DocumentCreate.model_json_schema()},
        },
    }
}


async def sources_of(request: Request, max_files: int) -> list[SourceFile]:
    """The files of a multipart upload (at most `max_files`), or the one document of a JSON
    body."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        form = await request.form(max_files=max_files)
        return [SourceFile.of_upload(v) for _, v in form.multi_items() if isinstance(v, UploadFile)]
    if content_type.startswith("application/json"):
        try:
            body = DocumentCreate.model_validate_json(await request.body())
        except ValidationError as error:
            raise RequestValidationError(error.errors(include_url=False)) from None
        data = body.text.encode("utf-8")
        return [SourceFile.of_bytes(body.title, data, kind="markdown", title=body.title.strip())]
    raise AppError("send multipart/form-data with `files`, or JSON {title, text}")


@router.post(
    "/{slug}/documents",
    status_code=201,
    response_model=IngestPublic,
    openapi_extra=UPLOAD_SCHEMA,
)
async def upload_documents(slug: str, request: Request, session: SessionDep, runtime: RuntimeDep):
    """Ingest files (multipart field `files`: Markdown, text, HTML, PDF) or one JSON document.
    Each file is stored or rejected on its own; the answer lists both. 201 when at least one
    was stored (or was already there), else 413 (all too large) or 422 naming each file."""
    scenario = get_scenario(session, slug)
    embedder = runtime.loaded_embedder()
    sources = await sources_of(request, runtime.settings.max_files_per_request)
    if not sources:
        raise AppError("no files in the upload; send them in the multipart field `files`")
    report = await run_in_threadpool(
        ingest_files,
        session,
        scenario=scenario,
        files=sources,
        embedder=embedder,
        settings=runtime.settings,
    )
    public = IngestPublic.of(report)
    if report.stored:
        return public
    status = 413 if all("limit is" in r.reason for r in report.rejected) else 422
    reasons = "; ".join(f"{r.source}: {r.reason}" for r in public.rejected)
    detail = f"no document was stored: {reasons}"
    return JSONResponse({"detail": detail, **public.model_dump()}, status)


@router.get("/{slug}/documents", response_model=list[DocumentPublic])
def documents(slug: str, session: SessionDep):
    """The scenario's documents with their chunk and token counts."""
    return list_documents(session, scenario=get_scenario(session, slug))


@router.get("/{slug}/documents/{document_id}", response_model=DocumentDetail)
def read_document(slug: str, document_id: RecordId, session: SessionDep):
    """One document and its chunks in order."""
    scenario = get_scenario(session, slug)
    found = get_document(session, scenario=scenario, document_id=document_id)
    chunks = document_chunks(session, document=found)
    return DocumentDetail(
        **{name: getattr(found, name) for name in DocumentDetail.model_fields if name != "chunks"},
        chunks=[ChunkPublic.model_validate(c, from_attributes=True) for c in chunks],
    )


@router.delete("/{slug}/documents/{document_id}", status_code=204)
def remove_document(slug: str, document_id: RecordId, session: SessionDep):
    """Delete a document and its chunks."""
    delete_document(session, scenario=get_scenario(session, slug), document_id=document_id)
    session.commit()
    return Response(status_code=204)


class QueryError(RequestValidationError):
    def __init__(self, message: str, value: str) -> None:
        error = {"type": "value_error", "loc": ("query", "q"), "msg": message, "input": value}
        super().__init__([error])


@router.get("/{slug}/search", response_model=SearchPublic)
def search(
    slug: str,
    session: SessionDep,
    runtime: RuntimeDep,
    q: Annotated[str, Query(description="The query (not empty).")],
    k: Annotated[int, Query(ge=1, le=100, description="Rows to return.")] = 10,
    mode: Annotated[
        SearchMode, Query(description="hybrid, vector or keyword.")
    ] = SearchMode.hybrid,
    document: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="Only chunks of this document id.")
    ] = None,
):
    """Search the scenario's knowledge base: each hit with its rank on each side and the fused
    score. 409 when its chunks were embedded with another model than the loaded one."""
    query = q.strip()
    if not query:
        raise QueryError("q must not be empty", q)
    if len(query) > runtime.settings.max_query_chars:
        raise QueryError(f"q is longer than {runtime.settings.max_query_chars} characters", q)
    scenario = get_scenario(session, slug)
    embedder = runtime.loaded_embedder()
    hits = search_scenario(
        session,
        scenario=scenario,
        query=query,
        embedder=embedder,
        settings=runtime.settings,
        k=k,
        mode=mode,
        document_id=document,
    )
    return SearchPublic(
        query=query,
        mode=mode,
        k=k,
        document_id=document,
        embedding_model=embedder.name,
        hits=[HitPublic(rank=n, **vars(hit)) for n, hit in enumerate(hits, 1)],
    )
