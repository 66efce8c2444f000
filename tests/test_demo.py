"""The northwind demo scenario: loaded once, idempotent, with its adapter."""

import json

from sqlalchemy import func, select

from app.db.models import Adapter, Chunk, Dataset, Document, Example, Scenario
from app.db.queries import scenario_counts
from app.demo import load_demo


def counts(session):
    return {
        model.__name__: session.scalar(select(func.count()).select_from(model))
        for model in (Scenario, Document, Chunk, Dataset, Example)
    }


def test_demo_meets_the_design_sizes(settings, session):
    demo = settings.demo_dir
    assert len(list((demo / "documents").glob("*.md"))) >= 40
    train = (demo / "train.jsonl").read_text().splitlines()
    assert len(train) >= 500
    evalset = [json.loads(line) for line in (demo / "evalset.jsonl").read_text().splitlines()]
    assert len(evalset) >= 60
    assert {item["kind"] for item in evalset} == {"knowledge", "triage", "general"}
    northwind = session.scalar(select(Scenario.id).where(Scenario.slug == "northwind"))
    loaded = scenario_counts(session, northwind)
    assert loaded["documents"] == len(list((demo / "documents").glob("*.md")))
    assert loaded["chunks"] > loaded["documents"]


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


def test_loading_the_demo_again_keeps_the_teams_edits(runtime, session, tmp_path):
    """A start imports the demo bundle into the existing `northwind`: what a team edited (a
    prompt, a document of the same name) stays, and nothing is added twice."""
    from app.scenarios.bundles import import_bundle, init_bundle

    init_bundle(tmp_path / "bundle")
    again = {"slug": "demo-edits", "keep_existing": True, "embedder": runtime.embedder}
    try:
        import_bundle(session, source=tmp_path / "bundle", settings=runtime.settings, **again)
        created = session.scalar(select(Scenario).where(Scenario.slug == "demo-edits"))
        created.system_prompt = "Answer as the shop's own support team."  # an edit
        document = session.scalar(select(Document).where(Document.scenario_id == created.id))
        document.text = "The team's own text."
        session.flush()
        before = counts(session)
        report = import_bundle(
            session, source=tmp_path / "bundle", settings=runtime.settings, **again
        )
        assert not report.created and not report.added  # what a restart does
        assert counts(session) == before
        session.refresh(created)
        assert created.system_prompt == "Answer as the shop's own support team."
        assert session.get(Document, document.id).text == "The team's own text."
    finally:
        session.rollback()
