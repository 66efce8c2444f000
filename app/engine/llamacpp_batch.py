"""Several requests with the same adapter decoded together by llama.cpp.

A second llama.cpp context on the already loaded model holds up to `sequences` sequences,
each with its own part of the key/value cache. Every prompt is prefilled as its own
sequence; then each step decodes one token for every unfinished sequence in one
`llama_decode`, so the quantised weights are read once per step for all of them instead of
once per request. A context applies one adapter set to every sequence, so only requests
with the same adapter (or none) share a run: in a comparison, the few-shot and RAG
requests (both on the base model) decode together and the fine-tuned one runs alone.

Sampling happens here on the logits (greedy, or plain sampling at a temperature over the
whole vocabulary), as the single-request path does with llama.cpp's sampler.
"""

from __future__ import annotations

import ctypes
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import llama_cpp
import numpy as np

from app.engine.base import GenerationRequest, GenerationResult

BATCH_TOKENS = 512  # tokens per llama_decode call while prefilling


@dataclass
class Sequence:
    request: GenerationRequest
    prompt: list[int]
    stream: Callable[[list[int]], None]
    tokens: list[int] = field(default_factory=list)
    first_token_at: float | None = None
    finished_at: float | None = None

    @property
    def position(self) -> int:
        """Position of the last sampled token, the next step's input."""
        return len(self.prompt) + len(self.tokens) - 1


class SequenceBatch:
    """The multi-sequence context; `run` is not thread-safe (the engine's lock guards it)."""

    def __init__(
        self, llm: llama_cpp.Llama, sequences: int, tokens_per_sequence: int, threads: int
    ) -> None:
        params = llama_cpp.llama_context_params.from_buffer_copy(llm.context_params)
        params.n_seq_max = sequences
        params.n_ctx = sequences * tokens_per_sequence
        params.n_batch = params.n_ubatch = BATCH_TOKENS
        params.kv_unified = False  # each sequence attends to its own cells only
        if threads:
            params.n_threads = params.n_threads_batch = threads
        self.ctx = llama_cpp.llama_init_from_model(llm.model, params)
        if not self.ctx:
            raise RuntimeError("llama.cpp could not create the multi-sequence context")
        self.sequences = sequences
        self.tokens_per_sequence = tokens_per_sequence
        self.batch = llama_cpp.llama_batch_init(BATCH_TOKENS, 0, 1)
        self.llm = llm
        self.vocab = llama_cpp.llama_model_get_vocab(llm.model)
        self.n_vocab = llm.n_vocab()
        self.rng = np.random.default_rng()

    def close(self) -> None:
        if self.ctx:
            llama_cpp.llama_batch_free(self.batch)
            llama_cpp.llama_free(self.ctx)
            self.ctx = None

    def run(self, sequences: list[Sequence]) -> list[GenerationResult]:
        """Generate every sequence (at most `self.sequences`, prompts within
        `tokens_per_sequence` with their completions) and return their results."""
        assert len(sequences) <= self.sequences
        for seq in sequences:
            if len(seq.prompt) + seq.request.max_new_tokens > self.tokens_per_sequence:
                raise ValueError(
                    f"prompt of {len(seq.prompt)} tokens + {seq.request.max_new_tokens} new "
                    f"tokens exceeds {self.tokens_per_sequence} per sequence"
                )
        llama_cpp.llama_memory_clear(llama_cpp.llama_get_memory(self.ctx), True)
        started = time.perf_counter()
        active = []
        for number, seq in enumerate(sequences):
            logits = self.prefill(number, seq.prompt)
            if not self.accept(seq, self.sample(logits, seq.request.temperature)):
                active.append((number, seq))
        while active:
            self.decode([(seq.tokens[-1], seq.position, number) for number, seq in active])
            still = []
            for row, (number, seq) in enumerate(active):
                token = self.sample(self.logits(row), seq.request.temperature)
                if not self.accept(seq, token):
                    still.append((number, seq))
            active = still
        return [self.result(seq, started) for seq in sequences]

    def prefill(self, number: int, prompt: list[int]) -> np.ndarray:
        """Decode `prompt` as sequence `number`; the logits after its last token."""
        for start in range(0, len(prompt), BATCH_TOKENS):
            chunk = prompt[start : start + BATCH_TOKENS]
            last = start + len(chunk) == len(prompt)
            entries = [(token, start + i, number) for i, token in enumerate(chunk)]
            self.decode(entries, logits="last" if last else "none")
        return self.logits(len(chunk) - 1)

    def decode(
        self, entries: list[tuple[int, int, int]], logits: Literal["all", "last", "none"] = "all"
    ) -> None:
        """One `llama_decode` of (token, position, sequence) entries, keeping the logits of
        every entry, of the last one, or of none."""
        batch = self.batch
        for i, (token, position, number) in enumerate(entries):
            batch.token[i] = token
            batch.pos[i] = position
            batch.n_seq_id[i] = 1
            batch.seq_id[i][0] = number
            batch.logits[i] = logits == "all"
        if logits == "last":
            batch.logits[len(entries) - 1] = True
        batch.n_tokens = len(entries)
        status = llama_cpp.llama_decode(self.ctx, batch)
        if status != 0:
            raise RuntimeError(f"llama_decode failed with status {status}")

    def logits(self, index: int) -> np.ndarray:
        pointer = llama_cpp.llama_get_logits_ith(self.ctx, index)
        values = ctypes.cast(pointer, ctypes.POINTER(ctypes.c_float))
        return np.ctypeslib.as_array(values, shape=(self.n_vocab,))

    def sample(self, logits: np.ndarray, temperature: float) -> int:
        if temperature <= 0:
            return int(np.argmax(logits))
        scaled = (logits - logits.max()) / temperature
        probabilities = np.exp(scaled)
        probabilities /= probabilities.sum()
        return int(self.rng.choice(self.n_vocab, p=probabilities))

    def accept(self, seq: Sequence, token: int) -> bool:
        """Record `token`; True when `seq` is finished (end of generation or its length)."""
        now = time.perf_counter()
        if seq.first_token_at is None:
            seq.first_token_at = now
        if llama_cpp.llama_vocab_is_eog(self.vocab, token):
            seq.finished_at = now
            return True
        seq.tokens.append(token)
        seq.stream(seq.tokens)
        if len(seq.tokens) >= seq.request.max_new_tokens:
            seq.finished_at = now
            return True
        return False

    def result(self, seq: Sequence, started: float) -> GenerationResult:
        first = seq.first_token_at or started
        text = self.llm.detokenize(seq.tokens, prev_tokens=seq.prompt)
        return GenerationResult(
            text=text.decode("utf-8", errors="ignore").strip(),
            prompt_tokens=len(seq.prompt),
            completion_tokens=len(seq.tokens),
            first_token_s=first - started,
            generation_s=(seq.finished_at or first) - first,
        )
