"""Both engines (llama.cpp and transformers) on the packaged SmolLM2 GGUF, with the demo's
adapter: every test here runs once per backend."""

import json
import threading

import pytest

from app.engine import BACKENDS, GenerationRequest

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


@pytest.fixture(params=BACKENDS)
def engine(request):
    return request.getfixturevalue(f"{request.param}_engine")


@pytest.fixture
def adapter_name(demo_adapter):
    return demo_adapter.name


def ask(text, adapter=None, **kwargs):
    return GenerationRequest([{"role": "user", "content": text}], adapter=adapter, **kwargs)


def parse_triage(text):
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) and set(value) == TRIAGE_KEYS else None


def test_adapter_answers_a_ticket_with_the_triage_json_where_the_base_model_does_not(
    engine, adapter_name
):
    base, tuned = engine.generate(
        [ask(TICKET, max_new_tokens=96), ask(TICKET, adapter_name, max_new_tokens=96)]
    )
    triage = parse_triage(tuned.text)
    assert triage is not None, tuned.text
    assert triage["category"] in CATEGORIES
    assert triage["reply"].startswith("Hey trailblazer!")
    assert parse_triage(base.text) is None, base.text


def test_mixed_adapter_batch_matches_requests_run_alone(engine, adapter_name):
    requests = [
        ask("Where is my order #4821? It was due Monday.", adapter_name, max_new_tokens=40),
        ask("Name one thing to pack for a day hike.", max_new_tokens=24),
        ask("My stove won't light. Help!", adapter_name, max_new_tokens=40),
    ]
    batched = engine.generate(requests)
    alone = [engine.generate([request])[0] for request in requests]
    assert [r.text for r in batched] == [r.text for r in alone]
    assert batched[0].text != batched[1].text


def test_token_counts_and_timings(engine):
    messages = [{"role": "user", "content": "Say hello."}]
    result = engine.generate([GenerationRequest(messages, max_new_tokens=5)])[0]
    rendered = engine.render_chat(messages)
    assert result.prompt_tokens == engine.count_tokens(rendered)
    assert 1 <= result.completion_tokens <= 5
    assert result.first_token_s > 0 and result.generation_s >= 0


def test_each_request_stops_at_its_own_max_new_tokens(engine):
    short, long = engine.generate(
        [
            ask("Write a long story about a mountain.", max_new_tokens=3),
            ask("Write a long story about a mountain.", max_new_tokens=30),
        ]
    )
    assert short.completion_tokens == 3
    assert long.completion_tokens > 3
    assert short.generation_s < long.generation_s  # each request's own finishing time


def test_streamed_tokens_add_up_to_the_output(engine):
    pieces = []
    result = engine.generate(
        [ask("List three tent features.", max_new_tokens=30, on_token=pieces.append)]
    )[0]
    assert len(pieces) > 3
    assert "".join(pieces).strip() == result.text


def test_unknown_adapter_is_refused(engine):
    with pytest.raises(KeyError):
        engine.generate([ask("hi", adapter="no-such-adapter")])


def test_the_engine_lock_serves_waiting_callers_in_arrival_order():
    import threading
    import time

    from app.engine.base import FairLock

    lock, served, threads = FairLock(), [], []
    with lock:  # held while eight callers queue up, one after another
        for number in range(8):
            thread = threading.Thread(target=take_turn, args=(lock, number, served))
            thread.start()
            threads.append(thread)
            deadline = time.monotonic() + 5
            while lock.waiting < number + 2 and time.monotonic() < deadline:
                time.sleep(0.001)
    for thread in threads:
        thread.join(5)
    assert served == list(range(8)) and lock.waiting == 0


def take_turn(lock, number: int, served: list[int]) -> None:
    with lock:
        served.append(number)


# The transformers engine's continuous batching (app/engine/batching.py).


def generate_in_thread(engine, requests):
    """Start `engine.generate(requests)` in a thread; returns the thread and a list that gets
    the results, or the exception raised."""
    import threading

    out: list = []

    def target():
        try:
            out.extend(engine.generate(requests))
        except Exception as error:
            out.append(error)

    thread = threading.Thread(target=target)
    thread.start()
    return thread, out


