"""`/api/v1/keys`: API keys for admins to create (shown once), list and revoke; the same
service as `tritune key`."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from app.auth.access import PrincipalDep
from app.auth.accounts import create_key, get_user, list_keys, revoke_key
from app.auth.roles import Role
from app.db.models import ApiKey
from app.deps import RecordId, SessionDep
from app.errors import AppError

router = APIRouter(prefix="/api/v1/keys", tags=["accounts"])


class KeyCreate(BaseModel):
    name: str = Field(min_length=1, max_length=100, description="What the key is for.")
    user: str | None = Field(
        None, max_length=64, description="Whose key it is; default: the caller."
    )
    role: Literal["viewer", "editor", "admin"] | None = Field(
        None, description="At most the user's role; default: theirs."
    )


class KeyPublic(BaseModel):
    id: int
    name: str
    user: str
    role: str
    prefix: str = Field(description="The key's first characters, to tell keys apart.")
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, key: ApiKey) -> KeyPublic:
        fields = ("id", "name", "role", "prefix", "created_at", "last_used_at", "revoked_at")
        return cls(user=key.user.name, **{name: getattr(key, name) for name in fields})


class KeyCreated(KeyPublic):
    key: str = Field(description="The key itself: shown this once, stored only as a hash.")


@router.get("")
def keys(session: SessionDep) -> list[KeyPublic]:
    return [KeyPublic.of(key) for key in list_keys(session)]


@router.post(
    "",
    status_code=201,
    responses={
        400: {"description": "no user named, or a role above the user's"},
        404: {"description": "no such user"},
    },
)
def new_key(body: KeyCreate, session: SessionDep, principal: PrincipalDep) -> KeyCreated:
    """A key for `user` (default: the caller); the answer is the only time it is shown."""
    owner = body.user or (principal.name if principal and principal.user_id else None)
    if owner is None:
        raise AppError("name the user the key is for (`user`)")
    user = get_user(session, owner)
    try:
        role = Role[body.role] if body.role else None
        key, token = create_key(session=session, user=user, name=body.name, role=role)
    except ValueError as error:
        raise AppError(str(error)) from None
    session.commit()
    return KeyCreated(key=token, **KeyPublic.of(key).model_dump())


@router.delete("/{key_id}", status_code=204, responses={404: {"description": "no such key"}})
def revoke(key_id: RecordId, session: SessionDep) -> Response:
    """Revoke a key: it stops working at once; its row stays, with the time."""
    revoke_key(session=session, key_id=key_id)
    session.commit()
    return Response(status_code=204)
