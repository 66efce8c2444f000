"""The compare page while it runs and after: each column's stage (queued until the engine
starts its level), cancelling the levels not started, the prompt each level sent, running
one level again with an edited prompt, "Run again" streaming, the answer checks, and the
example queries. On the engine's test double, which serves levels one after another."""

import re
import threading

import pytest
from sqlalchemy import func, select

from app.compare import ComparisonOptions, run_comparison
from app.compare.service import CANCELLED
from app.db.models import Comparison, Result, Scenario
from app.web.comparison_view import preview, result_badges, settings_in_words
from tests.test_web import read_events, stream_url

HX = {"HX-Request": "true"}
LEVELS = ["prompt", "rag", "finetune"]
QUERY = "How many days do I have to return a tent?"


@pytest.fixture(scope="module")
def client(echo_client):
    return echo_client


def start(client, **form):
    data = {"query": QUERY, "levels": LEVELS, "max_new_tokens": "16", **form}
    response = client.post("/compare", data=data, headers=HX)
    assert response.status_code == 200, response.text
    return response.text


def stages(events) -> dict[str, list[str]]:
    """Each level's stages in the order the stream sent them."""
    seen: dict[str, list[str]] = {}
    for name, data in events:
        if name.startswith("stage-"):
            stage = re.search(r'data-stage="([a-z]+)"', data).group(1)
            seen.setdefault(name.removeprefix("stage-"), []).append(stage)
    return seen


def stored(session, comparison_id: int) -> Comparison:
    session.expire_all()
    return session.get(Comparison, comparison_id)


def comparison_id(html: str) -> int:
    return int(re.search(r'id="comparison-(\d+)"', html).group(1))


def test_every_column_waits_queued_then_hears_prefill_generating_done_in_turn(client):
    live = start(client)
    assert live.count('data-stage="queued"') == 3 and "Cancel pending levels" in live
    events = read_events(client.get(stream_url(live)))
    assert stages(events) == {level: ["prefill", "generating", "done"] for level in LEVELS}
    order = [(n.removeprefix("stage-"), d) for n, d in events if n.startswith("stage-")]
    starts = [i for i, (_, data) in enumerate(order) if 'data-stage="prefill"' in data]
    ends = [i for i, (_, data) in enumerate(order) if 'data-stage="done"' in data]
    assert starts[1] > ends[0] and starts[2] > ends[1]  # one level after another
    assert re.search(r'data-seconds="\d+\.\d\d"', events[0][1])


def test_the_stored_comparison_asks_the_page_for_its_own_address(client):
    events = read_events(client.get(stream_url(start(client))))
    done = events[-1][1]
    assert f'data-push-url="/comparisons/{comparison_id(done)}"' in done


def test_cancelling_skips_every_level_not_started_and_stores_them_as_cancelled(client, session):
    live = start(client)
    cancel = re.search(r'hx-post="(/compare/stream/[^"]+/cancel)"', live).group(1)
    answer = client.post(cancel, headers=HX)
    assert answer.status_code == 200 and "Cancelling" in answer.text
    events = read_events(client.get(stream_url(live)))
    assert stages(events) == {level: ["cancelled"] for level in LEVELS}
    done = events[-1][1]
    assert done.count("Cancelled before it started") == 3
    assert done.count(">cancelled</text>") == 6  # the latency and cost bars say so
    comparison = stored(session, comparison_id(done))
    assert [r.error for r in comparison.results] == [CANCELLED] * 3
    assert all(r.cost_usd == 0 and r.completion_tokens == 0 for r in comparison.results)
    assert client.post(cancel, headers=HX).status_code == 410  # it has ended


