"""Accounts for the auth tests: a user of each role with a key, removed afterwards so that
the rest of the session runs open (no users), as on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import delete

from app.auth.accounts import add_user, create_key
from app.auth.roles import Role
from app.db.models import LoginAttempt, User

PASSWORD = "correct horse battery"


@dataclass
class Account:
    name: str
    role: Role
    key: str

    @property
    def bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


@contextmanager
def accounts(runtime) -> Iterator[dict[Role, Account]]:
    """A user per role (`auth-viewer`, ...) with the password PASSWORD and a key of that role."""
    made = {}
    with runtime.session() as session:
        for role in Role:
            user = add_user(session=session, name=f"auth-{role.name}", role=role, password=PASSWORD)
            _, token = create_key(session=session, user=user, name="tests")
            made[role] = Account(user.name, role, token)
        session.commit()
    try:
        yield made
    finally:
        with runtime.session() as session:
            session.execute(delete(User))
            session.execute(delete(LoginAttempt))
            session.commit()
