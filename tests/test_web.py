"""The HTML pages (server side): full pages vs htmx fragments, errors, the history filter,
and the chart geometry."""

import re

import pytest
from sqlalchemy import func, select

from app.db.models import Comparison
from app.db.queries import list_comparisons
from app.web.chart import BAR_AREA, LABEL_WIDTH, bar_chart

HX = {"HX-Request": "true"}
QUERY = "How many days do I have to return a tent?"


@pytest.fixture(scope="module")
def client(echo_client):
    """Every page here runs on the engine's test double: these tests are about the pages,
    fragments and streams, not what the model answers."""
    return echo_client


def read_events(response) -> list[tuple[str, str]]:
    """(event, data) pairs, multi-line data rejoined as EventSource does."""
    events = []
    for block in response.text.split("\n\n"):
        lines = block.split("\n")
        if lines[0].startswith("event: "):
            data = "\n".join(line.removeprefix("data: ") for line in lines[1:])
            events.append((lines[0].removeprefix("event: "), data))
    return events


def stream_url(live_view: str) -> str:
    return re.search(r'sse-connect="([^"]+)"', live_view).group(1)


@pytest.fixture(scope="module")
def live_view(client):
    form = {"query": QUERY, "levels": ["prompt", "rag", "finetune"], "max_new_tokens": "16"}
    response = client.post("/compare", data=form, headers=HX)
    assert response.status_code == 200, response.text
    return response.text


@pytest.fixture(scope="module")
def streamed(client, live_view):
    return read_events(client.get(stream_url(live_view)))


@pytest.fixture(scope="module")
def compared(streamed):
    """The stored comparison's fragment, which ends the live view's stream."""
    name, html = streamed[-1]
    assert name == "done"
    return html


def test_the_compare_page_is_a_full_page_with_the_form(client):
    page = client.get("/")
    assert page.status_code == 200
    assert "<html" in page.text and 'name="query"' in page.text
    assert '<option value="northwind"' in page.text
    assert "/static/vendor/htmx.min.js" in page.text


def test_htmx_gets_only_the_fragment(client):
    fragment = client.get("/", headers=HX).text
    assert "<html" not in fragment and 'name="query"' in fragment


def test_htmx_gets_a_live_view_with_one_streaming_column_per_level(live_view):
    assert "<html" not in live_view and 'hx-ext="sse"' in live_view
    for level in ("prompt", "rag", "finetune"):
        assert f'sse-swap="token-{level}"' in live_view


def test_the_stream_sends_escaped_tokens_per_level_then_the_comparison(streamed, compared):
    names = [name for name, _ in streamed]
    assert names[-1] == "done"
    assert {n for n in names[:-1] if n.startswith("token-")} == {
        "token-prompt",
        "token-rag",
        "token-finetune",
    }
    assert {n for n in names[:-1] if not n.startswith("token-")} == {
        "stage-prompt",
        "stage-rag",
        "stage-finetune",
    }  # app/web/live.py's stages: see test_compare_live.py
    for level in ("prompt", "rag", "finetune"):
        text = "".join(data for name, data in streamed if name == f"token-{level}")
        assert text.strip() and "<" not in text
    assert 'class="comparison"' in compared and "cost / 1,000" in compared
    assert "a month at" in compared  # the same columns as the page renders


def test_a_used_stream_address_ends_at_once_and_says_where_to_look(client, live_view, streamed):
    events = read_events(client.get(stream_url(live_view)))
    assert [name for name, _ in events] == ["done"]
    assert "410" in events[0][1] and "history" in events[0][1]


def test_an_unknown_scenario_is_refused_before_the_live_view(client):
    form = {"query": "hi", "levels": "rag", "scenario": "nope"}
    response = client.post("/compare", data=form, headers=HX)
    assert response.status_code == 404 and "sse-connect" not in response.text


def test_a_comparison_shows_three_columns_with_metrics_and_what_was_used(compared):
    assert "<html" not in compared
    for level in ("prompt", "rag", "finetune"):
        assert f'data-level="{level}"' in compared
    assert compared.count("first token") == 3 and compared.count("cost / 1,000") == 3
    assert 'data-level="rag_finetune"' not in compared  # the form asked for three
    assert "returns-policy" in compared.lower() or "Returns" in compared
    assert "<svg" in compared and "bar-rag" in compared
    assert "adapter northwind-demo-" in compared
    assert compared.count("SmolLM2-135M-Instruct.Q4_1.gguf · echo") == 3  # column footers


def test_without_htmx_the_comparison_comes_in_the_full_page(client):
    response = client.post(
        "/compare", data={"query": QUERY, "levels": "finetune", "max_new_tokens": "8"}
    )
    assert response.status_code == 200
    assert "<html" in response.text and 'data-level="finetune"' in response.text


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"query": "   ", "levels": "rag"}, "Query must not be empty"),
        ({"query": "hi"}, "Choose at least one level"),
        ({"query": "hi", "levels": "rag", "max_new_tokens": "5000"}, "Max new tokens must be at"),
        ({"query": "hi", "levels": "telepathy"}, "unknown level(s) telepathy; choose from prompt"),
    ],
)
def test_bad_input_is_an_inline_error_fragment_and_nothing_is_stored(
    client, session, form, message
):
    before = session.scalar(select(func.count(Comparison.id)))
    response = client.post("/compare", data=form, headers=HX)
    assert response.status_code == 422
    assert "<html" not in response.text and 'role="alert"' in response.text
    assert message in response.text
    assert session.scalar(select(func.count(Comparison.id))) == before


