"""One lifecycle for every background job: trainings, eval runs, and any later kind.

    queued ──claim──> running ──> done         its work returned
       │                 ├──────> failed       its work raised
       │                 ├──────> cancelled    it was asked to stop, and stopped at a step
       │                 └──────> interrupted  the process running it stopped
       └──cancel──> cancelled (at once)

- **Claim**: `SELECT ... FOR UPDATE SKIP LOCKED` on the oldest queued row, so any number of
  workers in any number of processes each get a different job.
- **Owner**: the claiming process (`host:pid:nonce`; the nonce tells apart a restarted
  server that got the same pid, as a container's pid 1 does). It holds a Postgres advisory
  lock named after itself for as long as it lives, so that any process, on any host, can
  tell a live owner from a gone one: the lock is free once the owner's connection is gone.
  A `running` job whose owner's lock is free is marked `interrupted` (`mark_interrupted`:
  by each worker when it starts, and before a new eval checks that none is active).
- **Progress and cancel**: after each step or item the work calls `advance`, which writes
  `done`/`total` to the row and raises `JobCancelled` if a cancel was asked; the job ends
  `cancelled` and keeps what it stored. A queued job is cancelled at once.
- **Worker**: `JobWorker`, one thread per kind and process, runs claimed jobs one at a time.

A job kind (`JobKind`) provides:
- `row`: its ORM class, with `JobColumns` (app/db/models.py) and its progress as `done` and
  `total` (columns or synonyms);
- `run(runtime, job_id, **options)`: the work of one claimed job, calling `advance` after
  each step; returning means done (a kind whose result and status must be stored together
  may `finish` the job itself, as a training does with its adapter);
- optionally `on_end(session, job)`: what it keeps whatever the end (an eval's summary),
  written in the transaction that writes its final status;
- `done_status`: the status its rows and its API say for `done`;
- `needs_models`: whether its worker waits for this process's models before claiming.

Status names: the stored status is the one the API shows. Trainings have said `succeeded`
for `done` since the first REST version (API, pages, scripts), eval runs `done`; so each
kind names its `done` state (`done_status`) rather than a migration renaming the stored
value and every front end mapping it back. The other states have the same name in every
kind.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import URL, Connection, Engine, Select, func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from app.db.models import JobColumns
from app.errors import AppError, NotFound

if TYPE_CHECKING:
    from app.runtime import Runtime

log = logging.getLogger(__name__)
QUEUED, RUNNING, DONE = "queued", "running", "done"
FAILED, CANCELLED, INTERRUPTED = "failed", "cancelled", "interrupted"
ACTIVE = (QUEUED, RUNNING)
NONCE = secrets.token_hex(4)


class JobCancelled(Exception):
    """Raised by `advance` when the job was asked to stop."""


class JobConflict(AppError):
    status = 409


@dataclass(frozen=True)
class JobKind:
    """What the lifecycle needs to know about one kind of job (see the module docstring)."""

    name: str
    row: type[JobColumns]
    run: Callable[..., None]
    done_status: str = DONE
    needs_models: bool = False  # its worker claims only once this process's models are loaded
    on_end: Callable[[Session, Any], None] | None = None
    # at each worker start, after its interrupted jobs are marked: remove what jobs that
    # were killed left half-written (a training's adapter directory saved, never registered)
    recover: Callable[[Runtime], None] | None = None

    def status(self, state: str) -> str:
        """The stored status for a lifecycle state."""
        return self.done_status if state == DONE else state

    @property
    def finished(self) -> tuple[str, ...]:
        return (self.done_status, FAILED, CANCELLED, INTERRUPTED)


def get_job(session: Session, kind: JobKind, job_id: int, *, lock: bool = False) -> Any:
    """The job (NotFound); with `lock`, its row as it is now, locked until the transaction
    ends (FOR NO KEY UPDATE: rows that only reference it, as an eval's scores, do not wait)."""
    job = session.get(
        kind.row,
        job_id,
        with_for_update={"key_share": True} if lock else None,
        populate_existing=lock,  # not the state this session last saw
    )
    if job is None:
        raise NotFound(f"{kind.name} {job_id} not found")
    return job


def claim(session: Session, kind: JobKind, job_id: int | None = None) -> Any | None:
    """Mark the oldest queued job of `kind` (or job `job_id`, also one this session has just
    added) running, owned by this process; commits. None when there is none to claim."""
    job = next_queued(session, kind, job_id)
    if job is None:
        return None
    job.status, job.owner, job.started_at = RUNNING, this_process(session), datetime.now(UTC)
    session.commit()
    return job


def next_queued(session: Session, kind: JobKind, job_id: int | None = None) -> Any | None:
    """The oldest queued job, locked until this transaction ends; rows other transactions
    hold are skipped, not waited for."""
    statement = select(kind.row).where(kind.row.status == QUEUED)
    if job_id is not None:
        statement = statement.where(kind.row.id == job_id)
    statement = statement.order_by(kind.row.id).limit(1)
    return session.scalar(skip_locked(statement))


def skip_locked(statement: Select) -> Select:
    """The rows no other transaction holds, locked until this one ends (FOR NO KEY UPDATE, as
    in `get_job`), as they are now rather than as this session last saw them."""
    locking = statement.with_for_update(skip_locked=True, key_share=True)
    return locking.execution_options(populate_existing=True)


def advance(session: Session, job: Any, done: int, total: int) -> None:
    """Record a finished step (with whatever else the session holds) and stop the job, by
    raising `JobCancelled`, if it was asked to."""
    job.done, job.total = done, total
    session.commit()
    session.refresh(job, ["cancel_requested"])
    if job.cancel_requested:
        raise JobCancelled


def cancel(session: Session, kind: JobKind, job_id: int) -> Any:
    """Cancel a queued job now, or ask a running one to stop at its next step (NotFound;
    JobConflict when it has finished or is already being cancelled). The caller commits."""
    job = get_job(session, kind, job_id, lock=True)
    if job.status in kind.finished:
        raise JobConflict(f"{kind.name} {job_id} already {job.status}; nothing to cancel")
    if job.cancel_requested:
        raise JobConflict(f"{kind.name} {job_id} is already being cancelled")
    job.cancel_requested = True
    if job.status == QUEUED:
        finish(session, kind, job, CANCELLED)
    session.flush()
    return job


def finish(session: Session, kind: JobKind, job: Any, state: str, error: str | None = None) -> None:
    """End a job in `state` (the caller commits), with what its kind keeps at the end."""
    if kind.on_end:
        kind.on_end(session, job)
    job.status, job.error, job.finished_at = kind.status(state), error, datetime.now(UTC)


def run_job(runtime: Runtime, kind: JobKind, job_id: int, **options: Any) -> None:
    """The rest of the life of a job this process claimed (JobConflict for any other job):
    its kind's work, then its end."""
    with runtime.session() as session:
        job = get_job(session, kind, job_id)
        if job.status != RUNNING or job.owner != owner_name():
            raise JobConflict(f"{kind.name} {job_id} is {job.status}, not claimed by this process")
    try:
        kind.run(runtime, job_id, **options)
        state, error = DONE, None
    except JobCancelled:
        state, error = CANCELLED, None
    except Exception as exc:
        log.exception("%s %s failed", kind.name, job_id)
        state, error = FAILED, f"{type(exc).__name__}: {exc}"
    with runtime.session() as session:
        job = get_job(session, kind, job_id, lock=True)
        if job.status == RUNNING:  # not already finished by its work, nor found interrupted
            finish(session, kind, job, state, error)
            session.commit()


def mark_interrupted(session: Session, kind: JobKind) -> int:
    """Mark `interrupted` the running jobs whose owner has stopped (they will never finish);
    commits and returns how many."""
    statement = select(kind.row).where(kind.row.status == RUNNING)
    running = session.scalars(skip_locked(statement))
    gone = [job for job in running if not owner_alive(session, job.owner)]
    for job in gone:
        finish(session, kind, job, INTERRUPTED, f"the process running this {kind.name} stopped")
    session.commit()
    return len(gone)


def active_jobs(session: Session, kind: JobKind) -> int:
    return session.scalar(select(func.count()).where(kind.row.status.in_(ACTIVE))) or 0


def one_at_a_time(session: Session, kind: JobKind) -> None:
    """Until this transaction ends, other processes doing the same wait: for a kind that
    allows one active job, checking and adding it becomes one step in every process."""
    session.execute(select(func.pg_advisory_xact_lock(lock_key(f"kind:{kind.name}"))))


# Owners ------------------------------------------------------------------------------------

_held: dict[URL, Connection] = {}  # per database: the connection holding this owner's lock
_held_lock = threading.Lock()


def owner_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{NONCE}"


def lock_key(name: str) -> int:
    """A Postgres advisory lock key (bigint) for a name."""
    digest = hashlib.blake2b(f"tritune-job:{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def this_process(session: Session) -> str:
    """This process as a job owner. The first call takes the owner's lock on a connection of
    its own, held for as long as the process lives."""
    engine = session.get_bind()
    engine = engine if isinstance(engine, Engine) else engine.engine
    with _held_lock:
        if engine.url not in _held or not still_held(_held[engine.url]):
            _held[engine.url] = hold_owner_lock(engine)
    return owner_name()


def still_held(connection: Connection) -> bool:
    """Whether the owner's lock connection still works (a restarted database server closed
    it, and with it the lock, which is then taken again)."""
    try:
        connection.execute(select(1)).scalar()
        connection.commit()
    except Exception:
        connection.invalidate()
        return False
    return True


def hold_owner_lock(engine: Engine) -> Connection:
    connection = engine.connect()
    # `try`: were it taken, this process would already hold it (through another engine to
    # the same database); nobody else has this name
    connection.execute(select(func.pg_try_advisory_lock(lock_key(owner_name()))))
    connection.commit()  # a session-level lock outlives the transaction
    return connection


def owner_alive(session: Session, owner: str | None) -> bool:
    """Whether the owner's lock is held, by any process on any host. No owner: the job was
    claimed before owners were recorded, i.e. before the last restart."""
    if not owner:
        return False
    free = session.scalar(select(func.pg_try_advisory_xact_lock(lock_key(owner))))
    return not free


# The worker --------------------------------------------------------------------------------


class JobWorker:
    """The background thread that runs one kind's queued jobs, oldest first, one at a time."""

    def __init__(self, runtime: Runtime, kind: JobKind) -> None:
        self.runtime = runtime
        self.kind = kind
        self.wakeup = threading.Event()
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None
        self.database_down = False
        self.recovered = False  # interrupted jobs marked since this worker started

    def start(self) -> None:
        """Mark the kind's jobs whose owner stopped interrupted, remove what they left
        half-written, then start claiming (with the database unavailable, the worker does
        both once it answers, before its first claim)."""
        try:
            self.recover()
        except OperationalError as error:
            log.warning("%s worker: the database is unavailable (%s)", self.kind.name, error)
        name = f"tritune-{self.kind.name.replace(' ', '-')}"
        self.thread = threading.Thread(target=self.loop, name=name, daemon=True)
        self.thread.start()

    @property
    def alive(self) -> bool:
        return self.thread is not None and self.thread.is_alive() and not self.stopping.is_set()

    def notify(self) -> None:
        """Look for a queued job now rather than at the next poll."""
        self.wakeup.set()

    def stop(self, timeout: float = 5.0) -> None:
        self.stopping.set()
        self.wakeup.set()
        if self.thread:
            self.thread.join(timeout)

    def mark_interrupted(self) -> int:
        with self.runtime.session() as session:
            return mark_interrupted(session, self.kind)

    def recover(self) -> None:
        """Mark interrupted jobs and let the kind clean up after them (`JobKind.recover`);
        OperationalError while the database is unavailable."""
        self.mark_interrupted()
        self.recovered = True
        if self.kind.recover:
            try:
                self.kind.recover(self.runtime)
            except Exception:  # the worker still runs jobs; the next start tries again
                log.exception("could not clean up after interrupted %s jobs", self.kind.name)

    def loop(self) -> None:
        """Claim and run jobs until stopped. Nothing that goes wrong here ends the loop (a
        dead worker would leave every later job queued forever)."""
        while not self.stopping.is_set():
            try:
                job_id = self.claim_next()
                self.database_down = False
            except OperationalError as error:  # one line while it lasts, not one per poll
                if not self.database_down:
                    log.warning(
                        "%s worker: the database is unavailable (%s)", self.kind.name, error
                    )
                    self.runtime.database_lost()
                self.database_down, job_id = True, None
            except Exception:
                log.exception("could not claim a %s; retrying", self.kind.name)
                job_id = None
            if job_id is None:
                self.wakeup.wait(2.0)
                self.wakeup.clear()
                continue
            try:
                run_job(self.runtime, self.kind, job_id)
            except Exception:
                log.exception("%s %s failed outside its own error handling", self.kind.name, job_id)

    def claim_next(self) -> int | None:
        if self.kind.needs_models and not self.runtime.ready:
            return None
        if not self.recovered:
            self.recover()
        with self.runtime.session() as session:
            job = claim(session, self.kind)
            return job.id if job else None
