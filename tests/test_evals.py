"""Eval runs end to end on the real engine, Postgres and models: upload, start, progress,
scores, summary, results page, export, report; bad input; one eval at a time; restarts."""

import csv
import io
import json
import time

import pytest
from sqlalchemy import func, select

from app.db.models import Comparison, EvalItem, EvalRun, EvalScore, EvalSet, Scenario
from app.evals.runner import EVAL_RUNS
from app.levels import level_names
from tests.job_owners import interrupted_once_gone, live_owner

ACTIVE = ("queued", "running")


def wait_for(client, run_id, timeout=900):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = client.get(f"/api/v1/evals/{run_id}").json()
        assert 0 <= run["done"] <= run["total"]
        if run["status"] not in ACTIVE:
            return run
        time.sleep(1)
    raise AssertionError(f"eval {run_id} still {run['status']} after {timeout} s")


def jsonl(*items):
    return "\n".join(json.dumps(item) for item in items).encode()


@pytest.fixture(scope="module")
def demo_run(client):
    """Two demo items (a limit takes the kinds in turn: the first knowledge question and the
    first triage ticket) through all four levels."""
    response = client.post(
        "/api/v1/scenarios/northwind/evals", json={"limit": 2, "max_new_tokens": 24}
    )
    assert response.status_code == 202, response.text
    started = response.json()
    assert started["status"] == "queued" and started["total"] == 2
    return wait_for(client, started["id"])


def test_an_eval_runs_each_item_through_every_level_as_a_stored_comparison(demo_run, session):
    assert demo_run["status"] == "done", demo_run["error"]
    assert demo_run["done"] == demo_run["total"] == 2 and demo_run["progress"] == 1.0
    assert demo_run["levels"] == ["prompt", "rag", "finetune", "rag_finetune"]
    assert demo_run["skipped"] == {}
    scores = session.scalars(select(EvalScore).where(EvalScore.eval_run_id == demo_run["id"]))
    scores = list(scores)
    assert len(scores) == 8
    for score in scores:
        comparison = session.get(Comparison, score.comparison_id)
        item = session.get(EvalItem, score.eval_item_id)
        assert comparison.query == item.input and item.kind in ("knowledge", "triage")
        assert comparison.settings["max_new_tokens"] == 24
        assert score.metrics["latency_ms"] > 0 and score.metrics["cost_usd"] > 0


def test_scores_carry_what_the_comparison_billed_each_level_on(demo_run, session, runtime):
    """The eval reads the machine seconds and embedding tokens the comparison service stored
    (the query's tokens for the levels that embed it), rather than working them out again."""
    scores = session.scalars(select(EvalScore).where(EvalScore.eval_run_id == demo_run["id"]))
    for score in scores:
        comparison = session.get(Comparison, score.comparison_id)
        result = next(r for r in comparison.results if r.level == score.level)
        assert result.machine_s > 0
        assert score.metrics["seconds"] == pytest.approx(result.machine_s)
        query_tokens = runtime.embedder.count_tokens(comparison.query)
        expected = 0 if score.level == "finetune" else query_tokens
        assert score.metrics["embedding_tokens"] == result.embedding_tokens == expected


