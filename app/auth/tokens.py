"""Secrets handed to clients: API keys and session cookies (random, stored as SHA-256), and
the signed double-submit CSRF token."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from pathlib import Path

KEY_PREFIX = "tt_"


def new_api_key() -> str:
    """A key for scripts: `tt_` and 256 random bits."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def new_session_token() -> str:
    return secrets.token_urlsafe(32)


def digest(token: str) -> str:
    """What the database keeps of a key or session: a SHA-256 is enough for 256 random bits
    (a slow password hash would only slow every request)."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def new_csrf_token(secret: bytes, session: str | None) -> str:
    """A random nonce signed together with the browser's session cookie (if any), so that a
    token is worth nothing with another login."""
    nonce = secrets.token_urlsafe(18)
    return f"{nonce}.{csrf_signature(secret, nonce, session)}"


def csrf_token_valid(secret: bytes, token: str | None, session: str | None) -> bool:
    nonce, _, signature = (token or "").partition(".")
    return bool(nonce) and hmac.compare_digest(signature, csrf_signature(secret, nonce, session))


def csrf_signature(secret: bytes, nonce: str, session: str | None) -> str:
    message = f"csrf|{nonce}|{digest(session or '')}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def load_secret(path: Path) -> bytes:
    """The signing key kept in `path`, made (readable by its owner only) on first use."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600, exist_ok=True)
        if not path.read_text().strip():
            path.write_text(secrets.token_hex(32))
    return path.read_text().strip().encode()
