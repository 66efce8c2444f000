"""The engine interface, and the work every backend shares.

An engine owns a loaded base model and its LoRA adapters. Callers use `generate`,
`load_adapter`, `has_adapter`, `count_tokens`, `render_chat`, `close`, `name` and `model`.
The base class does the shared part: which adapters are loaded with which checksum (the
same checksum again is a no-op, a changed one reloads, a request naming an adapter that
is not loaded is refused with `AdapterNotLoaded`), refusing requests once closed, and
turning decoded text into streamed deltas (`DeltaStream`).

A new backend subclasses `Engine`, calls `super().__init__()` and implements:

- `name` (class attribute: the backend, stored with every result) and `model` (what is
  loaded, stored with every result);
- `run(requests)`: run every request, ideally in one batch, and return one
  `GenerationResult` per request in the same order. Adapters are already checked. Stream
  each request's text through `DeltaStream(request.on_token)`. Call `request.begin()` as
  the request's own work starts (its prefill): when it returns False the request was
  cancelled while it waited, so skip it and return `GenerationResult.skipped()` in its
  slot; call `request.end()` once its last token is out;
- `add_adapter(name, path, checksum)`: make the PEFT adapter directory `path` usable under
  `name`, replacing what the backend holds under that name. Called with the model lock
  held, only when that name is not loaded with that checksum;
- `count_tokens(text)`: tokens of `text` in the model's tokenizer;
- `render_chat(messages)`: the prompt text the model sees for chat `messages` (its chat
  template, with the assistant turn opened);
- optionally `release()`: free threads, clients or the model (`close` calls it once);
- `constrains_output` (class attribute, default False): whether `run` honours a request's
  `json_schema` (decodes only text valid under it). `generate` refuses a constrained request
  with `ConstraintUnsupported` on a backend that does not.

A backend whose generation reads the model while an adapter may be added passes the lock
its generation holds to `super().__init__(model_lock=...)`. Then it registers a factory with
`app.engine.registry.register_backend` (in `app/engine/__init__.py`, so that importing
`app.engine` does not import the backend's libraries).
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar

TokenCallback = Callable[[str], None]
StageCallback = Callable[[str], None]  # called with one of the stages below
INCOMPLETE = "\ufffd"  # what a decoder shows for a multi-byte character cut short
# A request's stages as the engine reports them to `on_stage` (the first token, when the
# prefill ends, is the first `on_token` call).
PREFILL = "prefill"  # the engine started the request: it reads the prompt
DONE = "done"  # its last token is out
SKIPPED = "cancelled"  # it was cancelled before the engine started it


@dataclass
class GenerationRequest:
    """Chat messages for the base model (`adapter=None`) or one of its adapters.

    `on_stage` hears when the engine starts and ends the request; `cancel`, once set, makes
    the engine skip the request if it has not started it yet (a request already generating
    runs to its end)."""

    messages: list[dict[str, str]]
    adapter: str | None = None
    max_new_tokens: int = 128
    temperature: float = 0.0
    on_token: TokenCallback | None = field(default=None, repr=False)
    # decode only text valid under this JSON schema (a constrained level); None: free text
    json_schema: dict[str, Any] | None = None
    on_stage: StageCallback | None = field(default=None, repr=False)
    cancel: threading.Event | None = field(default=None, repr=False)

    def begin(self) -> bool:
        """What a backend calls as it starts the request: False (skip it) when it was
        cancelled meanwhile, else True after telling `on_stage` the prefill started."""
        cancelled = self.cancel is not None and self.cancel.is_set()
        self.report(SKIPPED if cancelled else PREFILL)
        return not cancelled

    def end(self) -> None:
        """What a backend calls when the request's last token is out."""
        self.report(DONE)

    def report(self, stage: str) -> None:
        if self.on_stage is not None:
            self.on_stage(stage)

    # `time.monotonic()` by which generation stops (None: no limit): a request still waiting
    # or decoding then stops where it is, and its result says `timed_out`
    deadline: float | None = None

    def past_deadline(self) -> bool:
        return self.deadline is not None and time.monotonic() >= self.deadline


