"""Test doubles: a runtime for tests of orchestration (the session's database, embedding
model and training worker, with another engine: app/engine/echo.py), and an embedding
model that hashes."""

from __future__ import annotations

import hashlib
import json

import numpy as np

from app.engine import Engine
from app.engine.base import GenerationRequest
from app.engine.echo import EchoEngine
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


class TeacherDouble(EchoEngine):
    """The engine's test double as a drafting teacher (app/drafts/writing.py): asked about a
    passage, it answers the JSON a teacher would, made from the passage itself (a question
    on its heading, its first sentence as the answer); any other request it echoes."""

    @staticmethod
    def answer(request: GenerationRequest) -> str:
        passage = request.messages[-1]["content"]
        if not passage.startswith("Passage"):
            return EchoEngine.answer(request)
        first_line, _, text = passage.partition("\n")
        heading = first_line.removeprefix("Passage").strip(" ():") or "this passage"
        sentence = " ".join(text.split())[:80].split(". ")[0].rstrip(".") + "."
        return json.dumps({"question": f"What does {heading} say?", "answer": sentence})


class DraftingRuntime(SharedRuntime):
    """A SharedRuntime whose drafting jobs run in its own worker, with its own engine (the
    teacher double), while its other jobs go to `shared`'s workers."""

    def worker(self, kind: JobKind) -> JobWorker:
        if kind.name != "drafting":
            return self.shared.worker(kind)
        return Runtime.worker(self, kind)
