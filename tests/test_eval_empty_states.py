"""Empty states instead of errors: the report page before any finished eval offers a quick
eval (how many items of each kind, which tests they allow, how long from what was measured),
and the evals page shows the eval set's items page by page and takes an upload."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from app.db.models import Comparison, EvalRun, Result, Scenario
from app.evals.quick import plan_quick_eval
from tests.scenario_files import create, unique_slug
from tests.test_evals import wait_for

# 12 knowledge questions, 12 triage tickets, 3 general questions.
COUNTS = {"knowledge": 12, "triage": 12, "general": 3}


def eval_set_lines(counts: dict[str, int]) -> bytes:
    items = [
        {"input": f"{kind} question {i}", "kind": kind, "expected": f"answer {i}"}
        for kind, count in counts.items()
        for i in range(count)
    ]
    return "\n".join(json.dumps(item) for item in items).encode()


def upload(client, slug: str, text: bytes):
    files = {"file": ("items.jsonl", text, "application/jsonl")}
    return client.post(f"/scenarios/{slug}/eval-sets", files=files, follow_redirects=False)


@pytest.fixture
def slug(echo_client):
    slug = unique_slug("empty")
    create(echo_client, slug)
    return slug


def test_a_report_without_an_eval_set_says_where_to_upload_one(echo_client, slug):
    page = echo_client.get(f"/scenarios/{slug}/report")
    assert page.status_code == 200
    assert "No finished eval yet" in page.text and "has no eval set" in page.text
    assert f'href="/scenarios/{slug}/evals"' in page.text
    api = echo_client.get(f"/api/v1/scenarios/{slug}/report")  # the API is unchanged
    assert api.status_code == 404 and "no finished eval run" in api.json()["detail"]
    assert echo_client.get("/scenarios/no-such-scenario/report").status_code == 404


def test_a_report_without_a_finished_eval_offers_a_balanced_quick_eval(echo_client, slug):
    assert upload(echo_client, slug, eval_set_lines(COUNTS)).status_code == 303
    page = echo_client.get(f"/scenarios/{slug}/report").text
    assert "Quick eval" in page and "23 of the 27 items" in page
    assert "<tr><td>knowledge</td><td>10</td><td>12</td>" in page
    assert "<tr><td>general</td><td>3</td><td>3</td>" in page
    assert "not enough items for a test (a test needs 6)" in page
    assert page.count("with a paired test between each two levels") == 2
    assert "Estimated time: no measurement yet" in page
    assert '<input type="hidden" name="limit" value="23">' in page
    smaller = echo_client.get(f"/scenarios/{slug}/report?per_kind=4").text
    assert "11 of the 27 items" in smaller and "with a paired test" not in smaller
    assert echo_client.get(f"/scenarios/{slug}/report?per_kind=0").status_code == 422


def test_the_estimate_comes_from_earlier_runs_else_comparisons(session, echo_client, slug):
    assert upload(echo_client, slug, eval_set_lines(COUNTS)).status_code == 303
    scenario = session.scalar(select(Scenario).where(Scenario.slug == slug))
    comparison = Comparison(scenario_id=scenario.id, query="q", settings={})
    comparison.results = [
        Result(level="prompt", latency_total_ms=3000.0),
        Result(level="rag", latency_total_ms=5000.0),  # the comparison lasts as its slowest
    ]
    session.add(comparison)
    session.commit()
    plan = plan_quick_eval(session, scenario)
    assert plan.timing.seconds_per_item == 5.0 and plan.seconds == 5.0 * 23
    assert plan.timing.measured_from == "the latest comparison"
    page = echo_client.get(f"/scenarios/{slug}/report").text
    assert f"about 2 min (5.0 s an item, measured over the latest comparison of {slug})" in page

    started = datetime.now(UTC) - timedelta(minutes=5)
    run = EvalRun(
        scenario_id=scenario.id,
        eval_set_id=plan_eval_set_id(session, scenario),
        status="cancelled",
        options={},
        levels=["prompt"],
        skipped={},
        total=30,
        done=12,
        started_at=started,
        finished_at=started + timedelta(seconds=24),
    )
    session.add(run)
    session.commit()
    plan = plan_quick_eval(session, scenario)
    assert (
        plan.timing.seconds_per_item == 2.0 and plan.timing.measured_from == "the latest eval run"
    )
    page = echo_client.get(f"/scenarios/{slug}/report").text
    assert "about 46 s (2.0 s an item, measured over the latest eval run" in page
    assert f'<a href="/evals/{run.id}">#{run.id}</a>, ended cancelled' in page


def plan_eval_set_id(session, scenario) -> int:
    from app.evals.runner import current_eval_set

    return current_eval_set(session, scenario).id


def test_the_quick_eval_starts_from_the_report_page_and_the_report_follows(echo_client, slug):
    assert upload(echo_client, slug, eval_set_lines({"triage": 8, "general": 8})).status_code == 303
    page = echo_client.get(f"/scenarios/{slug}/report?per_kind=6").text
    assert '<input type="hidden" name="limit" value="12">' in page
    started = echo_client.post(
        f"/scenarios/{slug}/evals", data={"limit": "12"}, follow_redirects=False
    )
    assert started.status_code == 303
    run_id = int(started.headers["location"].rsplit("/", 1)[1])
    assert wait_for(echo_client, run_id)["status"] == "done"
    report = echo_client.get(f"/scenarios/{slug}/report").text
    assert f'href="/evals/{run_id}">eval #{run_id}</a> (12 items' in report


def test_the_evals_page_pages_through_the_eval_set(echo_client, slug):
    page = echo_client.get(f"/scenarios/{slug}/evals").text
    assert "No eval set yet: upload one" in page and 'name="file"' in page
    assert upload(echo_client, slug, eval_set_lines(COUNTS)).status_code == 303
    first = echo_client.get(f"/scenarios/{slug}/evals").text
    assert "Items 1–20 of 27 · page 1 of 2" in first and 'href="?page=2">next</a>' in first
    assert '<td>1</td><td>knowledge</td><td class="query-cell">knowledge question 0</td>' in first
    assert '<td class="query-cell">answer 0</td>' in first
    second = echo_client.get(f"/scenarios/{slug}/evals?page=2").text
    assert "Items 21–27 of 27 · page 2 of 2" in second and "general question 2" in second
    assert "knowledge question 0<" not in second


def test_a_bad_upload_names_each_line_and_stores_nothing(echo_client, slug):
    bad = b'{"input": "fine", "expected": "x"}\nnot json\n{"input": "no check"}\n'
    response = upload(echo_client, slug, bad)
    assert response.status_code == 422
    assert "line 2: not JSON" in response.text and "line 3: nothing to score" in response.text
    assert "No eval set yet" in response.text
    oversized = upload(echo_client, slug, b" " * 5_000_001)
    assert oversized.status_code == 422 and "larger than 5000000 bytes" in oversized.text
    htmx = echo_client.post(
        f"/scenarios/{slug}/eval-sets",
        files={"file": ("items.jsonl", bad, "application/jsonl")},
        headers={"HX-Request": "true"},
    )
    assert htmx.status_code == 422 and htmx.text.lstrip().startswith('<div class="error"')
