"""A served call's answer in OpenAI's shapes: the chat completion, and the chunks of its
stream (`data: {...}` Server-Sent Events ending with `data: [DONE]`)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from app.db.models import Comparison
from app.errors import AppError, openai_error_body


class LevelFailed(AppError):
    """The level could not answer (no adapter, no documents, a failed generation). The
    comparison is stored with its error; retrying at once would not help, so the client is
    told not to (`x-should-retry`, which OpenAI's clients obey)."""

    status = 503
    headers = {"x-should-retry": "false"}
    code = "level_unavailable"


@dataclass(frozen=True)
class Answer:
    """What the level answered, read from the stored comparison."""

    comparison_id: int
    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str  # "length" when it stopped at the token limit, else "stop"

    @classmethod
    def of(cls, comparison: Comparison, model: str) -> Answer:
        """The answer of the comparison's one level; LevelFailed when it carries an error."""
        result = comparison.results[0]
        if result.error:
            raise LevelFailed(f"{model} could not answer: {result.error}")
        limit = comparison.settings.get("max_new_tokens")
        cut = limit is not None and result.completion_tokens >= limit
        return cls(
            comparison_id=comparison.id,
            text=result.output,
            prompt_tokens=result.prompt_tokens,
            completion_tokens=result.completion_tokens,
            finish_reason="length" if cut else "stop",
        )

    def usage(self) -> dict[str, int]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
        }


@dataclass(frozen=True)
class CallId:
    """What every chunk of one call repeats."""

    id: str  # chatcmpl-...
    created: int  # Unix seconds
    model: str


def completion(call: CallId, answer: Answer) -> dict[str, Any]:
    """The non-streamed chat completion."""
    message = {"role": "assistant", "content": answer.text, "refusal": None}
    choice = {"index": 0, "message": message, "logprobs": None}
    return {
        **header(call, "chat.completion"),
        "choices": [{**choice, "finish_reason": answer.finish_reason}],
        "usage": answer.usage(),
    }


def header(call: CallId, kind: str) -> dict[str, Any]:
    return {
        "id": call.id,
        "object": kind,
        "created": call.created,
        "model": call.model,
        "system_fingerprint": None,
    }


def chunk(
    call: CallId, delta: dict[str, str], *, finish_reason: str | None = None, usage: bool = False
) -> str:
    """One streamed chunk as an SSE message (`usage`: with `"usage": null`, as every chunk
    but the last carries when the client asked for usage)."""
    choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
    body = {**header(call, "chat.completion.chunk"), "choices": [choice]}
    return sse(body | ({"usage": None} if usage else {}))


def closing_chunks(call: CallId, answer: Answer, *, usage: bool) -> str:
    """The chunk with the finish reason, the usage chunk (empty `choices`) when asked
    for, and `[DONE]`."""
    text = chunk(call, {}, finish_reason=answer.finish_reason, usage=usage)
    if usage:
        body = {**header(call, "chat.completion.chunk"), "choices": [], "usage": answer.usage()}
        text += sse(body)
    return text + "data: [DONE]\n\n"


def error_chunk(error: AppError) -> str:
    """An error after the stream began (its status is sent already): OpenAI's error body,
    which OpenAI's clients raise as an APIError."""
    return sse(openai_error_body(error.status, error.message, code=error.code, param=error.param))


Event = str | Answer | AppError  # a piece of text, the answer, or why the call failed


def stream_chunks(call: CallId, events: Iterable[Event], *, usage: bool) -> Iterator[str]:
    """The call's stream: the assistant's role, a chunk per piece of text, then the closing
    chunks (or the error, if the call failed)."""
    yield chunk(call, {"role": "assistant", "content": ""}, usage=usage)
    for event in events:
        if isinstance(event, str):
            yield chunk(call, {"content": event}, usage=usage)
        elif isinstance(event, Answer):
            yield closing_chunks(call, event, usage=usage)
        else:
            yield error_chunk(event)


def sse(body: dict[str, Any]) -> str:
    return f"data: {json.dumps(body)}\n\n"
