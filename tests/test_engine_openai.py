"""The `openai` engine against a real OpenAI-compatible server: llama-cpp-python's own
(tests/openai_server.py) serving the packaged base GGUF as `base` and the demo adapter,
converted to a GGUF LoRA, as a model named after the adapter. test_engine.py runs the engine
contract on it too; this file checks what is particular to a server: its usage, adapters
as served models, errors, settings, and one comparison end to end."""

import json
import socket
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from app.config import Settings
from app.engine import GenerationRequest, load_engine, resolve_backend
from app.engine.openai_api import AdapterNotServed, OpenAIEngine, ServerError, StreamedAnswer
from app.levels import level_names
from tests.openai_server import BASE_MODEL_NAME, free_port

HELDOUT = Path(__file__).resolve().parent.parent / "data" / "demo" / "eval_split.jsonl"
TRIAGE_KEYS = {"category", "priority", "product", "sentiment", "reply"}
QUESTION = "Name one thing to pack for a day hike."


def heldout_tickets(n):
    lines = HELDOUT.read_text().splitlines()[:n]
    return [json.loads(line)["messages"][0]["content"] for line in lines]


def ask(text, adapter=None, max_new_tokens=32, **kwargs):
    messages = [{"role": "user", "content": text}]
    return GenerationRequest(messages, adapter, max_new_tokens, **kwargs)


def engine_for(base_url, settings, **kwargs):
    return OpenAIEngine(
        base_url=base_url, model=BASE_MODEL_NAME, base_model=settings.base_model, **kwargs
    )


def non_streamed(server, model, text, max_tokens):
    """The server's own answer and usage, asked without streaming."""
    body = {
        "model": model,
        "messages": [{"role": "user", "content": text}],
        "max_tokens": max_tokens,
        "temperature": 0,
        "repeat_penalty": 1.0,
    }
    headers = {"Authorization": f"Bearer {server.api_key}"}
    response = httpx.post(f"{server.base_url}/chat/completions", json=body, headers=headers)
    response.raise_for_status()
    return response.json()


@pytest.mark.parametrize("with_adapter", [False, True])
def test_answer_and_token_counts_are_the_servers(
    with_adapter, openai_engine, openai_server, demo_adapter
):
    """The server sends no usage in streams, so the engine counts locally: the counts must
    be those the server reports for the same request without streaming."""
    adapter = demo_adapter.name if with_adapter else None
    ticket = heldout_tickets(1)[0]
    [result] = openai_engine.generate([ask(ticket, adapter, max_new_tokens=96)])
    direct = non_streamed(openai_server, adapter or BASE_MODEL_NAME, ticket, 96)
    assert result.text == direct["choices"][0]["message"]["content"].strip()
    usage = direct["usage"]
    assert result.prompt_tokens == usage["prompt_tokens"]
    assert result.completion_tokens == usage["completion_tokens"]
    assert result.first_token_s > 0 and result.generation_s > 0


def test_streamed_deltas_add_up_to_the_answer(openai_engine):
    pieces = []
    [result] = openai_engine.generate([ask(QUESTION, max_new_tokens=30, on_token=pieces.append)])
    assert len(pieces) > 3
    assert "".join(pieces).strip() == result.text


def test_the_adapter_is_its_own_served_model_and_answers_as_the_llamacpp_engine(
    openai_engine, llamacpp_engine, demo_adapter
):
    """Same GGUF, same GGUF LoRA, greedy: the server writes what the llama.cpp engine
    writes, token for token; the adapter's triage JSON, the base model's prose."""
    tickets = heldout_tickets(2)

    def requests():
        tuned = [ask(ticket, demo_adapter.name, max_new_tokens=96) for ticket in tickets]
        return [*tuned, ask(tickets[0], max_new_tokens=32)]  # base prose: no JSON to finish

    ours = openai_engine.generate(requests())
    reference = llamacpp_engine.generate(requests())
    assert [r.text for r in ours] == [r.text for r in reference]
    counts = [(r.prompt_tokens, r.completion_tokens) for r in ours]
    assert counts == [(r.prompt_tokens, r.completion_tokens) for r in reference]
    for tuned in ours[:2]:
        assert set(json.loads(tuned.text)) == TRIAGE_KEYS, tuned.text
    assert not ours[2].text.startswith("{"), ours[2].text


