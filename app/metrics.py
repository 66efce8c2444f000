"""Prometheus metrics (`GET /metrics`): what TriTune measures and where.

Two sources, rendered together by `exposition(runtime)`:

- **events**, counted where they happen, in the process-wide registry of
  `prometheus_client`: HTTP requests by route template (`app/request_metrics.py`), each
  level's results, latency, tokens and cost once its comparison is stored
  (`record_comparison`, called by `app/compare/service.py`), embedding batches
  (`app/rag/embedding.py`);
- **state**, read at scrape time (`RuntimeCollector`): the engine's requests in flight, its
  queue and busy seconds, the CPU cores' lock, and the background jobs by kind and status,
  counted in Postgres, so that every replica reports the same jobs.

Label values are bounded: route templates (not raw paths), level names, engine backends,
job kinds and statuses; never a query, scenario slug or adapter name.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from app.cores import CORES

if TYPE_CHECKING:
    from app.db.models import Comparison
    from app.runtime import Runtime

log = logging.getLogger(__name__)
CONTENT_TYPE = CONTENT_TYPE_LATEST
# Seconds: from a cached page (ms) to a long comparison on a CPU (a minute).
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)

HTTP_REQUEST_SECONDS = Histogram(
    "tritune_http_request_duration_seconds",
    "HTTP request latency by route template, method and status code.",
    ["method", "route", "status"],
    buckets=LATENCY_BUCKETS,
)
LEVEL_RESULTS = Counter(
    "tritune_level_results",
    "Level results stored, by level, engine and outcome (ok or error).",
    ["level", "engine", "outcome"],
)
LEVEL_LATENCY_SECONDS = Histogram(
    "tritune_level_latency_seconds",
    "A level's total latency (retrieval + first token + generation) per stored result.",
    ["level", "engine"],
    buckets=LATENCY_BUCKETS,
)
LEVEL_TOKENS = Counter(
    "tritune_level_tokens",
    "Tokens of stored level results, by level and kind (prompt or completion).",
    ["level", "kind"],
)
LEVEL_COST_USD = Counter(
    "tritune_level_cost_usd", "Cost of stored level results in USD, by level.", ["level"]
)
EMBEDDING_BATCH_SECONDS = Histogram(
    "tritune_embedding_batch_seconds",
    "Time to embed one batch of texts (queries, chunks, examples).",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
EMBEDDED_TEXTS = Counter("tritune_embedded_texts", "Texts embedded.")


def record_comparison(comparison: Comparison) -> None:
    """Count a stored comparison's results: one per level, with its latency, tokens and
    cost when it ran."""
    for result in comparison.results:
        outcome = "error" if result.error else "ok"
        LEVEL_RESULTS.labels(result.level, result.engine or "", outcome).inc()
        if result.error or result.latency_total_ms is None:
            continue
        LEVEL_LATENCY_SECONDS.labels(result.level, result.engine or "").observe(
            result.latency_total_ms / 1000
        )
        LEVEL_TOKENS.labels(result.level, "prompt").inc(result.prompt_tokens or 0)
        LEVEL_TOKENS.labels(result.level, "completion").inc(result.completion_tokens or 0)
        LEVEL_COST_USD.labels(result.level).inc(result.cost_usd or 0.0)


class RuntimeCollector(Collector):
    """The runtime's state at scrape time: its engine, the cores and the job table."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def collect(self) -> Iterator[Metric]:
        yield from self.engine_metrics()
        yield from cores_metrics()
        yield self.job_metrics()

    def engine_metrics(self) -> Iterator[Metric]:
        engine = self.runtime.engine
        in_flight = GaugeMetricFamily(
            "tritune_engine_requests_in_flight",
            "Generation requests the engine is running or queueing now.",
            labels=["engine"],
        )
        busy = CounterMetricFamily(
            "tritune_engine_busy_seconds",
            "Seconds during which the engine had at least one request.",
            labels=["engine"],
        )
        queue = GaugeMetricFamily(
            "tritune_engine_queue_depth",
            "Requests waiting for the model or decoding, by state.",
            labels=["engine", "state"],
        )
        if engine is not None:
            in_flight.add_metric([engine.name], engine.meter.in_flight)
            busy.add_metric([engine.name], engine.meter.busy_seconds)
            for state, depth in engine.queue_depth().items():
                queue.add_metric([engine.name, state], depth)
        yield from (in_flight, busy, queue)
        forward_s = getattr(engine, "forward_seconds", None)
        if engine is not None and forward_s is not None:
            forward = CounterMetricFamily(
                "tritune_engine_forward_seconds",
                "Seconds the model spent in forward passes (batched engines).",
                labels=["engine"],
            )
            forward.add_metric([engine.name], forward_s)
            yield forward

    def job_metrics(self) -> Metric:
        """Jobs by kind and status, counted in the database (every replica agrees)."""
        jobs = GaugeMetricFamily(
            "tritune_jobs", "Background jobs by kind and status.", labels=["kind", "status"]
        )
        try:
            for kind, status, count in self.job_counts():
                jobs.add_metric([kind, status], count)
        except Exception:  # the database is down: the other series still report
            log.exception("counting jobs for /metrics failed")
        return jobs

    def job_counts(self) -> Iterator[tuple[str, str, int]]:
        from app.db.models import EvalRun, Training

        with self.runtime.session() as session:
            for kind, row in (("training", Training), ("eval", EvalRun)):
                query = select(row.status, func.count()).group_by(row.status)
                for status, count in session.execute(query):
                    yield kind, status, count


def cores_metrics() -> Iterator[Metric]:
    waiting = GaugeMetricFamily(
        "tritune_cores_waiting",
        "Model work (embedding batches, forward passes, llama.cpp calls) holding or waiting "
        "for the CPU cores.",
    )
    waiting.add_metric([], CORES.waiting)
    busy = CounterMetricFamily(
        "tritune_cores_busy_seconds", "Seconds the CPU cores were held by model work."
    )
    busy.add_metric([], CORES.held_seconds)
    yield from (waiting, busy)


def exposition(runtime: Runtime) -> bytes:
    """The text exposition format of every TriTune metric, for `GET /metrics`."""
    state = CollectorRegistry(auto_describe=False)
    state.register(RuntimeCollector(runtime))
    return generate_latest(REGISTRY) + generate_latest(state)
