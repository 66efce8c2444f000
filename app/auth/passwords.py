"""Password hashing with argon2 (argon2-cffi's defaults, RFC 9106's low-memory profile)."""

from __future__ import annotations

from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

HASHER = PasswordHasher()
MIN_LENGTH = 8


def hash_password(password: str) -> str:
    """The argon2 hash to store; ValueError for a password too short to keep anyone out."""
    if len(password) < MIN_LENGTH:
        raise ValueError(f"a password needs at least {MIN_LENGTH} characters")
    return HASHER.hash(password)


def password_matches(stored_hash: str | None, password: str) -> bool:
    """Whether `password` is the one hashed. With no hash (an unknown user name) a dummy hash is
    checked all the same, so that the time taken does not tell which part was wrong."""
    try:
        return HASHER.verify(stored_hash or dummy_hash(), password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


@lru_cache(maxsize=1)
def dummy_hash() -> str:
    return HASHER.hash("not anyone's password")
