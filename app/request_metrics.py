"""Request latency by route template, as a pure ASGI middleware (streamed responses pass
through untouched; the time runs until the response's last byte is sent).

The route label is the matched route's template (`/api/v1/comparisons/{comparison_id}`), not
the raw path, so that every comparison does not open a series of its own; a request no
route matched is labelled `unmatched`, a static file `/static`.
"""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.metrics import HTTP_REQUEST_SECONDS


class RequestMetrics:
    """Observes every HTTP request's duration in `tritune_http_request_duration_seconds`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client gets when the app raises before it answers

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            labels = (scope["method"], route_template(scope), str(status))
            HTTP_REQUEST_SECONDS.labels(*labels).observe(time.perf_counter() - started)


def route_template(scope: Scope) -> str:
    """The path template of the route that served the request (routing records it in the
    scope), `/static` for static files, `unmatched` when none matched."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if path:
        return path
    return "/static" if scope.get("path", "").startswith("/static/") else "unmatched"
