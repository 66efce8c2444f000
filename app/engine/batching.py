"""Continuous batching for the transformers engine.

One worker thread owns the model. Callers queue their requests (`Batcher.submit`) and wait.
The worker loops:

1. **admit** queued requests, oldest first, while fewer than `max_rows` are decoding: each
   one's prompt is run alone (its *prefill*, under its own adapter, no padding) and its
   key/value cache is added to the running batch, left-padded to a common length;
2. **decode** one token for every row of the batch in one forward pass, each row through
   its own adapter (PEFT's mixed-adapter batches, `adapter_names`);
3. **retire** the rows that produced an end-of-sequence token or reached their own
   `max_new_tokens`; their caller gets the result at once, while the others go on.

So requests that arrive together (the levels of one comparison, or several comparisons)
share decoding steps: a step costs little more for three rows than for one, because reading
the weights dominates it on a CPU. Prefills are not padded to the longest prompt, which
made a batched `generate` pay the few-shot prompt's length three times over. Rows are
admitted in arrival order and every admitted row advances one token per step, so no request
starves; a new request waits at most one step before its prefill.
"""

from __future__ import annotations

import atexit
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

import torch
from transformers import DynamicCache

from app.cores import CORES
from app.engine.base import (
    DeltaStream,
    EngineClosed,
    FairLock,
    GenerationRequest,
    GenerationResult,
)

log = logging.getLogger(__name__)


@dataclass
class Row:
    """One request while it is queued or decoding."""

    request: GenerationRequest
    prompt: list[int]
    submitted_at: float
    tokens: list[int] = field(default_factory=list)
    first_token_at: float | None = None
    finished_at: float | None = None
    stream: DeltaStream = field(init=False)
    result: GenerationResult | None = None
    error: BaseException | None = None
    timed_out: bool = False
    done: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.stream = DeltaStream(self.request.on_token)

    @property
    def position(self) -> int:
        """Position (rotary) of the last sampled token, the next step's input."""
        return len(self.prompt) + len(self.tokens) - 1

    def wait(self) -> GenerationResult:
        self.done.wait()
        if self.error is not None:
            raise self.error
        assert self.result is not None
        return self.result


class AttentionLayer(Protocol):
    """One layer of a filled key/value cache: keys and values `[batch, heads, tokens, dim]`."""

    keys: torch.Tensor
    values: torch.Tensor


def attention_layers(cache: DynamicCache) -> list[AttentionLayer]:
    """The layers of a cache a prefill has filled. transformers types a layer's keys and
    values as None until its first forward pass, and the layers as a union that includes
    linear-attention layers without any; neither is the case here."""
    return cast(list[AttentionLayer], cache.layers)


@dataclass
class Batch:
    """The rows decoding together and their shared key/value cache. Column j of `mask` is
    1 where row i has a real token at cache position j, 0 where it is left padding."""

    rows: list[Row] = field(default_factory=list)
    cache: DynamicCache | None = None
    mask: torch.Tensor | None = None

    @property
    def length(self) -> int:
        return 0 if self.mask is None else self.mask.shape[1]

    def add(self, row: Row, cache: DynamicCache) -> None:
        """Append `row`, whose prompt was prefilled into `cache` (batch of one)."""
        if self.cache is None or self.mask is None:  # empty: the first row sets both
            self.rows, self.cache = [row], cache
            self.mask = torch.ones(1, len(row.prompt), dtype=torch.long)
            return
        length = max(self.length, len(row.prompt))
        for mine, theirs in zip(attention_layers(self.cache), attention_layers(cache), strict=True):
            mine.keys = torch.cat([left_pad(mine.keys, length), left_pad(theirs.keys, length)])
            mine.values = torch.cat(
                [left_pad(mine.values, length), left_pad(theirs.values, length)]
            )
        new_mask = torch.ones(1, len(row.prompt), dtype=torch.long)
        self.mask = torch.cat([left_pad_mask(self.mask, length), left_pad_mask(new_mask, length)])
        self.rows.append(row)

    def keep(self, indexes: list[int]) -> None:
        """Drop every row not in `indexes`, and the padding columns no remaining row needs."""
        if not indexes:
            self.rows, self.cache, self.mask = [], None, None
            return
        assert self.cache is not None and self.mask is not None  # set while there are rows
        if len(indexes) < len(self.rows):
            select = torch.tensor(indexes)
            self.cache.batch_select_indices(select)
            self.mask = self.mask[select]
            self.rows = [self.rows[i] for i in indexes]
        used = self.mask.any(dim=0).nonzero()
        start = int(used[0]) if len(used) else 0
        if start:
            for layer in attention_layers(self.cache):
                layer.keys = layer.keys[:, :, start:, :]
                layer.values = layer.values[:, :, start:, :]
            self.mask = self.mask[:, start:]


