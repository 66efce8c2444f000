"""Sentence embeddings (all-MiniLM-L6-v2 by default): batched, L2-normalised, 384 dimensions."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np

from app.cores import CORES
from app.metrics import EMBEDDED_TEXTS, EMBEDDING_BATCH_SECONDS


def embedding_model_name(model: str) -> str:
    """The name stored with every chunk: a hub id as it is; a local model by the title of
    its model card (`# all-MiniLM-L6-v2` in README.md, as sentence-transformers models
    ship), else by its directory's name (a directory called just `model`, as a package
    ships one, by its parent's)."""
    path = Path(model)
    if not path.exists():
        return model
    return model_card_title(path / "README.md") or directory_name(path)


def model_card_title(readme: Path) -> str | None:
    """The first `# heading` of a model card, if it is one plain line of a name."""
    try:
        lines = readme.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    for line in lines:
        if line.startswith("# "):
            title = line[2:].strip()
            return title if title and len(title) <= 100 and " " not in title else None
    return None


def directory_name(path: Path) -> str:
    resolved = path.resolve()
    generic = resolved.name.lower() in {"model", "models", "weights"}
    return resolved.parent.name if generic and resolved.parent.name else resolved.name


class Embedder:
    """Wraps one sentence-transformers model; safe to share between threads."""

    def __init__(self, model: str) -> None:
        from sentence_transformers import SentenceTransformer

        self.model_path = model
        self.name = embedding_model_name(model)
        self._model = SentenceTransformer(model, device="cpu")
        self._lock = threading.Lock()
        self.tokenizer = self._model.tokenizer
        self.dimensions = self._model.get_embedding_dimension()

    def embed(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        """Embed texts; rows are unit vectors, so cosine similarity is a dot product. The
        cores are taken one batch at a time, so a long ingest lets generation in between."""
        if not texts:
            # no rows; a model that does not state its width (None) gets width 0
            return np.zeros((0, self.dimensions or 0), dtype=np.float32)
        # Batches of similar lengths pad less (encode sorts within one call; the batches are
        # made here, so the sort is too); the rows go back in the texts' order.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        ordered = [texts[i] for i in order]
        parts = []
        for start in range(0, len(ordered), batch_size):
            parts.append(self._embed_batch(ordered[start : start + batch_size]))
        vectors = np.concatenate(parts).astype(np.float32, copy=False)
        rows = np.empty_like(vectors)
        rows[order] = vectors
        return rows

    def _embed_batch(self, texts: list[str]) -> np.ndarray:
        """One batch, holding the cores; its time (waiting excluded) goes to `/metrics`."""
        with self._lock, CORES:
            started = time.perf_counter()
            vectors = self._model.encode(
                texts, batch_size=len(texts), normalize_embeddings=True, convert_to_numpy=True
            )
            EMBEDDING_BATCH_SECONDS.observe(time.perf_counter() - started)
        EMBEDDED_TEXTS.inc(len(texts))
        return vectors

    def embed_one(self, text: str) -> np.ndarray:
        return self.embed([text])[0]

    def count_tokens(self, text: str) -> int:
        # Under the lock: a fast tokenizer switches its padding state on every call, and
        # two threads doing so at once fail ("Already borrowed").
        with self._lock:
            return len(self.tokenizer.encode(text, add_special_tokens=False))
