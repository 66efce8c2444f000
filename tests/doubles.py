"""A runtime for tests of orchestration: the session's database, embedding model and
training worker, with another engine (the test double, app/engine/echo.py)."""

from __future__ import annotations

from app.engine import Engine
from app.runtime import Runtime


class SharedRuntime(Runtime):
    """`shared`'s settings, database and embedding model, with `engine` (which `close`
    leaves open: the fixture that made it closes it).

    Training jobs go to `shared`'s worker, which evaluates a trained adapter with the real
    engine; a second worker would also mark the first one's running jobs interrupted when
    it starts."""

    def __init__(self, shared: Runtime, engine: Engine) -> None:
        super().__init__(shared.settings, engine=engine)
        self.embedder = shared.embedder
        self.shared = shared

    def training_worker(self):
        return self.shared.training_worker()
