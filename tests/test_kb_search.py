"""Search modes on a small knowledge base made for the purpose: hybrid finds a document by an
exact rare keyword where vector search ranks it lower, and a paraphrase that keyword search
cannot match; filtered HNSW searches still fill k rows; the search API and playground."""

import pytest
from sqlalchemy import func, select, text

from app.db.models import Chunk
from app.db.queries import get_scenario
from app.rag.fusion import Fusion
from app.rag.search import SearchMode, hybrid_search, search_scenario, vector_literal
from tests.kb_files import drop_scenario, new_scenario

SLUG = "kb-search"
DOCUMENTS = {
    # The only document with the invented word; otherwise about invoices, not clothing.
    "supplier-memo.md": "# Supplier memo\n\nThe Quellfoam batch from the Hamar mill arrived "
    "late; the invoices were sent to accounts on Friday.",
    # Close in meaning to the rare-keyword query, without its words.
    "parkas.md": "# Parkas\n\nOur winter parkas are padded with synthetic fill that keeps "
    "you warm in wet snow.",
    "coats.md": "# Coats\n\nDown coats and anoraks: which filling keeps a hiker warmest?",
    "fleece.md": "# Fleece\n\nFleece layers trap heat under a shell on cold mornings.",
    # The paraphrase target: answers the refund question with none of its words.
    "refunds.md": "# Refunds\n\nCustomers may return purchases within 45 days of delivery "
    "for a full refund.",
    # Shares the refund question's words, not its meaning.
    "packs.md": "# Packs\n\nThe long back panel of the Ridgeline pack means you can wait "
    "out a storm; we send each item with a rain cover.",
}
RARE_QUERY = "Which jackets use Quellfoam insulation?"
PARAPHRASE_QUERY = "How long can I wait before I send an item back?"


@pytest.fixture(scope="module")
def kb(runtime, client):
    with runtime.session() as session:
        new_scenario(session, SLUG)
    body = [("files", (name, body.encode())) for name, body in DOCUMENTS.items()]
    response = client.post(f"/api/v1/scenarios/{SLUG}/documents", files=body)
    assert response.status_code == 201, response.text
    yield SLUG
    with runtime.session() as session:
        drop_scenario(session, SLUG)


def sources(runtime, session, query, mode, k=3):
    hits = search_scenario(
        session,
        scenario=get_scenario(session, SLUG),
        query=query,
        embedder=runtime.embedder,
        settings=runtime.settings,
        k=k,
        mode=mode,
    )
    return [hit.source for hit in hits]


def test_hybrid_ranks_an_exact_rare_keyword_first_where_vector_search_does_not(
    runtime, session, kb
):
    assert sources(runtime, session, RARE_QUERY, SearchMode.vector)[0] != "supplier-memo.md"
    assert sources(runtime, session, RARE_QUERY, SearchMode.keyword) == ["supplier-memo.md"]
    assert sources(runtime, session, RARE_QUERY, SearchMode.hybrid)[0] == "supplier-memo.md"


def test_hybrid_finds_a_paraphrase_that_keyword_search_cannot(runtime, session, kb):
    keyword = sources(runtime, session, PARAPHRASE_QUERY, SearchMode.keyword, k=6)
    assert "packs.md" in keyword and "refunds.md" not in keyword
    assert sources(runtime, session, PARAPHRASE_QUERY, SearchMode.vector, k=1) == ["refunds.md"]
    assert "refunds.md" in sources(runtime, session, PARAPHRASE_QUERY, SearchMode.hybrid, k=2)


def test_keyword_side_weighs_a_rare_word_above_a_common_one(runtime, session):
    """Plain ts_rank_cd ranked the Glacierline document third for this query on the demo
    knowledge base (below chunks repeating "jacket"); with IDF weights it is first."""
    scenario = get_scenario(session, "northwind")
    hits = search_scenario(
        session,
        scenario=scenario,
        query="Which jackets use Glacierline?",
        embedder=runtime.embedder,
        settings=runtime.settings,
        k=3,
        mode=SearchMode.keyword,
    )
    assert hits[0].source == "glacierline-membrane.md"
    assert hits[0].keyword_score > hits[1].keyword_score


def forced_onto_hnsw(session) -> None:
    """On a table this small the planner sorts exactly (via the btree indexes); dropping them
    inside the transaction (rolled back after) leaves the HNSW index as the only path."""
    for index in ("ix_chunks_document_id", "ix_chunks_scenario_id"):
        session.execute(text(f"DROP INDEX {index}"))
    session.execute(text("DROP INDEX ix_chunks_scenario_embedding_model"))
    session.execute(text("SET LOCAL enable_seqscan = off"))


