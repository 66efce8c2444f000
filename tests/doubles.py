"""Test doubles: a runtime for tests of orchestration (the session's database, embedding
model and training worker, with another engine: app/engine/echo.py), and an embedding
model that hashes."""

from __future__ import annotations

import hashlib

import numpy as np

from app.engine import Engine
from app.jobs import JobKind, JobWorker
from app.rag.embedding import Embedder
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


class HashEmbedder:
    """The embedding model's test double, for tests of what is stored rather than what is
    found: a unit vector per text drawn from its hash (the same text, the same vector), and
    the real model's token counts, so that documents chunk as they would."""

    name = "hash-embedder-test-double"

    def __init__(self, real: Embedder) -> None:
        self.dimensions = real.dimensions
        self.count_tokens = real.count_tokens

    def embed(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        rows = [self.vector(text) for text in texts]
        return np.array(rows, dtype=np.float32).reshape(len(texts), self.dimensions)

    def vector(self, text: str) -> np.ndarray:
        seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")
        row = np.random.default_rng(seed).standard_normal(self.dimensions)
        return row / np.linalg.norm(row)

    def embed_one(self, text: str) -> np.ndarray:
        return self.vector(text)


class IdleWorker:
    """A job worker that runs nothing (`JobWorker`'s interface): jobs queued stay queued."""

    alive = True

    def notify(self) -> None:
        """Nothing to wake."""

    def stop(self, timeout: float = 5.0) -> None:
        """Nothing to stop."""
