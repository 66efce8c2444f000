"""How hybrid search fuses its two ranked lists, as pure functions (the SQL in
app/rag/search.py computes the same in Postgres; a test checks they agree).

Each side (vector, keyword) ranks at most `candidates` chunks. Two ways to fuse them:

- `rrf` (the default): weighted reciprocal rank fusion,
  `vector_weight / (rrf_k + vector_rank) + keyword_weight / (rrf_k + keyword_rank)`, a side
  that did not rank the chunk adding nothing. Plain RRF (both weights 1) gives the weaker
  side an equal vote: on uv's documentation it ranked worse than vector search alone (hit@1
  0.762 against 0.810); keyword weight 0.5 beats the best single side on both corpora
  measured (docs/knowledge-base.md).
- `score`: a convex combination of each side's scores min-max normalised over its candidates
  (`vector_weight * v + keyword_weight * k`, each in [0, 1]). Kept for the benchmark that
  compares the two (benchmarks/retrieval_quality.py); search itself runs `rrf`.

Ties are broken by chunk id, as in the SQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class FusionMethod(StrEnum):
    rrf = "rrf"
    score = "score"


@dataclass(frozen=True)
class RankedChunk:
    """One chunk as one side ranked it (rank 1 first) with that side's score."""

    chunk_id: int
    rank: int
    score: float


@dataclass(frozen=True)
class Fusion:
    """The fusion settings: per-side weights, the RRF constant, the candidates per side."""

    vector_weight: float = 1.0
    keyword_weight: float = 0.5  # the settings' default (app/config.py)
    rrf_k: int = 60
    candidates: int = 40
    method: FusionMethod = FusionMethod.rrf

    def __post_init__(self) -> None:
        if self.vector_weight < 0 or self.keyword_weight < 0:
            raise ValueError("vector_weight and keyword_weight must not be negative")
        if self.vector_weight == 0 and self.keyword_weight == 0:
            raise ValueError("vector_weight and keyword_weight cannot both be 0")
        if self.candidates < 1 or self.rrf_k < 1:
            raise ValueError("candidates and rrf_k must be at least 1")


def normalised(side: list[RankedChunk]) -> dict[int, float]:
    """Each chunk's score min-max scaled to [0, 1] over the side (1 when all are equal)."""
    if not side:
        return {}
    low, high = min(c.score for c in side), max(c.score for c in side)
    span = high - low
    return {c.chunk_id: (c.score - low) / span if span > 0 else 1.0 for c in side}


def side_scores(side: list[RankedChunk], weight: float, fusion: Fusion) -> dict[int, float]:
    """What one side adds to each chunk it ranked."""
    if fusion.method == FusionMethod.rrf:
        return {c.chunk_id: weight / (fusion.rrf_k + c.rank) for c in side}
    return {chunk: weight * value for chunk, value in normalised(side).items()}


def fuse(
    vector: list[RankedChunk], keyword: list[RankedChunk], fusion: Fusion
) -> list[tuple[int, float]]:
    """(chunk id, fused score), best first, from each side's ranking (best first; only the
    first `fusion.candidates` of each count)."""
    vector_part = side_scores(vector[: fusion.candidates], fusion.vector_weight, fusion)
    keyword_part = side_scores(keyword[: fusion.candidates], fusion.keyword_weight, fusion)
    chunks = vector_part.keys() | keyword_part.keys()
    scored = [(c, vector_part.get(c, 0.0) + keyword_part.get(c, 0.0)) for c in chunks]
    return sorted(scored, key=lambda pair: (-pair[1], pair[0]))
