"""The check every JSON body of the API gets before its fields are read: that its strings are
text. JSON lets a string hold a lone surrogate escape (`"\\ud800"`); Python reads it, but
neither UTF-8 nor Postgres can hold it, so it failed wherever the string went (a 500)."""

from __future__ import annotations

import json
import re

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError

# `\uD800` to `\uDFFF`: only a body holding such an escape is parsed here (a paired one is fine)
SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


async def refuse_lone_surrogates(request: Request) -> None:
    """422 (400 on the OpenAI-compatible routes) for a JSON body with a lone surrogate."""
    if "json" not in request.headers.get("content-type", ""):
        return
    body = await request.body()  # kept by the request: the route reads it again
    if not SURROGATE_ESCAPE.search(body):
        return
    try:
        json.dumps(json.loads(body), ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as error:
        bad = f"\\u{ord(error.object[error.start]):04x}"
        message = f"a lone surrogate ({bad}) in a string is not text; pair it or remove it"
        raise RequestValidationError(
            [{"type": "value_error", "loc": ("body",), "msg": message, "input": None}]
        ) from None
    except (ValueError, RecursionError):
        return  # not JSON: the route's own parsing says so


TEXT_BODIES = [Depends(refuse_lone_surrogates)]  # `dependencies=` of every JSON router