def test_an_adapter_can_be_served_under_another_name(openai_server, settings, demo_adapter):
    engine = engine_for(
        openai_server.base_url,
        settings,
        api_key=openai_server.api_key,
        adapter_models={"renamed": demo_adapter.name},
        extra_body={"repeat_penalty": 1.0},
    )
    engine.load_adapter("renamed", demo_adapter.path, demo_adapter.checksum)
    assert engine.request_body(ask("hi", "renamed"))["model"] == demo_adapter.name
    [answer] = engine.generate([ask(heldout_tickets(1)[0], "renamed", max_new_tokens=12)])
    assert answer.text.startswith('{"category"')


def test_an_adapter_the_server_does_not_serve_is_refused_by_name(openai_engine):
    with pytest.raises(AdapterNotServed) as refused:
        openai_engine.load_adapter("no-such-adapter", "/nowhere", "0" * 64)
    message = str(refused.value)
    assert "'no-such-adapter'" in message
    assert f"{openai_engine.base_url}/models" in message and BASE_MODEL_NAME in message
    assert not openai_engine.has_adapter("no-such-adapter")
    with pytest.raises(KeyError):
        openai_engine.generate([ask("hi", "no-such-adapter")])


def test_a_server_that_is_not_running_is_named(settings):
    base_url = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    engine = engine_for(base_url, settings, api_key="sk-not-running-secret")
    with pytest.raises(ServerError, match=f"{base_url}/chat/completions: ConnectError") as failed:
        engine.generate([ask("hi")])
    assert "sk-not-running-secret" not in str(failed.value)
    with pytest.raises(ServerError, match=f"{base_url}/models"):
        engine.load_adapter("any", "/nowhere", "0" * 64)


def test_a_server_that_does_not_answer_times_out_by_name(settings):
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        base_url = f"http://127.0.0.1:{silent.getsockname()[1]}/v1"
        engine = engine_for(base_url, settings, timeout_s=0.5)
        with pytest.raises(ServerError, match=f"{base_url}/chat/completions: no answer within"):
            engine.generate([ask("hi")])


def test_http_errors_name_the_url_and_status_never_the_api_key(openai_server, settings):
    wrong_key = "sk-wrong-key-7731"
    engine = engine_for(openai_server.base_url, settings, api_key=wrong_key)
    url = f"{openai_server.base_url}/chat/completions"
    with pytest.raises(ServerError, match=f"{url} answered HTTP 401: Invalid API key") as denied:
        engine.generate([ask("hi")])
    assert wrong_key not in str(denied.value)
    with pytest.raises(ServerError, match="HTTP 401") as denied:
        engine.load_adapter("any", "/nowhere", "0" * 64)
    assert wrong_key not in str(denied.value)


def test_a_request_the_server_rejects_is_an_error_with_its_reason(openai_engine):
    url = f"{openai_engine.base_url}/chat/completions"
    robot = GenerationRequest([{"role": "robot", "content": "hi"}])
    # llama-cpp-python's server answers a request that fails validation with a 500
    with pytest.raises(ServerError, match=f"(?s){url} answered HTTP (422|500): .*'robot'"):
        openai_engine.generate([robot])


def test_prompts_are_rendered_and_counted_with_the_base_gguf(openai_engine, llamacpp_engine):
    messages = [
        {"role": "system", "content": "You answer in one sentence."},
        {"role": "user", "content": "Why are tents waterproof?"},
    ]
    rendered = openai_engine.render_chat(messages)
    assert rendered == llamacpp_engine.render_chat(messages)
    assert openai_engine.count_tokens(rendered) == llamacpp_engine.count_tokens(rendered)


