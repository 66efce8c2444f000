"""A scenario's current dataset and eval set, chosen explicitly, and demo documents that stay
deleted (issue 17, D16)."""

from __future__ import annotations

import json
import re

from sqlalchemy import delete, select

from app.db.models import DeletedDocument, Document, Scenario
from app.demo import load_demo
from app.finetune.jobs import pick_dataset
from tests.scenario_files import create, intent_jsonl, unique_slug


def eval_jsonl(*questions: str) -> bytes:
    return "".join(json.dumps({"input": q, "expected": "x"}) + "\n" for q in questions).encode()


def upload_eval_set(client, slug: str, name: str, content: bytes) -> dict:
    response = client.post(f"/api/v1/scenarios/{slug}/eval-sets", files={"file": (name, content)})
    assert response.status_code == 201, response.text
    return response.json()


def test_re_uploading_an_eval_set_makes_it_current_again(echo_client):
    slug = create(echo_client, unique_slug("current-evals"))["slug"]
    first = upload_eval_set(echo_client, slug, "first.jsonl", eval_jsonl("a?", "b?"))
    upload_eval_set(echo_client, slug, "second.jsonl", eval_jsonl("c?"))
    again = upload_eval_set(echo_client, slug, "first-again.jsonl", eval_jsonl("a?", "b?"))
    assert again["id"] == first["id"]
    page = echo_client.get(f"/scenarios/{slug}/evals")
    assert "first.jsonl · 2 items" in page.text  # the page names the current set
    listed = echo_client.get(f"/api/v1/scenarios/{slug}/eval-sets").json()
    assert [s["name"] for s in listed if s["current"]] == ["first.jsonl"]


def test_an_eval_set_is_chosen_on_the_page_and_over_the_api(echo_client):
    slug = create(echo_client, unique_slug("choose-evals"))["slug"]
    first = upload_eval_set(echo_client, slug, "first.jsonl", eval_jsonl("a?"))
    second = upload_eval_set(echo_client, slug, "second.jsonl", eval_jsonl("b?", "c?"))
    page = echo_client.get(f"/scenarios/{slug}/evals")
    assert f"/scenarios/{slug}/eval-sets/{first['id']}/current" in page.text
    chosen = echo_client.post(
        f"/scenarios/{slug}/eval-sets/{first['id']}/current", follow_redirects=False
    )
    assert chosen.status_code == 303
    assert "first.jsonl · 1 items" in echo_client.get(f"/scenarios/{slug}/evals").text
    answer = echo_client.post(f"/api/v1/scenarios/{slug}/eval-sets/{second['id']}/current")
    assert answer.status_code == 200 and answer.json()["current"]
    other = create(echo_client, unique_slug("other"))["slug"]
    foreign = echo_client.post(f"/api/v1/scenarios/{other}/eval-sets/{first['id']}/current")
    assert foreign.status_code == 404


def upload_dataset(client, slug: str, content: bytes) -> dict:
    files = {"file": ("train.jsonl", content)}
    response = client.post(f"/api/v1/scenarios/{slug}/datasets", files=files)
    assert response.status_code == 201, response.text
    return response.json()["dataset"]


def test_a_dataset_is_chosen_and_trainings_use_it(echo_client, session):
    slug = create(echo_client, unique_slug("current-data"))["slug"]
    first = upload_dataset(echo_client, slug, intent_jsonl())
    second = upload_dataset(echo_client, slug, intent_jsonl(system="Answer in JSON."))
    assert second["current"]
    chosen = echo_client.post(f"/api/v1/scenarios/{slug}/datasets/{first['id']}/current")
    assert chosen.status_code == 200 and chosen.json()["current"]
    scenario = session.scalar(select(Scenario).where(Scenario.slug == slug))
    assert pick_dataset(session, scenario, None).id == first["id"]
    page = echo_client.get(f"/scenarios/{slug}/finetune").text
    assert re.search(f'<option value="{first["id"]}"[^>]* selected>', page)
    assert f"/scenarios/{slug}/datasets/{second['id']}/current" in page
    again = upload_dataset(echo_client, slug, intent_jsonl(system="Answer in JSON."))
    assert again["id"] == second["id"] and again["current"]
    session.expire_all()
    assert pick_dataset(session, scenario, None).id == second["id"]


def test_a_deleted_demo_document_stays_deleted_when_the_demo_loads_again(
    echo_client, runtime, session
):
    """The demo loads at every start; it used to bring back the documents a team deleted."""
    northwind = session.scalar(select(Scenario).where(Scenario.slug == "northwind"))
    document = session.scalar(
        select(Document).where(Document.scenario_id == northwind.id).order_by(Document.id)
    )
    source = document.source
    gone = echo_client.delete(f"/api/v1/scenarios/northwind/documents/{document.id}")
    assert gone.status_code == 204
    try:
        load_demo(session, runtime.embedder, runtime.settings)
        session.commit()
        same_source = select(Document.id).where(
            Document.scenario_id == northwind.id, Document.source == source
        )
        assert session.scalar(same_source) is None
    finally:  # the demo as the other tests expect it: the document back
        session.rollback()
        session.execute(delete(DeletedDocument).where(DeletedDocument.scenario_id == northwind.id))
        load_demo(session, runtime.embedder, runtime.settings)
        session.commit()
