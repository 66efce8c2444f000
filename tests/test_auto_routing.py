"""`<scenario>/auto` on /v1: each query goes to the level the scenario's decision report chose
for the query's kind (the kind of its nearest eval items); without a finished eval, to the
simplest level, saying so. The route and its reason are stored with the served call."""

from __future__ import annotations

import numpy as np
import openai
import pytest

from app.main import create_app
from app.serving.routing import KindClassifier, default_level
from app.web.headless import serving
from tests.eval_runs import store_finished_run
from tests.scenario_files import create, unique_slug


@pytest.fixture(scope="module")
def echo_url(echo_runtime):
    with serving(create_app(runtime=echo_runtime)) as url:
        yield url


@pytest.fixture(scope="module")
def client(echo_url):
    return openai.OpenAI(base_url=f"{echo_url}/v1", api_key="x", max_retries=0)


@pytest.fixture(scope="module")
def api(echo_url):
    import httpx

    with httpx.Client(base_url=echo_url, timeout=60) as api:
        yield api


@pytest.fixture(scope="module")
def evidence(runtime):
    """A scenario whose finished eval chose `rag` for knowledge items (rag passed them all,
    prompt none) and `prompt` for triage items (the other way round)."""
    slug = unique_slug("routed")
    with runtime.session() as session:
        store_finished_run(
            session,
            slug,
            {"knowledge": 12, "triage": 12},
            ["prompt", "rag"],
            lambda kind, level, index: (level == "rag") == (kind == "knowledge"),
        )
    return slug


def ask(client, model: str, query: str):
    raw = client.chat.completions.with_raw_response.create(
        model=model, messages=[{"role": "user", "content": query}], max_tokens=16
    )
    return raw, raw.parse()


def stored_settings(api, raw) -> dict:
    comparison = api.get(f"/api/v1/comparisons/{raw.headers['x-tritune-comparison']}").json()
    return comparison["settings"]


def test_the_classifier_takes_the_nearest_centroid_and_can_hold_an_item_out():
    vectors = np.array([[1, 0], [0.9, 0.1], [0.8, 0.2], [0, 1], [0.1, 0.9]], dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    classifier = KindClassifier(vectors, ["a", "a", "b", "b", "b"])
    assert classifier.predict(np.array([1.0, 0.0], dtype=np.float32)) == "a"
    assert classifier.predict(np.array([0.0, 1.0], dtype=np.float32)) == "b"
    # item 2 (a "b" beside the a's): with it, b's centroid leans its way; held out, a's wins
    assert classifier.predict(vectors[2], leave_out=2) == "a"


def test_auto_is_served_for_every_scenario(client):
    assert "northwind/auto" in {model.id for model in client.models.list()}


def test_auto_sends_each_kind_to_the_level_the_report_chose(client, api, evidence):
    raw, response = ask(client, f"{evidence}/auto", "triage 40")
    assert raw.headers["x-tritune-level"] == "prompt" and response.model == f"{evidence}/auto"
    assert response.choices[0].message.content == "base heard: triage 40"
    settings = stored_settings(api, raw)
    assert (settings["route"], settings["route_kind"]) == ("prompt", "triage")
    assert settings["served"] == f"{evidence}/auto" and "eval run" in settings["route_reason"]
    # knowledge goes to rag, which cannot answer here (no documents): still routed and logged
    with pytest.raises(openai.InternalServerError) as failed:
        ask(client, f"{evidence}/auto", "knowledge 40")
    assert "routed to rag" in failed.value.message
    [comparison] = api.get("/api/v1/comparisons", params={"scenario": evidence, "limit": 1}).json()[
        "items"
    ]
    assert comparison["settings"]["route"] == "rag"
    assert [r["level"] for r in comparison["results"]] == ["rag"]


def test_without_a_finished_eval_auto_takes_the_simplest_level_and_says_so(client, api):
    slug = unique_slug("unrouted")
    create(api, slug)
    raw, _ = ask(client, f"{slug}/auto", "Where is my order?")
    assert raw.headers["x-tritune-level"] == default_level() == "prompt"
    settings = stored_settings(api, raw)
    assert settings["route"] == "prompt" and settings["route_kind"] == ""
    assert "no finished eval run" in settings["route_reason"]


def test_the_routing_accuracy_is_measured_on_held_out_items(api, evidence, cli_run):
    found = api.get(f"/api/v1/scenarios/{evidence}/routing").json()
    assert found["items"] == 24 and found["accuracy"] >= 0.9
    assert {kind: k["level"] for kind, k in found["kinds"].items()} == {
        "knowledge": "rag",
        "triage": "prompt",
    }
    assert "leave-one-out" in found["method"]
    shown = cli_run(["routing", "--scenario", evidence])
    assert shown.exit_code == 0, shown.output
    assert "held-out accuracy" in shown.output and "rag" in shown.output


def test_the_demos_routing_accuracy(api):
    found = api.get("/api/v1/scenarios/northwind/routing").json()
    assert set(found["kinds"]) == {"knowledge", "triage", "general"}
    # 74 of 86 (86%) when measured; triage tickets are the kind most often taken for another
    assert found["items"] >= 60 and found["accuracy"] >= 0.8
