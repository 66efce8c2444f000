"""Alembic environment: uses the caller's connection, or the database from TriTune settings."""

from alembic import context
from sqlalchemy import create_engine

from app.db.models import Base

target_metadata = Base.metadata


def run_migrations(connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    run_migrations(connection)
else:
    from app.config import get_settings
    from app.db.server import database_url

    with create_engine(database_url(get_settings())).begin() as own_connection:
        run_migrations(own_connection)
