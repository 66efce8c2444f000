"""Feedback on served calls (app/serving/feedback.py): thumbs up keeps the served answer as
an eval item's reference, thumbs down needs the corrected answer; either adds the call's
query to the scenario's eval set, once, and only for calls the endpoint served."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.db.models import Scenario
from app.scenarios.current import current_eval_set
from tests.drafting import knowledge_scenario
from tests.scenario_files import unique_slug


def serve(client, slug: str, question: str) -> int:
    """One non-streaming call to `<slug>/rag`; the id of the comparison that stored it."""
    answer = client.post(
        "/v1/chat/completions",
        json={
            "model": f"{slug}/rag",
            "messages": [{"role": "user", "content": question}],
            "max_tokens": 16,
        },
    )
    assert answer.status_code == 200, answer.text
    listed = client.get("/api/v1/comparisons", params={"scenario": slug, "limit": 1}).json()
    return listed["items"][0]["id"]


@pytest.fixture(scope="module")
def served(echo_client):
    slug = unique_slug("served")
    knowledge_scenario(echo_client, slug)
    return slug, [serve(echo_client, slug, q) for q in ("Tent returns?", "Boot warranty?")]


def test_thumbs_up_and_down_turn_served_calls_into_eval_items(echo_client, served, session):
    slug, (first, second) = served
    up = echo_client.post(f"/api/v1/comparisons/{first}/feedback", json={"verdict": "up"})
    assert up.status_code == 201, up.text
    down = echo_client.post(
        f"/api/v1/comparisons/{second}/feedback",
        json={"verdict": "down", "corrected": "Two years.", "kind": "warranty"},
    )
    assert down.status_code == 201, down.text
    scenario = session.scalar(select(Scenario).where(Scenario.slug == slug))
    items = current_eval_set(session, scenario).items
    assert [(i.input, i.kind) for i in items] == [
        ("Tent returns?", "general"),
        ("Boot warranty?", "warranty"),
    ]
    assert items[0].reference.startswith("base heard:")  # the served answer, kept
    assert items[1].reference == "Two years."
    assert down.json()["eval_set_id"] == current_eval_set(session, scenario).id


def test_feedback_is_refused_without_a_correction_twice_or_for_a_comparison(echo_client, served):
    slug, (first, _) = served
    again = echo_client.post(f"/api/v1/comparisons/{first}/feedback", json={"verdict": "up"})
    assert again.status_code == 409
    third = serve(echo_client, slug, "Store hours?")
    bare = echo_client.post(f"/api/v1/comparisons/{third}/feedback", json={"verdict": "down"})
    assert bare.status_code == 422 and "corrected answer" in bare.json()["detail"]
    compared = echo_client.post(
        "/api/v1/comparisons",
        json={"query": "hi", "scenario": slug, "levels": ["rag"], "max_new_tokens": 4},
    )
    not_served = echo_client.post(
        f"/api/v1/comparisons/{compared.json()['id']}/feedback", json={"verdict": "up"}
    )
    assert not_served.status_code == 422 and "not a served call" in not_served.json()["detail"]
    assert (
        echo_client.post(
            f"/api/v1/comparisons/{third}/feedback", json={"verdict": "sideways"}
        ).status_code
        == 422
    )
    assert (
        echo_client.post("/api/v1/comparisons/999999/feedback", json={"verdict": "up"}).status_code
        == 404
    )


def test_the_served_page_takes_a_thumbs_down_with_its_correction(echo_client, served):
    slug, _ = served
    call = serve(echo_client, slug, "Stove burn time?")
    page = echo_client.get(f"/scenarios/{slug}/served")
    assert page.status_code == 200 and "Stove burn time?" in page.text
    assert f'id="served-{call}"' in page.text and "👎" in page.text
    refused = echo_client.post(
        f"/comparisons/{call}/feedback", data={"verdict": "down"}, headers={"HX-Request": "true"}
    )
    assert refused.status_code == 422 and "corrected answer" in refused.text
    row = echo_client.post(
        f"/comparisons/{call}/feedback",
        data={"verdict": "down", "corrected": "90 minutes."},
        headers={"HX-Request": "true"},
    )
    assert row.status_code == 200 and "added to eval set" in row.text
    assert "90 minutes." in row.text and "<html" not in row.text
