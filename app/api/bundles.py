"""`/api/v1/scenarios/import` and `/api/v1/scenarios/{slug}/export`: scenario bundles over
REST (app/scenarios/bundles.py). Registered before the scenarios router, so that `import` is
never read as a slug."""

from __future__ import annotations

import shutil
from typing import Annotated

from fastapi import APIRouter, File, Form, Query, UploadFile
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel, Field
from starlette.background import BackgroundTask

from app.api.bodies import TEXT_BODIES
from app.api.schemas import API_ERRORS, ErrorBody
from app.db.queries import get_scenario
from app.deps import RuntimeDep, SessionDep
from app.scenarios.bundle_files import MAX_BUNDLE_BYTES, BundleInvalid, saved_archive
from app.scenarios.bundles import export_archive, import_bundle, import_slug

router = APIRouter(
    prefix="/api/v1/scenarios", tags=["scenarios"], responses=API_ERRORS, dependencies=TEXT_BODIES
)


class BundleProblem(BaseModel):
    file: str = Field(description="The bundle's file, e.g. `train.jsonl` or `documents/a.pdf`.")
    line: int = Field(description="1-based; 0 for the file as a whole.")
    message: str


class BundleRejected(ErrorBody):
    """A bundle refused: each problem with its file and line (none for a refused field)."""

    errors: list[BundleProblem] = Field(default_factory=list)


class BundleImported(BaseModel):
    slug: str
    created: bool
    added: dict[str, int] = Field(description="What the import stored, per kind.")
    unchanged: dict[str, int] = Field(description="What was in place already, per kind.")
    adapters: list[str] = Field(description="The adapters registered (weights included).")
    warnings: list[str]


@router.post(
    "/import",
    status_code=201,
    form_limits={"max_files": 1},
    response_model=BundleImported,
    responses={
        409: {"model": ErrorBody, "description": "The slug is taken."},
        413: {"model": ErrorBody, "description": f"Larger than {MAX_BUNDLE_BYTES:,} bytes."},
        422: {"model": BundleRejected, "description": "Each problem with its file and line."},
    },
)
def import_scenario(
    runtime: RuntimeDep,
    session: SessionDep,
    file: Annotated[UploadFile, File(description="A scenario bundle as a .tar.gz.")],
    slug: Annotated[str | None, Form(description="Import under this slug.")] = None,
):
    """Import a scenario bundle (docs/bundles.md). The whole bundle is checked first; with
    any problem nothing is stored and the 422 lists every problem with its file and line."""
    new_slug = import_slug(slug)
    embedder = runtime.loaded_embedder()
    try:
        with saved_archive(file.file, file.filename or "") as archive:
            report = import_bundle(
                session,
                source=archive,
                embedder=embedder,
                settings=runtime.settings,
                slug=new_slug,
            )
    except BundleInvalid as error:
        errors = [vars(problem) for problem in error.problems]
        return JSONResponse({"detail": error.message, "errors": errors}, error.status)
    session.commit()
    return BundleImported(**vars(report))


@router.get(
    "/{slug}/export",
    response_class=FileResponse,
    responses={200: {"content": {"application/gzip": {}}, "description": "The bundle."}},
)
def export_scenario(
    slug: str,
    session: SessionDep,
    adapters: Annotated[
        bool, Query(description="Include the adapters' weights, not only their metadata.")
    ] = False,
):
    """The scenario as a bundle (`<slug>.tar.gz`): prompts and their history, documents,
    datasets, the latest eval set, pricing, adapters' metadata (and weights on request)."""
    archive = export_archive(session, scenario=get_scenario(session, slug), with_adapters=adapters)
    cleanup = BackgroundTask(shutil.rmtree, archive.parent, ignore_errors=True)
    return FileResponse(
        archive, media_type="application/gzip", filename=archive.name, background=cleanup
    )
