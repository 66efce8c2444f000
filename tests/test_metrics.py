"""`/metrics`, JSON logs and the tracing switch (issue 18, part 2)."""

from __future__ import annotations

import io
import json
import logging

import pytest
from prometheus_client.parser import text_string_to_metric_families

from app import tracing
from app.logs import JsonFormatter, configure_logging


def scrape(client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of `GET /metrics`, keyed by (name, sorted labels)."""
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture(scope="module")
def compared(echo_client):
    """Scrapes before and after one comparison of the three levels (engine test double)."""
    before = scrape(echo_client)
    response = echo_client.post(
        "/api/v1/comparisons", json={"query": "How many days do I have to return a tent?"}
    )
    assert response.status_code == 201, response.text
    comparison = response.json()
    fetched = echo_client.get(f"/api/v1/comparisons/{comparison['id']}")
    assert fetched.status_code == 200
    return before, scrape(echo_client), comparison


def test_each_level_counts_its_result_latency_tokens_and_cost(compared):
    before, after, comparison = compared
    for result in comparison["results"]:
        level, engine = result["level"], result["engine"]
        assert result["error"] is None
        ok = dict(level=level, engine=engine, outcome="ok")
        assert value(after, "tritune_level_results_total", **ok) == pytest.approx(
            value(before, "tritune_level_results_total", **ok) + 1
        )
        for kind in ("prompt", "completion"):
            added = value(after, "tritune_level_tokens_total", level=level, kind=kind) - value(
                before, "tritune_level_tokens_total", level=level, kind=kind
            )
            assert added == result[f"{kind}_tokens"]
        cost = value(after, "tritune_level_cost_usd_total", level=level) - value(
            before, "tritune_level_cost_usd_total", level=level
        )
        assert cost == pytest.approx(result["cost_usd"])
        seconds = value(after, "tritune_level_latency_seconds_sum", level=level, engine=engine)
        seconds -= value(before, "tritune_level_latency_seconds_sum", level=level, engine=engine)
        assert seconds == pytest.approx(result["latency_ms"]["total"] / 1000, abs=1e-3)  # rounded


def test_requests_are_timed_by_route_template_not_raw_path(compared):
    before, after, comparison = compared
    name = "tritune_http_request_duration_seconds_count"
    template = dict(method="GET", route="/api/v1/comparisons/{comparison_id}", status="200")
    assert value(after, name, **template) >= value(before, name, **template) + 1
    post = dict(method="POST", route="/api/v1/comparisons", status="201")
    assert value(after, name, **post) == value(before, name, **post) + 1
    raw = f"/api/v1/comparisons/{comparison['id']}"
    assert not any(dict(labels).get("route") == raw for _, labels in after)


def test_an_unmatched_path_is_one_series(echo_client):
    echo_client.get("/no/such/page/7f3a")
    samples = scrape(echo_client)
    labels = dict(method="GET", route="unmatched", status="404")
    assert value(samples, "tritune_http_request_duration_seconds_count", **labels) >= 1


def test_the_engine_the_cores_and_the_embedder_report(compared):
    before, after, _ = compared
    assert value(after, "tritune_engine_busy_seconds_total", engine="echo") > value(
        before, "tritune_engine_busy_seconds_total", engine="echo"
    )
    assert value(after, "tritune_engine_requests_in_flight", engine="echo") == 0
    assert ("tritune_engine_queue_depth", (("engine", "echo"), ("state", "waiting"))) in after
    assert value(after, "tritune_cores_busy_seconds_total") > 0
    assert value(after, "tritune_embedding_batch_seconds_count") > value(
        before, "tritune_embedding_batch_seconds_count"
    )
    assert value(after, "tritune_embedded_texts_total") >= 1


def test_jobs_are_counted_by_kind_and_status_from_the_database(echo_client, running_training):
    samples = scrape(echo_client)
    assert value(samples, "tritune_jobs", kind="training", status="running") >= 1


def test_the_transformers_engine_reports_its_batcher(transformers_engine):
    from app.engine import GenerationRequest

    forward = transformers_engine.forward_seconds
    transformers_engine.generate([GenerationRequest([{"role": "user", "content": "Hi"}], None, 4)])
    assert transformers_engine.forward_seconds > forward
    assert transformers_engine.queue_depth() == {"queued": 0, "decoding": 0}


def test_json_logs_are_one_object_per_line_with_extra_fields():
    record = logging.LogRecord("app.x", logging.WARNING, __file__, 1, "hello %s", ("you",), None)
    record.comparison_id = 7
    line = json.loads(JsonFormatter().format(record))
    assert line["level"] == "WARNING" and line["logger"] == "app.x"
    assert line["message"] == "hello you" and line["comparison_id"] == 7
    assert line["time"].endswith("+00:00")


def test_the_json_log_setting_formats_the_root_logger():
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure_logging("json")
        stream = io.StringIO()
        root.handlers[0].setStream(stream)
        logging.getLogger("app.test").info("started", extra={"replica": "a"})
        assert json.loads(stream.getvalue()) | {"replica": "a"} == json.loads(stream.getvalue())
    finally:
        root.handlers, root.level = saved


def test_tracing_stays_off_without_the_sdk_and_says_so(caplog):
    caplog.set_level(logging.WARNING, logger="app.tracing")
    assert tracing.configure_tracing(False) is False
    on = tracing.configure_tracing(True)
    try:
        import opentelemetry.sdk  # noqa: F401
    except ImportError:
        assert on is False
        assert "opentelemetry-sdk" in caplog.text and "tracing stays off" in caplog.text
    with tracing.span("tritune.generation", level="rag"):
        pass  # a no-op span runs its block
