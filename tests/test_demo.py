"""The northwind demo scenario: loaded once, idempotent, with its adapter."""

import json

from sqlalchemy import func, select

from app.db.models import Adapter, Chunk, Dataset, Document, Example, Scenario
from app.demo import load_demo


def counts(session):
    return {
        model.__name__: session.scalar(select(func.count()).select_from(model))
        for model in (Scenario, Document, Chunk, Dataset, Example)
    }


def test_demo_meets_the_design_sizes(settings, session):
    demo = settings.demo_dir
    assert len(list((demo / "kb").glob("*.md"))) >= 40
    train = (demo / "train.jsonl").read_text().splitlines()
    assert len(train) >= 500
    evalset = [json.loads(line) for line in (demo / "evalset.jsonl").read_text().splitlines()]
    assert len(evalset) >= 60
    assert {item["kind"] for item in evalset} == {"knowledge", "triage", "general"}
    loaded = counts(session)
    assert loaded["Document"] == len(list((demo / "kb").glob("*.md")))
    assert loaded["Chunk"] > loaded["Document"]


def test_loading_the_demo_again_adds_nothing(runtime, session):
    before = counts(session)
    load_demo(session, runtime.embedder, runtime.settings)
    session.commit()
    assert counts(session) == before


def test_demo_adapter_is_registered_with_checksum_and_metrics(session):
    scenario = session.scalar(select(Scenario).where(Scenario.slug == "northwind"))
    adapter = session.get(Adapter, scenario.active_adapter_id)
    assert len(adapter.checksum) == 64
    history = adapter.metrics["loss_history"]
    assert history[-1] < history[0]
    assert adapter.config["lora_r"] >= 1


def test_loading_the_demo_again_keeps_the_teams_edits(session):
    from app.demo import ensure_scenario

    spec = {
        "slug": "demo-edits",
        "name": "Demo",
        "system_prompt": "Be brief.",
        "output_schema": None,
    }
    try:
        created = ensure_scenario(session, spec)
        assert (created.name, created.system_prompt) == ("Demo", "Be brief.")
        created.system_prompt = "Answer as the shop's own support team."  # an edit
        session.flush()
        again = ensure_scenario(session, spec)  # what a restart does
        assert again.id == created.id
        assert again.system_prompt == "Answer as the shop's own support team."
    finally:
        session.rollback()