def test_the_summary_scores_each_level_per_kind(demo_run):
    levels = demo_run["summary"]["levels"]
    assert list(levels) == demo_run["levels"]  # the run's order, not the JSONB column's
    summary = demo_run["summary"]
    assert summary["items"] == 2 and summary["kind_items"] == {"knowledge": 1, "triage": 1}
    for level in ("prompt", "rag", "finetune"):
        stats = levels[level]
        metrics = stats["metrics"]
        assert metrics["fact_recall"]["n"] == 1  # the knowledge question
        # the triage ticket: JSON against the scenario's schema and the expected fields
        assert metrics["json_validity"]["n"] == metrics["schema_validity"]["n"] == 1
        assert metrics["field_accuracy"]["n"] == 1
        assert metrics["quality"]["n"] == 2
        assert stats["latency_p95_ms"] >= stats["latency_p50_ms"] > 0
        assert stats["errors"] == 0
    # The tent question is answered by returns-policy.md; hybrid search finds it.
    hit = levels["rag"]["metrics"]["retrieval_hit"]
    assert hit.items() >= {"mean": 1.0, "spread": None, "n": 1, "items": 1}.items()
    assert hit["ci_method"] == "wilson" and hit["ci"][1] == 1.0  # one hit in one: not certain
    assert levels["prompt"]["metrics"]["retrieval_hit"]["n"] == 0
    assert demo_run["winners"]["quality"]["level"] in levels
    assert summary["kinds"]["knowledge"]["rag"]["metrics"]["fact_recall"]["n"] == 1
    assert summary["kinds"]["triage"]["finetune"]["metrics"]["fact_recall"]["n"] == 0


def test_results_page_export_and_report(client, demo_run):
    run_id = demo_run["id"]
    page = client.get(f"/evals/{run_id}")
    assert page.status_code == 200
    assert "Quality vs cost per query" in page.text and "Quality vs p95 latency" in page.text
    assert 'class="winner' in page.text and "/comparisons/" in page.text
    assert "Kind: knowledge" in page.text and "Kind: triage" in page.text
    assert "per 1,000" in page.text
    exported = client.get(f"/api/v1/evals/{run_id}/export", params={"format": "csv"})
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert len(rows) == 8 and {r["level"] for r in rows} == set(level_names())
    assert all(r["output"] for r in rows)
    comparison = client.get(f"/comparisons/{rows[0]['comparison_id']}")
    assert comparison.text.count("a month at 1,000/day") == 4  # one per level
    lines = client.get(f"/api/v1/evals/{run_id}/export", params={"format": "jsonl"}).text
    assert len(lines.splitlines()) == 8
    report = client.get("/api/v1/scenarios/northwind/report").json()
    assert report["eval_run_id"] == run_id and report["thin"] is True
    assert report["headline"].startswith("Evidence is too thin to decide with confidence.")
    assert "only 2 items in all (fewer than 20)" in report["notes"]
    assert report["pricing"]["profile"] == "self-hosted-cpu" and report["pricing"]["as_of"]
    hosted = client.get(
        "/api/v1/scenarios/northwind/report",
        params={"profile": "hosted-api", "queries_per_day": 5000},
    ).json()
    assert hosted["pricing"]["queries_per_day"] == 5000
    assert hosted["pricing"]["levels"]["finetune"]["fixed"]["once_usd"] > 0  # training tokens
    page = client.get("/scenarios/northwind/report", params={"profile": "hosted-api"})
    assert page.status_code == 200 and "Evidence is too thin" in page.text
    unknown = client.get("/api/v1/scenarios/northwind/report", params={"profile": "nope"})
    assert unknown.status_code == 404 and "hosted-api" in unknown.json()["detail"]


def test_the_scenario_page_shows_its_eval_items(client):
    page = client.get("/scenarios/northwind")
    assert "eval items</dt><dd>86</dd>" in page.text


def test_a_malformed_eval_set_is_refused_by_line_and_nothing_is_stored(client, session):
    before = session.scalar(select(func.count(EvalSet.id)))
    body = b'{"input": "fine", "expected": "x"}\n{broken\n{"input": "y"}\n'
    response = client.post(
        "/api/v1/scenarios/northwind/eval-sets", files={"file": ("bad.jsonl", body)}
    )
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert "line 2: not JSON" in detail and "line 3: nothing to score" in detail
    assert "line 1" not in detail
    latin = client.post(
        "/api/v1/scenarios/northwind/eval-sets", files={"file": ("x.jsonl", b"\xff\xfe")}
    )
    assert latin.status_code == 422 and "UTF-8" in latin.json()["detail"]
    assert session.scalar(select(func.count(EvalSet.id))) == before


