"""Checks every request passes before any route, in every mode (open on loopback included):

- the Host header names this server (else 400): a DNS-rebinding page cannot reach it;
- a change (any method but GET/HEAD/OPTIONS) sent by another site is refused (403), as its
  `Sec-Fetch-Site` or `Origin` header tells;
- each HTML answer carries a CSRF token (cookie + `request.state.csrf_token`, which
  templates/base.html puts in every form and htmx request; app/auth/access.py checks it);
- headers that keep the pages out of frames and sniffers.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.auth.rules import SAFE_METHODS
from app.auth.tokens import csrf_token_valid, load_secret, new_csrf_token
from app.config import Settings
from app.errors import error_page, openai_error, wants_json, wants_openai

CSRF_COOKIE = "tritune_csrf"
SESSION_COOKIE = "tritune_session"
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
WILDCARD_ADDRESSES = frozenset({"0.0.0.0", "::", ""})
SECURITY_HEADERS = {
    "x-frame-options": "DENY",
    "content-security-policy": "frame-ancestors 'none'; base-uri 'self'; form-action 'self'; "
    "object-src 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
}


def is_loopback(host: str) -> bool:
    """Whether `host` (an interface or a host name) is this machine only."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def host_name(host_header: str) -> str:
    """`example.com:8000` -> `example.com`, `[::1]:8000` -> `::1`."""
    if host_header.startswith("["):
        return host_header[1 : host_header.find("]")].lower()
    return host_header.rpartition(":")[0].lower() if ":" in host_header else host_header.lower()


def host_allowed(host_header: str, settings: Settings) -> bool:
    allowed = LOOPBACK_NAMES | {h.lower() for h in settings.allowed_hosts}
    if settings.host not in WILDCARD_ADDRESSES:
        allowed |= {settings.host.lower().strip("[]")}
    return "*" in allowed or host_name(host_header) in allowed


def cross_site(request: Request, settings: Settings) -> bool:
    """Whether a browser sent this change from a page of another origin (a port counts)."""
    origin = request.headers.get("origin")
    if origin is not None and origin in settings.trusted_origins:
        return False
    if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        return True
    if origin is None:  # not a browser, or an old one: the CSRF token decides
        return False
    return urlsplit(origin).netloc.lower() != request.headers.get("host", "").lower()


def csrf_secret(settings: Settings) -> bytes:
    if settings.secret_key is not None:
        return settings.secret_key.get_secret_value().encode()
    return load_secret_once(settings.data_dir.resolve() / "secret_key")


@lru_cache(maxsize=4)
def load_secret_once(path: Path) -> bytes:
    return load_secret(path)


def refusal(request: Request, status: int, message: str) -> Response:
    if wants_openai(request):
        return openai_error(status, message)
    if wants_json(request):
        return JSONResponse({"detail": message}, status)
    return error_page(request, status, message)


class RequestGuard:
    """The checks above, as plain ASGI middleware (streamed answers pass untouched)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        settings: Settings = scope["app"].state.runtime.settings
        refused = self.refuse(request, settings)
        if refused is not None:
            await refused(scope, receive, send)
            return
        token, fresh = self.csrf_token(request, settings)
        scope.setdefault("state", {})["csrf_token"] = token
        secure = settings.secure_cookies or request.url.scheme == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
                if fresh and headers.get("content-type", "").startswith("text/html"):
                    headers.append("set-cookie", csrf_cookie(token, secure))
            await send(message)

        await self.app(scope, receive, send_with_headers)

    @staticmethod
    def refuse(request: Request, settings: Settings) -> Response | None:
        if not host_allowed(request.headers.get("host", ""), settings):
            return refusal(request, 400, "this server does not answer to that host name")
        if request.method not in SAFE_METHODS and cross_site(request, settings):
            return refusal(request, 403, "cross-site request refused")
        return None

    @staticmethod
    def csrf_token(request: Request, settings: Settings) -> tuple[str, bool]:
        """The browser's token if it is still valid for its login, else a fresh one."""
        secret = csrf_secret(settings)
        cookie, login = request.cookies.get(CSRF_COOKIE), request.cookies.get(SESSION_COOKIE)
        if cookie and csrf_token_valid(secret, cookie, login):
            return cookie, False
        return new_csrf_token(secret, login), True


def csrf_cookie(token: str, secure: bool) -> str:
    flags = "; Secure" if secure else ""
    return f"{CSRF_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict{flags}"