def test_usage_sent_by_a_server_is_used_as_sent(openai_engine):
    """OpenAI and vLLM send usage in a last chunk without choices (`include_usage`); these
    lines follow OpenAI's documented stream format. The counts are taken as sent."""
    lines = [
        'data: {"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}',
        "",
        'data: {"choices":[{"index":0,"delta":{"content":"Hel"},"finish_reason":null}]}',
        'data: {"choices":[{"index":0,"delta":{"content":"lo"},"finish_reason":null}]}',
        'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":null}',
        ": a comment line",
        'data: {"choices":[],"usage":{"prompt_tokens":9,"completion_tokens":2}}',
        "data: [DONE]",
    ]
    pieces = []
    answer = StreamedAnswer(pieces.append)
    for line in lines:
        answer.add_line(line)
    assert (answer.text, pieces, answer.finish_reason, answer.done) == (
        "Hello",
        ["Hel", "lo"],
        "stop",
        True,
    )
    assert openai_engine.token_counts(ask("hi"), answer) == (9, 2)


def test_load_engine_builds_it_from_settings_and_auto_never_picks_it(settings, openai_settings):
    engine = load_engine(openai_settings)
    assert isinstance(engine, OpenAIEngine) and engine.name == "openai"
    assert (engine.base_url, engine.model) == (openai_settings.openai_base_url, BASE_MODEL_NAME)
    assert resolve_backend("auto", settings.base_model) == "llamacpp"
    assert resolve_backend("auto", "HuggingFaceTB/SmolLM2-135M-Instruct") == "transformers"
    unset = openai_settings.model_copy(update={"openai_base_url": None, "openai_model": None})
    with pytest.raises(ValueError, match="TRITUNE_OPENAI_BASE_URL and TRITUNE_OPENAI_MODEL"):
        load_engine(unset)


def test_settings_read_the_environment_and_hide_the_api_key(monkeypatch):
    from app.cli import app
    from app.cli.context import CliContext

    monkeypatch.setenv("TRITUNE_ENGINE", "openai")
    monkeypatch.setenv("TRITUNE_OPENAI_API_KEY", "sk-env-secret-5521")
    monkeypatch.setenv("TRITUNE_OPENAI_ADAPTER_MODELS", '{"northwind-demo": "triage-lora"}')
    monkeypatch.setenv("TRITUNE_OPENAI_EXTRA_BODY", '{"repeat_penalty": 1.0}')
    settings = Settings(_env_file=None)
    assert settings.engine == "openai"
    assert settings.openai_api_key.get_secret_value() == "sk-env-secret-5521"
    assert settings.openai_adapter_models == {"northwind-demo": "triage-lora"}
    assert "sk-env-secret-5521" not in repr(settings)
    shown = CliRunner().invoke(app, ["settings"], obj=CliContext(settings=settings))
    assert shown.exit_code == 0, shown.output
    assert "triage-lora" in shown.output and "sk-env-secret-5521" not in shown.output


def test_a_comparison_on_the_openai_engine_stores_what_produced_it(
    runtime, openai_settings, openai_engine
):
    from app.compare import ComparisonOptions, run_comparison
    from app.runtime import Runtime

    served = Runtime(openai_settings)
    served.embedder, served.engine = runtime.embedder, openai_engine  # loaded once per session
    served.load(demo=False)
    try:
        with served.session() as session:
            comparison = run_comparison(
                session=session,
                runtime=served,
                scenario="northwind",
                query=heldout_tickets(3)[2],
                options=ComparisonOptions(max_new_tokens=48),
            )
            results = {result.level: result for result in comparison.results}
    finally:
        served.close()
    assert set(results) == set(level_names())
    for result in results.values():
        assert result.error is None, (result.level, result.error)
        assert (result.engine, result.model) == ("openai", BASE_MODEL_NAME)
        assert result.output and result.prompt_tokens > 0 and result.completion_tokens > 0
    assert results["finetune"].output.startswith('{"category"')
