"""Errors that reach users. The tree:

AppError(status, message)          -> JSON {"detail": message} with that status
├── NotFound                       404: unknown scenario, comparison, ...
├── NotReady                       503 + Retry-After: models still loading
└── Busy                           503 + Retry-After: too many comparisons waiting
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

log = logging.getLogger(__name__)


class AppError(Exception):
    status = 400
    headers: dict[str, str] = {}

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(AppError):
    status = 404


class NotReady(AppError):
    status = 503
    headers = {"Retry-After": "10"}


class Busy(AppError):
    status = 503
    headers = {"Retry-After": "5"}


def install_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def app_error(request: Request, error: AppError) -> JSONResponse:
        return JSONResponse({"detail": error.message}, error.status, headers=error.headers)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse({"detail": "internal error; see the server log"}, 500)
