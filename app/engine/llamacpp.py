"""The `llamacpp` backend: the GGUF base run directly by llama.cpp, PEFT adapters as GGUF LoRAs.

One model, one context. The base GGUF is memory-mapped once; each adapter is converted to a
GGUF LoRA (`gguf_lora.ensure_gguf_lora`, cached beside the adapter by checksum) and loaded
onto that model with `llama_adapter_lora_init`. Before each request the context's adapter
set is switched with `llama_set_adapters_lora` (none for the base model, or the request's
adapter at scale 1). llama.cpp keeps the prompt's key/value cache between calls and reuses
its longest common prefix; those keys were computed under the previous adapter, so the
cache is dropped whenever the adapter changes. Requests run one after another (llama.cpp
decodes one sequence per context here); each gets its own first-token and generation time.

Why not one `Llama(lora_path=...)` per adapter: llama-cpp-python then turns memory mapping
off and loads the whole base again for every adapter, and each context holds its own cache.
"""

from __future__ import annotations

import ctypes
import json
import time
from functools import lru_cache
from pathlib import Path
from typing import Any, TypedDict, cast

import llama_cpp
import numpy as np
import numpy.typing as npt

from app.config import Settings
from app.cores import CORES, FREE_CORES, usable_cores
from app.engine.base import (
    DeltaStream,
    Engine,
    FairLock,
    GenerationRequest,
    GenerationResult,
    timed_out_unstarted,
)
from app.engine.gguf_lora import ensure_gguf_lora
from app.engine.tokenizers import GGUFTokenizer

CONTEXT_TOKENS = 8192  # prompt + completion; the key/value cache is sized for this many
GGUF_MAGIC = b"GGUF"


def can_run(base_model: str) -> bool:
    """Whether `base_model` is a GGUF file (`TRITUNE_ENGINE=auto` then tries llama.cpp, and
    falls back to transformers if llama.cpp cannot load it)."""
    path = Path(base_model)
    if path.suffix != ".gguf" or not path.is_file():
        return False
    with path.open("rb") as file:
        return file.read(4) == GGUF_MAGIC


class Sampling(TypedDict):
    """llama.cpp's sampling settings, as `create_completion` takes them."""

    temperature: float
    top_k: int
    top_p: float
    min_p: float
    typical_p: float
    repeat_penalty: float


class RequestTracker:
    """Called by llama-cpp-python after each sampled token (as a stopping criterion that stops
    only at the request's deadline): notes the first token's time and streams the text decoded
    so far. At call k the context holds the prompt and the first k-1 completion tokens, so the
    stream trails by one token; `stream.finish` sends the rest."""

    def __init__(
        self, tokenizer: GGUFTokenizer, prompt: list[int], request: GenerationRequest
    ) -> None:
        self.tokenizer = tokenizer
        self.prompt = prompt
        self.stream = DeltaStream(request.on_token)
        self.first_token_at: float | None = None
        self.request = request
        self.timed_out = False

    def __call__(self, input_ids: npt.NDArray[np.intc], logits: npt.NDArray[np.single]) -> bool:
        if self.first_token_at is None:
            self.first_token_at = time.perf_counter()
        if self.stream.on_token is not None:
            completion = [int(t) for t in input_ids[len(self.prompt) :]]
            self.stream.update(self.tokenizer.decode(completion, prev_tokens=self.prompt))
        self.timed_out = self.request.past_deadline()
        return self.timed_out