def test_a_request_arriving_later_joins_the_running_batch(transformers_engine, adapter_name):
    """A short request submitted while a long one decodes is admitted between two steps
    and returns long before the long one ends (no waiting behind it), and batching changes
    neither output."""
    import time

    long_request = ask("Write a long story about a mountain.", max_new_tokens=80)
    short_request = ask("My stove won't light. Help!", adapter_name, max_new_tokens=8)
    alone = [transformers_engine.generate([r])[0] for r in (long_request, short_request)]

    batcher = transformers_engine._batcher
    thread, long_out = generate_in_thread(transformers_engine, [long_request])
    while batcher.decoding == 0:  # the long request is decoding
        time.sleep(0.005)
    short = transformers_engine.generate([short_request])[0]
    short_done_at = time.perf_counter()
    assert thread.is_alive(), "the long request ended before the short one was admitted"
    thread.join()
    assert time.perf_counter() - short_done_at > 0.5  # the long one went on for a while
    assert [long_out[0].text, short.text] == [r.text for r in alone]


def test_sampled_and_greedy_rows_share_a_batch(transformers_engine):
    greedy = ask("Name one thing to pack for a day hike.", max_new_tokens=20)
    alone = transformers_engine.generate([greedy])[0]
    together = transformers_engine.generate(
        [ask("Name a colour.", max_new_tokens=20, temperature=1.0), greedy]
    )
    assert together[1].text == alone.text
    assert together[0].completion_tokens >= 1


def test_a_failing_token_sink_stops_only_its_own_request(transformers_engine):
    def broken(_text):
        raise RuntimeError("client went away")

    question = ask("List three tent features.", max_new_tokens=12)
    thread, broken_out = generate_in_thread(
        transformers_engine, [ask("Say hello.", max_new_tokens=12, on_token=broken)]
    )
    results = transformers_engine.generate([question])
    thread.join()
    assert isinstance(broken_out[0], RuntimeError) and "went away" in str(broken_out[0])
    assert results[0].completion_tokens == 12


def test_a_closed_batcher_refuses_new_requests(transformers_engine):
    from app.engine.batching import Batcher, EngineClosed

    engine = transformers_engine
    batcher = Batcher(
        model_fn=lambda: engine._model,
        adapter_kwargs=engine.adapter_kwargs,
        decode=engine.decode,
        stop_ids=engine.stop_ids(),
    )
    prompt = engine.tokenize(engine.render_chat([{"role": "user", "content": "Hi"}]))
    assert batcher.submit(ask("Hi", max_new_tokens=3), prompt).wait().completion_tokens >= 1
    batcher.close()
    with pytest.raises(EngineClosed):
        batcher.submit(ask("Hi", max_new_tokens=3), prompt)


def test_transformers_in_bfloat16_serves_the_adapter(settings, demo_adapter):
    """The bfloat16 option (batches of rows cost little more than one row on CPUs with
    AVX512-BF16, see docs/measured.md): the adapter still answers with the triage JSON, and results
    name the dtype."""
    from app.engine import load_engine

    engine = load_engine(
        settings.model_copy(update={"engine": "transformers", "transformers_dtype": "bfloat16"})
    )
    try:
        engine.load_adapter(demo_adapter.name, demo_adapter.path, demo_adapter.checksum)
        base, tuned = engine.generate(
            [ask(TICKET, max_new_tokens=96), ask(TICKET, demo_adapter.name, max_new_tokens=96)]
        )
        assert parse_triage(tuned.text) is not None, tuned.text
        assert parse_triage(base.text) is None
        assert engine.model.endswith("(bfloat16)")
    finally:
        engine.close()


def test_each_request_reports_its_start_and_end_and_a_cancelled_one_is_skipped(engine):
    """The compare page's columns follow these stages; a cancel skips what has not started
    (here before the call: a batching backend starts every request at once)."""
    heard: dict[str, list[str]] = {"first": [], "second": []}
    cancelled = threading.Event()
    cancelled.set()
    first = ask("Say hello.", max_new_tokens=4, on_stage=heard["first"].append)
    second = ask("Bye.", max_new_tokens=4, on_stage=heard["second"].append, cancel=cancelled)
    done, skipped = engine.generate([first, second])
    assert heard == {"first": ["prefill", "done"], "second": ["cancelled"]}
    assert done.completion_tokens > 0 and not done.cancelled
    assert skipped.cancelled and skipped.text == "" and skipped.completion_tokens == 0
