"""Revision 0011 adds the account tables and takes them away again on downgrade, leaving the
rest of the schema as it was."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from sqlalchemy import inspect

from app.db.session import ROOT
from tests.migrations import scratch_database, upgrade

ACCOUNT_TABLES = {"users", "api_keys", "web_sessions", "login_attempts"}


def downgrade(engine, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(ROOT / "migrations"))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


def test_revision_0011_adds_the_account_tables_and_downgrades_cleanly(settings):
    with scratch_database(settings, "tritune_migration_accounts") as engine:
        upgrade(engine, "0010")
        before = set(inspect(engine).get_table_names())
        upgrade(engine, "0011")
        assert set(inspect(engine).get_table_names()) >= ACCOUNT_TABLES
        downgrade(engine, "0010")
        assert set(inspect(engine).get_table_names()) == before
