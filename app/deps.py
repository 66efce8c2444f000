"""Dependencies used by every route, declared once as `Annotated` aliases.

Who commits: the caller that owns the unit of work. A domain service that does one unit
of work takes the session keyword-only, adds and flushes, and never commits: the route (API
or web) or CLI command that called it commits once, after it returned. A service whose work
is several units commits each one itself and says so in its docstring: ingest (one file at
a time), the comparison service (a comparison is stored as soon as it ran), re-embedding
(one all-or-nothing transaction) and background jobs (each step).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Path, Request
from sqlalchemy.orm import Session

from app.config import Settings
from app.db.models import MAX_ID
from app.runtime import Runtime


def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime


def get_session(runtime: Annotated[Runtime, Depends(get_runtime)]) -> Iterator[Session]:
    with runtime.session() as session:
        yield session


def get_settings(runtime: Annotated[Runtime, Depends(get_runtime)]) -> Settings:
    return runtime.settings


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
SessionDep = Annotated[Session, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(get_settings)]

RecordId = Annotated[int, Path(ge=1, le=MAX_ID)]  # `/things/{thing_id}` in any route
