"""A comparison run in a worker thread and streamed as Server-Sent Events.

The API streams JSON and the compare page streams HTML fragments; both come from
`stream_comparison`, and differ only in the `EventWriter` that names and writes each event.
The worker runs to the end even when the client goes away, so the comparison is stored
either way and can be found in the history; setting the run's `cancel` skips the levels the
engine has not started yet (they are stored as cancelled).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from app.compare.service import ComparisonOptions, run_comparison
from app.compare.shapes import ComparisonCreate
from app.db.models import Comparison
from app.errors import AppError
from app.runtime import Runtime

log = logging.getLogger(__name__)
Event = tuple[str, str]  # (event name, data)
GENERATING = "generating"  # a level's first piece of text arrived


@dataclass(frozen=True)
class EventWriter:
    """How each kind of event is named and written."""

    token: Callable[[str, str], Event]  # (level, text) while the levels generate
    done: Callable[[Comparison], Event]  # the stored comparison, inside its session
    error: Callable[[int, str], Event]  # (HTTP status, message) when the whole run fails
    # (level, stage, seconds) as a level moves on: `prefill`, `generating`, `done`, `failed`,
    # `cancelled`; seconds since the level started (since the run started for a level that
    # never did). None: no stage events.
    stage: Callable[[str, str, float], Event] | None = None


@dataclass(frozen=True)
class StreamedRun:
    """What a stream runs: a query of a scenario with its options; `cancel` stops the levels
    not started yet."""

    scenario: str
    query: str
    options: ComparisonOptions
    cancel: threading.Event = field(default_factory=threading.Event)

    @classmethod
    def of(cls, body: ComparisonCreate) -> StreamedRun:
        return cls(scenario=body.scenario, query=body.query, options=body.options())


class LevelClock:
    """When each level started (its prefill), to say how long each stage has taken."""

    def __init__(self) -> None:
        self.run_started = time.monotonic()
        self.started: dict[str, float] = {}
        self.generating: set[str] = set()

    def seconds(self, level: str, stage: str) -> float:
        now = time.monotonic()
        if stage == "prefill":
            self.started[level] = now
        return now - self.started.get(level, self.run_started)


def stream_comparison(runtime: Runtime, run: StreamedRun, writer: EventWriter) -> Iterator[str]:
    """Start the comparison and yield its events as SSE text until it ends."""
    events: queue.Queue[Event | None] = queue.Queue()
    worker = threading.Thread(
        target=run_reporting, args=(runtime, run, writer, events), name="tritune-stream"
    )
    worker.daemon = True
    worker.start()
    while (event := events.get()) is not None:
        yield sse_event(*event)


def run_reporting(
    runtime: Runtime, run: StreamedRun, writer: EventWriter, events: queue.Queue
) -> None:
    clock = LevelClock()

    def on_stage(level: str, stage: str) -> None:
        if writer.stage is not None:
            events.put(writer.stage(level, stage, clock.seconds(level, stage)))

    def on_token(level: str, text: str) -> None:
        if level not in clock.generating:
            clock.generating.add(level)
            on_stage(level, GENERATING)
        events.put(writer.token(level, text))

    try:
        with runtime.session() as session:
            comparison = run_comparison(
                session=session,
                runtime=runtime,
                scenario=run.scenario,
                query=run.query,
                options=run.options,
                on_token=on_token,
                on_stage=on_stage,
                cancel=run.cancel,
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
