"""REST contract of /api/v1/comparisons, through the real stack."""

import csv
import io
import json

import pytest
from sqlalchemy import func, select

from app.db.models import Comparison
from app.levels import level_names

RETURN_QUESTION = "How many days do I have to return a tent?"


@pytest.fixture(scope="module")
def tent_comparison(client):
    response = client.post("/api/v1/comparisons", json={"query": RETURN_QUESTION})
    assert response.status_code == 201, response.text
    return response.json()


def by_level(comparison):
    return {result["level"]: result for result in comparison["results"]}


def test_a_comparison_runs_every_level(tent_comparison):
    results = by_level(tent_comparison)
    assert set(results) == set(level_names())
    for result in results.values():
        assert result["error"] is None
        assert result["output"]
        assert result["engine"] == "llamacpp"
        assert result["model"] == "SmolLM2-135M-Instruct.Q4_1.gguf"
        assert result["prompt_tokens"] > 0 and result["completion_tokens"] > 0
        latency = result["latency_ms"]
        assert latency["total"] >= latency["first_token"] + latency["generation"]
        assert result["cost_usd"] > 0


def test_rag_cites_the_returns_document_and_states_its_number_of_days(tent_comparison):
    rag = by_level(tent_comparison)["rag"]
    assert rag["context"][0]["source"] == "returns-policy.md"
    assert {"chunk_id", "document", "score", "text"} <= set(rag["context"][0])
    assert "60" in rag["output"], rag["output"]
    assert rag["latency_ms"]["retrieval"] > 0


def test_each_level_records_what_it_used(tent_comparison):
    results = by_level(tent_comparison)
    assert len(results["prompt"]["examples"]) == 3
    assert results["prompt"]["adapter"] is None
    assert results["finetune"]["adapter"].startswith("northwind-demo-")
    assert len(results["finetune"]["adapter_checksum"]) == 64
    assert results["finetune"]["prompt_tokens"] < results["rag"]["prompt_tokens"]


def test_a_ticket_gets_triage_json_from_the_finetune_level(client):
    ticket = "My Kestrel 2 tent arrived with a torn rainfly. I leave for a trip on Friday!"
    response = client.post("/api/v1/comparisons", json={"query": ticket, "levels": ["finetune"]})
    assert response.status_code == 201
    [result] = response.json()["results"]
    triage = json.loads(result["output"])
    assert set(triage) == {"category", "priority", "product", "sentiment", "reply"}


def test_stored_comparison_reads_back_identically(client, tent_comparison):
    response = client.get(f"/api/v1/comparisons/{tent_comparison['id']}")
    assert response.status_code == 200
    assert response.json() == tent_comparison


def test_list_is_newest_first_paged_and_filtered(client, tent_comparison):
    page = client.get("/api/v1/comparisons", params={"limit": 1}).json()
    assert page["limit"] == 1 and len(page["items"]) == 1 and page["total"] >= 1
    everything = client.get("/api/v1/comparisons", params={"scenario": "northwind"}).json()
    ids = [item["id"] for item in everything["items"]]
    assert tent_comparison["id"] in ids and ids == sorted(ids, reverse=True)
    assert client.get("/api/v1/comparisons", params={"scenario": "nope"}).status_code == 404


def test_export_csv_has_one_row_per_result(client, tent_comparison):
    response = client.get("/api/v1/comparisons/export", params={"format": "csv"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    mine = [row for row in rows if row["comparison_id"] == str(tent_comparison["id"])]
    assert sorted(row["level"] for row in mine) == ["finetune", "prompt", "rag", "rag_finetune"]
    assert all(row["query"] == RETURN_QUESTION for row in mine)


def test_export_jsonl_has_one_comparison_per_line(client, tent_comparison):
    response = client.get("/api/v1/comparisons/export", params={"format": "jsonl"})
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert tent_comparison["id"] in {line["id"] for line in lines}
    assert client.get("/api/v1/comparisons/export", params={"format": "xml"}).status_code == 422


def test_one_level_only(client):
    response = client.post(
        "/api/v1/comparisons",
        json={"query": "What is a good first hike?", "levels": ["prompt"], "max_new_tokens": 8},
    )
    assert response.status_code == 201
    [result] = response.json()["results"]
    assert result["level"] == "prompt" and result["completion_tokens"] <= 8


def test_a_level_that_cannot_run_reports_its_error_and_the_others_still_return(client):
    response = client.post(
        "/api/v1/comparisons",
        json={
            "query": "Hello?",
            "levels": ["prompt", "finetune"],
            "adapter": "missing",
            "max_new_tokens": 8,
        },
    )
    assert response.status_code == 201
    results = by_level(response.json())
    assert "missing" in results["finetune"]["error"]
    assert results["finetune"]["output"] == ""
    assert results["prompt"]["error"] is None and results["prompt"]["output"]


def stored(session):
    return session.scalar(select(func.count(Comparison.id)))


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"query": ""}, "query"),
        ({"query": "   \n "}, "query"),
        ({"query": "x" * 4001}, "query"),
        ({"query": "hi", "levels": ["prompt", "oracle"]}, "levels"),
        ({"query": "hi", "levels": []}, "levels"),
        ({"query": "hi", "max_new_tokens": 0}, "max_new_tokens"),
        ({"query": "hi", "max_new_tokens": 1025}, "max_new_tokens"),
        ({"query": "hi", "temperature": -1}, "temperature"),
        ({"query": 42}, "query"),
        ({}, "query"),
        ({"query": "hi", "surprise": 1}, "surprise"),
    ],
)
def test_bad_requests_are_422_naming_the_field_and_store_nothing(client, session, body, field):
    before = stored(session)
    response = client.post("/api/v1/comparisons", json=body)
    assert response.status_code == 422
    assert any(field in error["loc"] for error in response.json()["detail"])
    assert stored(session) == before


