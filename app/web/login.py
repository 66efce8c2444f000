"""The login and logout pages: a session cookie for the browser (app/auth/accounts.py), with
failed logins rate-limited in Postgres (app/auth/ratelimit.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from app.auth.accounts import check_password, end_session, start_session
from app.auth.guard import SESSION_COOKIE
from app.auth.ratelimit import login_blocked, record_login
from app.deps import SessionDep, SettingsDep
from app.web.render import templates

router = APIRouter(include_in_schema=False)
WRONG = "Wrong user name or password."  # never which of the two


def local_target(target: str) -> str:
    """Where to go after the login: a path on this server only (never `//other.site`)."""
    ok = target.startswith("/") and not target.startswith(("//", "/\\"))
    return target if ok else "/"


def login_page(request: Request, target: str, error: str | None = None, status: int = 200):
    context = {"next": local_target(target), "error": error}
    return templates.TemplateResponse(request, "login.html", context, status_code=status)


@router.get("/login")
def login_form(request: Request, next: str = "/") -> Response:
    return login_page(request, next)


@router.post("/login")
def log_in(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    name: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    """A session cookie for a matching name and password; 401 (either part wrong) or 429
    (too many failures: the password is not even checked) otherwise."""
    address = request.client.host if request.client else "unknown"
    if login_blocked(session, settings, name=name, address=address):
        message = "Too many failed logins; try again later."
        response = login_page(request, next, message, 429)
        response.headers["Retry-After"] = str(settings.login_window_s)
        return response
    user = check_password(session, name, password)
    record_login(session, settings, name=name, address=address, succeeded=user is not None)
    if user is None:
        session.commit()
        return login_page(request, next, WRONG, 401)
    token = start_session(session=session, user=user, hours=settings.session_hours)
    session.commit()
    response = RedirectResponse(local_target(next), 303)
    secure = settings.secure_cookies or request.url.scheme == "https"
    max_age = int(settings.session_hours * 3600)
    response.set_cookie(
        SESSION_COOKIE, token, max_age=max_age, httponly=True, samesite="lax", secure=secure
    )
    return response


@router.post("/logout")
def log_out(request: Request, session: SessionDep) -> Response:
    if token := request.cookies.get(SESSION_COOKIE):
        end_session(session=session, token=token)
        session.commit()
    response = RedirectResponse("/login", 303)
    response.delete_cookie(SESSION_COOKIE)
    return response
