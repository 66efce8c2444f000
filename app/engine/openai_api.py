"""The `openai` backend: any OpenAI-compatible server (vLLM, llama.cpp's server, Ollama, a
hosted API) answering `POST {base_url}/chat/completions`.

The server holds the weights. Each request is sent with `stream: true` and read as it
arrives: text deltas go to the request's `on_token`, the first-token time is taken at the
first content delta, and the token counts are the server's `usage` (asked for with
`stream_options: {"include_usage": true}`). A server that sends no usage in a stream
(llama-cpp-python's own server is one) gets its tokens counted here instead, with the base
model's tokenizer (`tokenizers.local_tokenizer`).

Adapters follow the vLLM / llama.cpp-server convention: each LoRA is served as a model of
its own, under the adapter's name unless `adapter_models` maps it to another. By default the
server loads the adapter's files itself, so `load_adapter` only checks that it lists that
model (`GET /models`); TriTune cannot check the served files against the adapter's checksum.
With `push_adapters` (a vLLM server started with `--enable-lora` and
`VLLM_ALLOW_RUNTIME_LORA_UPDATING=True`), `load_adapter` pushes the adapter instead:
`POST /v1/load_lora_adapter {lora_name, lora_path, load_inplace}`, the path as the server
sees it (`adapter_root`: the shared volume's mount point there); a changed adapter (new
checksum) is loaded again in place, or unloaded and loaded on a vLLM without `load_inplace`.

The requests of one `generate` call are sent at once, one thread each (at most
`max_concurrent`): a server that batches (vLLM, llama.cpp's server with several slots)
answers them together; one that serialises (llama-cpp-python's server) answers them in
turn, as fast as if they had been sent one by one (measured: see docs/engines.md).

Errors are raised with a message naming the URL and the HTTP status, never the API key:

    RuntimeError
     └── ServerError          connection refused, timeout, HTTP 4xx/5xx, a stream cut short
          └── AdapterNotServed   load_adapter: the server lists no model for the adapter
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from app.config import Settings
from app.engine.base import (
    DeltaStream,
    Engine,
    GenerationRequest,
    GenerationResult,
    TokenCallback,
    timed_out_unstarted,
)
from app.engine.tokenizers import GGUFTokenizer, HFTokenizer, local_tokenizer

log = logging.getLogger(__name__)
ERROR_DETAIL_CHARS = 300
LISTED_MODELS = 10  # of a server's models, named in an error (hosted APIs list ~100)


class ServerError(RuntimeError):
    """The server could not be reached or did not answer as the API says."""


class AdapterNotServed(ServerError):
    """The server lists no model under the adapter's served name."""


class StreamError(ValueError):
    """A streamed answer that does not read as chat completion chunks."""


@dataclass
class StreamedAnswer:
    """One streamed chat completion, read line by line from its Server-Sent Events."""

    on_token: TokenCallback | None = None
    pieces: list[str] = field(default_factory=list)
    stream: DeltaStream = field(init=False, repr=False)
    first_piece_at: float | None = None
    finish_reason: str | None = None
    usage: dict | None = None
    done: bool = False

    def __post_init__(self) -> None:
        self.stream = DeltaStream(self.on_token)

    @property
    def text(self) -> str:
        return "".join(self.pieces)

    def add_line(self, line: str) -> None:
        """`data: {chunk}` or `data: [DONE]`; blank lines, comments and other fields are
        skipped."""
        if not line.startswith("data:"):
            return
        data = line.removeprefix("data:").strip()
        if data == "[DONE]":
            self.done = True
            return
        try:
            self.add_chunk(json.loads(data))
        except json.JSONDecodeError as error:
            raise StreamError(f"a streamed line is not JSON: {data[:80]!r}") from error

    def add_chunk(self, chunk: dict) -> None:
        if "error" in chunk:
            raise StreamError(f"the server reported an error mid-answer: {chunk['error']}")
        if chunk.get("usage"):  # with include_usage, a last chunk with no choices
            self.usage = chunk["usage"]
        for choice in chunk.get("choices") or []:
            self.add_content((choice.get("delta") or {}).get("content"))
            self.finish_reason = choice.get("finish_reason") or self.finish_reason

    def add_content(self, content: str | None) -> None:
        if not content:
            return
        if self.first_piece_at is None:
            self.first_piece_at = time.perf_counter()
        self.pieces.append(content)
        self.stream.update(self.text)


