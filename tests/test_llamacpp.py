"""The llama.cpp engine against the transformers + PEFT reference: the same prompt text and
tokens, the same greedy output with the demo adapter converted to a GGUF LoRA."""

import json
from pathlib import Path

import numpy as np
import pytest

from app.config import Settings
from app.engine import GenerationRequest, resolve_backend
from app.engine.gguf_lora import (
    LoraConversionError,
    convert_peft_to_gguf,
    ensure_gguf_lora,
    gguf_lora_path,
    read_base_shape,
    rotary_permute,
)

HELDOUT = Path(__file__).resolve().parent.parent / "data" / "demo" / "eval_split.jsonl"
# The llama.cpp engine runs the Q4_1 weights with 8-bit activations, transformers the same
# weights dequantised to fp32: their logits differ by up to ~1.8 (measured on held-out tickets
# and questions). Greedy outputs are identical wherever the top two logits are further apart,
# as in the adapter's triage JSON; in free prose (the base model) they can part after a
# few tokens. A misplaced adapter (no rotary permutation) moves logits by ~8.
QUANTISATION_NOISE = 2.5
QUESTIONS = [
    "Name one thing to pack for a day hike.",
    "What is a sleeping bag's temperature rating?",
    "Give me a tip for keeping my feet dry while hiking.",
]
CONVERSATIONS = [
    [{"role": "user", "content": "Hello!"}],
    [
        {"role": "system", "content": "You answer in one sentence."},
        {"role": "user", "content": "Why are tents waterproof?\nAnd stoves?"},
    ],
    [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello, how can I help?"},
        {"role": "user", "content": "Tell me about {{ braces }} and <|im_end|> markers."},
    ],
]


def heldout_tickets(n):
    lines = HELDOUT.read_text().splitlines()[:n]
    return [json.loads(line)["messages"][0]["content"] for line in lines]


def greedy(engine, texts, adapter=None, max_new_tokens=32):
    requests = [
        GenerationRequest([{"role": "user", "content": text}], adapter, max_new_tokens)
        for text in texts
    ]
    return engine.generate(requests)


@pytest.mark.parametrize("messages", CONVERSATIONS)
def test_chat_template_renders_and_tokenizes_as_transformers_does(
    messages, llamacpp_engine, transformers_engine
):
    rendered = llamacpp_engine.render_chat(messages)
    assert rendered == transformers_engine.render_chat(messages)
    ours = llamacpp_engine.tokenize(rendered)
    reference = transformers_engine.tokenizer.encode(rendered, add_special_tokens=False)
    assert ours == reference


def test_converted_adapter_gives_the_peft_greedy_output(
    llamacpp_engine, transformers_engine, demo_adapter
):
    """The core equivalence: PEFT on the dequantised fp32 weights and llama.cpp with the
    converted GGUF LoRA on the Q4_1 file write the same triage JSON, token for token, except
    where PEFT's own two best next tokens are closer than the quantisation noise: a near-tie
    the quantised weights can flip (one of four tickets at most may part, and only there)."""
    tickets = heldout_tickets(4)
    ours = greedy(llamacpp_engine, tickets, demo_adapter.name)
    reference = greedy(transformers_engine, tickets, demo_adapter.name)
    assert [r.prompt_tokens for r in ours] == [r.prompt_tokens for r in reference]
    assert all(r.text.startswith('{"category"') for r in ours), ours
    parted = [
        (ticket, mine.text, theirs.text)
        for ticket, mine, theirs in zip(tickets, ours, reference, strict=True)
        if mine.text != theirs.text
    ]
    assert len(parted) <= 1, parted
    for ticket, mine, theirs in parted:
        margin = reference_margin_where_parted(
            llamacpp_engine, transformers_engine, ticket, mine, theirs, demo_adapter.name
        )
        assert margin < QUANTISATION_NOISE, (ticket, mine, theirs, margin)


def reference_margin_where_parted(
    llamacpp_engine, transformers_engine, ticket, mine, theirs, adapter
):
    """How far PEFT's logit for its own token is above its logit for llama.cpp's token, at
    the first token where the two answers differ."""
    messages = [{"role": "user", "content": ticket}]
    prompt = llamacpp_engine.tokenize(llamacpp_engine.render_chat(messages))
    ours, reference = llamacpp_engine.tokenize(mine), llamacpp_engine.tokenize(theirs)
    at = next((i for i, (a, b) in enumerate(zip(ours, reference, strict=False)) if a != b), None)
    assert at is not None, ("one answer is the other's beginning", mine, theirs)
    logits = transformers_logits(transformers_engine, prompt + reference[:at], adapter)[-1]
    return float(logits[reference[at]] - logits[ours[at]])


