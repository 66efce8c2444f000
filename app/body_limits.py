"""Request bodies refused by size before they are read: an ASGI middleware.

Starlette spools a multipart upload to disk (and a JSON body into memory) before a route can
look at its size, so a route's own check comes after the harm. `BodyLimits` checks each
request's `Content-Length` and counts the bytes as they stream in; past the route's limit the
request fails with 413 at once, whether or not a length was declared. The limit of a route is
one of `UPLOAD_LIMITS` (uploads: documents, datasets, eval sets, bundles), else the
`max_request_bytes` setting.

A request over its limit fails where the route reads its body, as an `HTTPException(413)`, so
the app's error handlers answer it as JSON for the API and as a page for the browser.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.config import Settings
from app.evals.items import MAX_UPLOAD_BYTES as MAX_EVAL_SET_BYTES
from app.scenarios.bundle_files import MAX_BUNDLE_BYTES

# What multipart adds around the files (boundaries, part headers, the form's small fields).
FORM_OVERHEAD = 64 * 1024
Limit = Callable[[Settings], int]
UPLOAD_LIMITS: list[tuple[re.Pattern[str], Limit]] = [
    (
        re.compile(r"^(/api/v1)?/scenarios/[^/]+/documents$"),
        lambda s: s.max_documents_request_bytes,
    ),
    (
        re.compile(r"^(/api/v1)?/scenarios/[^/]+/datasets$"),
        lambda s: 2 * s.max_upload_bytes + FORM_OVERHEAD,  # the train and the eval file
    ),
    (
        re.compile(r"^(/api/v1)?/scenarios/[^/]+/eval-sets$"),
        lambda s: MAX_EVAL_SET_BYTES + FORM_OVERHEAD,
    ),
    (re.compile(r"^(/api/v1)?/scenarios/import$"), lambda s: MAX_BUNDLE_BYTES + FORM_OVERHEAD),
    # an adapter trained elsewhere (its weights, or an archive of them): a bundle's limit
    (
        re.compile(r"^(/api/v1/scenarios/[^/]+/adapters|/scenarios/[^/]+/adapters/import)$"),
        lambda s: MAX_BUNDLE_BYTES + FORM_OVERHEAD,
    ),
]


class BodyTooLarge(HTTPException):
    """413: the request body is over the route's limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than {limit:,} bytes")


def body_limit(path: str, settings: Settings) -> int:
    """The most bytes a request to `path` may send."""
    for pattern, limit in UPLOAD_LIMITS:
        if pattern.match(path):
            return limit(settings)
    return settings.max_request_bytes


class BodyLimits:
    """ASGI middleware: a request body past its route's limit fails with 413 as it arrives
    (`settings` is called per request: the app's settings are known only once it starts)."""

    def __init__(self, app: ASGIApp, settings: Callable[[], Settings]) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = body_limit(scope["path"], self.settings())
        await self.app(scope, counted(receive, limit, declared_length(scope)), send)


def declared_length(scope: Scope) -> int | None:
    value = Headers(scope=scope).get("content-length")
    return int(value) if value and value.isdigit() else None


def counted(receive: Receive, limit: int, declared: int | None) -> Receive:
    """`receive` that fails once the body is past `limit` (at once when it says it will be)."""
    received = 0

    async def receive_within_limit() -> Message:
        nonlocal received
        if declared is not None and declared > limit:
            raise BodyTooLarge(limit)
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise BodyTooLarge(limit)
        return message

    return receive_within_limit
