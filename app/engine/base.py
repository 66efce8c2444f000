"""The engine interface.

An engine owns a loaded base model and its LoRA adapters. A backend implements:

- `generate(requests)`: run every request, ideally in one batch, and return one
  `GenerationResult` per request in the same order;
- `load_adapter(name, path, checksum)`: make a PEFT adapter directory usable under `name`
  (again when its checksum changed);
- `count_tokens(text)`: tokens of `text` in the model's tokenizer;
- `render_chat(messages)`: the prompt text the model sees for chat `messages` (its chat
  template, with the assistant turn opened).

and sets `name` (the backend, stored with every result) and `model` (what is loaded).
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar

TokenCallback = Callable[[str], None]


@dataclass
class GenerationRequest:
    """Chat messages for the base model (`adapter=None`) or one of its adapters."""

    messages: list[dict[str, str]]
    adapter: str | None = None
    max_new_tokens: int = 128
    temperature: float = 0.0
    on_token: TokenCallback | None = field(default=None, repr=False)


@dataclass
class GenerationResult:
    text: str
    prompt_tokens: int
    completion_tokens: int
    first_token_s: float
    generation_s: float

    @property
    def tokens_per_s(self) -> float:
        """Decode speed after the first token."""
        if self.completion_tokens <= 1 or self.generation_s <= 0:
            return 0.0
        return (self.completion_tokens - 1) / self.generation_s


class FairLock:
    """A lock handed out in arrival order (first come, first served): concurrent
    comparisons waiting for the one engine are served as they came, so none starves, which
    `threading.Lock` does not promise. Use it as a context manager."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._queue: deque[object] = deque()

    def __enter__(self) -> FairLock:
        ticket = object()
        with self._condition:
            self._queue.append(ticket)
            self._condition.wait_for(lambda: self._queue[0] is ticket)
        return self

    def __exit__(self, *exc) -> None:
        with self._condition:
            self._queue.popleft()
            self._condition.notify_all()

    @property
    def waiting(self) -> int:
        """Callers holding or waiting for the lock."""
        return len(self._queue)


class Engine(ABC):
    name: ClassVar[str]
    model: str

    @abstractmethod
    def generate(self, requests: list[GenerationRequest]) -> list[GenerationResult]:
        """Run `requests` (blocking) and return their results in order."""

    @abstractmethod
    def load_adapter(self, name: str, path: str, checksum: str) -> None:
        """Load the PEFT adapter in directory `path` under `name`; a no-op when the same
        checksum is loaded, a reload when the files under that name changed."""

    @abstractmethod
    def has_adapter(self, name: str) -> bool:
        """Whether an adapter is loaded under `name`."""

    @abstractmethod
    def count_tokens(self, text: str) -> int:
        """Number of tokens of `text` for this engine's model."""

    @abstractmethod
    def render_chat(self, messages: list[dict[str, str]]) -> str:
        """`messages` in the model's chat template, ending with the assistant turn opened."""
