"""The scenario form (new and edit): what was typed, as text to show again, and the request
it makes (`ScenarioCreate` / `ScenarioUpdate`, the API's rules), with an error per field.

A blank box of a field that has a default (few-shot k, the rag level's retrieval settings,
the finetune level's system prompt, the output schema, the generation settings) means "the
default"; the output schema is typed
as JSON text and parsed here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, TypeVar

from fastapi import Request
from pydantic import BaseModel, ValidationError

from app.db.models import Scenario
from app.errors import AppError
from app.scenarios.prompts import (
    DEFAULT_RAG_INSTRUCTION,
    DEFAULT_RAG_TEMPLATE,
    DEFAULT_SYSTEM_PROMPT,
)
from app.scenarios.requests import NULLABLE
from app.scenarios.service import COPIED_SETTINGS
from app.web.forms import field_errors

FIELDS = ("slug", "name", "description", *COPIED_SETTINGS, "note")  # what the form edits
Model = TypeVar("Model", bound=BaseModel)
CHOICES = ("few_shot_selection",)
ONE_LINE = (
    "slug",
    "name",
    "few_shot_k",
    "few_shot_selection",
    "few_shot_seed",
    "few_shot_examples",
    "rag_top_k",
    "rag_candidates",
    "rag_vector_weight",
    "rag_keyword_weight",
    "max_new_tokens",
    "temperature",
    "pricing_profile",
    "note",
)


@dataclass
class ScenarioForm:
    """The form's text per field and its errors per field ("form": not about one field)."""

    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)

    def add_error(self, error: AppError) -> None:
        """A service error; one whose message starts with a field's name goes next to it."""
        name, _, rest = error.message.partition(": ")
        if name in self.values and rest:
            self.errors.setdefault(name, rest)
        else:
            self.errors.setdefault("form", error.message)


def new_form() -> ScenarioForm:
    """The new-scenario form, prefilled with the default prompts."""
    values = dict.fromkeys(FIELDS, "")
    values.update(
        system_prompt=DEFAULT_SYSTEM_PROMPT,
        rag_instruction=DEFAULT_RAG_INSTRUCTION,
        rag_template=DEFAULT_RAG_TEMPLATE,
        few_shot_selection="nearest",
    )
    return ScenarioForm(values)


def edit_form(scenario: Scenario) -> ScenarioForm:
    """The edit form, prefilled with the scenario's fields (a default shows as blank)."""
    values = {name: as_text(getattr(scenario, name, None)) for name in FIELDS}
    values["few_shot_examples"] = ", ".join(map(str, scenario.few_shot_examples or []))
    if scenario.output_schema is not None:
        values["output_schema"] = json.dumps(scenario.output_schema, indent=2, ensure_ascii=False)
    return ScenarioForm(values)


def as_text(value: Any) -> str:
    return "" if value is None else str(value)


async def submitted_form(request: Request, fields: tuple[str, ...] = FIELDS) -> ScenarioForm:
    """What was typed, with browsers' CRLF line ends made plain newlines."""
    form = await request.form()
    values = {}
    for name in fields:
        value = form.get(name)
        text = value.replace("\r\n", "\n") if isinstance(value, str) else ""
        values[name] = text.strip() if name in ONE_LINE else text
    return ScenarioForm(values)


def parsed_request(form: ScenarioForm, model: type[Model]) -> Model | None:
    """The request the form makes, or None with `form.errors` filled in."""
    values: dict[str, Any] = {}
    for name, text in form.values.items():
        if name not in model.model_fields:
            continue
        if name in NULLABLE and not text.strip():
            values[name] = None
        elif name in CHOICES and not text:
            continue  # a form without the choice: the default (new) or unchanged (edit)
        elif name == "output_schema":
            values[name] = parsed_json(form, text)
        elif name == "few_shot_examples":
            values[name] = parsed_lines(form, text)
        else:
            values[name] = text
    for name in ("output_schema", "few_shot_examples"):
        if name in form.errors:
            values.pop(name, None)
    try:
        request = model(**values)
    except ValidationError as error:
        form.errors = {**field_errors(error), **form.errors}
        return None
    return None if form.errors else request


def parsed_json(form: ScenarioForm, text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        form.errors["output_schema"] = (
            f"not valid JSON (line {error.lineno}, column {error.colno}: {error.msg})"
        )
        return None


def parsed_lines(form: ScenarioForm, text: str) -> list[int] | None:
    """'3, 7, 12' as [3, 7, 12] (an error on the field otherwise)."""
    try:
        return [int(part) for part in text.replace(",", " ").split()]
    except ValueError:
        form.errors["few_shot_examples"] = "list train line numbers, e.g. 3, 7, 12"
        return None