class OpenAIEngine(Engine):
    name = "openai"
    constrains_output = True  # the server's `response_format` (see `response_format`)

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        base_model: str,
        api_key: str | None = None,
        timeout_s: float = 60.0,
        adapter_models: dict[str, str] | None = None,
        extra_body: dict | None = None,
        max_concurrent: int = 8,
        schema_format: str = "json_schema",
        push_adapters: bool = False,
        adapter_root: str | None = None,
    ) -> None:
        super().__init__()
        self.push_adapters = push_adapters
        self.adapter_root = adapter_root
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.base_model = base_model
        self.timeout_s = timeout_s
        self.adapter_models = adapter_models or {}
        self.extra_body = extra_body or {}
        self.max_concurrent = max_concurrent
        self.schema_format = schema_format
        self._api_key = api_key
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.client = httpx.Client(headers=headers, timeout=timeout_s)
        self._served: dict[str, str] = {}  # adapter name -> its model name on the server
        self._tokenizer: GGUFTokenizer | HFTokenizer | None = None
        self._tokenizer_lock = threading.Lock()
        self._usage_missing_noted = False

    @classmethod
    def from_settings(cls, settings: Settings) -> OpenAIEngine:
        base_url, model = settings.openai_base_url, settings.openai_model
        if not base_url or not model:
            required = {"TRITUNE_OPENAI_BASE_URL": base_url, "TRITUNE_OPENAI_MODEL": model}
            missing = [variable for variable, value in required.items() if not value]
            raise ValueError(f"TRITUNE_ENGINE=openai needs {' and '.join(missing)}")
        key = settings.openai_api_key
        return cls(
            base_url=base_url,
            model=model,
            base_model=settings.base_model,
            api_key=key.get_secret_value() if key else None,
            timeout_s=settings.openai_timeout_s,
            adapter_models=settings.openai_adapter_models,
            extra_body=settings.openai_extra_body,
            max_concurrent=settings.openai_max_concurrent,
            schema_format=settings.openai_schema_format,
            push_adapters=settings.openai_push_adapters,
            adapter_root=settings.openai_adapter_root,
        )

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path}"

    def release(self) -> None:
        self.client.close()

    # Tokens and chat template: the server's, reproduced locally from the base model.

    @property
    def tokenizer(self) -> GGUFTokenizer | HFTokenizer:
        """Loaded on first use (which may come from several request threads at once)."""
        with self._tokenizer_lock:
            if self._tokenizer is None:
                self._tokenizer = local_tokenizer(self.base_model)
            return self._tokenizer

    def render_chat(self, messages: list[dict[str, str]]) -> str:
        return self.tokenizer.render_chat(messages)

    def count_tokens(self, text: str) -> int:
        return self.tokenizer.count_tokens(text)

    # Adapters: models the server serves.

    def add_adapter(self, name: str, path: str, checksum: str) -> None:
        """Push the adapter to the server (`push_adapters`), or check that the server lists
        its model (`path` is not used then: the server loaded the files itself; a checksum
        already checked is not checked again)."""
        served = self.adapter_models.get(name, name)
        if self.push_adapters:
            self.push_adapter(served, self.server_path(path))
            self._served[name] = served
            return
        models = self.served_models()
        if served not in models:
            listed = ", ".join(models[:LISTED_MODELS]) + (", ..." if models[LISTED_MODELS:] else "")
            raise AdapterNotServed(
                f"{self.url('models')} lists no model {served!r} for adapter {name!r} "
                f"(it lists: {listed or 'none'}); serve the adapter under that name or map "
                "it with TRITUNE_OPENAI_ADAPTER_MODELS"
            )
        self._served[name] = served

    def server_path(self, path: str) -> str:
        """The adapter directory as the server sees it."""
        if not self.adapter_root:
            return path
        return f"{self.adapter_root.rstrip('/')}/{Path(path).name}"

    def push_adapter(self, served: str, path: str) -> None:
        """vLLM's runtime LoRA loading; an adapter already loaded under that name (a vLLM
        that predates `load_inplace`) is unloaded and loaded again."""
        body = {"lora_name": served, "lora_path": path, "load_inplace": True}
        url = self.url("load_lora_adapter")
        with self.named_errors(url):
            response = self.client.post(url, json=body)
            if response.status_code == 400 and "already" in error_detail(response):
                unload = self.url("unload_lora_adapter")
                self.check_status(self.client.post(unload, json={"lora_name": served}), unload)
                response = self.client.post(url, json=body)
            self.check_status(response, url)
        log.info("pushed adapter %s (%s) to %s", served, path, url)

    def served_models(self) -> list[str]:
        url = self.url("models")
        with self.named_errors(url):
            response = self.client.get(url)
            self.check_status(response, url)
            return [model["id"] for model in response.json().get("data", [])]

    # Generation.

    def run(self, requests: list[GenerationRequest]) -> list[GenerationResult]:
        """All requests at once, one thread each (at most `max_concurrent`); the results
        in order. `on_token` callbacks may run on several threads at a time."""
        workers = min(len(requests), self.max_concurrent)
        if workers <= 1:
            return [self.generate_one(request) for request in requests]
        with ThreadPoolExecutor(workers, thread_name_prefix="tritune-openai") as pool:
            return list(pool.map(self.generate_one, requests))

    def generate_one(self, request: GenerationRequest) -> GenerationResult:
        if not request.begin():
            return GenerationResult.skipped()
        url = self.url("chat/completions")
        answer = StreamedAnswer(request.on_token)
        started = time.perf_counter()
        body = self.request_body(request)
        if request.past_deadline():  # its time went by while it waited for a worker
            return timed_out_unstarted(request)
        with self.named_errors(url), self.client.stream("POST", url, json=body) as response:
            self.check_status(response, url)
            timed_out = self.read_stream(response, answer, url, request)
        ended = time.perf_counter()
        answer.stream.finish(answer.text.strip())
        request.end()
        first = answer.first_piece_at or ended
        prompt_tokens, completion_tokens = self.token_counts(request, answer)
        return GenerationResult(
            text=answer.text.strip(),
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            first_token_s=first - started,
            generation_s=ended - first,
            timed_out=timed_out,
        )

    def request_body(self, request: GenerationRequest) -> dict:
        """Greedy at temperature 0; `top_p` 1 so that no other temperature is cut either.
        The extra fields go first: TriTune's own win."""
        served = self._served[request.adapter] if request.adapter else self.model
        return {
            **self.extra_body,
            "model": served,
            "messages": request.messages,
            "max_tokens": request.max_new_tokens,
            "temperature": request.temperature,
            "top_p": 1.0,
            "stream": True,
            "stream_options": {"include_usage": True},
            **self.response_format(request.json_schema),
        }

    def response_format(self, schema: dict | None) -> dict:
        """The request's JSON schema as the server expects it (`schema_format`): OpenAI's
        and vLLM's `json_schema` form, or llama-cpp-python's server's `json_object` form."""
        if schema is None:
            return {}
        if self.schema_format == "json_object":
            return {"response_format": {"type": "json_object", "schema": schema}}
        named = {"name": "output", "schema": schema, "strict": True}
        return {"response_format": {"type": "json_schema", "json_schema": named}}

    @staticmethod
    def read_stream(
        response: httpx.Response, answer: StreamedAnswer, url: str, request: GenerationRequest
    ) -> bool:
        """Read the answer into `answer`; True when the request's deadline stopped it."""
        try:
            for line in response.iter_lines():
                answer.add_line(line)
                if answer.done:
                    break
                if request.past_deadline():  # closing the response stops the server's work
                    return True
        except StreamError as error:
            raise ServerError(f"{url}: {error}") from error
        if answer.finish_reason is None:
            # llama-cpp-python's server ends a stream this way when another request arrives,
            # unless it runs with interrupt_requests false.
            raise ServerError(f"{url}: the answer stream ended before the answer finished")
        return False

    def token_counts(self, request: GenerationRequest, answer: StreamedAnswer) -> tuple[int, int]:
        """The server's usage. A server that sends none in a stream (llama-cpp-python's
        server) gets the prompt (in the base model's chat template) and the answer counted
        with the local tokenizer: the server's own counts when it runs that tokenizer, as
        tests/test_engine_openai.py checks against the server's non-streamed usage."""
        usage = answer.usage or {}
        if "prompt_tokens" in usage and "completion_tokens" in usage:
            return usage["prompt_tokens"], usage["completion_tokens"]
        if not self._usage_missing_noted:
            self._usage_missing_noted = True
            log.info("%s sends no usage in streams; counting tokens locally", self.base_url)
        prompt = self.count_tokens(self.render_chat(request.messages))
        return prompt, self.count_tokens(answer.text)

    # Errors: named by URL and status, without the API key.

    @contextmanager
    def named_errors(self, url: str) -> Iterator[None]:
        """httpx's exceptions as ServerError with `url` in the message."""
        try:
            yield
        except httpx.TimeoutException as error:
            message = f"{url}: no answer within {self.timeout_s:g} s ({type(error).__name__})"
            raise ServerError(message) from error
        except httpx.HTTPError as error:  # connection refused or reset, bad URL, ...
            raise ServerError(self.redact(f"{url}: {type(error).__name__}: {error}")) from error

    def check_status(self, response: httpx.Response, url: str) -> None:
        if response.status_code < 400:
            return
        response.read()
        detail = error_detail(response)
        raise ServerError(self.redact(f"{url} answered HTTP {response.status_code}: {detail}"))

    def redact(self, message: str) -> str:
        """`message` without the API key (a server may quote what it was sent)."""
        return message.replace(self._api_key, "[API key]") if self._api_key else message


def error_detail(response: httpx.Response) -> str:
    """The error message of an OpenAI-style (`{"error": {"message"}}`) or FastAPI-style
    (`{"detail"}`) error body, else the start of the body."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:ERROR_DETAIL_CHARS]
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])[:ERROR_DETAIL_CHARS]
        found = error or body.get("detail") or body.get("message")
        if found:
            return str(found)[:ERROR_DETAIL_CHARS]
    return json.dumps(body)[:ERROR_DETAIL_CHARS]