def transformers_logits(engine, tokens, adapter):
    import torch

    with torch.inference_mode():
        output = engine._model(
            input_ids=torch.tensor([tokens]), adapter_names=[adapter or "__base__"]
        )
    return output.logits[0].float().numpy()


def llamacpp_logits(engine, tokens, adapter):
    """Next-token logits after each of `tokens` (one decode per token: the context keeps
    only the last position's logits)."""
    llm = engine.llm
    rows = []
    with engine._lock:
        engine.use_adapter(adapter)
        llm.reset()
        for token in tokens:
            llm.eval([token])
            logits = np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(llm.n_vocab(),))
            rows.append(logits.copy())
        llm.reset()
    return np.array(rows)


def logit_gap(llamacpp_engine, transformers_engine, messages, adapter, llamacpp_adapter=None):
    """Largest logit difference and top-1 agreement over the transformers engine's greedy
    answer (both engines fed the same tokens; llama.cpp with `llamacpp_adapter` if given)."""
    request = GenerationRequest(messages, adapter, max_new_tokens=24)
    answer = transformers_engine.generate([request])[0].text
    prompt = llamacpp_engine.tokenize(llamacpp_engine.render_chat(messages))
    tokens = prompt + llamacpp_engine.tokenize(answer)
    ours = llamacpp_logits(llamacpp_engine, tokens, llamacpp_adapter or adapter)
    ours = ours[len(prompt) - 1 :]
    reference = transformers_logits(transformers_engine, tokens, adapter)[len(prompt) - 1 :]
    agreement = float(np.mean(ours.argmax(-1) == reference.argmax(-1)))
    return float(np.abs(ours - reference).max()), agreement


@pytest.mark.parametrize("with_adapter", [False, True])
def test_logits_agree_within_quantisation_noise(
    with_adapter, llamacpp_engine, transformers_engine, demo_adapter
):
    adapter = demo_adapter.name if with_adapter else None
    for text in [heldout_tickets(5)[4], QUESTIONS[0]]:
        messages = [{"role": "user", "content": text}]
        gap, agreement = logit_gap(llamacpp_engine, transformers_engine, messages, adapter)
        assert gap < QUANTISATION_NOISE, (text, gap)
        assert agreement >= 0.9, (text, agreement)


def test_without_the_rotary_permutation_the_adapter_is_wrong(
    llamacpp_engine, transformers_engine, demo_adapter, settings, tmp_path, monkeypatch
):
    """The q/k `lora_B` row permutation matters: without it the logits move far beyond
    the quantisation noise."""
    import app.engine.gguf_lora as gguf_lora
    import app.engine.llamacpp as llamacpp

    monkeypatch.setattr(gguf_lora, "rotary_permute", lambda rows, n_head: rows)
    unpermuted = tmp_path / "unpermuted.lora.gguf"
    convert_peft_to_gguf(demo_adapter.path, settings.base_model, unpermuted)
    monkeypatch.setattr(llamacpp, "ensure_gguf_lora", lambda *args: unpermuted)
    llamacpp_engine.load_adapter("unpermuted", demo_adapter.path, "0" * 64)
    messages = [{"role": "user", "content": heldout_tickets(1)[0]}]
    engines = (llamacpp_engine, transformers_engine, messages, demo_adapter.name)
    right, _ = logit_gap(*engines)
    wrong, _ = logit_gap(*engines, llamacpp_adapter="unpermuted")
    assert right < QUANTISATION_NOISE < 2 * QUANTISATION_NOISE < wrong, (right, wrong)


def test_conversion_is_cached_beside_the_adapter_by_checksum(
    llamacpp_engine, demo_adapter, settings
):
    path = gguf_lora_path(demo_adapter.path, demo_adapter.checksum)
    assert path.parent == Path(demo_adapter.path).resolve().parent and path.is_file()
    assert demo_adapter.checksum[:16] in path.name
    before = path.stat().st_mtime_ns
    assert ensure_gguf_lora(demo_adapter.path, demo_adapter.checksum, settings.base_model) == path
    assert path.stat().st_mtime_ns == before  # not converted again


