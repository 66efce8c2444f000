"""Per-item wins and losses: for two levels of an eval run (API and page, linked from the pair
tables) and for an adapter before and after training (its page, its API, and the per-item
results its before/after report now keeps)."""

from pathlib import Path

import pytest
from sqlalchemy import select

from app.db.models import Adapter, Scenario
from app.finetune.dataset import ChatExample
from app.finetune.report import before_after
from tests.eval_runs import store_finished_run

# knowledge, 12 items: RAG passes 0-9, the prompt 0-1 (RAG ahead on 8, p = 0.008).
# triage, 8 items: the prompt passes 0-3, RAG 2-5 (2 each way: not distinguishable).
PASSES = {
    ("knowledge", "prompt"): range(0, 2),
    ("knowledge", "rag"): range(0, 10),
    ("triage", "prompt"): range(0, 4),
    ("triage", "rag"): range(2, 6),
}


@pytest.fixture(scope="module")
def wins_run(runtime):
    with runtime.session() as session:
        return store_finished_run(
            session,
            "wins",
            {"knowledge": 12, "triage": 8},
            ["prompt", "rag"],
            lambda kind, level, index: index in PASSES[(kind, level)],
        )


def test_the_api_lists_the_items_each_level_won_with_the_pairs_test(client, wins_run):
    every = client.get(f"/api/v1/evals/{wins_run}/wins").json()
    assert (every["a"], every["b"], every["metric"], every["direction"]) == (
        "prompt",
        "rag",
        "quality",
        "both",
    )
    assert every["counts"] == {"a_won": 2, "b_won": 10, "same": 8, "common": 20}
    assert len(every["items"]) == 12 and every["kinds"] == ["knowledge", "triage"]
    summary = client.get(f"/api/v1/evals/{wins_run}").json()["summary"]
    assert every["test"] == summary["pairs"]["quality"][0]  # the number the run page shows

    knowledge = client.get(
        f"/api/v1/evals/{wins_run}/wins",
        params={"a": "rag", "b": "prompt", "kind": "knowledge", "direction": "a"},
    ).json()
    assert knowledge["counts"] == {"a_won": 8, "b_won": 0, "same": 4, "common": 12}
    test = knowledge["test"]  # from RAG's side, though the summary ran prompt vs rag
    assert (test["a"], test["b"], test["a_higher"], test["b_higher"]) == ("rag", "prompt", 8, 0)
    assert test["difference"] == pytest.approx(8 / 12) and 0 < test["low"] < test["high"]
    assert test["significant"] and test["p_value"] == pytest.approx(2 / 2**8)
    assert knowledge["sentence"].startswith(
        "RAG beats the few-shot prompt on quality by +67 points (95% CI +"
    )
    first = knowledge["items"][0]
    assert (first["kind"], first["input"], first["won"], first["expected"]) == (
        "knowledge",
        "knowledge 2",
        "a",
        "x2",
    )
    assert first["a"]["outputs"] == ["rag answer knowledge 2"] and first["a"]["score"] == 1.0
    assert first["b"]["outputs"] == ["prompt answer knowledge 2"] and first["b"]["score"] == 0.0
    assert first["a"]["comparisons"] == first["b"]["comparisons"] != []


def test_a_pair_the_items_cannot_tell_apart_is_said_to_be(client, wins_run):
    triage = client.get(
        f"/api/v1/evals/{wins_run}/wins", params={"kind": "triage", "direction": "b"}
    ).json()
    assert triage["counts"] == {"a_won": 2, "b_won": 2, "same": 4, "common": 8}
    assert [item["input"] for item in triage["items"]] == ["triage 4", "triage 5"]
    assert not triage["test"]["significant"] and triage["test"]["p_value"] == 1.0
    assert "not distinguishable on quality with 8 items" in triage["sentence"]


@pytest.mark.parametrize(
    "params, message",
    [
        ({"a": "finetune"}, "level 'finetune' is not one of ['prompt', 'rag']"),
        ({"a": "rag", "b": "rag"}, "choose two different levels"),
        ({"metric": "loudness"}, "metric 'loudness' is not one of"),
    ],
)
def test_a_level_or_metric_the_run_lacks_is_refused(client, wins_run, params, message):
    response = client.get(f"/api/v1/evals/{wins_run}/wins", params=params)
    assert response.status_code == 422 and message in response.json()["detail"]
    assert client.get(f"/api/v1/evals/{wins_run}/wins?direction=up").status_code == 422


def test_the_page_shows_both_answers_and_the_pair_tables_link_to_it(client, wins_run):
    page = client.get(
        f"/evals/{wins_run}/wins", params={"a": "rag", "b": "prompt", "kind": "knowledge"}
    ).text
    assert '<dd data-count="a_won">8</dd>' in page and '<dd data-count="b_won">0</dd>' in page
    assert "RAG beats the few-shot prompt on quality by +67 points" in page
    assert '<pre class="output">rag answer knowledge 9</pre>' in page
    assert '<pre class="output">prompt answer knowledge 9</pre>' in page
    assert 'href="/comparisons/' in page and "knowledge 11" not in page  # both passed it
    run_page = client.get(f"/evals/{wins_run}").text
    assert f'href="/evals/{wins_run}/wins?a=prompt&amp;b=rag&amp;metric=quality"' in run_page
    link = f'href="/evals/{wins_run}/wins?a=prompt&amp;b=rag&amp;metric=quality&amp;kind=triage"'
    assert link in run_page and link in client.get("/scenarios/wins/report").text
    empty = client.get(f"/evals/{wins_run}/wins?kind=knowledge&direction=a").text
    assert "No item where prompt scored higher on quality among the knowledge items" in empty


