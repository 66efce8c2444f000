"""Hybrid retrieval (HNSW + full-text, RRF in one SQL statement) on the demo knowledge base."""

from sqlalchemy import select

from app.db.models import Scenario
from app.rag.search import hybrid_search


def search(runtime, session, query, k=5):
    scenario = session.scalar(select(Scenario).where(Scenario.slug == "northwind"))
    return hybrid_search(
        session,
        scenario_id=scenario.id,
        query=query,
        embedding=runtime.embedder.embed_one(query),
        k=k,
    )


def test_a_distinctive_keyword_ranks_its_document_first(runtime, session):
    hits = search(runtime, session, "Which jackets use Glacierline?")
    assert hits[0].source == "glacierline-membrane.md"
    assert hits[0].keyword_rank is not None and hits[0].vector_rank is not None
    alone = search(runtime, session, "glacierline", k=3)
    assert {hit.source for hit in alone if hit.keyword_rank} == {"glacierline-membrane.md"}
    assert alone[0].source == "glacierline-membrane.md"


def test_a_plain_question_finds_the_returns_policy(runtime, session):
    hits = search(runtime, session, "How many days do I have to return a tent?")
    assert hits[0].source == "returns-policy.md"
    assert "60 days" in hits[0].text


def test_results_are_fused_from_both_sides_and_ordered(runtime, session):
    hits = search(runtime, session, "store opening hours on Sunday", k=8)
    assert len(hits) == 8
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert any(h.vector_rank and h.keyword_rank for h in hits)
    for hit in hits:  # weighted RRF with the default weights (vector 1, keyword 0.5)
        vector = 1 / (60 + hit.vector_rank) if hit.vector_rank else 0
        keyword = 0.5 / (60 + hit.keyword_rank) if hit.keyword_rank else 0
        assert abs(hit.score - (vector + keyword)) < 1e-9


def test_a_query_of_stopwords_still_gets_vector_results(runtime, session):
    hits = search(runtime, session, "what is it", k=3)
    assert len(hits) == 3
    assert all(h.keyword_rank is None for h in hits)
