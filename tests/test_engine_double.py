"""The engine's test double (app/engine/echo.py) keeps the engine's promises: the base
model's real tokenizer and chat template, measured timings, streamed pieces, adapters
through the base's bookkeeping."""

import pytest

from app.engine import AdapterNotLoaded, EngineClosed, GenerationRequest
from app.engine.echo import EchoEngine

QUESTION = "How many days do I have to return a tent?"


def ask(text=QUESTION, adapter=None, **kwargs):
    return GenerationRequest([{"role": "user", "content": text}], adapter=adapter, **kwargs)


@pytest.fixture(scope="module")
def reference_tokenizer(settings):
    """The GGUF's tokenizer as transformers reads it: independent of the double's own."""
    from pathlib import Path

    from transformers import AutoTokenizer

    path = Path(settings.base_model)
    return AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)


def test_the_answer_echoes_the_last_line_of_the_question_and_names_the_adapter(
    echo_engine, demo_adapter
):
    echo_engine.load_adapter(demo_adapter.name, demo_adapter.path, demo_adapter.checksum)
    rag_style = ask(f"Sources:\n[1] Returns: 30 days.\n\nQuestion: {QUESTION}")
    base, tuned, rag = echo_engine.generate([ask(), ask(adapter=demo_adapter.name), rag_style])
    assert base.text == f"base heard: {QUESTION}"
    assert tuned.text == f"{demo_adapter.name} heard: {QUESTION}"
    assert rag.text == f"base heard: Question: {QUESTION}"
    assert echo_engine.generate([ask()])[0].text == base.text


def test_prompts_are_rendered_and_counted_with_the_base_models_tokenizer(
    echo_engine, reference_tokenizer
):
    messages = [
        {"role": "system", "content": "You answer in one sentence."},
        {"role": "user", "content": "Why are tents waterproof? 🏕"},
    ]
    rendered = echo_engine.render_chat(messages)
    reference = reference_tokenizer.apply_chat_template(
        messages, tokenize=False, add_generation_prompt=True
    )
    assert rendered == reference
    tokens = reference_tokenizer.encode(rendered, add_special_tokens=False)
    assert echo_engine.count_tokens(rendered) == len(tokens)
    [result] = echo_engine.generate([GenerationRequest(messages)])
    assert result.prompt_tokens == len(tokens)


def test_the_answer_stops_at_max_new_tokens_counted_in_real_tokens(
    echo_engine, reference_tokenizer
):
    full, cut = echo_engine.generate([ask(), ask(max_new_tokens=3)])
    assert full.completion_tokens == len(
        reference_tokenizer.encode(f"base heard: {QUESTION}", add_special_tokens=False)
    )
    assert cut.completion_tokens == 3 and f"base heard: {QUESTION}".startswith(cut.text)


def test_pieces_stream_token_by_token_and_add_up_to_the_answer(echo_engine):
    pieces = []
    text = "Pitch the tent 🏕 then the tarp ⛺ now"
    [result] = echo_engine.generate([ask(text, on_token=pieces.append)])
    assert len(pieces) > 5 and "".join(pieces) == result.text
    assert not any("\ufffd" in piece for piece in pieces)  # emoji span several tokens


def test_timings_are_measured(settings):
    slow = EchoEngine(settings.base_model, token_delay_s=0.01)
    try:
        [result] = slow.generate([ask(max_new_tokens=6)])
    finally:
        slow.close()
    assert result.completion_tokens == 6
    assert result.first_token_s >= 0.01 and result.generation_s >= 0.05
    assert result.tokens_per_s == pytest.approx(5 / result.generation_s)


def test_an_adapter_needs_a_peft_config_and_an_unloaded_one_is_refused(
    echo_engine, demo_adapter, tmp_path
):
    with pytest.raises(FileNotFoundError, match="adapter_config.json is missing"):
        echo_engine.load_adapter("empty", str(tmp_path), "0" * 64)
    (tmp_path / "adapter_config.json").write_text("{not json")
    with pytest.raises(ValueError, match="not a JSON adapter config"):
        echo_engine.load_adapter("broken", str(tmp_path), "0" * 64)
    assert not echo_engine.has_adapter("empty") and not echo_engine.has_adapter("broken")
    with pytest.raises(AdapterNotLoaded):
        echo_engine.generate([ask(adapter="empty")])
    echo_engine.load_adapter(demo_adapter.name, demo_adapter.path, demo_adapter.checksum)
    assert echo_engine.adapter_configs[demo_adapter.name]["peft_type"] == "LORA"


def test_a_closed_double_refuses_requests(settings):
    engine = EchoEngine(settings.base_model)
    engine.close()
    with pytest.raises(EngineClosed):
        engine.generate([ask()])
