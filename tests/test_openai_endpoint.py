"""`/v1`: the OpenAI-compatible endpoint, driven by the official `openai` client against the
app served on a free port. The engine's test double answers where the answer is not the
point (an echo of the last user message, token by token); one call runs on the real engine.
Every served call is a stored comparison marked `served`."""

from __future__ import annotations

from contextlib import ExitStack

import httpx
import openai
import pytest

from app.levels import level_names
from app.main import create_app
from app.web.headless import serving
from tests.scenario_files import create, unique_slug

QUERY = "How many days do I have to return a tent?"


@pytest.fixture(scope="module")
def echo_url(echo_runtime):
    with serving(create_app(runtime=echo_runtime)) as url:
        yield url


@pytest.fixture(scope="module")
def client(echo_url):
    # no retries: the tests see each status as the server sent it
    return openai.OpenAI(base_url=f"{echo_url}/v1", api_key="x", max_retries=0)


@pytest.fixture(scope="module")
def api(echo_url):
    with httpx.Client(base_url=echo_url, timeout=60) as api:
        yield api


def stored(api, comparison_id) -> dict:
    return api.get(f"/api/v1/comparisons/{comparison_id}").json()


def served_count(api) -> int:
    return api.get("/api/v1/comparisons", params={"served": True, "limit": 1}).json()["total"]


def test_every_scenario_level_is_a_model(client):
    ids = {model.id for model in client.models.list()}
    assert {f"northwind/{level}" for level in level_names()} <= ids
    assert client.models.retrieve("northwind/rag").owned_by == "tritune"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("northwind/nope")


def test_a_completion_answers_the_last_user_message_and_is_stored_as_served(client, api):
    messages = [
        {"role": "system", "content": "You are a pirate."},
        {"role": "user", "content": "Hello"},
        {"role": "assistant", "content": "Ahoy"},
        {"role": "user", "content": QUERY},
    ]
    raw = client.chat.completions.with_raw_response.create(
        model="northwind/prompt", messages=messages, max_tokens=40, temperature=0.5
    )
    response = raw.parse()
    answer = response.choices[0]
    assert answer.message.role == "assistant" and answer.finish_reason == "stop"
    assert answer.message.content == f"base heard: {QUERY}"  # the echo of the query alone
    comparison = stored(api, raw.headers["x-tritune-comparison"])
    assert comparison["query"] == QUERY
    settings = comparison["settings"]
    assert settings["served"] == "northwind/prompt" and settings["completion_id"] == response.id
    assert (settings["max_new_tokens"], settings["temperature"]) == (40, 0.5)
    [result] = comparison["results"]
    assert result["level"] == "prompt" and result["output"] == answer.message.content
    usage = response.usage
    assert (usage.prompt_tokens, usage.completion_tokens) == (
        result["prompt_tokens"],
        result["completion_tokens"],
    )
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens > 0
    served = api.get("/api/v1/comparisons", params={"served": True}).json()["items"]
    others = api.get("/api/v1/comparisons", params={"served": False}).json()["items"]
    assert comparison["id"] in {c["id"] for c in served} - {c["id"] for c in others}


