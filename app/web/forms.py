"""The compare form: its fields become a `ComparisonCreate`, validated by the same rules as
the API's requests."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from pydantic import ValidationError

from app.compare import ComparisonCreate

FIELDS = set(ComparisonCreate.model_fields)


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
    return submitted


def error_messages(error: ValidationError) -> list[str]:
    """One line per field, as a person reads it: `max_new_tokens: ... less than or equal ...`."""
    lines = []
    for item in error.errors():
        field = ".".join(str(part) for part in item["loc"]) or "form"
        lines.append(f"{field}: {item['msg'].removeprefix('Value error, ')}")
    return lines