def test_bad_eval_options_are_refused(client):
    post = client.post
    assert post("/api/v1/scenarios/northwind/evals", json={"levels": ["x"]}).status_code == 422
    assert post("/api/v1/scenarios/northwind/evals", json={"repeats": 0}).status_code == 422
    greedy = post("/api/v1/scenarios/northwind/evals", json={"repeats": 2, "temperature": 0})
    assert greedy.status_code == 422 and "temperature" in greedy.json()["detail"]
    kinds = post("/api/v1/scenarios/northwind/evals", json={"kinds": ["poetry"]})
    assert kinds.status_code == 422
    assert post("/api/v1/scenarios/nowhere/evals", json={}).status_code == 404
    assert client.get("/api/v1/evals/999999").status_code == 404


def test_a_scenario_without_documents_or_adapter_runs_the_levels_it_can(client, session):
    session.add(Scenario(slug="bare-evals", name="Bare", system_prompt="Answer briefly."))
    session.commit()
    items = jsonl(
        {"input": "Say hello.", "keywords": ["hello", "hi"], "kind": "general"},
        {"input": "Ticket: refund please", "fields": {"category": "return"}, "kind": "triage"},
    )
    upload = client.post(
        "/api/v1/scenarios/bare-evals/eval-sets", files={"file": ("bare.jsonl", items)}
    )
    assert upload.status_code == 201, upload.text
    assert upload.json()["items"] == 2 and upload.json()["kinds"] == {"general": 1, "triage": 1}
    response = client.post("/api/v1/scenarios/bare-evals/evals", json={"max_new_tokens": 8})
    assert response.status_code == 202, response.text
    started = response.json()
    assert started["levels"] == ["prompt"]
    assert "no documents" in started["skipped"]["rag"]
    assert "no active adapter" in started["skipped"]["finetune"]
    run = wait_for(client, started["id"])
    assert run["status"] == "done" and list(run["summary"]["levels"]) == ["prompt"]
    triage = run["summary"]["kinds"]["triage"]["prompt"]["metrics"]
    assert triage["json_validity"]["n"] == 1 and triage["field_accuracy"]["n"] == 1
    page = client.get(f"/evals/{run['id']}")
    assert "rag skipped: scenario" in page.text


def test_one_eval_at_a_time_and_runs_whose_process_stopped_are_interrupted(
    client, session, runtime
):
    scenario = session.scalar(select(Scenario).where(Scenario.slug == "northwind"))
    eval_set = session.scalar(select(EvalSet).where(EvalSet.scenario_id == scenario.id))

    def running(owner: str | None) -> EvalRun:
        return EvalRun(
            scenario_id=scenario.id,
            eval_set_id=eval_set.id,
            status="running",
            options={},
            levels=["prompt"],
            skipped={},
            total=3,
            done=1,
            owner=owner,
        )

    stale = running(None)  # left by a server from before owners were recorded
    orphan = running("old-container:1:0badc0de")  # a process that is gone
    elsewhere = running("replica-2:7:5eed5eed")  # another replica, alive: it holds its lock
    session.add_all([stale, orphan, elsewhere])
    session.commit()
    with live_owner(runtime.db, elsewhere.owner):
        busy = client.post("/api/v1/scenarios/northwind/evals", json={"limit": 1})
        assert busy.status_code == 409 and "already running" in busy.json()["detail"]
        for run in (stale, orphan):
            session.refresh(run)
            assert run.status == "interrupted" and "process running this eval" in run.error
            assert run.summary is not None  # over the scores it stored (none here)
        progress = client.get(f"/evals/{stale.id}/progress")
        shown = progress.text.split("<main>")[-1]  # the run's part, not the page's banner
        assert "interrupted" in shown and "hx-trigger" not in shown
        cancel_from_the_page(client, elsewhere.id)
        session.refresh(elsewhere)
        assert elsewhere.status == "running" and elsewhere.cancel_requested
    # the replica stopped before its next item
    assert interrupted_once_gone(session, EVAL_RUNS) == 1
    session.refresh(elsewhere)
    assert elsewhere.status == "interrupted"


