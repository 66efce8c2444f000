"""Roles, each allowed what the one below it is: viewer (read), editor (run comparisons,
upload, train, evaluate, edit), admin (delete, manage users and keys)."""

from __future__ import annotations

from enum import IntEnum


class Role(IntEnum):
    """Ordered: a role satisfies every rule that asks for it or a lower one."""

    viewer = 1
    editor = 2
    admin = 3

    @classmethod
    def named(cls, name: str) -> Role:
        """The role called `name`; ValueError naming the roles for any other word."""
        try:
            return cls[name]
        except KeyError:
            raise ValueError(f"unknown role {name!r}: use viewer, editor or admin") from None


ROLE_NAMES = [role.name for role in Role]