def test_history_lists_the_comparison_and_filters_by_text(client, compared):
    page = client.get("/comparisons")
    assert page.status_code == 200 and QUERY in page.text and "<html" in page.text
    fragment = client.get("/comparisons", params={"q": "RETURN A TENT"}, headers=HX).text
    assert "<html" not in fragment and QUERY in fragment
    assert QUERY not in client.get("/comparisons", params={"q": "zz_no_such%"}).text


def test_text_filter_treats_like_wildcards_literally(session, compared):
    assert list_comparisons(session, scenario=None, q="%", limit=5, offset=0)[1] == 0
    assert list_comparisons(session, scenario=None, q="_", limit=5, offset=0)[1] == 0
    assert list_comparisons(session, scenario=None, q="tent?", limit=5, offset=0)[1] >= 1


def test_the_detail_page_reads_the_comparison_from_the_database(client, session, compared):
    latest = session.scalar(select(func.max(Comparison.id)))
    page = client.get(f"/comparisons/{latest}")
    assert page.status_code == 200
    assert "Run again" in page.text and "export?format=csv" in page.text
    assert page.text.count('class="level ') >= 1


def test_run_again_stores_a_new_comparison_with_the_same_settings(client, session, compared):
    latest = session.scalar(select(func.max(Comparison.id)))
    response = client.post(f"/comparisons/{latest}/rerun", follow_redirects=False)
    assert response.status_code == 303
    new_id = int(response.headers["location"].rsplit("/", 1)[1])
    assert new_id > latest
    session.expire_all()
    old, new = session.get(Comparison, latest), session.get(Comparison, new_id)
    assert (new.query, new.settings) == (old.query, old.settings)


def test_the_scenario_page_shows_what_it_holds(client):
    page = client.get("/scenarios/northwind")
    assert page.status_code == 200
    assert "System prompt" in page.text and "active" in page.text
    assert "<html" not in client.get("/scenarios/northwind", headers=HX).text


@pytest.mark.parametrize("path", ["/no/such/page", "/comparisons/999999", "/scenarios/nope"])
def test_unknown_pages_are_a_friendly_404(client, path):
    page = client.get(path)
    assert page.status_code == 404
    assert "<html" in page.text and "Not found" in page.text
    fragment = client.get(path, headers=HX)
    assert fragment.status_code == 404 and "<html" not in fragment.text
    assert 'role="alert"' in fragment.text


def test_the_api_keeps_answering_errors_as_json(client):
    assert client.get("/api/v1/comparisons/999999").json() == {
        "detail": "comparison 999999 not found"
    }
    assert client.get("/api/v1/nothing").headers["content-type"] == "application/json"


def test_a_bad_id_in_the_address_is_an_html_error_not_json(client):
    page = client.get("/comparisons/abc")
    assert page.status_code == 422 and "<html" in page.text


def test_the_loading_banner_shows_only_while_models_load(client, echo_runtime):
    assert "Models are still loading" not in client.get("/").text
    echo_runtime._ready.clear()
    try:
        assert "Models are still loading" in client.get("/").text
    finally:
        echo_runtime._ready.set()


def test_bars_are_drawn_to_scale_from_the_label_column():
    chart = bar_chart("Latency", [("prompt", 50.0, "50"), ("rag", 100.0, "100"), ("x", 0, "0")])
    prompt, rag, zero = chart.bars
    assert rag.width == BAR_AREA and prompt.width == BAR_AREA / 2 and zero.width == 0
    assert {bar.x for bar in chart.bars} == {LABEL_WIDTH}
    assert prompt.y < rag.y < zero.y and chart.height >= zero.y + zero.height


def test_a_chart_of_zeros_or_negatives_has_no_bars_and_no_division_by_zero():
    chart = bar_chart("Cost", [("a", 0.0, ""), ("b", -1.0, "")])
    assert [bar.width for bar in chart.bars] == [0.0, 0.0]
    assert bar_chart("Cost", []).bars == []


def test_the_adapter_selector_lists_only_the_chosen_scenarios_adapters(client, session):
    from app.db.models import Scenario

    session.add(Scenario(slug="bare", name="Bare", system_prompt="Answer."))
    session.commit()
    try:
        northwind = client.get("/compare/adapters", params={"scenario": "northwind"}).text
        assert 'id="adapter-select"' in northwind and "northwind-demo-" in northwind
        bare = client.get("/compare/adapters", params={"scenario": "bare"}).text
        assert "northwind-demo-" not in bare and bare.count("<option") == 1
        assert "northwind-demo-" not in client.get("/").text  # the page remembers "bare"
        client.get("/compare/adapters", params={"scenario": "northwind"})
        assert "northwind-demo-" in client.get("/").text
    finally:
        client.cookies.clear()
        session.delete(session.scalar(select(Scenario).where(Scenario.slug == "bare")))
        session.commit()
