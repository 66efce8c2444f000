"""Data from the knowledge base (app/drafts/): drafts read out of the engine's answer, the
leakage guard that gives each document one side, the drafting job through the API with the
teacher double, and the verdicts: only accepted drafts are stored."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.db.models import Dataset, EvalSet, Scenario
from app.drafts.split import EVAL, TRAIN, hashed_side, split_documents
from app.drafts.writing import read_draft
from app.scenarios.current import current_dataset, current_eval_set
from tests.drafting import DOCUMENTS, knowledge_scenario, teacher_runtime, wait_for_drafts
from tests.scenario_files import unique_slug


def test_a_draft_is_read_from_json_or_labelled_lines_else_left_empty():
    json_draft = read_draft('Sure: {"question": " How long? ", "answer": "45 days."}')
    assert (json_draft.question, json_draft.answer) == ("How long?", "45 days.")
    labelled = read_draft("Question: How long?\nAnswer: 45 days.")
    assert (labelled.question, labelled.answer) == ("How long?", "45 days.")
    for garbage in ("base heard: nothing", '{"question": 3}', "{broken"):
        empty = read_draft(garbage)
        assert not empty.question and (garbage != '{"question": 3}' or not empty.answer)


def test_each_document_has_one_side_and_held_sides_win():
    sources = [f"doc-{n}.md" for n in range(200)]
    sides = split_documents(sources, eval_share=0.5, eval_sources=set(), train_sources=set())
    assert set(sides.values()) == {EVAL, TRAIN}
    assert 70 <= list(sides.values()).count(EVAL) <= 130  # about half
    again = split_documents(sources, eval_share=0.5, eval_sources=set(), train_sources=set())
    assert again == sides  # the same in every run: the hash of the name decides
    trained = next(s for s in sources if sides[s] == TRAIN)
    evaluated = next(s for s in sources if sides[s] == EVAL)
    held = split_documents(
        sources, eval_share=0.5, eval_sources={trained}, train_sources={evaluated}
    )
    assert held[trained] == EVAL and held[evaluated] == TRAIN
    assert hashed_side("a.md", 1.0) == EVAL and hashed_side("a.md", 0.0) == TRAIN


@pytest.fixture(scope="module")
def teacher_client(runtime, settings):
    from app.main import create_app

    with (
        teacher_runtime(runtime, settings) as drafting,
        TestClient(create_app(runtime=drafting)) as client,
    ):
        yield client


@pytest.fixture(scope="module")
def drafted(teacher_client):
    """A scenario of eight documents, drafted from: three eval items, three examples."""
    slug = unique_slug("drafts")
    knowledge_scenario(teacher_client, slug)
    started = teacher_client.post(
        f"/api/v1/scenarios/{slug}/drafts", json={"count": 3, "label": "knowledge"}
    )
    assert started.status_code == 202, started.text
    assert started.json()["status"] == "queued" and started.json()["total"] == 6
    return slug, wait_for_drafts(teacher_client, started.json()["id"])


def test_drafting_writes_pending_drafts_with_their_chunks_and_no_shared_source(drafted, session):
    slug, run = drafted
    assert run["status"] == "done", run["error"]
    drafts = run["drafts"]
    assert sorted(d["kind"] for d in drafts) == ["chat_example"] * 3 + ["eval_item"] * 3
    assert all(d["status"] == "pending" and d["stored_in"] is None for d in drafts)
    for draft in drafts:
        assert (
            draft["document"] in DOCUMENTS
            and draft["chunk_text"] in DOCUMENTS[draft["document"]].decode()
        )
        assert draft["question"].startswith("What does ") and draft["answer"]
    evaluated = {d["document"] for d in drafts if d["kind"] == "eval_item"}
    trained = {d["document"] for d in drafts if d["kind"] == "chat_example"}
    assert evaluated and trained and not evaluated & trained  # the leakage guard
    scenario = session.scalar(select(Scenario).where(Scenario.slug == slug))
    # nothing is stored before a verdict
    assert session.scalar(select(EvalSet.id).where(EvalSet.scenario_id == scenario.id)) is None
    assert session.scalar(select(Dataset.id).where(Dataset.scenario_id == scenario.id)) is None


def test_accepted_drafts_are_stored_and_rejected_ones_are_not(teacher_client, drafted, session):
    slug, run = drafted
    items = [d for d in run["drafts"] if d["kind"] == "eval_item"]
    examples = [d for d in run["drafts"] if d["kind"] == "chat_example"]
    first = teacher_client.post(
        f"/api/v1/drafts/{items[0]['id']}/accept", json={"answer": "45 days."}
    )
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "accepted" and first.json()["answer"] == "45 days."
    assert teacher_client.post(f"/api/v1/drafts/{items[1]['id']}/reject").status_code == 200
    again = teacher_client.post(f"/api/v1/drafts/{items[1]['id']}/accept")
    assert again.status_code == 409 and "already rejected" in again.json()["detail"]
    example = teacher_client.post(f"/api/v1/drafts/{examples[0]['id']}/accept")
    assert example.status_code == 200, example.text

    scenario = session.scalar(select(Scenario).where(Scenario.slug == slug))
    eval_set = current_eval_set(session, scenario)
    assert [(i.input, i.reference, i.source, i.kind) for i in eval_set.items] == [
        (items[0]["question"], "45 days.", items[0]["document"], "knowledge")
    ]
    dataset = current_dataset(session, scenario)
    assert [e.prompt for e in dataset.examples] == [examples[0]["question"]]
    assert dataset.examples[0].messages[-1]["content"] == examples[0]["answer"]
    pending = teacher_client.get(f"/api/v1/scenarios/{slug}/drafts", params={"status": "pending"})
    assert len(pending.json()) == 3


def test_accepting_refuses_an_example_whose_document_feeds_the_eval_set(
    teacher_client, drafted, session
):
    slug, run = drafted
    example = [d for d in run["drafts"] if d["kind"] == "chat_example"][1]  # still pending
    # a person adds an eval item citing that example's document meanwhile
    item = {"input": "Is it covered?", "reference": "yes", "source": example["document"]}
    upload = teacher_client.post(
        f"/api/v1/scenarios/{slug}/eval-sets",
        files={"file": ("set.jsonl", json.dumps(item).encode())},
    )
    assert upload.status_code in (200, 201), upload.text
    refused = teacher_client.post(f"/api/v1/drafts/{example['id']}/accept")
    assert refused.status_code == 409
    assert "already a source of eval items" in refused.json()["detail"]
    assert teacher_client.get(f"/api/v1/draft-runs/{run['id']}").json()["drafts"]


def test_bad_drafting_requests_are_refused(teacher_client, drafted):
    slug, _ = drafted
    bad = [
        {"kinds": ["poems"]},
        {"count": 0},
        {"engine": "teacher"},  # without its server
        {"nonsense": 1},
    ]
    for body in bad:
        answer = teacher_client.post(f"/api/v1/scenarios/{slug}/drafts", json=body)
        assert answer.status_code == 422, (body, answer.text)
    missing = teacher_client.post("/api/v1/scenarios/no-such-scenario/drafts", json={})
    assert missing.status_code == 404
    assert teacher_client.post("/api/v1/drafts/999999/accept").status_code == 404


def test_the_drafts_page_lists_pending_drafts_with_their_source_chunk(teacher_client, drafted):
    slug, run = drafted
    page = teacher_client.get(f"/scenarios/{slug}/drafts")
    assert page.status_code == 200
    pending = [d for d in run["drafts"] if d["status"] == "pending"]
    assert 'class="draft draft-pending"' in page.text and "source chunk" in page.text
    assert any(d["document"] in page.text for d in pending)
