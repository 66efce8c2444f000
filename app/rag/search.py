"""Hybrid retrieval: HNSW cosine search and Postgres full-text search, fused with
reciprocal rank fusion (RRF) in one SQL statement.

Each side ranks its best `candidates` chunks; a chunk's fused score is weighted RRF,
`vector_weight/(rrf_k + vector_rank) + keyword_weight/(rrf_k + keyword_rank)`, a missing side
adding nothing (app/rag/fusion.py).

The vector side finds its candidates through the HNSW index on the embeddings cast to
`halfvec` (16-bit floats: half the index of full vectors, so more of it stays in memory, and
cheaper distances), then ranks and scores them by the full-precision cosine distance
(re-scoring): at 100k chunks the halfvec index answered in half the time of the `vector` one
at the same `ef_search`, with the same recall (docs/knowledge-base.md).
Keyword search ORs the query's lexemes (plain `plainto_tsquery` would AND them and miss
most chunks for a natural-language question) and scores a chunk BM25-style, since
`ts_rank_cd` alone has no inverse document frequency (a rare product name would weigh no more
than "jacket"): the sum over the query's lexemes in the chunk of
`idf * ts_rank_cd(tsv, lexeme, 32)`; normalisation 32 (`rank / (rank + 1)`) saturates repeated
terms, and `idf = ln(1 + (n - df + 0.5) / (df + 0.5))` (BM25's) with the lexeme's document
frequency `df` among `n` chunks of the scenario: all of them up to `IDF_SAMPLE` chunks, else
a sample of that many (counting the exact frequency of a common word in a large collection
through the GIN index costs more than the rest of the search).

In a collection larger than the sample, the chunks are found through the query's selective
words, as search engines treat very common words: a word in `COMMON_SHARE` or more of the
sample still adds to the score of the chunks found, without making nearly every chunk a
candidate to be scored. Where no selective word is in any chunk (a query of common words
only, or its other words absent from the collection), the chunks holding all the common
words are the candidates, the first `COMMON_MATCHES` of them: scoring every chunk holding
"tent" and "trail" (60% of a 100k benchmark collection) took over 300 ms, and among so many
the keyword side ranks little; the vector side does. (Matching any common word, as before,
made nearly every chunk a candidate; matching only the selective words left 19 of 100
benchmark queries without keyword results, their one uncommon word being absent.)

The modes `vector` and `keyword` run the same statement with the other side's candidate count
at zero, so the three modes differ only in which ranks are fused. An optional document
filter applies to both sides.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.config import Settings
from app.db.models import Scenario
from app.rag.embedding import Embedder
from app.rag.fusion import Fusion
from app.rag.reembed import require_embedding_model

HYBRID_SQL = text(
    """