def test_gguf_lora_metadata_and_tensors(llamacpp_engine, demo_adapter):
    import gguf

    reader = gguf.GGUFReader(gguf_lora_path(demo_adapter.path, demo_adapter.checksum))
    fields = {key: field.contents() for key, field in reader.fields.items()}
    assert fields["general.type"] == "adapter"
    assert fields["adapter.type"] == "lora"
    config = json.loads((Path(demo_adapter.path) / "adapter_config.json").read_text())
    assert fields["adapter.lora.alpha"] == config["lora_alpha"]
    tensors = {t.name: t for t in reader.tensors}
    assert len(tensors) == 30 * 7 * 2
    # ggml order: lora_a is [in, rank], lora_b is [rank, out]
    assert list(tensors["blk.0.attn_k.weight.lora_a"].shape) == [576, config["r"]]
    assert list(tensors["blk.0.attn_k.weight.lora_b"].shape) == [config["r"], 192]


def test_rotary_permutation_interleaves_each_heads_halves():
    rows = np.arange(8).reshape(8, 1)  # two heads of four rows: [0 1 | 2 3], [4 5 | 6 7]
    assert rotary_permute(rows, n_head=2).ravel().tolist() == [0, 2, 1, 3, 4, 6, 5, 7]


def test_unsupported_adapter_features_are_refused_by_name(demo_adapter, settings, tmp_path):
    adapter = tmp_path / "dora"
    adapter.mkdir()
    config = json.loads((Path(demo_adapter.path) / "adapter_config.json").read_text())
    (adapter / "adapter_config.json").write_text(json.dumps({**config, "use_dora": True}))
    with pytest.raises(LoraConversionError, match="use_dora"):
        convert_peft_to_gguf(adapter, settings.base_model, tmp_path / "out.gguf")
    assert not (tmp_path / "out.gguf").exists()


def test_base_shape_comes_from_the_gguf(settings):
    shape = read_base_shape(settings.base_model)
    assert (shape.architecture, shape.n_head, shape.n_head_kv) == ("llama", 9, 3)


def test_auto_picks_llamacpp_for_the_packaged_gguf_and_transformers_otherwise(settings, tmp_path):
    assert resolve_backend("auto", settings.base_model) == "llamacpp"
    assert resolve_backend("auto", "HuggingFaceTB/SmolLM2-135M-Instruct") == "transformers"
    not_gguf = tmp_path / "broken.gguf"
    not_gguf.write_bytes(b"not a gguf file")
    assert resolve_backend("auto", str(not_gguf)) == "transformers"
    assert resolve_backend("transformers", settings.base_model) == "transformers"


def test_engine_setting_is_validated(monkeypatch):
    monkeypatch.setenv("TRITUNE_ENGINE", "vllm")
    with pytest.raises(ValueError, match="engine"):
        Settings(_env_file=None)
    monkeypatch.setenv("TRITUNE_ENGINE", "transformers")
    assert Settings(_env_file=None).engine == "transformers"
    assert Settings(_env_file=None, engine="auto").engine == "auto"


def test_a_new_checksum_reloads_the_adapter_and_the_same_one_does_not(
    llamacpp_engine, demo_adapter, monkeypatch
):
    import app.engine.llamacpp as llamacpp

    converted = gguf_lora_path(demo_adapter.path, demo_adapter.checksum)
    conversions = []
    monkeypatch.setattr(
        llamacpp, "ensure_gguf_lora", lambda *args: conversions.append(args) or converted
    )
    llamacpp_engine.load_adapter("reloaded", demo_adapter.path, "1" * 64)
    llamacpp_engine.load_adapter("reloaded", demo_adapter.path, "1" * 64)
    assert len(conversions) == 1
    llamacpp_engine.load_adapter("reloaded", demo_adapter.path, "2" * 64)
    assert len(conversions) == 2 and llamacpp_engine.has_adapter("reloaded")
    ticket = heldout_tickets(1)
    [again] = greedy(llamacpp_engine, ticket, "reloaded", max_new_tokens=12)
    [original] = greedy(llamacpp_engine, ticket, demo_adapter.name, max_new_tokens=12)
    assert again.text == original.text