@dataclass
class GenerationResult:
    text: str
    prompt_tokens: int
    completion_tokens: int
    first_token_s: float
    generation_s: float
    cancelled: bool = False  # skipped: cancelled before the engine started it

    @classmethod
    def skipped(cls) -> GenerationResult:
        """The result of a request cancelled before the engine started it."""
        return cls(
            text="",
            prompt_tokens=0,
            completion_tokens=0,
            first_token_s=0.0,
            generation_s=0.0,
            cancelled=True,
        )

    timed_out: bool = False  # stopped at the request's deadline: `text` is cut short

    @property
    def tokens_per_s(self) -> float:
        """Decode speed after the first token."""
        if self.completion_tokens <= 1 or self.generation_s <= 0:
            return 0.0
        return (self.completion_tokens - 1) / self.generation_s


def timed_out_unstarted(request: GenerationRequest) -> GenerationResult:
    """The result of a request whose deadline passed before it started: nothing generated."""
    return GenerationResult("", 0, 0, 0.0, 0.0, timed_out=True)


class AdapterNotLoaded(KeyError):
    """A request names an adapter that was not loaded (`load_adapter`) on this engine."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class EngineClosed(RuntimeError):
    """The engine was closed before the request finished."""


class ConstraintUnsupported(ValueError):
    """A request asked for output constrained to a JSON schema from a backend that cannot
    constrain its decoding."""


class FairLock:
    """A lock handed out in arrival order (first come, first served): concurrent
    comparisons waiting for the one engine are served as they came, so none starves, which
    `threading.Lock` does not promise. Use it as a context manager."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._queue: deque[object] = deque()
        self._held_since = 0.0
        self._held_s = 0.0  # seconds it was held, summed (the `/metrics` busy time)
        self.released_at = 0.0  # time.monotonic() of the last release

    def __enter__(self) -> FairLock:
        ticket = object()
        with self._condition:
            self._queue.append(ticket)
            self._condition.wait_for(lambda: self._queue[0] is ticket)
            self._held_since = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        with self._condition:
            self._held_s += time.perf_counter() - self._held_since
            self._queue.popleft()
            self.released_at = time.monotonic()
            self._condition.notify_all()

    @property
    def held_seconds(self) -> float:
        """Seconds the lock has been held since it was made, the current hold included."""
        with self._condition:
            current = time.perf_counter() - self._held_since if self._queue else 0.0
            return self._held_s + current

    @property
    def waiting(self) -> int:
        """Callers holding or waiting for the lock."""
        return len(self._queue)


