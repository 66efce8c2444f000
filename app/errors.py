"""Errors that reach users. The tree:

AppError(status, message)          -> JSON {"detail": message} with that status
├── NotFound                       404: unknown scenario, comparison, ...
├── NotReady                       503 + Retry-After: models still loading (`models_loading`)
├── Busy                           503 + Retry-After: too many comparisons waiting (`queue_full`)
└── DatabaseUnavailable            503 + Retry-After: Postgres does not answer (also what
                                   SQLAlchemy's OperationalError becomes on every route)

The API (`/api`, `/healthz`, `/readyz`) answers errors as JSON; browser pages get a friendly
error page, and htmx requests the `_partials/error.html` fragment. The OpenAI-compatible
routes (`/v1`) answer in OpenAI's format, `{"error": {"message", "type", "param", "code"}}`,
with a bad body as 400 (as OpenAI's API does) rather than 422; an error's `code` and `param`
fill those fields there.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from urllib.parse import unquote

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from starlette.exceptions import HTTPException
from starlette.middleware.base import RequestResponseEndpoint
from starlette.responses import Response

log = logging.getLogger(__name__)
OPENAI_PATH = "/v1"
JSON_PATHS = ("/api", "/healthz", "/readyz", "/docs", "/redoc", "/openapi.json", "/metrics")
TITLES = {
    404: "Not found",
    410: "Gone",
    422: "Bad request",
    500: "Something went wrong",
    503: "Not ready",
}


class AppError(Exception):
    status = 400
    headers: dict[str, str] = {}
    code: str | None = None  # OpenAI's `code` and `param`, on the /v1 routes
    param: str | None = None

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(AppError):
    status = 404


class NotReady(AppError):
    status = 503
    headers = {"Retry-After": "10"}
    code = "models_loading"


class Busy(AppError):
    status = 503
    headers = {"Retry-After": "5"}
    code = "queue_full"


class DatabaseUnavailable(AppError):
    status = 503
    headers = {"Retry-After": "5"}
    code = "database_unavailable"


def wants_json(request: Request) -> bool:
    return request.url.path.startswith(JSON_PATHS)


def wants_openai(request: Request) -> bool:
    path = request.url.path
    return path == OPENAI_PATH or path.startswith(OPENAI_PATH + "/")


def openai_error(
    status: int,
    message: str,
    headers: Mapping[str, str] | None = None,
    *,
    code: str | None = None,
    param: str | None = None,
) -> JSONResponse:
    """An error in OpenAI's format; a refused body is 400 there, as OpenAI's API answers."""
    status = 400 if status == 422 else status
    body = openai_error_body(status, message, code=code, param=param)
    return JSONResponse(body, status, headers=dict(headers or {}))


def openai_error_body(
    status: int, message: str, *, code: str | None = None, param: str | None = None
) -> dict[str, dict[str, str | None]]:
    kind = "server_error" if status >= 500 else "invalid_request_error"
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def validation_param(error: Mapping) -> str | None:
    """The request field a validation error is about, as `messages.0.content`."""
    loc = [str(part) for part in error.get("loc", ()) if part != "body"]
    return ".".join(loc) or None


def error_page(
    request: Request, status: int, message: str, headers: Mapping[str, str] | None = None
) -> Response:
    """The error page, or its fragment for htmx (the templates load only when needed)."""
    from app.web.render import render

    context = {"status": status, "title": TITLES.get(status, "Error"), "message": message}
    response = render(request, "error.html", "_partials/error.html", context, status)
    response.headers.update(headers or {})
    return response


def install_handlers(app: FastAPI) -> None:
    @app.middleware("http")
    async def refuse_nul_in_address(
        request: Request, call_next: RequestResponseEndpoint
    ) -> Response:
        # Postgres text cannot hold NUL: a path or query parameter with one would fail in the
        # database as a 500. Refused here, once, for every route.
        if "\x00" in request.url.path or "\x00" in unquote(request.url.query):
            message = "NUL characters are not allowed in the address"
            if wants_openai(request):
                return openai_error(400, message)
            if wants_json(request):
                return JSONResponse({"detail": message}, 422)
            return error_page(request, 422, message)
        return await call_next(request)

    @app.exception_handler(AppError)
    async def app_error(request: Request, error: AppError) -> Response:
        if wants_openai(request):
            return openai_error(
                error.status, error.message, error.headers, code=error.code, param=error.param
            )
        if wants_json(request):
            return JSONResponse({"detail": error.message}, error.status, headers=error.headers)
        return error_page(request, error.status, error.message, error.headers)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> Response:
        if wants_openai(request):
            return openai_error(error.status_code, str(error.detail), error.headers)
        if wants_json(request):
            return await http_exception_handler(request, error)
        message = "There is no such page." if error.status_code == 404 else str(error.detail)
        return error_page(request, error.status_code, message, error.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> Response:
        if wants_openai(request):
            first = error.errors()[0]
            message = "; ".join(field_error(e) for e in error.errors())
            return openai_error(400, message, param=validation_param(first))
        if wants_json(request):
            return JSONResponse({"detail": jsonable_encoder(shown_errors(error.errors()))}, 422)
        fields = "; ".join(f"{e['loc'][-1]}: {e['msg']}" for e in error.errors())
        return error_page(request, 422, f"The address has a bad value ({fields}).")

    @app.exception_handler(OperationalError)
    @app.exception_handler(InterfaceError)
    async def database_gone(request: Request, error: DBAPIError) -> Response:
        # the server stopped or the connection broke: a clear 503 while the runtime brings
        # it back (an embedded server is restarted), not a 500 with a traceback per request
        log.warning("database unavailable on %s %s: %s", request.method, request.url.path, error)
        runtime = getattr(request.app.state, "runtime", None)
        if runtime is not None:
            runtime.database_lost()
        message = "the database is unavailable; retry shortly"
        return await app_error(request, DatabaseUnavailable(message))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        if wants_openai(request):
            return openai_error(500, "internal error; see the server log")
        if wants_json(request):
            return JSONResponse({"detail": "internal error; see the server log"}, 500)
        return error_page(request, 500, "An unexpected error happened; see the server log.")


def shown_errors(errors: Sequence[Mapping]) -> list[dict]:
    """Validation errors as JSON can show them: an `input` of bytes that are not UTF-8 (a body
    that is not text) is decoded with replacement characters rather than failing the 422."""
    return [{**e, "input": shown(e["input"])} if "input" in e else dict(e) for e in errors]


def shown(value: object) -> object:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, str):
        return value.encode("utf-8", "replace").decode("utf-8")  # a lone surrogate -> "?"
    return value


def field_error(error: Mapping) -> str:
    param = validation_param(error)
    return f"{param}: {error['msg']}" if param else str(error["msg"])
