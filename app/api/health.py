"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from app.deps import RuntimeDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict:
    """The process answers."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "Not ready: the stage it is at."}})
def readyz(runtime: RuntimeDep) -> JSONResponse:
    """200 once the models are loaded, comparisons can run and the database answers; 503
    with the stage before, and while the database does not answer."""
    engine = runtime.engine
    database = runtime.database_ok()
    ready = runtime.ready and database
    body = {
        "ready": ready,
        "database": "ok" if database else "unavailable",
        "stage": runtime.stage,
        "error": runtime.load_error,
        "engine": engine.name if engine else None,
        "model": engine.model if engine else None,
    }
    return JSONResponse(body, status_code=200 if ready else 503)
