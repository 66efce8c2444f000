"""Revision 0007 fills the billing inputs of results stored before it, in a scratch database
on the tests' embedded server."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from tests.migrations import scratch_database, upgrade

SCRATCH = "tritune_migration_billing"
RESULTS = """
INSERT INTO results (comparison_id, level, error, prompt_tokens, completion_tokens,
    latency_retrieval_ms, latency_first_token_ms, latency_generation_ms)
VALUES (:c, 'prompt', NULL, 300, 100, 50, 200, 800),
       (:c, 'rag', NULL, 500, 100, 80, 300, 900),
       (:c, 'finetune', NULL, 100, 100, 0, 100, 700),
       (:c, 'broken', 'it failed', 0, 0, 0, 0, 0)
"""


@pytest.fixture
def scratch(settings):
    with scratch_database(settings, SCRATCH) as engine:
        yield engine


def insert_comparison(connection) -> int:
    scenario = connection.execute(
        text("INSERT INTO scenarios (slug, name, system_prompt) VALUES ('s', 'S', '') RETURNING id")
    ).scalar()
    comparison = connection.execute(
        text(
            "INSERT INTO comparisons (scenario_id, query, settings) VALUES (:s, 'q', '{}')"
            " RETURNING id"
        ),
        {"s": scenario},
    ).scalar()
    connection.execute(text(RESULTS), {"c": comparison})
    set_id = connection.execute(
        text(
            "INSERT INTO eval_sets (scenario_id, name, sha256) VALUES (:s, 'e', 'x') RETURNING id"
        ),
        {"s": scenario},
    ).scalar()
    item = connection.execute(
        text(
            "INSERT INTO eval_items (eval_set_id, position, kind, input) VALUES (:e, 0, 'k', 'q')"
            " RETURNING id"
        ),
        {"e": set_id},
    ).scalar()
    run = connection.execute(
        text(
            "INSERT INTO eval_runs (scenario_id, eval_set_id, status, options, levels, skipped,"
            " total) VALUES (:s, :e, 'done', '{}', '[]', '{}', 1) RETURNING id"
        ),
        {"s": scenario, "e": set_id},
    ).scalar()
    connection.execute(
        text(
            "INSERT INTO eval_scores (eval_run_id, eval_item_id, comparison_id, repeat, level,"
            """ metrics) VALUES (:r, :i, :c, 0, 'rag', '{"embedding_tokens": 11.0}')"""
        ),
        {"r": run, "i": item, "c": comparison},
    )
    return comparison


def test_existing_results_get_machine_seconds_and_the_embedding_tokens_known(scratch):
    upgrade(scratch, "0005")
    with scratch.begin() as connection:
        insert_comparison(connection)
    upgrade(scratch, "0007")
    with scratch.connect() as connection:
        rows = connection.execute(text("SELECT level, machine_s, embedding_tokens FROM results"))
        stored = {level: (seconds, tokens) for level, seconds, tokens in rows}
    # The batch took 1.2 s (rag's first token + generation); 1,200 tokens share it.
    assert stored["prompt"][0] == pytest.approx((50 + 1200 * 400 / 1200) / 1000)
    assert stored["rag"][0] == pytest.approx((80 + 1200 * 600 / 1200) / 1000)
    assert stored["finetune"][0] == pytest.approx(1200 * 200 / 1200 / 1000)
    assert stored["broken"] == (0.0, 0)
    assert stored["rag"][1] == 11 and stored["finetune"][1] == 0
    assert stored["prompt"][1] is None  # not recorded anywhere: counting needs the tokenizer
