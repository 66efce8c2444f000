"""SQLAlchemy engine and sessions, and migrating the schema to the latest revision."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.db.server import database_url

ROOT = Path(__file__).resolve().parent.parent.parent


CONNECT_TIMEOUT_S = 5


def make_engine(settings: Settings) -> Engine:
    """The engine to the database. A server that is gone or hangs fails a request within
    seconds (connect and pool timeouts) rather than holding it: errors become 503s."""
    return create_engine(
        database_url(settings),
        pool_pre_ping=True,
        pool_size=10,
        pool_timeout=10,
        connect_args={"connect_timeout": CONNECT_TIMEOUT_S},
    )


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def migrate(engine: Engine) -> None:
    """Apply every Alembic migration in `migrations/` (idempotent)."""
    config = Config()
    config.set_main_option("script_location", str(ROOT / "migrations"))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
