"""Accounts and request checks (docs/security.md).

- `guard`: middleware every request passes (Host, cross-site changes, CSRF cookie, headers);
- `access`: the app-wide dependencies (CSRF token, then the route's role from `rules`);
- `accounts`, `passwords`, `tokens`, `ratelimit`: users, keys, logins, and their secrets;
- `startup`: the refusal to serve a non-loopback interface without an admin.

`create_app` passes `REQUEST_CHECKS` as the app's dependencies and calls `install`.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from app.auth.access import REQUEST_CHECKS, LoginRequired
from app.auth.guard import RequestGuard
from app.errors import error_page, openai_error, wants_json, wants_openai

__all__ = ["REQUEST_CHECKS", "install"]


def install(app: FastAPI) -> None:
    """The middleware, and pages that send a visitor without a login to the login page."""
    app.add_middleware(RequestGuard)
    app.add_exception_handler(LoginRequired, login_required)  # type: ignore[arg-type]


async def login_required(request: Request, error: LoginRequired) -> Response:
    """401 for the API (OpenAI's format on /v1); a page goes to the login and back."""
    if wants_openai(request):
        return openai_error(401, error.message, error.headers, code=error.code)
    if wants_json(request):
        return JSONResponse({"detail": error.message}, 401, headers=error.headers)
    asked = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    login = "/login?next=" + quote(asked, safe="")
    if request.headers.get("HX-Request") == "true":
        return Response(status_code=401, headers={"HX-Redirect": login})
    if request.method == "GET":
        return RedirectResponse(login, 303)
    return error_page(request, 401, "Log in first.")