def cancel_from_the_page(client, run_id: int) -> None:
    """The progress partial's Cancel button, then the partial saying the run is stopping."""
    fragment = client.get(f"/evals/{run_id}/progress", headers={"HX-Request": "true"}).text
    assert f'hx-post="/evals/{run_id}/cancel"' in fragment and "disabled" not in fragment
    cancelled = client.post(f"/evals/{run_id}/cancel", headers={"HX-Request": "true"})
    assert cancelled.headers["HX-Redirect"] == f"/evals/{run_id}"
    fragment = client.get(f"/evals/{run_id}/progress", headers={"HX-Request": "true"}).text
    assert "stopping after the current item" in fragment and "disabled" in fragment


def test_the_eval_page_starts_a_run_and_polls_its_progress(client):
    page = client.get("/scenarios/northwind/evals")
    assert page.status_code == 200 and "86 eval items" in page.text
    started = client.post(
        "/scenarios/northwind/evals",
        data={"limit": "1", "max_new_tokens": "8", "levels": ["prompt"], "repeats": "1"},
        headers={"HX-Request": "true"},
    )
    assert started.status_code == 200
    assert 'hx-trigger="load delay:1s"' in started.text and "<progress" in started.text
    run_id = int(started.text.split("/evals/")[1].split("/")[0])
    run = wait_for(client, run_id)
    assert run["status"] == "done"
    done = client.get(f"/evals/{run_id}/progress", headers={"HX-Request": "true"})
    assert done.headers["HX-Redirect"] == f"/evals/{run_id}"


def test_two_runs_of_a_scenario_compare_with_changes_highlighted(client, demo_run):
    runs = client.get("/api/v1/scenarios/northwind/evals").json()
    latest = next(r for r in runs if r["status"] == "done" and r["id"] != demo_run["id"])
    page = client.get(f"/evals/{latest['id']}/compare", params={"other": demo_run["id"]})
    assert page.status_code == 200
    assert f"Eval #{demo_run['id']} → #{latest['id']}" in page.text
    assert "Kind: knowledge" in page.text and "quality" in page.text
    bare = client.get("/api/v1/scenarios/bare-evals/evals").json()[0]
    other = client.get(f"/evals/{bare['id']}/compare", params={"other": demo_run["id"]})
    assert other.status_code == 422 and "same scenario" in other.text


def test_a_cancelled_eval_stops_at_its_next_item_and_keeps_its_scores(client, session):
    started = client.post(
        "/api/v1/scenarios/northwind/evals",
        json={"limit": 12, "levels": ["prompt"], "max_new_tokens": 4},
    )
    assert started.status_code == 202, started.text
    run_id = started.json()["id"]
    deadline = time.monotonic() + 300
    while client.get(f"/api/v1/evals/{run_id}").json()["done"] < 1:
        assert time.monotonic() < deadline, "the eval did not start"
        time.sleep(0.1)
    asked = client.post(f"/api/v1/evals/{run_id}/cancel")
    assert asked.status_code == 200, asked.text
    assert asked.json()["cancel_requested"] and asked.json()["status"] == "running"
    assert client.post(f"/api/v1/evals/{run_id}/cancel").status_code == 409
    run = wait_for(client, run_id)
    assert run["status"] == "cancelled" and 1 <= run["done"] < run["total"] == 12
    scores = session.scalar(select(func.count(EvalScore.id)).where(EvalScore.eval_run_id == run_id))
    assert scores == run["done"]  # one level: one score per item done
    assert run["summary"]["items"] == run["done"] and session.get(EvalRun, run_id).summary
    again = client.post(f"/api/v1/evals/{run_id}/cancel")
    assert again.status_code == 409 and "already cancelled" in again.json()["detail"]
    assert client.post("/api/v1/evals/999999/cancel").status_code == 404
    page = client.get(f"/evals/{run_id}")
    assert f"Cancelled after {run['done']} of 12 comparisons" in page.text
