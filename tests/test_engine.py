"""The transformers engine on the packaged SmolLM2 GGUF, with the demo's PEFT adapter."""

import json

import pytest
from sqlalchemy import select

from app.db.models import Scenario
from app.engine import GenerationRequest
from app.engine.transformers import render_chat

TICKET = (
    "Hi, the zipper on my Switchback 45 backpack split open on day two of my trip. "
    "I'm really disappointed. Can I get it fixed or replaced?"
)
TRIAGE_KEYS = {"category", "priority", "product", "sentiment", "reply"}
CATEGORIES = {
    "return",
    "warranty",
    "shipping",
    "order_status",
    "product_question",
    "billing",
    "account",
    "feedback",
}


@pytest.fixture(scope="module")
def adapter_name(runtime):
    with runtime.session() as session:
        scenario = session.scalar(select(Scenario).where(Scenario.slug == "northwind"))
        adapter = scenario.active_adapter
        runtime.engine.load_adapter(adapter.name, adapter.path, adapter.checksum)
        return adapter.name


def ask(text, adapter=None, **kwargs):
    return GenerationRequest([{"role": "user", "content": text}], adapter=adapter, **kwargs)


def parse_triage(text):
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) and set(value) == TRIAGE_KEYS else None


def test_adapter_answers_a_ticket_with_the_triage_json_where_the_base_model_does_not(
    runtime, adapter_name
):
    base, tuned = runtime.engine.generate(
        [ask(TICKET, max_new_tokens=96), ask(TICKET, adapter_name, max_new_tokens=96)]
    )
    triage = parse_triage(tuned.text)
    assert triage is not None, tuned.text
    assert triage["category"] in CATEGORIES
    assert triage["reply"].startswith("Hey trailblazer!")
    assert parse_triage(base.text) is None, base.text


def test_mixed_adapter_batch_matches_requests_run_alone(runtime, adapter_name):
    requests = [
        ask("Where is my order #4821? It was due Monday.", adapter_name, max_new_tokens=40),
        ask("Name one thing to pack for a day hike.", max_new_tokens=24),
        ask("My stove won't light. Help!", adapter_name, max_new_tokens=40),
    ]
    batched = runtime.engine.generate(requests)
    alone = [runtime.engine.generate([request])[0] for request in requests]
    assert [r.text for r in batched] == [r.text for r in alone]
    assert batched[0].text != batched[1].text


def test_token_counts_and_timings(runtime):
    messages = [{"role": "user", "content": "Say hello."}]
    result = runtime.engine.generate([GenerationRequest(messages, max_new_tokens=5)])[0]
    rendered = render_chat(runtime.engine.tokenizer, messages)
    assert result.prompt_tokens == runtime.engine.count_tokens(rendered)
    assert 1 <= result.completion_tokens <= 5
    assert result.first_token_s > 0 and result.generation_s >= 0


def test_row_stops_at_its_own_max_new_tokens(runtime):
    short, long = runtime.engine.generate(
        [
            ask("Write a long story about a mountain.", max_new_tokens=3),
            ask("Write a long story about a mountain.", max_new_tokens=30),
        ]
    )
    assert short.completion_tokens == 3
    assert long.completion_tokens > 3
    assert short.generation_s < long.generation_s  # each row's own finishing time
    assert short.first_token_s == long.first_token_s  # one prefill for the batch


def test_streamed_tokens_add_up_to_the_output(runtime):
    pieces = []
    result = runtime.engine.generate(
        [ask("List three tent features.", max_new_tokens=30, on_token=pieces.append)]
    )[0]
    assert len(pieces) > 3
    assert "".join(pieces).strip() == result.text


def test_unknown_adapter_is_refused(runtime):
    with pytest.raises(KeyError):
        runtime.engine.generate([ask("hi", adapter="no-such-adapter")])
