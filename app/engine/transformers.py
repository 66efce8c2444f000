"""The `transformers` backend: the base model in fp32 plus PEFT LoRA adapters by name.

All requests of a call run in one batched `generate`; with adapters loaded, PEFT's mixed-batch
inference routes each row through its own adapter (`adapter_names`, `"__base__"` for none).
"""

from __future__ import annotations

import time
from pathlib import Path

import torch
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    PreTrainedModel,
    PreTrainedTokenizerBase,
    StoppingCriteria,
    StoppingCriteriaList,
)

from app.engine.base import Engine, FairLock, GenerationRequest, GenerationResult

BASE_ADAPTER = "__base__"


def model_source(base_model: str) -> tuple[str, dict]:
    """Where `from_pretrained` finds `base_model`: a .gguf file, a directory or a hub id."""
    path = Path(base_model)
    if path.suffix == ".gguf":
        if not path.is_file():
            raise FileNotFoundError(f"GGUF model file not found: {base_model}")
        return str(path.parent), {"gguf_file": path.name}
    return base_model, {}


def model_display_name(base_model: str) -> str:
    path = Path(base_model)
    return path.name if path.exists() else base_model


def load_base(base_model: str) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Load model and tokenizer in fp32 (a GGUF is dequantised), tokenizer padding left."""
    source, extra = model_source(base_model)
    tokenizer = AutoTokenizer.from_pretrained(source, **extra)
    model = AutoModelForCausalLM.from_pretrained(source, dtype=torch.float32, **extra)
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer


def render_chat(tokenizer: PreTrainedTokenizerBase, messages: list[dict[str, str]]) -> str:
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


class RowTracker(StoppingCriteria):
    """Called by `generate` after every decoding step: notes when each row produced its first
    token and when it finished, streams new text to callbacks, and stops rows at their own
    `max_new_tokens`."""

    def __init__(self, tokenizer, prompt_len: int, requests: list[GenerationRequest]) -> None:
        self.tokenizer = tokenizer
        self.prompt_len = prompt_len
        self.requests = requests
        self.eos_ids = {tokenizer.eos_token_id, tokenizer.pad_token_id}
        self.first_token_at: float | None = None
        self.finished_at: list[float | None] = [None] * len(requests)
        self.lengths = [0] * len(requests)
        self.streamed = [""] * len(requests)

    def __call__(self, input_ids: torch.LongTensor, scores, **kwargs) -> torch.BoolTensor:
        now = time.perf_counter()
        if self.first_token_at is None:
            self.first_token_at = now
        generated = input_ids[:, self.prompt_len :]
        for row, request in enumerate(self.requests):
            if self.finished_at[row] is None:
                self.advance(row, request, generated[row], now)
        done = [at is not None for at in self.finished_at]
        return torch.tensor(done, dtype=torch.bool, device=input_ids.device)

    def advance(self, row: int, request: GenerationRequest, tokens, now: float) -> None:
        if int(tokens[-1]) in self.eos_ids:
            self.finished_at[row] = now
            return
        self.lengths[row] = len(tokens)
        if request.on_token is not None:
            self.stream(row, request, tokens)
        if self.lengths[row] >= request.max_new_tokens:
            self.finished_at[row] = now

    def stream(self, row: int, request: GenerationRequest, tokens) -> None:
        text = self.tokenizer.decode(tokens[: self.lengths[row]], skip_special_tokens=True)
        if text.endswith("\ufffd"):  # half of a multi-byte character: wait for the rest
            return
        delta = text[len(self.streamed[row]) :]
        if delta:
            self.streamed[row] = text
            request.on_token(delta)


class TransformersEngine(Engine):
    name = "transformers"

    def __init__(self, base_model: str, threads: int = 0) -> None:
        if threads:
            torch.set_num_threads(threads)
        self.model = model_display_name(base_model)
        self.base_model = base_model
        self._model, self.tokenizer = load_base(base_model)
        self._model.eval()
        self._adapters: dict[str, str] = {}
        self._lock = FairLock()  # whole calls, in arrival order

    def has_adapter(self, name: str) -> bool:
        return name in self._adapters

    def load_adapter(self, name: str, path: str, checksum: str) -> None:
        from peft import PeftModel

        with self._lock:
            if self._adapters.get(name) == checksum:
                return
            if name in self._adapters:  # same name, new files: replace it
                self._model.delete_adapter(name)
            if isinstance(self._model, PeftModel):
                self._model.load_adapter(path, adapter_name=name)
            else:
                self._model = PeftModel.from_pretrained(self._model, path, adapter_name=name)
            self._model.eval()
            self._adapters[name] = checksum

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer.encode(text, add_special_tokens=False))

    def render_chat(self, messages: list[dict[str, str]]) -> str:
        return render_chat(self.tokenizer, messages)

    def generate(self, requests: list[GenerationRequest]) -> list[GenerationResult]:
        """One batched `generate` per distinct temperature (a comparison shares one)."""
        results: dict[int, GenerationResult] = {}
        for temperature in sorted({r.temperature for r in requests}):
            indexes = [i for i, r in enumerate(requests) if r.temperature == temperature]
            batch = self.generate_batch([requests[i] for i in indexes])
            results.update(zip(indexes, batch, strict=True))
        return [results[i] for i in range(len(requests))]

    def generate_batch(self, requests: list[GenerationRequest]) -> list[GenerationResult]:
        # One lock for the whole call: which adapters exist decides `adapter_names`, and an
        # adapter loaded meanwhile by another thread must not change that under us.
        with self._lock:
            return self._generate_locked(requests)

    def _generate_locked(self, requests: list[GenerationRequest]) -> list[GenerationResult]:
        for request in requests:
            if request.adapter and request.adapter not in self._adapters:
                raise KeyError(f"adapter {request.adapter!r} is not loaded")
        prompts = [render_chat(self.tokenizer, r.messages) for r in requests]
        encoded = self.tokenizer(
            prompts, return_tensors="pt", padding=True, add_special_tokens=False
        )
        prompt_len = encoded["input_ids"].shape[1]
        tracker = RowTracker(self.tokenizer, prompt_len, requests)
        kwargs = self.sampling_kwargs(requests[0].temperature)
        if self._adapters:
            kwargs["adapter_names"] = [r.adapter or BASE_ADAPTER for r in requests]
        with torch.inference_mode():
            started = time.perf_counter()
            output = self._model.generate(
                **encoded,
                max_new_tokens=max(r.max_new_tokens for r in requests),
                stopping_criteria=StoppingCriteriaList([tracker]),
                pad_token_id=self.tokenizer.pad_token_id,
                **kwargs,
            )
            ended = time.perf_counter()
        first = tracker.first_token_at or ended
        results = []
        for row, _request in enumerate(requests):
            tokens = output[row, prompt_len : prompt_len + tracker.lengths[row]]
            results.append(
                GenerationResult(
                    text=self.tokenizer.decode(tokens, skip_special_tokens=True).strip(),
                    prompt_tokens=int(encoded["attention_mask"][row].sum()),
                    completion_tokens=tracker.lengths[row],
                    first_token_s=first - started,
                    generation_s=(tracker.finished_at[row] or ended) - first,
                )
            )
        return results

    @staticmethod
    def sampling_kwargs(temperature: float) -> dict:
        if temperature > 0:
            return {"do_sample": True, "temperature": temperature, "top_p": 1.0, "top_k": 0}
        return {"do_sample": False, "temperature": None, "top_p": None, "top_k": None}