class LlamaCppEngine(Engine):
    name = "llamacpp"
    constrains_output = True  # a GBNF grammar from the request's JSON schema

    def __init__(self, base_model: str, threads: int = 0) -> None:
        """`threads` 0: per generation, as many as other processes leave cores free."""
        path = Path(base_model)
        if path.suffix != ".gguf" or not path.is_file():
            raise FileNotFoundError(f"the llamacpp engine needs a GGUF model file: {base_model}")
        self._lock = FairLock()  # whole calls and adapter loads, in arrival order
        super().__init__(model_lock=self._lock)
        self.base_model = base_model
        self.model = path.name
        self.fixed_threads = threads
        self.threads = threads or usable_cores()
        self.llm = llama_cpp.Llama(
            model_path=base_model,
            n_ctx=CONTEXT_TOKENS,
            n_threads=self.threads,
            n_threads_batch=self.threads,
            verbose=False,
        )
        self.tokenizer = GGUFTokenizer(self.llm)
        if not self.tokenizer.template_source:
            raise ValueError(f"{path.name} has no chat template (tokenizer.chat_template)")
        self._handles: dict[str, llama_cpp.llama_adapter_lora_p] = {}
        self._active: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> LlamaCppEngine:
        return cls(settings.base_model, threads=settings.threads)

    def render_chat(self, messages: list[dict[str, str]]) -> str:
        return self.tokenizer.render_chat(messages)

    def tokenize(self, text: str) -> list[int]:
        """Tokens of `text` as `transformers` makes them with `add_special_tokens=False`."""
        return self.tokenizer.tokenize(text)

    def count_tokens(self, text: str) -> int:
        return len(self.tokenize(text))

    def add_adapter(self, name: str, path: str, checksum: str) -> None:
        """Convert the PEFT adapter to a GGUF LoRA (once per checksum) and load it."""
        lora = ensure_gguf_lora(path, checksum, self.base_model)
        handle = llama_cpp.llama_adapter_lora_init(self.llm.model, str(lora).encode())
        if not handle:
            raise RuntimeError(f"llama.cpp could not load the GGUF LoRA {lora}")
        replaced = self._handles.get(name)
        if replaced is not None:  # same name, new files: replace it
            self.use_adapter(None)
            llama_cpp.llama_adapter_lora_free(replaced)
        self._handles[name] = handle

    def use_adapter(self, name: str | None) -> None:
        """Put `name` (None: no adapter) on the context; drop the prompt cache on a change."""
        if name == self._active:
            return
        if name is None:
            status = llama_cpp.llama_set_adapters_lora(self.llm.ctx, None, 0, None)
        else:
            # llama-cpp-python declares the adapter handle as c_void_p but the array of them
            # as pointers to c_void_p; at run time the handle is such a pointer
            handles = (llama_cpp.llama_adapter_lora_p_ctypes * 1)(self._handles[name])  # type: ignore[misc]
            scales = (ctypes.c_float * 1)(1.0)
            status = llama_cpp.llama_set_adapters_lora(self.llm.ctx, handles, 1, scales)
        if status != 0:
            raise RuntimeError(f"llama.cpp could not switch to adapter {name!r}")
        self.llm.reset()  # no cached prefix is reused: its keys came from another adapter
        self._active = name

    def fit_threads(self) -> None:
        """Unless fixed, one thread per core that other processes leave free: llama.cpp's
        threads wait for each other after every operation, so one that shares its core with
        another process holds up the rest (2 threads ran at 0.23 of their quiet speed beside
        a busy process, 1 thread at 0.73; docs/measured.md)."""
        threads = self.fixed_threads or FREE_CORES.count()
        if threads != self.threads:
            llama_cpp.llama_set_n_threads(self.llm.ctx, threads, threads)
            self.threads = threads

    def run(self, requests: list[GenerationRequest]) -> list[GenerationResult]:
        return [self.generate_one(request) for request in requests]

    def generate_one(self, request: GenerationRequest) -> GenerationResult:
        with self._lock, CORES:
            self.check_open()  # closed while this request waited for the lock
            if request.past_deadline():  # its time went by while it waited
                return timed_out_unstarted(request)
            if not request.begin():  # cancelled while it waited for the lock
                return GenerationResult.skipped()
            self.use_adapter(request.adapter)
            self.fit_threads()
            prompt = self.tokenize(self.render_chat(request.messages))
            tracker = RequestTracker(self.tokenizer, prompt, request)
            started = time.perf_counter()
            response = self.llm.create_completion(
                prompt,
                max_tokens=request.max_new_tokens,
                stopping_criteria=llama_cpp.StoppingCriteriaList([tracker]),
                grammar=schema_grammar(request.json_schema),
                **self.sampling_kwargs(request.temperature),
            )
            ended = time.perf_counter()
        # without stream=True it is one response; llama-cpp-python types both return kinds
        completion = cast(llama_cpp.CreateCompletionResponse, response)
        text = completion["choices"][0]["text"].strip()
        tracker.stream.finish(text)
        request.end()
        usage = completion["usage"]
        first = tracker.first_token_at or ended
        return GenerationResult(
            text=text,
            prompt_tokens=usage["prompt_tokens"],
            completion_tokens=usage["completion_tokens"],
            first_token_s=first - started,
            generation_s=ended - first,
            timed_out=tracker.timed_out,
        )

    def release(self) -> None:
        """Free the model and its context once no request is using them (the adapters are
        freed with the model)."""
        with self._lock:
            self.llm.close()

    @staticmethod
    def sampling_kwargs(temperature: float) -> Sampling:
        """Greedy at 0; otherwise plain sampling at `temperature` over the whole vocabulary,
        as the transformers engine does (no top-k, top-p, min-p or repetition penalty)."""
        return {
            "temperature": temperature,
            "top_k": 0,
            "top_p": 1.0,
            "min_p": 0.0,
            "typical_p": 1.0,
            "repeat_penalty": 1.0,
        }


def schema_grammar(schema: dict | None) -> llama_cpp.LlamaGrammar | None:
    """llama.cpp's grammar for text valid under `schema` (None for free text), built once per
    schema: llama-cpp-python converts the JSON schema to GBNF. A string's `pattern` is left
    out of the grammar (`without_patterns`); the scoring still checks the whole schema."""
    if schema is None:
        return None
    return cached_grammar(json.dumps(without_patterns(schema), sort_keys=True))


def without_patterns(schema: Any) -> Any:
    """`schema` without the `pattern` of its string schemas: with llama-cpp-python 0.3.36 a
    grammar made from the demo's reply pattern (`^Hey trailblazer!.*See you out there\\.$`)
    crashed the process in sampling (a segmentation fault, reproduced on its own)."""
    if isinstance(schema, list):
        return [without_patterns(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    string = schema.get("type") == "string"
    return {k: without_patterns(v) for k, v in schema.items() if not (string and k == "pattern")}


@lru_cache(maxsize=32)
def cached_grammar(schema_json: str) -> llama_cpp.LlamaGrammar:
    return llama_cpp.LlamaGrammar.from_json_schema(schema_json, verbose=False)
