"""Job owners in other processes, for the lifecycle tests (app/jobs.py)."""

import time
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, func, select

from app import jobs


@contextmanager
def live_owner(engine: Engine, owner: str) -> Iterator[None]:
    """Another process, alive while the block runs: it holds `owner`'s lock; then it stops
    (its connection closes rather than going back to the pool, which would keep the lock)."""
    connection = engine.connect()
    connection.execute(select(func.pg_advisory_lock(jobs.lock_key(owner))))
    connection.commit()
    try:
        yield
    finally:
        connection.invalidate()


def interrupted_once_gone(session, kind: jobs.JobKind, timeout: float = 5) -> int:
    """`mark_interrupted` once a closed connection's server process has ended, and with it
    the locks it held (the server notices a closed connection within moments)."""
    deadline = time.monotonic() + timeout
    while not (count := jobs.mark_interrupted(session, kind)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return count
