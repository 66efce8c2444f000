"""The login rate limit, counted in Postgres so that every replica sees the same attempts:
after `login_max_failures` failed logins for one user name, or from one client address, in
`login_window_s`, further logins are refused (429) without checking the password."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from app.auth.accounts import now
from app.config import Settings
from app.db.models import LoginAttempt


def login_blocked(session: Session, settings: Settings, *, name: str, address: str) -> bool:
    """Whether the name or the address used up its failures in the window."""
    since = now() - timedelta(seconds=settings.login_window_s)
    failed = LoginAttempt.succeeded.is_(False) & (LoginAttempt.attempted_at > since)
    for column, value in ((LoginAttempt.user_name, name), (LoginAttempt.address, address)):
        count = session.scalar(select(func.count()).where(failed, column == value))
        if count >= settings.login_max_failures:
            return True
    return False


def record_login(
    session: Session, settings: Settings, *, name: str, address: str, succeeded: bool
) -> None:
    """Note the attempt; a success clears the name's failures. Attempts older than the
    window are dropped here, so the table stays small."""
    since = now() - timedelta(seconds=settings.login_window_s)
    stale = LoginAttempt.attempted_at <= since
    cleared = (LoginAttempt.user_name == name) if succeeded else stale
    session.execute(delete(LoginAttempt).where(or_(stale, cleared)))
    session.add(LoginAttempt(user_name=name[:200], address=address[:64], succeeded=succeeded))
    session.flush()
