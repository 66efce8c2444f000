"""The body `POST /v1/chat/completions` accepts: OpenAI's chat request, the fields TriTune
honours validated, the rest accepted and ignored (docs/api.md lists both).

The level builds its own prompt, as in a comparison: the query is the last user message;
earlier turns and the client's own system message are not sent to the model.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from app.config import get_settings


class TextPart(BaseModel):
    """One part of a message's content given as a list; only text is served."""

    model_config = ConfigDict(extra="ignore")

    type: str
    text: str = ""


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")  # name, tool_calls, ...

    role: str
    content: str | list[TextPart] | None = None

    def text(self) -> str:
        """The message's text; ValueError for a part that is not text."""
        if not isinstance(self.content, list):
            return self.content or ""
        others = sorted({part.type for part in self.content if part.type != "text"})
        if others:
            raise ValueError(f"only text content is served, not {', '.join(others)}")
        return "\n".join(part.text for part in self.content)


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="ignore")

    include_usage: bool = False


class JsonSchemaFormat(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    name: str = ""
    json_schema: dict[str, Any] | None = Field(None, alias="schema")
    strict: bool | None = None


class ResponseFormat(BaseModel):
    model_config = ConfigDict(extra="ignore")

    type: Literal["text", "json_object", "json_schema"]
    json_schema: JsonSchemaFormat | None = None

    @model_validator(mode="after")
    def schema_given(self) -> ResponseFormat:
        given = self.json_schema is not None and self.json_schema.json_schema
        if self.type == "json_schema" and not given:
            raise ValueError("type json_schema needs json_schema.schema")
        return self


class ChatCompletionRequest(BaseModel):
    """An OpenAI chat completion request, as far as TriTune serves it."""

    model_config = ConfigDict(extra="ignore")

    model: str = Field(description="`<scenario>/<level>`, as `GET /v1/models` lists them.")
    messages: list[ChatMessage] = Field(
        min_length=1, description="The last user message is the query; other turns are ignored."
    )
    stream: bool = False
    stream_options: StreamOptions | None = None
    max_completion_tokens: int | None = Field(None, ge=1, le=1024)
    max_tokens: int | None = Field(None, ge=1, le=1024, description="As max_completion_tokens.")
    temperature: float | None = Field(None, ge=0.0, le=2.0, description="Default: the scenario's.")
    response_format: ResponseFormat | None = Field(
        None,
        description="`json_schema` with the scenario's own output schema decodes under it; "
        "any other schema, and `json_object`, are refused.",
    )
    n: int | None = Field(None, description="1: one choice is served.")
    tools: list[Any] | None = Field(None, description="Not served: the levels answer with text.")

    @field_validator("model")
    @classmethod
    def no_nul_characters(cls, model: str) -> str:
        if "\x00" in model:
            raise ValueError("must not contain NUL characters")
        return model

    @field_validator("n")
    @classmethod
    def one_choice(cls, n: int | None) -> int | None:
        if n not in (None, 1):
            raise ValueError("only n=1 is served: one level answers once")
        return n

    @field_validator("tools")
    @classmethod
    def no_tools(cls, tools: list[Any] | None) -> list[Any] | None:
        if tools:
            raise ValueError("tools are not served: the levels answer with text")
        return tools

    @field_validator("messages")
    @classmethod
    def has_a_query(cls, messages: list[ChatMessage]) -> list[ChatMessage]:
        query_of(messages)  # refused here, as a bad body, rather than when it runs
        return messages

    @property
    def query(self) -> str:
        return query_of(self.messages)

    @property
    def max_new_tokens(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens

    @property
    def include_usage(self) -> bool:
        return self.stream_options is not None and self.stream_options.include_usage


def query_of(messages: list[ChatMessage]) -> str:
    """The last user message's text: the query the level answers. ValueError when there is
    none, it is empty, too long or holds NUL characters."""
    users = [m for m in messages if m.role == "user"]
    if not users:
        raise ValueError("no user message: the last user message is the query")
    query = users[-1].text().strip()
    limit = get_settings().max_query_chars
    if not query:
        raise ValueError("the last user message is empty")
    if len(query) > limit:
        raise ValueError(f"the last user message is {len(query)} characters; the limit is {limit}")
    if "\x00" in query:
        raise ValueError("the last user message must not contain NUL characters")
    return query