WITH vector_candidates AS MATERIALIZED (
    SELECT c.id, c.embedding
    FROM chunks c
    WHERE c.scenario_id = :scenario_id
      AND (CAST(:document_id AS integer) IS NULL OR c.document_id = :document_id)
    ORDER BY CAST(c.embedding AS halfvec(384)) <=> CAST(:embedding AS halfvec(384))
    LIMIT :vector_candidates
),
vector_side AS (
    SELECT v.id,
           row_number() OVER (ORDER BY v.embedding <=> CAST(:embedding AS vector), v.id) AS rank,
           1 - (v.embedding <=> CAST(:embedding AS vector)) AS score
    FROM vector_candidates v
),
terms AS (
    SELECT quote_literal(t.lexeme)::tsquery AS tq
    FROM unnest(tsvector_to_array(to_tsvector('english', :query))) AS t(lexeme)
),
idf_sample AS MATERIALIZED (
    SELECT c.tsv FROM chunks c WHERE c.scenario_id = :scenario_id LIMIT :idf_sample
),
sample_size AS MATERIALIZED (
    SELECT count(*)::float AS n FROM idf_sample
),
term_weights AS MATERIALIZED (  -- once per query, not once per matching chunk
    SELECT t.tq, f.df / greatest(s.n, 1) AS share, s.n >= :idf_sample AS sampled,
           ln(1 + (s.n - f.df + 0.5) / (f.df + 0.5)) AS idf
    FROM terms t, sample_size s,
         LATERAL (SELECT count(*)::float AS df FROM idf_sample x WHERE x.tsv @@ t.tq) f
),
matching AS (  -- the selective words, any of them; the common ones, all of them
    SELECT (SELECT string_agg(tq::text, ' | ') FROM term_weights
            WHERE NOT (sampled AND share >= :common_share))::tsquery AS selective,
           (SELECT string_agg(tq::text, ' & ') FROM term_weights
            WHERE sampled AND share >= :common_share)::tsquery AS common
),
selective_matches AS MATERIALIZED (
    SELECT c.id, c.tsv FROM chunks c
    WHERE c.scenario_id = :scenario_id AND c.tsv @@ (SELECT selective FROM matching)
      AND (CAST(:document_id AS integer) IS NULL OR c.document_id = :document_id)
),
keyword_matches AS (
    SELECT id, tsv FROM selective_matches
    UNION ALL  -- the common words only where no selective word matched (a one-time filter)
    (SELECT c.id, c.tsv FROM chunks c
     WHERE c.scenario_id = :scenario_id AND c.tsv @@ (SELECT common FROM matching)
       AND (CAST(:document_id AS integer) IS NULL OR c.document_id = :document_id)
       AND NOT EXISTS (SELECT 1 FROM selective_matches)
     LIMIT :common_matches)
),
keyword_side AS (
    SELECT m.id,
           row_number() OVER (ORDER BY s.score DESC, m.id) AS rank,
           s.score
    FROM keyword_matches m,
         LATERAL (
             SELECT sum(w.idf * ts_rank_cd(m.tsv, w.tq, 32)) AS score
             FROM term_weights w WHERE m.tsv @@ w.tq
         ) s
    ORDER BY s.score DESC, m.id
    LIMIT :keyword_candidates
),
fused AS (
    SELECT coalesce(v.id, k.id) AS id,
           v.rank AS vector_rank, v.score AS vector_score,
           k.rank AS keyword_rank, k.score AS keyword_score,
           coalesce(CAST(:vector_weight AS float8) / (:rrf_k + v.rank), 0)
           + coalesce(CAST(:keyword_weight AS float8) / (:rrf_k + k.rank), 0) AS score
    FROM vector_side v FULL OUTER JOIN keyword_side k ON v.id = k.id
),
best AS (  -- the k best before reading their text, not every candidate's
    SELECT * FROM fused ORDER BY score DESC, id LIMIT :k
)
SELECT f.*, c.document_id, c.heading, c.text, c.token_count, d.title, d.source
FROM best f
JOIN chunks c ON c.id = f.id
JOIN documents d ON d.id = c.document_id
ORDER BY f.score DESC, f.id
"""
)


class SearchMode(StrEnum):
    hybrid = "hybrid"
    vector = "vector"
    keyword = "keyword"


# A scenario's retrieval settings (app/db/models.py, part of the rag level's prompt version)
RETRIEVAL_FIELDS = ("rag_top_k", "rag_candidates", "rag_vector_weight", "rag_keyword_weight")
DEFAULT_FUSION = Fusion()  # the settings' defaults
IDF_SAMPLE = 2000  # chunks that document frequencies are counted on (module docstring)
COMMON_SHARE = 0.01  # words in this share of a full sample only add to scores
COMMON_MATCHES = 1000  # chunks scored at most when only common words match (docstring)


@dataclass(frozen=True)
class ChunkHit:
    chunk_id: int
    document_id: int
    document: str
    source: str
    heading: str
    text: str
    token_count: int
    score: float
    vector_rank: int | None
    vector_score: float | None
    keyword_rank: int | None
    keyword_score: float | None


def settings_fusion(settings: Settings, prompt: Mapping[str, Any] | None = None) -> Fusion:
    """The fusion a search runs with: the rag prompt version's tuned values (its `rag_*`
    fields) where it sets them, else the settings'."""
    own = prompt or {}

    def pick(field: str, default: Any) -> Any:
        value = own.get(f"rag_{field}")
        return default if value is None else value

    return Fusion(
        vector_weight=pick("vector_weight", settings.vector_weight),
        keyword_weight=pick("keyword_weight", settings.keyword_weight),
        rrf_k=settings.rrf_k,
        candidates=pick("candidates", settings.candidates),
    )


