"""A runtime for tests of orchestration: the session's database, embedding model and
training worker, with another engine (the test double, app/engine/echo.py)."""

from __future__ import annotations

from app.engine import Engine
from app.jobs import JobKind, JobWorker
from app.runtime import Runtime


class SharedRuntime(Runtime):
    """`shared`'s settings, database and embedding model, with `engine` (which `close`
    leaves open: the fixture that made it closes it).

    Jobs (trainings, eval runs) go to `shared`'s workers, which run them with the real
    engine: a second worker of a kind would race the first for every job."""

    def __init__(self, shared: Runtime, engine: Engine) -> None:
        super().__init__(shared.settings, engine=engine)
        self.embedder = shared.embedder
        self.shared = shared

    def worker(self, kind: JobKind) -> JobWorker:
        return self.shared.worker(kind)
