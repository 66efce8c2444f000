"""Scenario bundles in the browser: the "Import a scenario" page (upload a .tar.gz; every
problem listed with its file and line, nothing stored) and the scenario's export download.
Both call app/scenarios/bundles.py, as the REST API and the CLI do."""

from __future__ import annotations

import shutil
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from app.db.queries import get_scenario
from app.deps import RuntimeDep, SessionDep
from app.errors import AppError
from app.scenarios.bundle_files import MAX_BUNDLE_BYTES, BundleInvalid, saved_archive
from app.scenarios.bundles import export_archive, import_bundle, import_slug
from app.web.current import remember
from app.web.render import render

router = APIRouter(include_in_schema=False)


def import_context(**given: Any) -> dict[str, Any]:
    context: dict[str, Any] = {"slug": "", "problems": [], "error": None, "report": None}
    return {**context, "max_bytes": MAX_BUNDLE_BYTES, **given}


@router.get("/scenarios/import")
def import_page(request: Request):
    return render(request, "scenario_import.html", "scenario_import.html", import_context())


@router.post("/scenarios/import", form_limits={"max_files": 1})
def import_scenario(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    file: Annotated[UploadFile, File()],
    slug: Annotated[str, Form()] = "",
):
    """Import the uploaded bundle and show what was stored; a bundle with problems comes back
    with each one listed (422) and nothing stored."""
    context = import_context(slug=slug)
    try:
        with saved_archive(file.file, file.filename or "") as archive:
            report = import_bundle(
                session,
                source=archive,
                embedder=runtime.loaded_embedder(),
                settings=runtime.settings,
                slug=import_slug(slug),
            )
    except BundleInvalid as error:
        session.rollback()
        context["problems"] = error.problems
        status = error.status
    except AppError as error:
        session.rollback()
        context["error"] = error.message
        status = error.status
    else:
        session.commit()
        page = render(
            request, "scenario_import.html", "scenario_import.html", {**context, "report": report}
        )
        return remember(page, report.slug)
    return render(request, "scenario_import.html", "scenario_import.html", context, status)


@router.get("/scenarios/{slug}/export")
def export_scenario(slug: str, session: SessionDep, adapters: bool = False):
    """The scenario as a bundle to download (`<slug>.tar.gz`; weights with `?adapters=true`)."""
    archive = export_archive(session, scenario=get_scenario(session, slug), with_adapters=adapters)
    cleanup = BackgroundTask(shutil.rmtree, archive.parent, ignore_errors=True)
    return FileResponse(
        archive, media_type="application/gzip", filename=archive.name, background=cleanup
    )