def filtered_hnsw_scan(session: Session, ef_search: int) -> None:
    """Per-transaction HNSW settings for a search filtered by scenario. Iterative scans
    (pgvector 0.8) let the index keep going when the filter discards rows, so the search still
    fills its LIMIT; strict order keeps the distances sorted for the ranks computed on them."""
    session.execute(text(f"SET LOCAL hnsw.ef_search = {int(ef_search)}"))
    session.execute(text("SET LOCAL hnsw.iterative_scan = strict_order"))


def vector_literal(vector: np.ndarray) -> str:
    return "[" + ",".join(f"{x:.7f}" for x in vector.tolist()) + "]"


def hybrid_search(
    session: Session,
    *,
    scenario_id: int,
    query: str,
    embedding: np.ndarray,
    k: int,
    fusion: Fusion = DEFAULT_FUSION,
    ef_search: int = 200,
    mode: SearchMode = SearchMode.hybrid,
    document_id: int | None = None,
) -> list[ChunkHit]:
    """The `k` best chunks of a scenario for `query` by weighted RRF over vector and keyword
    ranks (`mode`: both, or one side alone), optionally of one document only."""
    filtered_hnsw_scan(session, ef_search)
    candidates = max(fusion.candidates, k)
    rows = session.execute(
        HYBRID_SQL,
        {
            "query": query,
            "embedding": vector_literal(embedding),
            "scenario_id": scenario_id,
            "document_id": document_id,
            "vector_candidates": 0 if mode == SearchMode.keyword else candidates,
            "keyword_candidates": 0 if mode == SearchMode.vector else candidates,
            "rrf_k": fusion.rrf_k,
            "vector_weight": fusion.vector_weight,
            "keyword_weight": fusion.keyword_weight,
            "idf_sample": IDF_SAMPLE,
            "common_share": COMMON_SHARE,
            "common_matches": COMMON_MATCHES,
            "k": k,
        },
    ).mappings()
    return [
        ChunkHit(
            chunk_id=row["id"],
            document_id=row["document_id"],
            document=row["title"],
            source=row["source"],
            heading=row["heading"],
            text=row["text"],
            token_count=row["token_count"],
            score=float(row["score"]),
            vector_rank=row["vector_rank"],
            vector_score=row["vector_score"],
            keyword_rank=row["keyword_rank"],
            keyword_score=None if row["keyword_score"] is None else float(row["keyword_score"]),
        )
        for row in rows
    ]


def search_scenario(
    session: Session,
    *,
    scenario: Scenario,
    query: str,
    embedder: Embedder,
    settings: Settings,
    k: int,
    mode: SearchMode = SearchMode.hybrid,
    document_id: int | None = None,
) -> list[ChunkHit]:
    """Search a scenario's knowledge base with the loaded embedding model and the scenario's
    own fusion settings (the search API, the playground page and the CLI).
    EmbeddingModelMismatch (409) when its chunks were embedded with another model."""
    require_embedding_model(session, scenario=scenario, model=embedder.name)
    own = {name: getattr(scenario, name) for name in RETRIEVAL_FIELDS}
    session.commit()  # the reads end: embedding the query may wait for the cores
    embedding = embedder.embed_one(query)
    return hybrid_search(
        session,
        scenario_id=scenario.id,
        query=query,
        embedding=embedding,
        k=k,
        fusion=settings_fusion(settings, own),
        ef_search=settings.hnsw_ef_search,
        mode=mode,
        document_id=document_id,
    )
