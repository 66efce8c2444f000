"""Revision 0008 gives the scenarios stored before it the prompts their levels used then, in
a scratch database on the tests' embedded server."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from app.scenarios.prompts import DEFAULT_RAG_INSTRUCTION, DEFAULT_RAG_TEMPLATE
from tests.migrations import scratch_database, upgrade

SCRATCH = "tritune_migration_scenarios"


@pytest.fixture
def scratch(settings):
    with scratch_database(settings, SCRATCH) as engine:
        yield engine


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
