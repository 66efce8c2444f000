"""Users, their API keys and browser sessions: the queries, for the CLI, the login pages and
the request checks alike. Callers commit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, exists, func, select
from sqlalchemy.orm import Session

from app.auth.passwords import hash_password, password_matches
from app.auth.roles import Role
from app.auth.tokens import digest, new_api_key, new_session_token
from app.db.models import ApiKey, User, WebSession
from app.errors import AppError, NotFound


class AccountConflict(AppError):
    status = 409


@dataclass(frozen=True)
class Principal:
    """Who a request acts as: a user (by login or key) or, in open mode, nobody in particular
    with every right."""

    name: str
    role: Role
    user_id: int | None = None
    via: str = "open"  # "open", "session" or "key"


OPEN = Principal(name="anonymous", role=Role.admin)


def now() -> datetime:
    return datetime.now(UTC)


def any_user(session: Session) -> bool:
    return bool(session.scalar(select(exists().where(User.id.is_not(None)))))


def any_admin(session: Session) -> bool:
    return bool(session.scalar(select(exists().where(User.role == Role.admin.name))))


def add_user(*, session: Session, name: str, role: Role, password: str) -> User:
    """A new user; AppError (409) when the name is taken, ValueError for a short password."""
    if session.scalar(select(User.id).where(User.name == name)) is not None:
        raise AccountConflict(f"a user named {name!r} exists")
    user = User(name=name, role=role.name, password_hash=hash_password(password))
    session.add(user)
    session.flush()
    return user


def get_user(session: Session, name: str) -> User:
    user = session.scalar(select(User).where(User.name == name))
    if user is None:
        raise NotFound(f"no user named {name!r}")
    return user


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.name)))


def remove_user(*, session: Session, name: str) -> None:
    """Delete a user with their keys and sessions; the last admin stays (409)."""
    user = get_user(session, name)
    admins = session.scalar(select(func.count()).where(User.role == Role.admin.name))
    if user.role == Role.admin.name and admins == 1:
        raise AccountConflict("the last admin cannot be removed: add another admin first")
    session.delete(user)
    session.flush()


def check_password(session: Session, name: str, password: str) -> User | None:
    """The user when name and password match, else None (either part wrong, same answer)."""
    user = session.scalar(select(User).where(User.name == name))
    matches = password_matches(user.password_hash if user else None, password)
    return user if matches else None


def create_key(
    *, session: Session, user: User, name: str, role: Role | None = None
) -> tuple[ApiKey, str]:
    """A new API key for `user` with `role` (default: the user's) and the key itself, which
    is shown once: only its SHA-256 is kept. ValueError when the role is above the user's."""
    role = role or Role[user.role]
    if role > Role[user.role]:
        raise ValueError(f"{user.name} is {user.role}: a key cannot be {role.name}")
    token = new_api_key()
    key = ApiKey(user_id=user.id, name=name, role=role.name, prefix=token[:10])
    key.token_sha256 = digest(token)
    session.add(key)
    session.flush()
    return key, token


def list_keys(session: Session) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).order_by(ApiKey.id)))


def revoke_key(*, session: Session, key_id: int) -> ApiKey:
    key = session.get(ApiKey, key_id)
    if key is None:
        raise NotFound(f"no API key {key_id}")
    key.revoked_at = key.revoked_at or now()
    session.flush()
    return key


def key_principal(session: Session, token: str) -> Principal | None:
    """Who a live key acts as (the lower of its role and its user's), noting its use."""
    key = session.scalar(
        select(ApiKey).where(ApiKey.token_sha256 == digest(token), ApiKey.revoked_at.is_(None))
    )
    if key is None:
        return None
    key.last_used_at = now()
    role = min(Role[key.role], Role[key.user.role])
    return Principal(name=key.user.name, role=role, user_id=key.user_id, via="key")


def start_session(*, session: Session, user: User, hours: float) -> str:
    """A browser login: the cookie's value, returned once."""
    token = new_session_token()
    expires = now() + timedelta(hours=hours)
    session.add(WebSession(user_id=user.id, token_sha256=digest(token), expires_at=expires))
    session.flush()
    return token


def session_principal(session: Session, token: str) -> Principal | None:
    login = session.scalar(
        select(WebSession).where(
            WebSession.token_sha256 == digest(token), WebSession.expires_at > now()
        )
    )
    if login is None:
        return None
    user = login.user
    return Principal(name=user.name, role=Role[user.role], user_id=user.id, via="session")


def end_session(*, session: Session, token: str) -> None:
    session.execute(delete(WebSession).where(WebSession.token_sha256 == digest(token)))
