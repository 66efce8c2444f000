"""Revision 0008 gives the scenarios stored before it the prompts their levels used then, in
a scratch database on the tests' embedded server."""

from __future__ import annotations

import json

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


def test_revision_0009_gives_each_scenario_version_1_of_each_levels_prompt(scratch):
    from app.db.models import Scenario
    from app.scenarios.versions import content_sha256, version_content

    upgrade(scratch, "0008")
    with scratch.begin() as connection:
        connection.execute(
            text("INSERT INTO scenarios (slug, name, system_prompt) VALUES ('v', 'V', 'Be brief.')")
        )
    upgrade(scratch, "0009")
    with scratch.connect() as connection:
        scenario = connection.execute(text("SELECT * FROM scenarios WHERE slug = 'v'")).mappings()
        row = dict(scenario.one())
        versions = connection.execute(
            text("SELECT level, number, content, sha256 FROM prompt_versions ORDER BY level")
        ).all()
    assert row["few_shot_selection"] == "nearest"
    assert [(v.level, v.number) for v in versions] == [("finetune", 1), ("prompt", 1), ("rag", 1)]
    columns = Scenario(**{k: v for k, v in row.items() if k in Scenario.__table__.columns})
    for version in versions:  # the code's content and hash as of 0009 (0010 adds rag fields)
        fields = version_content(columns, version.level)
        assert version.content == {
            k: v
            for k, v in fields.items()
            if not k.startswith("rag_") or k in ("rag_instruction", "rag_template")
        }
        assert version.sha256 == content_sha256(version.content)


RETRIEVAL = ("rag_top_k", "rag_candidates", "rag_vector_weight", "rag_keyword_weight")


def test_revision_0010_adds_the_retrieval_settings_as_a_new_rag_version(scratch):
    from app.db.models import Scenario
    from app.scenarios.versions import content_sha256, version_content

    upgrade(scratch, "0008")
    with scratch.begin() as connection:
        connection.execute(
            text("INSERT INTO scenarios (slug, name, system_prompt) VALUES ('r', 'R', 'Hi.')")
        )
    upgrade(scratch, "0009")
    with scratch.begin() as connection:  # an edit of the rag prompt made its version 2
        connection.execute(text("UPDATE scenarios SET rag_instruction = 'Be exact.'"))
        edited = connection.execute(
            text(
                "SELECT jsonb_set(content, '{rag_instruction}', '\"Be exact.\"') FROM "
                "prompt_versions WHERE level = 'rag'"
            )
        ).scalar_one()
        connection.execute(
            text(
                "INSERT INTO prompt_versions (scenario_id, level, number, content, sha256) "
                "SELECT id, 'rag', 2, CAST(:content AS jsonb), :sha256 FROM scenarios"
            ),
            {"content": json.dumps(edited), "sha256": content_sha256(edited)},
        )
    upgrade(scratch, "0010")
    with scratch.connect() as connection:
        row = dict(connection.execute(text("SELECT * FROM scenarios")).mappings().one())
        rag = connection.execute(
            text(
                "SELECT number, content, sha256, note FROM prompt_versions "
                "WHERE level = 'rag' ORDER BY number"
            )
        ).all()
        others = connection.execute(
            text("SELECT count(*) FROM prompt_versions WHERE level <> 'rag'")
        ).scalar_one()
    assert all(row[name] is None for name in RETRIEVAL)
    assert [v.number for v in rag] == [1, 2, 3] and others == 2
    assert rag[1].content == edited  # older versions stay as they were
    assert rag[2].content == {**edited, **dict.fromkeys(RETRIEVAL)}
    assert rag[2].sha256 == content_sha256(rag[2].content)
    assert "retrieval settings" in rag[2].note
    # The code's content of the columns is the new version: nothing is recorded at first use.
    columns = Scenario(**{k: v for k, v in row.items() if k in Scenario.__table__.columns})
    assert version_content(columns, "rag") == rag[2].content
