"""Optional OpenTelemetry tracing (`TRITUNE_TRACING=true`): spans for a comparison's
retrieval and example selection (one per level), its generation and its store.

Off by default, and then `span()` costs nothing and imports nothing. On, it needs the
OpenTelemetry SDK (`pip install opentelemetry-sdk`, and `opentelemetry-exporter-otlp` to
send spans to a collector: configured by the standard `OTEL_EXPORTER_OTLP_*` variables;
without that exporter, spans are printed to stdout). When the setting is on and the SDK is
missing, tracing stays off and the start log says so.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

log = logging.getLogger(__name__)
_tracer: Any = None  # the tracer once tracing is configured; None: spans are no-ops


def configure_tracing(enabled: bool, service_name: str = "tritune") -> bool:
    """Turn tracing on when `enabled` and the SDK is importable; whether it is on."""
    global _tracer
    if not enabled:
        return False
    try:
        from opentelemetry import trace
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError:
        log.warning(
            "TRITUNE_TRACING is on but the OpenTelemetry SDK is not installed "
            "(pip install opentelemetry-sdk opentelemetry-exporter-otlp); tracing stays off"
        )
        return False
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    provider.add_span_processor(BatchSpanProcessor(span_exporter()))
    trace.set_tracer_provider(provider)
    _tracer = trace.get_tracer("tritune")
    log.info("tracing on: spans for retrieval, generation and store")
    return True


def span_exporter() -> Any:
    """OTLP when its exporter is installed, else spans printed to stdout."""
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    except ImportError:
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        log.info("opentelemetry-exporter-otlp is not installed; spans go to stdout")
        return ConsoleSpanExporter()
    return OTLPSpanExporter()


@contextmanager
def span(name: str, **attributes: str | int | float | bool) -> Iterator[None]:
    """A span named `name` around the block when tracing is on; nothing otherwise."""
    if _tracer is None:
        yield
        return
    with _tracer.start_as_current_span(name, attributes=attributes):
        yield