def test_a_cancel_while_a_level_generates_skips_only_the_levels_after_it(echo_runtime, session):
    cancel = threading.Event()

    def on_stage(level: str, stage: str) -> None:
        if (level, stage) == ("prompt", "done"):
            cancel.set()

    comparison = run_comparison(
        session=session,
        runtime=echo_runtime,
        scenario="northwind",
        query=QUERY,
        options=ComparisonOptions(levels=LEVELS, max_new_tokens=8),
        on_stage=on_stage,
        cancel=cancel,
    )
    errors = {r.level: r.error for r in comparison.results}
    assert errors == {"prompt": None, "rag": CANCELLED, "finetune": CANCELLED}
    assert comparison.results[0].output.startswith("base heard")


def test_an_unknown_live_view_cannot_be_cancelled(client):
    assert client.post("/compare/stream/nope/cancel", headers=HX).status_code == 410


def test_each_level_shows_the_messages_it_sent_which_the_api_returns_too(client):
    done = read_events(client.get(stream_url(start(client))))[-1][1]
    assert done.count("Prompt sent") == 3
    result = client.get(f"/api/v1/comparisons/{comparison_id(done)}").json()["results"]
    for level in result:
        messages = level["provenance"]["messages"]
        assert messages[-1]["role"] == "user" and QUERY in messages[-1]["content"]
    rag = next(r for r in result if r["level"] == "rag")
    assert rag["context"][0]["text"][:40] in rag["provenance"]["messages"][-1]["content"]


def test_a_level_runs_again_alone_with_its_edited_prompt_as_a_new_comparison(client, session):
    done = read_events(client.get(stream_url(start(client))))[-1][1]
    earlier = comparison_id(done)
    form = {"role": ["system", "user"], "content": ["Answer in French.", "Edited: where is Boise?"]}
    response = client.post(
        f"/comparisons/{earlier}/levels/prompt/rerun", data=form, follow_redirects=False
    )
    assert response.status_code == 303
    new = stored(session, int(response.headers["location"].rsplit("/", 1)[1]))
    (result,) = new.results
    assert result.level == "prompt" and result.output == "base heard: Edited: where is Boise?"
    assert result.provenance["messages"][0] == {"role": "system", "content": "Answer in French."}
    assert result.provenance["prompt_edited"] is True
    assert new.settings["edited_messages"]["prompt"][1]["content"] == "Edited: where is Boise?"
    page = client.get(f"/comparisons/{new.id}").text
    assert "Prompt sent (edited)" in page and "edited prompt for prompt (one-off)" in page
    prompts = session.scalar(select(Scenario).where(Scenario.slug == "northwind")).system_prompt
    assert prompts != "Answer in French."  # the scenario's prompt is unchanged


def test_an_edited_rerun_from_htmx_streams_one_column(client):
    done = read_events(client.get(stream_url(start(client))))[-1][1]
    form = {"role": ["user"], "content": ["Only this"]}
    live = client.post(
        f"/comparisons/{comparison_id(done)}/levels/prompt/rerun", data=form, headers=HX
    ).text
    assert 'data-level="prompt"' in live and 'data-level="rag"' not in live
    events = read_events(client.get(stream_url(live)))
    assert "heard: Only this" in events[-1][1]


@pytest.mark.parametrize(
    "form",
    [
        {"role": ["system"], "content": ["no user message"]},
        {"role": ["user", "user"], "content": ["one"]},
        {"role": ["wizard"], "content": ["hi"]},
    ],
)
def test_an_edited_prompt_without_a_sound_user_message_is_refused(client, session, form):
    latest = session.scalar(select(func.max(Comparison.id)))
    before = session.scalar(select(func.count(Comparison.id)))
    response = client.post(f"/comparisons/{latest}/levels/rag/rerun", data=form, headers=HX)
    assert response.status_code == 422 and 'role="alert"' in response.text
    assert session.scalar(select(func.count(Comparison.id))) == before


def test_run_again_from_htmx_streams_into_the_page(client, session):
    latest = session.scalar(select(func.max(Comparison.id)))
    live = client.post(f"/comparisons/{latest}/rerun", headers=HX).text
    assert "sse-connect" in live
    done = read_events(client.get(stream_url(live)))[-1][1]
    assert comparison_id(done) > latest and "data-push-url" in done


