"""POST /api/v1/comparisons/stream: Server-Sent Events, tokens per level then the stored
comparison."""

import json

import pytest


@pytest.fixture(scope="module")
def client(echo_client):
    """The stream on the engine's test double: what is streamed and stored, not the answer."""
    return echo_client


def read_events(response) -> list[tuple[str, dict]]:
    events, name = [], None
    for line in response.iter_lines():
        if line.startswith("event: "):
            name = line.removeprefix("event: ")
        elif line.startswith("data: "):
            events.append((name, json.loads(line.removeprefix("data: "))))
    return events


def test_tokens_stream_per_level_then_the_stored_comparison(client):
    body = {
        "query": "How many days do I have to return a tent?",
        "levels": ["rag", "finetune"],
        "max_new_tokens": 24,
    }
    with client.stream("POST", "/api/v1/comparisons/stream", json=body) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = read_events(response)
    names = [name for name, _ in events]
    assert names[-1] == "comparison" and set(names[:-1]) == {"token"}
    comparison = events[-1][1]
    assert comparison == client.get(f"/api/v1/comparisons/{comparison['id']}").json()
    for result in comparison["results"]:
        streamed = "".join(
            d["text"] for n, d in events if n == "token" and d["level"] == result["level"]
        )
        assert streamed.strip() == result["output"]
        assert result["completion_tokens"] > 1


def test_bad_input_and_unknown_scenario_are_refused_before_the_stream(client):
    assert client.post("/api/v1/comparisons/stream", json={"query": " "}).status_code == 422
    response = client.post("/api/v1/comparisons/stream", json={"query": "hi", "scenario": "nope"})
    assert response.status_code == 404


def test_a_full_queue_is_reported_as_an_error_event(client, echo_runtime):
    from contextlib import ExitStack

    with ExitStack() as stack:
        for _ in range(echo_runtime.settings.max_pending_comparisons):
            stack.enter_context(echo_runtime.admission())
        with client.stream("POST", "/api/v1/comparisons/stream", json={"query": "hi"}) as response:
            events = read_events(response)
    assert events == [("error", events[0][1])] and events[0][1]["status"] == 503
