"""The history page: answer previews, filters that the exports follow, and an empty filter
result told apart from an empty history."""

import json

import pytest

HX = {"HX-Request": "true"}
QUERY = "Which stores open on Sundays? (history page test)"


@pytest.fixture(scope="module")
def client(echo_client):
    return echo_client


@pytest.fixture(scope="module")
def compared(client):
    body = {"query": QUERY, "levels": ["prompt", "rag"], "max_new_tokens": 12}
    answer = client.post("/api/v1/comparisons", json=body)
    assert answer.status_code == 201, answer.text
    return answer.json()


def test_each_row_previews_every_levels_answer(client, compared):
    page = client.get("/comparisons", params={"q": "Sundays? (history"}).text
    for result in compared["results"]:
        assert result["output"][:30] in page
    assert page.count('class="answer-preview') == 2


def test_the_exports_download_what_the_filter_lists(client, compared):
    fragment = client.get(
        "/comparisons", params={"q": "Sundays", "scenario": "northwind"}, headers=HX
    ).text
    assert "Export these" in fragment
    assert "export?format=csv&amp;scenario=northwind&amp;q=Sundays" in fragment
    lines = client.get(
        "/api/v1/comparisons/export", params={"format": "jsonl", "q": "sundays? (HISTORY"}
    ).text.splitlines()
    assert [json.loads(line)["id"] for line in lines] == [compared["id"]]
    csv = client.get("/api/v1/comparisons/export", params={"format": "csv", "q": "Sundays?"})
    assert csv.text.count(QUERY) == 2  # one row per result
    assert "Export all" in client.get("/comparisons", headers=HX).text


def test_an_empty_filter_result_says_nothing_matches_not_that_there_is_nothing(client, compared):
    page = client.get("/comparisons", params={"q": "zz-no-such-query"}).text
    assert "No comparisons match this filter" in page and "No comparisons yet" not in page
