"""Live comparisons between the form that validated them and the stream that runs them.

The compare page validates a run, stores it here under a random token and answers with its
live view; the view connects to `GET /compare/stream/{token}`, which takes the run (once)
and streams it. Both rows and the cancel switch live in Postgres, not in a process, so the
form, the stream and a cancel may each reach a different replica:

    add ──> waiting ──take──> running ──end──> (deleted)
               └── expires after TTL_S unless taken

`cancel` sets `cancel_requested`; the replica running the stream polls it (`CancelWatch`)
and sets the run's `cancel` event, which skips the levels the engine has not started.
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from app.compare.service import ComparisonOptions
from app.db.models import PendingStream
from app.errors import Busy

if TYPE_CHECKING:
    from app.compare.streaming import StreamedRun
    from app.runtime import Runtime

TTL_S = 60.0  # a run whose live view has not connected by then is dropped
STALE_S = 3600.0  # a running one whose replica died before it could end it
WATCH_S = 0.5  # how often a running stream looks for a cancel


def add_pending(session: Session, run: StreamedRun, limit: int) -> str:
    """Store a run for its live view and return its token (the caller commits); Busy when
    `limit` runs are already waiting."""
    now = datetime.now(UTC)
    waiting = ~PendingStream.running
    expired = (waiting & (PendingStream.created_at < now - timedelta(seconds=TTL_S))) | (
        PendingStream.created_at < now - timedelta(seconds=STALE_S)
    )
    session.execute(delete(PendingStream).where(expired))
    count = session.scalar(select(func.count()).where(waiting)) or 0
    if count >= limit:
        raise Busy("too many comparisons are waiting to start; try again shortly")
    token = secrets.token_urlsafe(16)
    request = {"scenario": run.scenario, "query": run.query, "options": asdict(run.options)}
    session.add(PendingStream(token=token, request=request, running=False))
    session.flush()
    return token


def take_pending(session: Session, token: str) -> StreamedRun | None:
    """The run waiting under `token`, now running, once: None for an unknown, expired or
    already taken token (commits)."""
    from app.compare.streaming import StreamedRun

    fresh = datetime.now(UTC) - timedelta(seconds=TTL_S)
    statement = (
        update(PendingStream)
        .where(PendingStream.token == token, ~PendingStream.running)
        .where(PendingStream.created_at >= fresh)
        .values(running=True)
        .returning(PendingStream.request, PendingStream.cancel_requested)
    )
    row = session.execute(statement).one_or_none()
    session.commit()
    if row is None:
        return None
    request, cancelled = row
    options = ComparisonOptions.from_stored(request["options"])
    run = StreamedRun(scenario=request["scenario"], query=request["query"], options=options)
    if cancelled:
        run.cancel.set()
    return run


def cancel_pending(session: Session, token: str) -> bool:
    """Ask the run under `token` to skip its levels not started yet (commits); False when no
    such run waits or runs."""
    statement = (
        update(PendingStream)
        .where(PendingStream.token == token)
        .values(cancel_requested=True)
        .returning(PendingStream.token)
    )
    found = session.execute(statement).one_or_none() is not None
    session.commit()
    return found


def end_pending(session: Session, token: str) -> None:
    """The stream ended (commits)."""
    session.execute(delete(PendingStream).where(PendingStream.token == token))
    session.commit()


class CancelWatch:
    """While a stream runs, looks every `WATCH_S` for a cancel asked through any replica."""

    def __init__(self, runtime: Runtime, token: str, run: StreamedRun) -> None:
        self.runtime, self.token, self.run = runtime, token, run
        self.ended = threading.Event()
        self.thread = threading.Thread(target=self.watch, name="tritune-cancel-watch", daemon=True)

    def watch(self) -> None:
        while not self.ended.wait(WATCH_S) and not self.run.cancel.is_set():
            if self.cancel_requested():
                self.run.cancel.set()

    def cancel_requested(self) -> bool:
        try:
            with self.runtime.session() as session:
                statement = select(PendingStream.cancel_requested)
                return bool(session.scalar(statement.where(PendingStream.token == self.token)))
        except Exception:  # the database is unavailable: the stream goes on uncancelled
            return False

    def end(self) -> None:
        """The stream ended: stop watching and forget the run."""
        self.ended.set()
        try:
            with self.runtime.session() as session:
                end_pending(session, self.token)
        except Exception:  # the database is unavailable: `add_pending` drops it later
            pass
