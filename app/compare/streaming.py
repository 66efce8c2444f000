"""A comparison run in a worker thread and streamed as Server-Sent Events.

The API streams JSON and the compare page streams HTML fragments; both come from
`stream_comparison`, and differ only in the `EventWriter` that names and writes each event.
The worker runs to the end even when the client goes away, so the comparison is stored
either way and can be found in the history.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from app.compare.service import run_comparison
from app.compare.shapes import ComparisonCreate
from app.db.models import Comparison
from app.errors import AppError
from app.runtime import Runtime

log = logging.getLogger(__name__)
Event = tuple[str, str]  # (event name, data)


@dataclass(frozen=True)
class EventWriter:
    """How each kind of event is named and written."""

    token: Callable[[str, str], Event]  # (level, text) while the levels generate
    done: Callable[[Comparison], Event]  # the stored comparison, inside its session
    error: Callable[[int, str], Event]  # (HTTP status, message) when the whole run fails


def stream_comparison(
    runtime: Runtime, body: ComparisonCreate, writer: EventWriter
) -> Iterator[str]:
    """Start the comparison and yield its events as SSE text until it ends."""
    events: queue.Queue[Event | None] = queue.Queue()
    worker = threading.Thread(
        target=run_reporting, args=(runtime, body, writer, events), name="tritune-stream"
    )
    worker.daemon = True
    worker.start()
    while (event := events.get()) is not None:
        yield sse_event(*event)


def run_reporting(
    runtime: Runtime, body: ComparisonCreate, writer: EventWriter, events: queue.Queue
) -> None:
    try:
        with runtime.session() as session:
            comparison = run_comparison(
                session=session,
                runtime=runtime,
                scenario=body.scenario,
                query=body.query,
                options=body.options(),
                on_token=lambda level, text: events.put(writer.token(level, text)),
            )
            events.put(writer.done(comparison))
    except AppError as error:
        events.put(writer.error(error.status, error.message))
    except Exception:
        log.exception("streamed comparison failed")
        events.put(writer.error(500, "internal error; see the server log"))
    finally:
        events.put(None)


def sse_event(name: str, data: str) -> str:
    """One event; every line of `data` gets its own `data:` field (the client rejoins them)."""
    lines = data.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return f"event: {name}\n" + "".join(f"data: {line}\n" for line in lines) + "\n"
