"""`GET /metrics`: Prometheus's text exposition format (see `app/metrics.py`)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from app.deps import RuntimeDep
from app.metrics import CONTENT_TYPE, exposition

router = APIRouter(tags=["health"])


@router.get("/metrics", response_class=Response)
def metrics(runtime: RuntimeDep) -> Response:
    """Every TriTune series: requests, levels, engine, cores, jobs, embeddings."""
    return Response(exposition(runtime), media_type=CONTENT_TYPE)
