"""Chunks stored under the embedding model's former name.

Before the embedding model was named by its model card (app/rag/embedding.py), a local model
was named by its directory: the packaged all-MiniLM-L6-v2 lies in a directory called `model`,
so every chunk stored then says `model`. Search and the rag level refuse chunks of another
model than the loaded one, so those chunks are renamed to the loaded model's name, but only
after a sample of them proves to be its vectors (embedded again, they come out the same): a
different model that also lived in a directory called `model` keeps its name and needs
`tritune reembed`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.db.models import Chunk, Document
from app.rag.chunking import embedding_input
from app.rag.embedding import Embedder

SAMPLE = 3
SAME = 0.999  # cosine similarity of a chunk's stored vector and the same text embedded again


def adopt_former_name(session: Session, embedder: Embedder) -> int:
    """Rename the chunks stored under the loaded model's former name, if they are its
    vectors; returns how many (0 when there is no former name or nothing to rename)."""
    former = Path(embedder.model_path).name
    if former == embedder.name or not Path(embedder.model_path).exists():
        return 0
    sample = (
        session.execute(
            select(Chunk, Document.title)
            .join(Document)
            .where(Chunk.embedding_model == former)
            .limit(SAMPLE)
        )
        .tuples()
        .all()
    )
    if not sample or not same_vectors(embedder, sample):
        return 0
    renamed = session.execute(
        update(Chunk).where(Chunk.embedding_model == former).values(embedding_model=embedder.name)
    )
    return int(getattr(renamed, "rowcount", 0) or 0)


def same_vectors(embedder: Embedder, sample: Sequence[tuple[Chunk, str]]) -> bool:
    texts = [embedding_input(title, chunk.heading, chunk.text) for chunk, title in sample]
    stored = np.array([np.asarray(chunk.embedding, dtype=np.float32) for chunk, _ in sample])
    again = embedder.embed(texts)
    return bool(np.all(np.sum(stored * again, axis=1) >= SAME))
