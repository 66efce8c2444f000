"""`tritune user ...` and `tritune key ...`: accounts and API keys (app/auth/accounts.py, the
same service as `/api/v1/keys`). A password is asked for without echo, or read from
TRITUNE_USER_PASSWORD for scripts; it is never printed or logged."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from app.auth import accounts
from app.auth.roles import ROLE_NAMES, Role
from app.cli.context import cli_context
from app.cli.display import command_errors, console

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

users = typer.Typer(
    help="Add, list and remove users (viewer, editor, admin).", no_args_is_help=True
)
keys = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)

RoleName = Annotated[str, typer.Option(help=f"One of {', '.join(ROLE_NAMES)}.")]


@contextmanager
def account_session(ctx: typer.Context) -> Iterator[Session]:
    """A session on a migrated database, committed when the command succeeds."""
    with command_errors(), cli_context(ctx).open_runtime() as runtime, runtime.session() as s:
        yield s
        s.commit()


def role_named(name: str) -> Role:
    try:
        return Role.named(name)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--role") from None


@users.command("add")
def add_user(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="User name (what they log in with).")],
    role: RoleName = "viewer",
    password: Annotated[
        str,
        typer.Option(
            prompt=True,
            hide_input=True,
            confirmation_prompt=True,
            envvar="TRITUNE_USER_PASSWORD",
            help="Asked for if not given (at least 8 characters).",
        ),
    ] = "",
) -> None:
    """Add a user who logs in to the web pages; `--role admin` manages users and keys."""
    chosen = role_named(role)
    if not 1 <= len(name) <= 64:
        raise typer.BadParameter("a user name has 1 to 64 characters", param_hint="NAME")
    with account_session(ctx) as session:
        try:
            accounts.add_user(session=session, name=name, role=chosen, password=password)
        except ValueError as error:
            raise typer.BadParameter(str(error), param_hint="--password") from None
    console.print(f"[bold]user[/] {name} added ({chosen.name})", highlight=False)


@users.command("list")
def list_users(ctx: typer.Context) -> None:
    """Every user and their role."""
    table = Table("name", "role", "created")
    with account_session(ctx) as session:
        for user in accounts.list_users(session):
            table.add_row(user.name, user.role, f"{user.created_at:%Y-%m-%d %H:%M}")
    console.print(table)


@users.command("remove")
def remove_user(
    ctx: typer.Context, name: Annotated[str, typer.Argument(help="The user's name.")]
) -> None:
    """Remove a user with their keys and logins (the last admin stays)."""
    with account_session(ctx) as session:
        accounts.remove_user(session=session, name=name)
    console.print(f"[bold]user[/] {name} removed", highlight=False)


@keys.command("create")
def create_key(
    ctx: typer.Context,
    user: Annotated[str, typer.Option(help="Whose key it is.")],
    name: Annotated[str, typer.Option(help="What the key is for.")] = "cli",
    role: Annotated[str | None, typer.Option(help="At most the user's role (default).")] = None,
) -> None:
    """Create an API key and print it once (send it as `Authorization: Bearer KEY`)."""
    chosen = role_named(role) if role else None
    with account_session(ctx) as session:
        owner = accounts.get_user(session, user)
        try:
            key, token = accounts.create_key(session=session, user=owner, name=name, role=chosen)
        except ValueError as error:
            raise typer.BadParameter(str(error), param_hint="--role") from None
        role_name = key.role
    console.print(f"[bold]key[/] for {user} ({role_name}); shown only now:", highlight=False)
    print(token)  # plain, so that scripts can capture it


@keys.command("list")
def list_keys(ctx: typer.Context) -> None:
    """Every key: id, user, role, first characters, last use, revocation."""
    table = Table("id", "name", "user", "role", "key", "last used", "revoked")
    with account_session(ctx) as session:
        for key in accounts.list_keys(session):
            table.add_row(
                str(key.id),
                key.name,
                key.user.name,
                key.role,
                key.prefix + "…",
                when(key.last_used_at),
                when(key.revoked_at),
            )
    console.print(table)


@keys.command("revoke")
def revoke_key(
    ctx: typer.Context, key_id: Annotated[int, typer.Argument(help="The key's id.")]
) -> None:
    """Revoke a key: it stops working at once."""
    with account_session(ctx) as session:
        accounts.revoke_key(session=session, key_id=key_id)
    console.print(f"[bold]key[/] {key_id} revoked", highlight=False)


def when(moment: object) -> str:
    return f"{moment:%Y-%m-%d %H:%M}" if moment else "–"