def test_a_filtered_hnsw_search_still_returns_k_rows(runtime, session, monkeypatch):
    """A small ef_search and a document filter that discards most of what the index yields:
    the iterative scan keeps going until the k rows are there."""
    from app.rag import search as search_module

    scenario = get_scenario(session, "northwind")
    document_id, count = session.execute(
        select(Chunk.document_id, func.count())
        .where(Chunk.scenario_id == scenario.id)
        .group_by(Chunk.document_id)
        .order_by(func.count().desc())
        .limit(1)
    ).one()
    query = "How many days do I have to return a tent?"
    embedding = runtime.embedder.embed_one(query)

    def run():
        forced_onto_hnsw(session)
        hits = hybrid_search(
            session,
            scenario_id=scenario.id,
            query=query,
            embedding=embedding,
            k=count,
            fusion=Fusion(candidates=count),
            ef_search=10,
            mode=SearchMode.vector,
            document_id=document_id,
        )
        plan = session.execute(
            text(
                "EXPLAIN SELECT id FROM chunks WHERE scenario_id = :s AND document_id = :d "
                "ORDER BY CAST(embedding AS halfvec(384)) <=> CAST(:e AS halfvec(384)) LIMIT :k"
            ),
            {"s": scenario.id, "d": document_id, "e": vector_literal(embedding), "k": count},
        ).scalars()
        assert "ix_chunks_embedding_hnsw" in "\n".join(plan)
        session.rollback()
        return hits

    hits = run()
    assert len(hits) == count and {h.document_id for h in hits} == {document_id}

    def without_iterative_scan(session_, ef_search):
        session_.execute(text(f"SET LOCAL hnsw.ef_search = {int(ef_search)}"))
        session_.execute(text("SET LOCAL hnsw.iterative_scan = off"))

    # The same search without the iterative scan comes back short: the index is really used.
    monkeypatch.setattr(search_module, "filtered_hnsw_scan", without_iterative_scan)
    assert len(run()) < count


def test_search_api_modes_filter_and_empty_query(client, session, kb):
    url = f"/api/v1/scenarios/{kb}/search"
    body = client.get(url, params={"q": RARE_QUERY, "k": 3}).json()
    assert body["mode"] == "hybrid" and len(body["hits"]) == 3
    first = body["hits"][0]
    assert first["rank"] == 1 and first["source"] == "supplier-memo.md"
    assert first["keyword_rank"] == 1 and first["vector_rank"] is not None
    assert abs(first["score"] - (0.5 / 61 + 1 / (60 + first["vector_rank"]))) < 1e-9
    keyword = client.get(url, params={"q": RARE_QUERY, "mode": "keyword"}).json()["hits"]
    assert all(h["vector_rank"] is None for h in keyword)
    doc = first["document_id"]
    only = client.get(url, params={"q": "warm coats", "document": doc}).json()["hits"]
    assert only and {h["document_id"] for h in only} == {doc}
    for bad in ({"q": ""}, {"q": "   "}, {"q": "x", "k": 0}, {"q": "x", "mode": "fuzzy"}, {}):
        assert client.get(url, params=bad).status_code == 422, bad
    assert client.get("/api/v1/scenarios/nope/search", params={"q": "x"}).status_code == 404


def test_search_playground_shows_ranks_and_scores_from_both_sides(client, kb):
    params = {"q": RARE_QUERY, "k": 3, "mode": "hybrid", "document": ""}  # as the form sends
    page = client.get(f"/scenarios/{kb}/search", params=params)
    assert page.status_code == 200 and "<html" in page.text
    for column in ("vector score", "vector rank", "keyword score", "keyword rank", "fused score"):
        assert column in page.text
    assert page.text.count('class="hit"') == 3 and "Supplier memo" in page.text
    fragment = client.get(
        f"/scenarios/{kb}/search", params={"q": "  "}, headers={"HX-Request": "true"}
    )
    assert fragment.status_code == 422 and "<html" not in fragment.text
    assert "empty query" in fragment.text


def test_in_a_sampled_collection_common_words_match_where_no_other_word_does(
    runtime, session, kb, monkeypatch
):
    """A collection larger than the IDF sample (here: a sample of all 6 chunks, so every word
    in a chunk is common) finds chunks through its selective words; a query whose only
    uncommon word is in no chunk matches on all its common words instead of nothing, and at
    most COMMON_MATCHES of those chunks are scored."""
    from app.rag import search as search_module

    monkeypatch.setattr(search_module, "IDF_SAMPLE", len(DOCUMENTS))
    assert sources(runtime, session, "Quellfoam invoices", SearchMode.keyword) == [
        "supplier-memo.md"
    ]
    query = "Do parkas keep you warm in Zyxqwv weather?"  # 'zyxqwv' is in no chunk
    assert sources(runtime, session, query, SearchMode.keyword) == ["parkas.md"]
    assert len(sources(runtime, session, "what keeps you warm", SearchMode.keyword)) == 1
    both = sources(runtime, session, "keeps", SearchMode.keyword)
    assert sorted(both) == ["coats.md", "parkas.md"]
    monkeypatch.setattr(search_module, "COMMON_MATCHES", 1)
    assert len(sources(runtime, session, "keeps", SearchMode.keyword)) == 1