def test_a_column_that_used_every_token_is_marked_truncated(client):
    done = read_events(client.get(stream_url(start(client, max_new_tokens="3"))))[-1][1]
    assert done.count("truncated") == 3
    assert "at most 3 new tokens" in done


def test_answers_get_json_schema_and_citation_badges(client):
    done = read_events(client.get(stream_url(start(client))))[-1][1]
    assert done.count("not JSON") == 3  # the demo has an output schema; echoes are prose
    assert done.count("schema mismatch") == 3
    assert "no citations" in done  # the rag column's echo cites nothing


def result(output: str, context=None, completion_tokens=5) -> Result:
    return Result(
        level="rag",
        output=output,
        context=context or [],
        completion_tokens=completion_tokens,
        error=None,
    )


SCHEMA = {
    "type": "object",
    "required": ["category"],
    "properties": {"category": {"type": "string"}},
}


def comparison(schema=SCHEMA, max_new_tokens=16) -> Comparison:
    return Comparison(
        scenario=Scenario(slug="s", name="s", output_schema=schema),
        settings={"max_new_tokens": max_new_tokens},
    )


def labels(res: Result, comp: Comparison) -> list[tuple[str, bool]]:
    return [(b.label, b.ok) for b in result_badges(res, comp)]


def test_badges_say_what_an_answer_passes():
    assert labels(result('{"category": "return"}'), comparison()) == [
        ("valid JSON", True),
        ("matches schema", True),
    ]
    assert labels(result('{"priority": 1}'), comparison())[1] == ("schema mismatch", False)
    cited = result("60 days [2].", context=[{"citation": 1}, {"citation": 2}])
    assert labels(cited, comparison(schema=None)) == [("cites [2]", True)]
    assert labels(result("prose", completion_tokens=16), comparison(schema=None)) == [
        ("truncated", False)
    ]
    assert labels(result("[7] is no source", [{"citation": 1}]), comparison(None)) == [
        ("no citations", False)
    ]


def test_settings_read_as_words_not_python_reprs():
    words = settings_in_words(
        {
            "levels": LEVELS,
            "max_new_tokens": 128,
            "temperature": 0.0,
            "top_k": 4,
            "few_shot_k": 3,
            "adapter": None,
            "prompt_versions": {"prompt": 2},
        }
    )
    text = " · ".join(words)
    assert "None" not in text and "=" not in text and "{" not in text
    assert "greedy" in text and "the active adapter" in text and "prompt v2" in text


def test_a_preview_is_one_shortened_line():
    assert preview(result("a\n\nb " + "x" * 200), length=20) == "a b " + "x" * 15 + "…"


def test_the_compare_page_has_a_heading_and_a_real_query_ready_to_run(client):
    page = client.get("/").text
    assert "<h1>Compare</h1>" in page and 'class="lede"' in page
    textarea = re.search(r'<textarea name="query"[^>]*>([^<]*)</textarea>', page).group(1)
    assert textarea == QUERY  # the demo's first eval item
    assert page.count('class="link example-query"') == 3  # one per kind of eval item
    assert "What layers should I wear" in page


@pytest.mark.parametrize(
    ("form", "sentence"),
    [
        ({"query": QUERY}, "Choose at least one level"),
        ({"query": QUERY, "levels": "rag", "top_k": "0"}, "Top-k chunks must be at least 1"),
        ({"query": QUERY, "levels": "rag", "temperature": "warm"}, "Temperature must be a number"),
    ],
)
def test_validation_errors_read_as_sentences(client, form, sentence):
    response = client.post("/compare", data=form, headers=HX)
    assert response.status_code == 422 and sentence in response.text
    assert "List should have" not in response.text and "validation" not in response.text