def left_pad(states: torch.Tensor, length: int) -> torch.Tensor:
    """Keys or values `[batch, heads, tokens, dim]` padded with zeros on the left to `length`
    tokens (the padding is masked out)."""
    missing = length - states.shape[2]
    if missing == 0:
        return states
    pad = states.new_zeros(states.shape[0], states.shape[1], missing, states.shape[3])
    return torch.cat([pad, states], dim=2)


def left_pad_mask(mask: torch.Tensor, length: int) -> torch.Tensor:
    missing = length - mask.shape[1]
    if missing == 0:
        return mask
    return torch.cat([mask.new_zeros(mask.shape[0], missing), mask], dim=1)


class Batcher:
    """The worker that runs every request of one model; see the module docstring.

    `adapter_kwargs(rows)` gives the forward pass's adapter routing for those rows (`{}`
    without adapters); `decode(tokens)` turns completion tokens into text; `stop_ids` are
    the end-of-sequence tokens. `model_lock` is held for every forward pass, so that
    whoever changes the model (loading an adapter) takes it between two steps; `CORES` is
    held with it (see `app.cores`).
    """

    def __init__(
        self,
        model_fn: Callable[[], torch.nn.Module],
        adapter_kwargs: Callable[[list[Row]], dict[str, Any]],
        decode: Callable[[list[int]], str],
        stop_ids: set[int],
        max_rows: int = 8,
        device: torch.device | None = None,
    ) -> None:
        self.model_fn = model_fn
        self.adapter_kwargs = adapter_kwargs
        self.decode = decode
        self.stop_ids = stop_ids
        self.max_rows = max_rows
        self.device = device or torch.device("cpu")  # the model's; inputs are moved there
        self.model_lock = FairLock()
        self._queue: queue.Queue[Row | None] = queue.Queue()
        self._batch = Batch()
        self._closed = False
        self.forward_seconds = 0.0  # time in forward passes (prefills and steps), summed
        self._worker = threading.Thread(target=self._run, name="tritune-batcher", daemon=True)
        self._worker.start()
        # A daemon thread still inside torch when the interpreter exits aborts the process
        # ("terminate called without an active exception"), so stop it before that.
        atexit.register(self.close)

    def close(self) -> None:
        """Stop the worker; requests still queued or decoding fail with EngineClosed."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(None)
        self._worker.join()
        atexit.unregister(self.close)

    def submit(self, request: GenerationRequest, prompt: list[int]) -> Row:
        if self._closed:
            raise EngineClosed("the engine is closed")
        row = Row(request, prompt, submitted_at=time.perf_counter())
        self._queue.put(row)
        return row

    @property
    def decoding(self) -> int:
        """Rows in the running batch."""
        return len(self._batch.rows)

    @property
    def queued(self) -> int:
        """Requests submitted and not yet admitted to the batch."""
        return self._queue.qsize()

    @contextmanager
    def _forward(self) -> Iterator[None]:
        """Hold the model and the cores for one forward pass, and count its time."""
        with self.model_lock, CORES:
            started = time.perf_counter()
            try:
                yield
            finally:
                self.forward_seconds += time.perf_counter() - started

    def _run(self) -> None:
        while not self._closed:
            try:
                self._admit()
                if self._batch.rows and not self._closed:
                    self._step()
            except Exception as error:  # a failed forward pass fails the rows in it
                log.exception("batched decoding failed")
                self._fail_batch(error)
        self._fail_batch(EngineClosed("the engine was closed while generating"))
        while not self._queue.empty():
            row = self._queue.get()
            if row is not None:
                self._finish(row, error=EngineClosed("the engine was closed"))

    def _fail_batch(self, error: BaseException) -> None:
        for row in self._batch.rows:
            self._finish(row, error=error)
        self._batch = Batch()

    def _admit(self) -> None:
        """Prefill queued rows into the batch (block for one when nothing is decoding)."""
        while len(self._batch.rows) < self.max_rows:
            try:
                row = self._queue.get(block=not self._batch.rows)
            except queue.Empty:
                return
            if row is None:  # close()
                return
            if row.request.past_deadline():  # its time went by while it was queued
                row.timed_out = True
                self._finish(row)
                continue
            if not row.request.begin():  # cancelled while it was queued
                row.result = GenerationResult.skipped()
                row.done.set()
                continue
            try:
                cache, token = self._prefill(row)
            except Exception as error:
                log.exception("prefill failed")
                self._finish(row, error=error)
                continue
            if not self._accept(row, token):
                self._batch.add(row, cache)

    @torch.inference_mode()
    def _prefill(self, row: Row) -> tuple[DynamicCache, int]:
        with self._forward():
            output = self.model_fn()(
                input_ids=torch.tensor([row.prompt], device=self.device),
                attention_mask=torch.ones(1, len(row.prompt), dtype=torch.long, device=self.device),
                cache=DynamicCache(),
                use_cache=True,
                logits_to_keep=1,
                **self.adapter_kwargs([row]),
            )
        return output.cache, sample(output.logits[0, -1], row.request.temperature)

    @torch.inference_mode()
    def _step(self) -> None:
        batch = self._batch
        assert batch.mask is not None  # a step runs only while there are rows
        batch.mask = torch.cat([batch.mask, batch.mask.new_ones(len(batch.rows), 1)], dim=1)
        with self._forward():
            output = self.model_fn()(
                input_ids=torch.tensor(
                    [[row.tokens[-1]] for row in batch.rows], device=self.device
                ),
                attention_mask=batch.mask.to(self.device),
                position_ids=torch.tensor(
                    [[row.position] for row in batch.rows], device=self.device
                ),
                cache=batch.cache,
                use_cache=True,
                logits_to_keep=1,
                **self.adapter_kwargs(batch.rows),
            )
        logits = output.logits[:, -1]
        finished = [
            self._accept(row, sample(logits[i], row.request.temperature))
            for i, row in enumerate(batch.rows)
        ]
        batch.keep([i for i, done in enumerate(finished) if not done])

    def _accept(self, row: Row, token: int) -> bool:
        """Record `token` for `row` and stream it; True when the row is finished."""
        now = time.perf_counter()
        if row.first_token_at is None:
            row.first_token_at = now
        if token in self.stop_ids:
            self._finish(row)
            return True
        row.tokens.append(token)
        if row.request.on_token is not None:
            try:
                row.stream.update(self.decode(row.tokens))
            except Exception as error:  # the caller's sink failed: only its row stops
                self._finish(row, error=error)
                return True
        row.timed_out = row.request.past_deadline()
        if row.timed_out or len(row.tokens) >= row.request.max_new_tokens:
            self._finish(row)
            return True
        return False

    def _finish(self, row: Row, error: BaseException | None = None) -> None:
        now = time.perf_counter()
        row.finished_at = now
        text = self.decode(row.tokens).strip() if error is None else ""
        if error is None and row.request.on_token is not None:
            try:
                row.stream.finish(text)
            except Exception as sink_error:  # the caller's sink failed at the last piece
                error = sink_error
        if error is None:
            row.request.end()
            first = row.first_token_at or now
            row.result = GenerationResult(
                text=text,
                prompt_tokens=len(row.prompt),
                completion_tokens=len(row.tokens),
                first_token_s=first - row.submitted_at,
                generation_s=now - first,
                timed_out=row.timed_out,
            )
        row.error = error
        row.done.set()


def sample(logits: torch.Tensor, temperature: float) -> int:
    """Greedy at 0; otherwise plain sampling at `temperature` over the whole vocabulary."""
    if temperature <= 0:
        return int(torch.argmax(logits))
    probs = torch.softmax(logits.float() / temperature, dim=-1)
    return int(torch.multinomial(probs, 1))
