"""The fourth level, `rag_finetune` ("rag+finetune"): the rag level's retrieved sources in the
prompt of the scenario's adapter, in a comparison and in an eval (engine test double: these
tests are about what the level sends and how it is stored, not what the model answers)."""

from __future__ import annotations

from sqlalchemy import select

from app.db.models import EvalScore
from app.evals.runner import EvalOptions, get_eval_run, run_eval_here
from app.levels import get_level, level_label, level_names
from app.scenarios.versions import versioned_levels

QUERY = "How many days do I have to return a tent?"


def test_the_level_is_registered_last_with_its_label_and_prompt_fields():
    assert level_names()[-1] == "rag_finetune"
    assert level_label("rag_finetune") == "rag+finetune" and level_label("rag") == "rag"
    assert versioned_levels()["rag_finetune"][:2] == ("finetune_system_prompt", "rag_template")
    assert get_level("rag_finetune").uses_query_embedding


def test_a_comparison_sends_retrieved_sources_to_the_adapter(echo_client, demo_adapter):
    response = echo_client.post(
        "/api/v1/comparisons",
        json={"query": QUERY, "levels": ["rag", "rag_finetune"], "max_new_tokens": 32},
    )
    assert response.status_code == 201, response.text
    rag, both = response.json()["results"]
    assert both["level"] == "rag_finetune" and both["error"] is None
    assert both["adapter"] == demo_adapter.name and rag["adapter"] is None
    # the same sources as the rag level, answered by the adapter (the echo names it)
    assert [c["chunk_id"] for c in both["context"]] == [c["chunk_id"] for c in rag["context"]]
    assert both["output"].startswith(f"{demo_adapter.name} heard: Question: {QUERY}"[:40])
    assert both["prompt_tokens"] > 0 and both["cost_usd"] > 0
    assert both["prompt_version"] >= 1


def test_the_compare_page_labels_its_column(echo_client):
    form = {"query": QUERY, "levels": ["rag_finetune"], "max_new_tokens": "8"}
    comparison = echo_client.post("/api/v1/comparisons", json=form | {"max_new_tokens": 8})
    page = echo_client.get(f"/comparisons/{comparison.json()['id']}")
    assert 'data-level="rag_finetune"' in page.text and "rag+finetune" in page.text
    assert "rag+finetune" in echo_client.get("/").text  # the compare form's checkbox


def test_an_eval_scores_the_level_beside_the_others(echo_runtime, session):
    options = EvalOptions(levels=["finetune", "rag_finetune"], limit=2, max_new_tokens=16)
    run_id = run_eval_here(echo_runtime, "northwind", options)
    run = get_eval_run(session, run_id)
    assert run.status == "done", run.error
    assert run.levels == ["finetune", "rag_finetune"] and run.skipped == {}
    scores = session.scalars(select(EvalScore).where(EvalScore.eval_run_id == run_id)).all()
    assert sorted(s.level for s in scores) == ["finetune"] * 2 + ["rag_finetune"] * 2
    assert "rag_finetune" in run.summary["levels"]