class BusyMeter:
    """Requests an engine is running or queueing now, and the seconds during which it had
    at least one (its busy time; concurrent calls are not counted twice)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.in_flight = 0
        self._busy_since = 0.0
        self._busy_s = 0.0

    @contextmanager
    def running(self, requests: int) -> Iterator[None]:
        with self._lock:
            if self.in_flight == 0:
                self._busy_since = time.perf_counter()
            self.in_flight += requests
        try:
            yield
        finally:
            with self._lock:
                self.in_flight -= requests
                if self.in_flight == 0:
                    self._busy_s += time.perf_counter() - self._busy_since

    @property
    def busy_seconds(self) -> float:
        with self._lock:
            current = time.perf_counter() - self._busy_since if self.in_flight else 0.0
            return self._busy_s + current


class DeltaStream:
    """One request's streamed text: `update` takes the whole completion decoded so far and
    sends `on_token` what was added since the last call.

    A byte-level tokenizer splits a multi-byte character (an emoji, most CJK) over several
    tokens; until its last byte arrives the decoded text ends in U+FFFD, so nothing is sent
    then (the hold-back). Leading whitespace is not sent, since results are stripped; and a
    decode that rewrote text already sent is not sent either (a delta cannot take it back).
    `finish` sends what is left of the final text, hold-back or not."""

    def __init__(self, on_token: TokenCallback | None) -> None:
        self.on_token = on_token
        self.sent = ""

    def update(self, text: str) -> None:
        if not text.endswith(INCOMPLETE):
            self._send(text)

    def finish(self, text: str) -> None:
        self._send(text)

    def _send(self, text: str) -> None:
        text = text.lstrip()
        if self.on_token is None or len(text) <= len(self.sent) or not text.startswith(self.sent):
            return
        delta, self.sent = text[len(self.sent) :], text
        self.on_token(delta)


class Engine(ABC):
    """A loaded base model and its adapters; see the module docstring for what a backend
    implements."""

    name: ClassVar[str]
    model: str
    constrains_output: ClassVar[bool] = False

    def __init__(self, *, model_lock: AbstractContextManager | None = None) -> None:
        self.model_lock = model_lock or threading.Lock()
        self._checksums: dict[str, str] = {}  # adapter name -> checksum of its files
        self._closed = False
        self.meter = BusyMeter()

    # What callers use.

    def generate(self, requests: list[GenerationRequest]) -> list[GenerationResult]:
        """Run `requests` (blocking) and return their results in order. `AdapterNotLoaded`
        when one names an adapter that is not loaded; `EngineClosed` after `close`."""
        self.check_open()
        for request in requests:
            if request.adapter and request.adapter not in self._checksums:
                raise AdapterNotLoaded(f"adapter {request.adapter!r} is not loaded")
            if request.json_schema is not None and not self.constrains_output:
                raise ConstraintUnsupported(
                    f"the {self.name} engine cannot constrain its output to a JSON schema; "
                    "use the llamacpp or openai engine for constrained levels"
                )
        with self.meter.running(len(requests)):
            return self.run(requests)

    def load_adapter(self, name: str, path: str, checksum: str) -> None:
        """Load the PEFT adapter in directory `path` under `name`; a no-op when the same
        checksum is loaded, a reload when the files under that name changed. If loading
        fails, the name is no longer loaded (the backend may have dropped the old files)."""
        with self.model_lock:
            if self._checksums.get(name) == checksum:
                return
            self._checksums.pop(name, None)
            self.add_adapter(name, path, checksum)
            self._checksums[name] = checksum

    def has_adapter(self, name: str) -> bool:
        """Whether an adapter is loaded under `name`."""
        return name in self._checksums

    @property
    def adapters(self) -> dict[str, str]:
        """The loaded adapters: name -> checksum (a copy)."""
        return dict(self._checksums)

    def queue_depth(self) -> dict[str, int]:
        """Requests waiting for the model, by state (`/metrics`); a backend that queues
        otherwise than behind its model lock says so by overriding this."""
        waiting = getattr(self.model_lock, "waiting", None)
        return {} if waiting is None else {"waiting": waiting}

    @property
    def closed(self) -> bool:
        return self._closed

    def check_open(self) -> None:
        if self._closed:
            raise EngineClosed(f"the {self.name} engine is closed")

    def close(self) -> None:
        """Release what the backend holds (threads, clients, the model); later requests
        get `EngineClosed`. Closing again does nothing."""
        if not self._closed:
            self._closed = True
            self.release()

    # What a backend implements.

    @abstractmethod
    def run(self, requests: list[GenerationRequest]) -> list[GenerationResult]:
        """Run `requests` (adapters checked) and return their results in order."""

    @abstractmethod
    def add_adapter(self, name: str, path: str, checksum: str) -> None:
        """Make the PEFT adapter in `path` usable under `name`, replacing any held there."""

    @abstractmethod
    def count_tokens(self, text: str) -> int:
        """Number of tokens of `text` for this engine's model."""

    @abstractmethod
    def render_chat(self, messages: list[dict[str, str]]) -> str:
        """`messages` in the model's chat template, ending with the assistant turn opened."""

    def release(self) -> None:  # noqa: B027 (a hook: most backends hold nothing to release)
        """Free threads, clients or the model; called once, by `close`."""
