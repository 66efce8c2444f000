"""Retrieval quality: how well a scenario's search finds the document that answers a question.

A `RetrievalQuestion` is a query and the `source` of the document that answers it (an eval
item's `source`). A question's rank is the position of the first chunk of that document in
the results; from the ranks come hit@k (the share of questions answered within the first k
chunks) and MRR@10 (the mean of 1/rank, 0 beyond 10), as the eval's `retrieval_hit` counts.

Tuning tries many fusion settings on the same questions, so each question's two rankings are
fetched once (`side_rankings`, with the most candidates any setting uses) and fused in Python
(app/rag/fusion.py computes what the SQL does) for each setting.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from sqlalchemy.orm import Session

from app.rag.embedding import Embedder
from app.rag.fusion import Fusion, RankedChunk, fuse
from app.rag.search import ChunkHit, SearchMode, hybrid_search

HIT_AT = (1, 3, 10)
MRR_DEPTH = 10


@dataclass(frozen=True)
class RetrievalQuestion:
    query: str
    source: str


@dataclass(frozen=True)
class SideRankings:
    """One question's two rankings, and the document of every chunk in them."""

    question: RetrievalQuestion
    vector: list[RankedChunk]
    keyword: list[RankedChunk]
    sources: dict[int, str]

    def rank(self, fusion: Fusion) -> int | None:
        """Where the answering document's first chunk comes in the fused results (1-based)."""
        for position, (chunk_id, _) in enumerate(fuse(self.vector, self.keyword, fusion), 1):
            if self.sources[chunk_id] == self.question.source:
                return position
        return None


def rank_of(hits: list[ChunkHit], source: str) -> int | None:
    """The 1-based position of the first hit from document `source`, or None."""
    return next((n for n, hit in enumerate(hits, 1) if hit.source == source), None)


def hit_rate(ranks: list[int | None], k: int) -> float:
    """The share of questions answered within the first `k` chunks."""
    return sum(1 for r in ranks if r and r <= k) / max(1, len(ranks))


def quality(ranks: Iterable[int | None]) -> dict[str, float]:
    """hit@1/3/10 and MRR@10 of the questions' ranks (None: not found)."""
    ranks = list(ranks)
    metrics = {f"hit@{k}": hit_rate(ranks, k) for k in HIT_AT}
    reciprocal = sum(1 / r for r in ranks if r and r <= MRR_DEPTH)
    metrics["mrr"] = reciprocal / max(1, len(ranks))
    return metrics


def side_rankings(
    session: Session,
    *,
    scenario_id: int,
    questions: list[RetrievalQuestion],
    embedder: Embedder,
    candidates: int,
    ef_search: int,
) -> list[SideRankings]:
    """Each question's vector and keyword rankings, `candidates` deep (one search per side)."""
    vectors = embedder.embed([q.query for q in questions])
    return [
        one_question(session, scenario_id, question, vector, candidates, ef_search)
        for question, vector in zip(questions, vectors, strict=True)
    ]


def one_question(
    session: Session,
    scenario_id: int,
    question: RetrievalQuestion,
    vector: np.ndarray,
    candidates: int,
    ef_search: int,
) -> SideRankings:
    sides: dict[SearchMode, list[ChunkHit]] = {}
    for mode in (SearchMode.vector, SearchMode.keyword):
        sides[mode] = hybrid_search(
            session,
            scenario_id=scenario_id,
            query=question.query,
            embedding=vector,
            k=candidates,
            fusion=Fusion(candidates=candidates),
            ef_search=ef_search,
            mode=mode,
        )
    vector_side = [
        RankedChunk(h.chunk_id, h.vector_rank or 0, h.vector_score or 0.0)
        for h in sides[SearchMode.vector]
    ]
    keyword_side = [
        RankedChunk(h.chunk_id, h.keyword_rank or 0, h.keyword_score or 0.0)
        for h in sides[SearchMode.keyword]
    ]
    sources = {h.chunk_id: h.source for hits in sides.values() for h in hits}
    return SideRankings(question, vector_side, keyword_side, sources)


def fused_quality(rankings: list[SideRankings], fusion: Fusion) -> dict[str, float]:
    """hit@k and MRR of every question under `fusion`."""
    return quality(r.rank(fusion) for r in rankings)
