"""Response shapes of the REST API (v1) that only the API returns; a comparison's request
and public shapes live with the comparison service (`app.compare`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from app.compare import ComparisonPublic


class ComparisonsPublic(BaseModel):
    items: list[ComparisonPublic]
    total: int
    limit: int
    offset: int


class ScenarioPublic(BaseModel):
    """A scenario: its fields (app/scenarios/requests.py describes them; null means the
    default), what it holds, and its active adapter."""

    slug: str
    name: str
    description: str
    system_prompt: str
    documents: int
    chunks: int
    examples: int
    active_adapter: str | None
    # since the scenarios became editable (revision 0008)
    few_shot_k: int | None
    few_shot_dataset_id: int | None
    rag_instruction: str
    rag_template: str
    finetune_system_prompt: str | None
    output_schema: dict[str, Any] | None
    max_new_tokens: int | None
    temperature: float | None
    created_at: datetime
    # since prompts are versioned (revision 0009)
    few_shot_selection: str
    few_shot_seed: int | None
    few_shot_examples: list[int] | None
    pricing_profile: str | None
    pricing: str | None
    prompt_versions: dict[str, int]  # level -> its latest version's number
    # the rag level's retrieval settings (revision 0010; null: the settings')
    rag_top_k: int | None
    rag_candidates: int | None
    rag_vector_weight: float | None
    rag_keyword_weight: float | None


class PromptVersionPublic(BaseModel):
    """One version of a level's prompt: the values of the level's prompt fields."""

    level: str
    number: int
    sha256: str
    note: str
    created_at: datetime
    content: dict[str, Any]


class FieldChange(BaseModel):
    field: str
    changed: bool
    diff: list[str]  # unified diff lines, empty when unchanged


class PromptDiff(BaseModel):
    level: str
    old: int
    new: int
    changes: list[FieldChange]


class ScenarioDeleted(BaseModel):
    """What deleting a scenario removed, rows per kind (its adapters' files too)."""

    slug: str
    removed: dict[str, int]


class FieldProblem(BaseModel):
    """One refused field of a request, as FastAPI reports it."""

    model_config = ConfigDict(extra="allow")  # `input`, `ctx`, `url` come and go

    loc: list[str | int]
    msg: str
    type: str


class ErrorBody(BaseModel):
    """Every error of the JSON API: `detail` is a message, or for a refused field each
    problem with its location. Some errors add fields beside it: a dataset's validation
    `report`, a bundle's `errors`."""

    model_config = ConfigDict(extra="allow")

    detail: str | list[FieldProblem]


class OpenAIErrorMessage(BaseModel):
    message: str
    type: str
    param: str | None
    code: str | None


class OpenAIError(BaseModel):
    """An error of the OpenAI-compatible routes, in OpenAI's format."""

    error: OpenAIErrorMessage


def error_responses(model: type[BaseModel]) -> dict[int | str, dict[str, Any]]:
    """The error statuses the routes answer, each with its body (`responses=` of a router)."""
    described = {
        400: "The request cannot be served as sent (the message says why).",
        404: "No such scenario, document, comparison, job or adapter.",
        409: "In conflict with the current state (a slug taken, a job running or finished).",
        413: "An upload over its size limit.",
        422: "A refused field or file: the message, or each field's problem, says which.",
        503: "Models still loading or the queue full: retry after `Retry-After` seconds.",
    }
    return {status: {"model": model, "description": text} for status, text in described.items()}


API_ERRORS = error_responses(ErrorBody)
OPENAI_ERRORS = error_responses(OpenAIError)
