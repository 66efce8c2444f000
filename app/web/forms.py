"""The compare form: its fields become a `ComparisonCreate`, validated by the same rules as
the API's requests."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from pydantic import ValidationError

from app.compare import ComparisonCreate

FIELDS = set(ComparisonCreate.model_fields) - {"prompt_versions"}
VERSION_FIELD = "prompt_version_"  # `prompt_version_<level>`: that level's pinned version


async def form_fields(request: Request) -> dict[str, Any]:
    """The submitted form: known fields only, blank settings meaning 'the default' (a blank
    query stays, so that its error says it is empty)."""
    form = await request.form()
    submitted: dict[str, Any] = {
        name: value.strip()
        for name, value in form.items()
        if name in FIELDS - {"levels"}
        and isinstance(value, str)
        and (value.strip() or name == "query")
    }
    submitted["levels"] = form.getlist("levels")
    pinned = {
        name.removeprefix(VERSION_FIELD): value
        for name, value in form.items()
        if name.startswith(VERSION_FIELD) and isinstance(value, str) and value.strip()
    }
    if pinned:  # validated as numbers by ComparisonCreate
        submitted["prompt_versions"] = pinned
    return submitted


def error_messages(error: ValidationError) -> list[str]:
    """One sentence per error, as a person reads it: `Choose at least one level`, `Max new
    tokens must be at most 1024` (not pydantic's `levels: List should have at least ...`)."""
    lines = []
    for item in error.errors():
        field = ".".join(str(part) for part in item["loc"]) or "form"
        lines.append(sentence(field, item))
    return list(dict.fromkeys(lines))


def sentence(field: str, item: Any) -> str:
    """The error as a sentence: a whole sentence where one is written for it, else the
    field's label and the rule it broke."""
    whole = SENTENCES.get((field.split(".")[0], item["type"]))
    if whole:
        return whole
    wording = human_wording(field, item)
    label = field_label(field)
    if wording.lower().startswith(label.lower()):  # a validator that names its field
        return wording[0].upper() + wording[1:]
    if item["type"] == "value_error":
        return f"{label}: {wording}"
    return f"{label} {wording}"


def field_label(field: str) -> str:
    """`max_new_tokens` -> `Max new tokens`; `prompt_versions.rag` -> `The rag prompt
    version`."""
    name, _, part = field.partition(".")
    if name == "prompt_versions" and part:
        return f"The {part} prompt version"
    label = LABELS.get(name) or name.replace("_", " ")
    return label[0].upper() + label[1:]


LABELS = {"top_k": "top-k chunks", "few_shot_k": "few-shot k", "form": "the form"}
# Errors that read best as a sentence of their own.
SENTENCES = {
    ("levels", "too_short"): "Choose at least one level",
    ("levels", "missing"): "Choose at least one level",
    ("kinds", "too_short"): "Choose at least one kind of item",
    ("query", "missing"): "Type a query",
}


# What a person reads for each kind of pydantic error (its context fills the braces); a
# validator's own message (`value_error`) is already written for people.
WORDING = {
    "missing": "is required",
    "string_too_short": "must be at least {min_length} characters long",
    "string_too_long": "must be at most {max_length:,} characters",
    "string_pattern_mismatch": "does not have the right form",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_parsing": "must be a number",
    "greater_than_equal": "must be at least {ge}",
    "less_than_equal": "must be at most {le}",
    "dict_type": "must be a JSON object",
    "too_short": "needs at least {min_length}",
    "too_long": "takes at most {max_length}",
    "extra_forbidden": "is not a field of this form",
    "bool_parsing": "must be yes or no",
    "literal_error": "must be one of {expected}",
    "greater_than": "must be more than {gt}",
    "less_than": "must be less than {lt}",
}
# Where a rule's wording needs the field: a slug's pattern is said in words.
FIELD_WORDING = {
    ("slug", "string_pattern_mismatch"): "use lower-case letters, digits and '-' (not first), "
    "at most 63 characters",
}


def field_errors(error: ValidationError) -> dict[str, str]:
    """The first error of each field, worded for a person, keyed by the field's name."""
    errors: dict[str, str] = {}
    for item in error.errors():
        field = str(item["loc"][0]) if item["loc"] else "form"
        errors.setdefault(field, human_wording(field, item))
    return errors


def human_wording(field: str, item: Any) -> str:
    kind = item["type"]
    if kind == "value_error":
        return str(item["msg"]).removeprefix("Value error, ")
    if kind == "string_too_short" and item["ctx"]["min_length"] == 1:
        return "must not be empty"
    wording = FIELD_WORDING.get((field, kind)) or WORDING.get(kind)
    if wording is None:
        return str(item["msg"])
    return wording.format(**item.get("ctx", {}))