def test_malformed_json_is_422_not_500(client):
    response = client.post(
        "/api/v1/comparisons", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422


def test_unknown_scenario_and_comparison_are_404(client, session):
    before = stored(session)
    response = client.post("/api/v1/comparisons", json={"query": "hi", "scenario": "nowhere"})
    assert response.status_code == 404
    assert "nowhere" in response.json()["detail"]
    assert stored(session) == before
    assert client.get("/api/v1/comparisons/999999").status_code == 404
    assert client.get("/api/v1/comparisons/abc").status_code == 422


def test_cost_is_tokens_at_the_level_price_plus_a_share_of_machine_time(tent_comparison, runtime):
    """What the levels are charged for machine time adds up to the batch's wall time plus
    each level's retrieval: the shared batch is billed once, not once per level."""
    from app.costs import compute_cost, token_cost

    settings = runtime.settings
    query_tokens = runtime.embedder.count_tokens(tent_comparison["query"])
    charged_compute = 0.0
    for result in tent_comparison["results"]:
        tokens = token_cost(
            settings.price(result["level"]), result["prompt_tokens"], result["completion_tokens"]
        )
        embedding = query_tokens * settings.embedding_usd_per_mtok / 1e6
        if result["level"] == "finetune":
            embedding = 0.0
        assert result["cost_usd"] > tokens + embedding
        charged_compute += result["cost_usd"] - tokens - embedding
    latency = [r["latency_ms"] for r in tent_comparison["results"]]
    machine_s = (
        sum(lat["retrieval"] for lat in latency)
        + max(lat["first_token"] + lat["generation"] for lat in latency)
    ) / 1000
    assert charged_compute == pytest.approx(
        compute_cost(machine_s, settings.compute_usd_per_hour), rel=0.01
    )


def test_each_result_stores_what_it_was_billed_on(tent_comparison, runtime, session):
    """Machine seconds and embedding tokens are stored with each result, and its cost is
    those at the settings' prices; the machine seconds add up as above."""
    from app.compare import billed_cost
    from app.db.models import Result

    rows = session.scalars(select(Result).where(Result.comparison_id == tent_comparison["id"]))
    rows = list(rows)
    query_tokens = runtime.embedder.count_tokens(tent_comparison["query"])
    for row in rows:
        assert row.cost_usd == pytest.approx(billed_cost(row, runtime.settings))
        assert row.embedding_tokens == (0 if row.level == "finetune" else query_tokens)
    batch_ms = max(r.latency_first_token_ms + r.latency_generation_ms for r in rows)
    retrieval_ms = sum(r.latency_retrieval_ms for r in rows)
    assert sum(r.machine_s for r in rows) == pytest.approx((batch_ms + retrieval_ms) / 1000)


def test_defaults_come_from_the_settings(tent_comparison, runtime):
    stored = tent_comparison["settings"]
    assert stored["max_new_tokens"] == runtime.settings.max_new_tokens
    assert stored["temperature"] == runtime.settings.temperature
    assert stored["levels"] == ["prompt", "rag", "finetune", "rag_finetune"]


@pytest.mark.parametrize(
    ("params", "path"),
    [({"offset": 10**20}, "/api/v1/comparisons"), ({}, f"/api/v1/comparisons/{10**20}")],
)
def test_out_of_range_numbers_are_422(client, params, path):
    assert client.get(path, params=params).status_code == 422


def test_nul_characters_are_422(client, session):
    before = stored(session)
    for body in ({"query": "a\u0000b"}, {"query": "hi", "scenario": "north\u0000wind"}):
        response = client.post("/api/v1/comparisons", json=body)
        assert response.status_code == 422
    assert stored(session) == before


def test_a_level_whose_sql_fails_is_isolated_and_the_others_still_return(client, monkeypatch):
    from sqlalchemy import text

    from app.levels import base

    class BrokenLevel(base.Level):
        name = "broken"
        description = "fails inside the database"

        def plan(self, inputs):
            inputs.session.execute(text("SELECT 1 / 0"))

    monkeypatch.setitem(base.REGISTRY, "broken", BrokenLevel())
    response = client.post(
        "/api/v1/comparisons",
        json={"query": "Do you price match?", "levels": ["broken", "rag"], "max_new_tokens": 8},
    )
    assert response.status_code == 201
    results = by_level(response.json())
    assert "division by zero" in results["broken"]["error"]
    assert results["rag"]["error"] is None and results["rag"]["context"]


def test_a_full_queue_answers_503_with_retry_after(client, runtime, session):
    from contextlib import ExitStack

    before = stored(session)
    with ExitStack() as stack:
        for _ in range(runtime.settings.max_pending_comparisons):
            stack.enter_context(runtime.admission())
        response = client.post("/api/v1/comparisons", json={"query": "hi"})
    assert response.status_code == 503
    assert int(response.headers["retry-after"]) > 0
    assert stored(session) == before


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/comparisons?scenario=north%00wind",
        "/api/v1/comparisons/export?scenario=x%00",
        "/api/v1/scenarios/a%00b",
        "/comparisons?q=a%00b",
        "/scenarios/a%00b",
    ],
)
def test_nul_in_the_address_is_422_not_a_database_error(client, url):
    response = client.get(url)
    assert response.status_code == 422
    assert "NUL" in response.text
