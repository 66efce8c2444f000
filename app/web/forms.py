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
    """One line per field, as a person reads it: `max_new_tokens: ... less than or equal ...`."""
    lines = []
    for item in error.errors():
        field = ".".join(str(part) for part in item["loc"]) or "form"
        lines.append(f"{field}: {item['msg'].removeprefix('Value error, ')}")
    return lines


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
