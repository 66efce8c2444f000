"""The secure default at start: without an admin the server serves a non-loopback interface
only when open access was chosen explicitly, and says so at every start."""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from app.auth.accounts import any_admin, any_user
from app.auth.guard import is_loopback
from app.config import Settings

log = logging.getLogger(__name__)


class StartRefused(RuntimeError):
    """The server would be open to its network: the message says the two ways out."""


def refusal_message(host: str) -> str:
    return (
        f"TriTune will not serve {host} without accounts: anyone who reaches it could change "
        "and delete everything. Either add an admin (`tritune user add NAME --role admin`), "
        "or choose open access explicitly (TRITUNE_OPEN_ACCESS=true), or listen on 127.0.0.1."
    )


def check_start(session: Session, settings: Settings) -> None:
    """Raise StartRefused, or log how the server is open (a warning in open access)."""
    if any_user(session):
        if settings.open_access:
            log.info("accounts exist: TRITUNE_OPEN_ACCESS has no effect; logins are required")
        if is_loopback(settings.host) or any_admin(session):
            return
    elif settings.open_access:
        log.warning(
            "OPEN ACCESS (TRITUNE_OPEN_ACCESS=true): no accounts; anyone who reaches %s can "
            "change and delete everything. Add an admin with `tritune user add`.",
            settings.host,
        )
        return
    elif is_loopback(settings.host):
        log.info("no accounts: open to this machine only (%s)", settings.host)
        return
    raise StartRefused(refusal_message(settings.host))