def test_a_stream_sends_the_text_in_chunks_then_the_finish_and_the_usage(client, api):
    stream = client.chat.completions.create(
        model="northwind/finetune",
        messages=[{"role": "user", "content": QUERY}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert len({c.id for c in chunks}) == 1 and chunks[0].choices[0].delta.role == "assistant"
    *texts, finish, usage = chunks
    assert finish.choices[0].finish_reason == "stop" and usage.choices == []
    assert all(c.usage is None for c in (*texts, finish))
    content = "".join(c.choices[0].delta.content or "" for c in texts)
    assert len(texts) > 3 and " heard: " in content  # token by token, by the adapter
    [comparison] = api.get("/api/v1/comparisons", params={"served": True, "limit": 1}).json()[
        "items"
    ]
    assert comparison["settings"]["completion_id"] == finish.id
    [result] = comparison["results"]
    assert result["level"] == "finetune" and result["output"] == content
    assert usage.usage.completion_tokens == result["completion_tokens"]
    assert usage.usage.total_tokens == result["prompt_tokens"] + result["completion_tokens"]


def test_the_stream_is_openai_server_sent_events_ending_with_done(api):
    body = {
        "model": "northwind/rag",
        "messages": [{"role": "user", "content": QUERY}],
        "stream": True,
        "max_completion_tokens": 3,
    }
    with api.stream("POST", "/v1/chat/completions", json=body) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        text = response.read().decode()
    messages = text.split("\n\n")
    assert messages[-2:] == ["data: [DONE]", ""]
    assert all(m.startswith("data: {") for m in messages[:-2])
    assert '"usage"' not in text  # not asked for
    assert '"finish_reason": "length"' in messages[-3]  # cut at 3 tokens


def test_the_scenarios_own_schema_decodes_under_it_and_another_is_refused(client, api, echo_engine):
    schema = api.get("/api/v1/scenarios/northwind").json()["output_schema"]
    ask = {"model": "northwind/prompt", "messages": [{"role": "user", "content": QUERY}]}
    own = {"type": "json_schema", "json_schema": {"name": "triage", "schema": schema}}
    raw = client.chat.completions.with_raw_response.create(**ask, response_format=own)
    assert stored(api, raw.headers["x-tritune-comparison"])["settings"]["constrained"] is True
    assert echo_engine.schemas[-1] == schema
    other = {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}}
    for response_format in (other, {"type": "json_object"}):
        with pytest.raises(openai.BadRequestError) as refused:
            client.chat.completions.create(**ask, response_format=response_format)
        assert refused.value.param == "response_format"


def test_an_unknown_model_is_404_in_openais_format(client):
    for model in ("nowhere/prompt", "northwind/nope", "northwind"):
        with pytest.raises(openai.NotFoundError) as missing:
            client.chat.completions.create(
                model=model, messages=[{"role": "user", "content": "hi"}]
            )
        assert missing.value.code == "model_not_found" and missing.value.param == "model"
        assert missing.value.type == "invalid_request_error"


@pytest.mark.parametrize(
    ("change", "param"),
    [
        ({"messages": [{"role": "system", "content": "no question"}]}, "messages"),
        ({"messages": [{"role": "user", "content": "   "}]}, "messages"),
        ({"messages": []}, "messages"),
        ({"max_tokens": 5000}, "max_tokens"),
        ({"temperature": 3}, "temperature"),
        ({"n": 2}, "n"),
    ],
)
def test_a_bad_body_is_400_naming_the_field_and_stores_nothing(client, api, change, param):
    before = served_count(api)
    body = {"model": "northwind/prompt", "messages": [{"role": "user", "content": "hi"}]}
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(**(body | change))
    assert refused.value.status_code == 400 and refused.value.param == param
    assert served_count(api) == before


def test_malformed_json_and_unknown_paths_answer_in_openais_format(api):
    response = api.post(
        "/v1/chat/completions", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert api.get("/v1/nothing-here").json()["error"]["message"]
    # the rest of the API keeps its own format
    assert "detail" in api.post("/api/v1/comparisons", json={"query": " "}).json()


@pytest.mark.parametrize("stream", [False, True])
def test_a_full_queue_is_503_with_retry_after_before_any_stream(client, api, echo_runtime, stream):
    before = served_count(api)
    with ExitStack() as stack:
        for _ in range(echo_runtime.settings.max_pending_comparisons):
            stack.enter_context(echo_runtime.admission())
        with pytest.raises(openai.InternalServerError) as busy:
            client.chat.completions.create(
                model="northwind/prompt",
                messages=[{"role": "user", "content": "hi"}],
                stream=stream,
            )
    assert busy.value.status_code == 503 and busy.value.code == "queue_full"
    assert int(busy.value.response.headers["retry-after"]) > 0
    assert served_count(api) == before


def test_a_level_that_cannot_answer_is_503_without_retry_and_is_logged(client, api):
    slug = unique_slug("served")
    create(api, slug)  # no documents: its rag level cannot answer
    with pytest.raises(openai.InternalServerError) as failed:
        client.chat.completions.create(
            model=f"{slug}/rag", messages=[{"role": "user", "content": "hi"}]
        )
    assert failed.value.code == "level_unavailable"
    assert failed.value.response.headers["x-should-retry"] == "false"
    [comparison] = api.get("/api/v1/comparisons", params={"scenario": slug}).json()["items"]
    assert comparison["settings"]["served"] == f"{slug}/rag"
    assert comparison["results"][0]["error"]


def test_models_still_loading_are_503_with_retry_after(runtime, echo_engine):
    from fastapi.testclient import TestClient

    from tests.doubles import SharedRuntime

    loading = SharedRuntime(runtime, echo_engine)  # not loaded: not ready
    with TestClient(create_app(runtime=loading)) as api:
        body = {"model": "northwind/prompt", "messages": [{"role": "user", "content": "hi"}]}
        response = api.post("/v1/chat/completions", json=body)
    assert response.status_code == 503 and int(response.headers["retry-after"]) > 0
    assert response.json()["error"]["code"] == "models_loading"


def test_the_real_engine_serves_a_completion(runtime):
    with serving(create_app(runtime=runtime)) as url:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="x", max_retries=0)
        response = client.chat.completions.create(
            model="northwind/rag",
            messages=[{"role": "user", "content": QUERY}],
            max_tokens=48,
        )
    answer = response.choices[0].message.content
    assert answer and answer != f"base heard: {QUERY}"
    assert response.model == "northwind/rag" and 0 < response.usage.completion_tokens <= 48
    assert response.choices[0].finish_reason in ("stop", "length")
