"""`EchoEngine`: a test double of the engine, for tests of what surrounds generation.

TEST AND DEVELOPMENT ONLY: it loads no weights and does not answer the question. It is not
in the backend registry, so no `TRITUNE_ENGINE` value selects it; tests build it directly.

It implements the same interface as the real backends and is honest about everything but
the answer itself:

- the answer is a short echo of the request, `"<adapter or base> heard: <last line of the
  last user message>"` (for the rag level, its `Question: ...` line), cut to
  `max_new_tokens` tokens: deterministic, and it names the adapter;
- tokens are the base model's own (`tokenizers.local_tokenizer`: for the packaged GGUF,
  llama.cpp's vocabulary without the weights), so `prompt_tokens`, `completion_tokens`,
  `count_tokens` and `render_chat` are those of the real engines;
- the answer is produced token by token: `on_token` gets the pieces through the base's
  `DeltaStream` (UTF-8 hold-back included), and `first_token_s` / `generation_s` are
  measured (`token_delay_s` makes each token take that long, for tests of concurrency);
- a request's `json_schema` is accepted (as the real backends that constrain accept it) and
  kept in `schemas`, but the echo is not constrained by it;
- adapters go through the base's bookkeeping; loading one checks that the directory holds
  a readable PEFT `adapter_config.json`, as PEFT would, and trains or converts nothing.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from app.engine.base import DeltaStream, Engine, FairLock, GenerationRequest, GenerationResult
from app.engine.tokenizers import local_tokenizer


class EchoEngine(Engine):
    name = "echo"
    constrains_output = True  # accepted and recorded, not applied (see the module docstring)

    def __init__(self, base_model: str, *, token_delay_s: float = 0.0) -> None:
        lock = FairLock()  # whole calls, in arrival order, as the llamacpp engine
        super().__init__(model_lock=lock)
        self._lock = lock
        self.base_model = base_model
        path = Path(base_model)
        self.model = path.name if path.exists() else base_model
        self.tokenizer = local_tokenizer(base_model)
        self.token_delay_s = token_delay_s
        self.adapter_configs: dict[str, dict] = {}  # what each loaded adapter's config says
        self.schemas: list[dict | None] = []  # each request's `json_schema`, in order

    def render_chat(self, messages: list[dict[str, str]]) -> str:
        return self.tokenizer.render_chat(messages)

    def count_tokens(self, text: str) -> int:
        return self.tokenizer.count_tokens(text)

    def add_adapter(self, name: str, path: str, checksum: str) -> None:
        """Read the adapter's PEFT config; FileNotFoundError or ValueError naming the file
        if there is none or it is not JSON."""
        config = Path(path) / "adapter_config.json"
        if not config.is_file():
            raise FileNotFoundError(f"no PEFT adapter in {path}: {config.name} is missing")
        try:
            self.adapter_configs[name] = json.loads(config.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ValueError(f"{config} is not a JSON adapter config: {error}") from None

    def run(self, requests: list[GenerationRequest]) -> list[GenerationResult]:
        with self._lock:
            self.check_open()
            self.schemas += [request.json_schema for request in requests]
            return [self.echo(request) for request in requests]

    @staticmethod
    def answer(request: GenerationRequest) -> str:
        """The full echo of `request`, before the cut to `max_new_tokens`."""
        users = [m["content"] for m in request.messages if m.get("role") == "user"]
        lines = users[-1].strip().splitlines() if users else []
        return f"{request.adapter or 'base'} heard: {lines[-1] if lines else ''}"

    def echo(self, request: GenerationRequest) -> GenerationResult:
        if not request.begin():
            return GenerationResult.skipped()
        started = time.perf_counter()
        prompt_tokens = self.count_tokens(self.render_chat(request.messages))
        planned = self.tokenizer.tokenize(self.answer(request))[: request.max_new_tokens]
        text, first_token_at, tokens = self.emit(planned, DeltaStream(request.on_token), request)
        request.end()
        ended = time.perf_counter()
        first = first_token_at or ended
        return GenerationResult(
            text=text,
            prompt_tokens=prompt_tokens,
            completion_tokens=len(tokens),
            first_token_s=first - started,
            generation_s=ended - first,
            timed_out=len(tokens) < len(planned),
        )

    def emit(
        self, tokens: list[int], stream: DeltaStream, request: GenerationRequest | None = None
    ) -> tuple[str, float | None, list[int]]:
        """Produce `tokens` one by one into `stream`, as a decoder would, until the request's
        deadline; the final text, when the first token came (None for no tokens) and the
        tokens produced."""
        first_token_at, count = None, 0
        while count < len(tokens) and not (request and request.past_deadline()):
            if self.token_delay_s:
                time.sleep(self.token_delay_s)
            count += 1
            first_token_at = first_token_at or time.perf_counter()
            stream.update(self.tokenizer.decode(tokens[:count]))
        text = self.tokenizer.decode(tokens[:count]).strip()
        stream.finish(text)
        return text, first_token_at, tokens[:count]
