"""Knowledge-base pages: documents (upload, list, delete), one document with its chunks, a
chunk's permalink (citations point at it) and the search playground. They call the same
services as the API (`app.rag.ingest`, `app.rag.documents`, `app.rag.search`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile

from app.config import Settings
from app.db.models import Scenario
from app.db.queries import get_scenario
from app.deps import RecordId, RuntimeDep, SessionDep
from app.errors import AppError
from app.rag.documents import (
    delete_document,
    document_chunks,
    get_chunk,
    get_document,
    list_documents,
)
from app.rag.extract import KINDS
from app.rag.ingest import IngestReport, SourceFile, ingest_files
from app.rag.search import SearchMode, search_scenario
from app.rag.tuning import TuneResult, current_config, tune_rag
from app.web.render import from_htmx, render

router = APIRouter(include_in_schema=False)


def documents_context(
    session: Session, scenario: Scenario, report: IngestReport | None = None
) -> dict[str, Any]:
    return {
        "scenario": scenario,
        "documents": list_documents(session, scenario=scenario),
        "report": report,
        "accept": ",".join(sorted(KINDS)),
    }


@router.get("/scenarios/{slug}/documents")
def documents_page(request: Request, slug: str, session: SessionDep):
    context = documents_context(session, get_scenario(session, slug))
    return render(request, "documents.html", "_partials/documents_table.html", context)


@router.post("/scenarios/{slug}/documents")
async def upload(request: Request, slug: str, session: SessionDep, runtime: RuntimeDep):
    """The upload form (multipart `files`); htmx gets the report and the refreshed table."""
    scenario = get_scenario(session, slug)
    embedder = runtime.loaded_embedder()
    form = await request.form(max_files=runtime.settings.max_files_per_request)
    sources = [
        SourceFile.of_upload(v)
        for _, v in form.multi_items()
        if isinstance(v, UploadFile) and (v.filename or v.size)
    ]
    if not sources:
        raise AppError("choose or drop at least one file")
    report = await run_in_threadpool(
        ingest_files,
        session,
        scenario=scenario,
        files=sources,
        embedder=embedder,
        settings=runtime.settings,
    )
    context = documents_context(session, scenario, report)
    status = 200 if report.stored else 422
    return render(request, "documents.html", "_partials/ingest_report.html", context, status)


@router.get("/scenarios/{slug}/documents/{document_id}")
def document_page(request: Request, slug: str, document_id: RecordId, session: SessionDep):
    scenario = get_scenario(session, slug)
    document = get_document(session, scenario=scenario, document_id=document_id)
    context = {
        "scenario": scenario,
        "document": document,
        "chunks": document_chunks(session, document=document),
    }
    return render(request, "document.html", "document.html", context)


@router.delete("/scenarios/{slug}/documents/{document_id}")
@router.post("/scenarios/{slug}/documents/{document_id}/delete")
def remove(request: Request, slug: str, document_id: RecordId, session: SessionDep):
    """Delete a document (and its chunks); htmx gets the refreshed table."""
    scenario = get_scenario(session, slug)
    delete_document(session, scenario=scenario, document_id=document_id)
    session.commit()
    if from_htmx(request):
        context = documents_context(session, scenario)
        return render(request, "documents.html", "_partials/documents_table.html", context)
    return RedirectResponse(f"/scenarios/{scenario.slug}/documents", 303)


@router.get("/chunks/{chunk_id}")
def chunk_link(chunk_id: RecordId, session: SessionDep):
    """A chunk's permalink (the rag level's citations): its place on its document's page."""
    chunk = get_chunk(session, chunk_id)
    slug = session.get_one(Scenario, chunk.scenario_id).slug
    url = f"/scenarios/{slug}/documents/{chunk.document_id}#chunk-{chunk.id}"
    return RedirectResponse(url, 307)


@router.get("/scenarios/{slug}/search")
def search_page(
    request: Request,
    slug: str,
    session: SessionDep,
    runtime: RuntimeDep,
    q: Annotated[str | None, Query(max_length=4000)] = None,
    k: Annotated[int, Query(ge=1, le=100)] = 10,
    mode: SearchMode = SearchMode.hybrid,
    document: Annotated[str | None, Query(pattern=r"^\d{0,9}$")] = None,
):
    """The search playground: each hit's rank and score on both sides and the fused score.
    (`document` is a string: the form's "all documents" sends it empty.)"""
    scenario = get_scenario(session, slug)
    document_id = int(document) if document else None
    context = search_context(session, scenario, runtime.settings)
    context |= {"q": q or "", "k": k, "mode": mode.value, "document": document_id}
    status = 200
    if q is not None and not q.strip():
        context["error"], status = "Type a query: an empty query searches nothing.", 422
    elif q:
        context["hits"] = search_scenario(
            session,
            scenario=scenario,
            query=q.strip(),
            embedder=runtime.loaded_embedder(),
            settings=runtime.settings,
            k=k,
            mode=mode,
            document_id=document_id,
        )
    return render(request, "search.html", "_partials/search_results.html", context, status)


def search_context(
    session: Session, scenario: Scenario, settings: Settings, tuned: TuneResult | None = None
) -> dict[str, Any]:
    """The search page before a search: the form's defaults, the retrieval the rag level runs
    with (the scenario's settings), and what a tune found."""
    return {
        "scenario": scenario,
        "documents": list_documents(session, scenario=scenario),
        "q": "",
        "k": 10,
        "mode": SearchMode.hybrid.value,
        "modes": [m.value for m in SearchMode],
        "document": None,
        "hits": None,
        "error": None,
        "retrieval": current_config(scenario, settings),
        "tuning": tuned,
    }


@router.post("/scenarios/{slug}/search/tune")
def tune(request: Request, slug: str, session: SessionDep, runtime: RuntimeDep):
    """Tune the rag level's retrieval on the scenario's eval items (seconds: it runs in the
    request, app/rag/tuning.py); htmx gets the tuning section with the result."""
    scenario = get_scenario(session, slug)
    embedder = runtime.loaded_embedder()
    try:
        result = tune_rag(session, scenario=scenario, embedder=embedder, settings=runtime.settings)
    except AppError as error:  # shown in the section, which stays: nothing was changed
        session.rollback()
        context = search_context(session, scenario, runtime.settings)
        context["tune_error"] = error.message
        return render(request, "search.html", "_partials/rag_tuning.html", context, error.status)
    session.commit()
    context = search_context(session, scenario, runtime.settings, result)
    return render(request, "search.html", "_partials/rag_tuning.html", context)