# --- an adapter before and after training ---


def example(prompt: str, reference: str) -> ChatExample:
    return ChatExample(
        [{"role": "user", "content": prompt}, {"role": "assistant", "content": reference}]
    )


def test_the_before_after_report_keeps_each_examples_outputs_and_scores(echo_engine, demo_adapter):
    examples = [example(f"Ticket {i}: my tent leaks", '{"category": "returns"}') for i in range(3)]
    report = before_after(
        echo_engine,
        adapter=demo_adapter.name,
        adapter_path=Path(demo_adapter.path),
        examples=examples,
        max_new_tokens=64,
    )
    assert len(report["per_item"]) == 3
    first = report["per_item"][0]
    assert first["prompt"] == "Ticket 0: my tent leaks" and first["base"].startswith("base heard")
    assert first["adapter"].startswith(f"{demo_adapter.name} heard")
    assert first["scores"]["adapter"] == {"exact_match": 0.0, "json_valid": 0.0, "field_match": 0.0}
    assert report["adapter"] == {"field_match": 0.0, "json_valid": 0.0, "exact_match": 0.0}


def stored_example(index: int, adapter_right: bool, base_right: bool) -> dict:
    def scores(right: bool) -> dict:
        return {"exact_match": float(right), "json_valid": 1.0, "field_match": float(right)}

    return {
        "prompt": f"ticket {index}",
        "reference": '{"category": "returns"}',
        "base": f"base output {index}",
        "adapter": f"adapter output {index}",
        "scores": {"base": scores(base_right), "adapter": scores(adapter_right)},
    }


@pytest.fixture(scope="module")
def before_after_adapters(runtime, demo_adapter):
    """Two adapters of a new scenario: one whose report kept per-item results (the adapter
    right on examples 0-8, the base model on 9-10, both on 11) and one from before."""
    outcomes = [(True, False)] * 9 + [(False, True)] * 2 + [(True, True)]
    per_item = [stored_example(i, *outcome) for i, outcome in enumerate(outcomes)]
    evaluation = {"items": 12, "max_new_tokens": 64, "per_item": per_item}
    evaluation |= {"base": {"field_match": 3 / 12}, "adapter": {"field_match": 10 / 12}}
    with runtime.session() as session:
        scenario = Scenario(slug="before-after", name="Before after", system_prompt="Answer.")
        session.add(scenario)
        session.flush()
        for name, stored in (("ba-new", evaluation), ("ba-old", {**evaluation, "per_item": None})):
            session.add(
                Adapter(
                    scenario_id=scenario.id,
                    name=name,
                    path=demo_adapter.path,
                    base_model="base",
                    dataset_sha256="0" * 64,
                    checksum=demo_adapter.checksum,
                    config={},
                    metrics={},
                    evaluation={k: v for k, v in stored.items() if v is not None},
                )
            )
        session.commit()
    yield
    with runtime.session() as session:
        session.delete(session.scalar(select(Scenario).where(Scenario.slug == "before-after")))
        session.commit()


def test_an_adapters_page_and_api_show_its_own_before_and_after(client, before_after_adapters):
    wins = client.get("/api/v1/adapters/ba-new/wins").json()
    assert (wins["a"], wins["b"], wins["metric"]) == ("adapter", "base", "field_match")
    assert wins["counts"] == {"a_won": 9, "b_won": 2, "same": 1, "common": 12}
    assert wins["test"]["test"] == "mcnemar" and wins["test"]["p_value"] == pytest.approx(
        0.0654, abs=1e-4
    )
    assert wins["items"][0]["a"]["outputs"] == ["adapter output 0"]
    assert "per_item" not in client.get("/api/v1/adapters/ba-new").json()["evaluation"]
    page = client.get("/adapters/ba-new?direction=b").text
    assert '<dd data-count="a_won">9</dd>' in page and "adapter output 10" in page
    assert "adapter output 0" not in page  # the adapter won that one: filtered out
    assert "Adapter and base are not distinguishable on field_match with 12 items" in page


def test_an_adapter_from_before_per_item_results_shows_an_empty_state(
    client, before_after_adapters
):
    wins = client.get("/api/v1/adapters/ba-old/wins").json()
    assert wins["items"] == [] and wins["test"] is None and "no per-item results" in wins["note"]
    page = client.get("/adapters/ba-old").text
    assert "kept no per-item results: train the adapter again" in page
    assert client.get("/api/v1/adapters/ba-old/wins?metric=vibes").status_code == 422
