"""The app-wide dependencies every route runs: the CSRF token of a browser's change, then
who the request acts as (a key, a login, or open mode) against the route's rule.

    401: no credentials, or a wrong key      (pages: to the login page instead)
    403: a role below the route's rule, or a browser's change without its CSRF token
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from app.auth.accounts import OPEN, Principal, any_user, key_principal, session_principal
from app.auth.guard import CSRF_COOKIE, SESSION_COOKIE, csrf_secret, is_loopback
from app.auth.rules import PUBLIC, SAFE_METHODS, required_role
from app.auth.tokens import csrf_token_valid
from app.config import Settings
from app.errors import AppError

CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class LoginRequired(AppError):
    status = 401
    headers = {"WWW-Authenticate": "Bearer"}
    code = "invalid_api_key"  # OpenAI's code for the same answer on /v1


class Forbidden(AppError):
    status = 403
    code = "permission_denied"


def bearer_token(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


def from_browser(request: Request) -> bool:
    """A login cookie or the headers only browsers send; scripts with a key (or with nothing)
    are not asked for CSRF tokens: a page of another site cannot set their headers."""
    if bearer_token(request) is not None:
        return False
    headers = request.headers
    return SESSION_COOKIE in request.cookies or "origin" in headers or "sec-fetch-site" in headers


async def check_csrf(request: Request) -> None:
    """A browser's change carries the page's token (header or form field) matching its
    cookie. A JSON body needs none: no page can send one cross-site without CORS, which the
    server does not allow."""
    if request.method in SAFE_METHODS or not from_browser(request):
        return
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/json"):
        return
    submitted = request.headers.get(CSRF_HEADER)
    if submitted is None and content_type.startswith(FORM_TYPES):
        field = (await request.form()).get(CSRF_FIELD)
        submitted = field if isinstance(field, str) else None
    cookie = request.cookies.get(CSRF_COOKIE)
    secret = csrf_secret(request.app.state.runtime.settings)
    login = request.cookies.get(SESSION_COOKIE)
    if not (submitted and cookie and hmac.compare_digest(submitted, cookie)) or not (
        csrf_token_valid(secret, cookie, login)
    ):
        raise Forbidden("the CSRF token is missing or out of date: reload the page and retry")


def open_mode_allowed(settings: Settings) -> bool:
    """Without users: open on a loopback interface, elsewhere only when chosen explicitly."""
    return settings.open_access or is_loopback(settings.host)


def identify(session: Session, request: Request, settings: Settings) -> Principal | None:
    """Who the request acts as; None: nobody (401 where a role is needed)."""
    if not any_user(session):
        return OPEN if open_mode_allowed(settings) else None
    token = bearer_token(request)
    if token is not None:
        principal = key_principal(session, token)
        if principal is None:
            raise LoginRequired("invalid or revoked API key")
        return principal
    login = request.cookies.get(SESSION_COOKIE)
    return session_principal(session, login) if login else None


def authorize(request: Request) -> None:
    """The route's rule (app/auth/rules.py) against who is asking."""
    route = request.scope["route"]
    role = required_role(request.method, route.path)
    if role is PUBLIC:
        return
    runtime = request.app.state.runtime
    with runtime.session() as session:
        principal = identify(session, request, runtime.settings)
        session.commit()  # a key's last use
    request.state.principal = principal
    if principal is None:
        raise LoginRequired("log in, or send an API key as `Authorization: Bearer <key>`")
    if principal.role < role:
        needed, held = role.name, principal.role.name
        raise Forbidden(f"this needs the {needed} role; {principal.name} is {held}")


def current_principal(request: Request) -> Principal | None:
    """Who the request acts as, once `authorize` ran (None on public routes)."""
    return getattr(request.state, "principal", None)


REQUEST_CHECKS = [Depends(check_csrf), Depends(authorize)]
PrincipalDep = Annotated[Principal | None, Depends(current_principal)]
