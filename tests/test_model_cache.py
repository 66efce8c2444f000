"""The transformers engine's dequantised copy of the GGUF base (fast start)."""

from pathlib import Path

import torch

from app.engine.transformers import dequantised_copy, load_base


def test_the_engine_loads_the_cached_copy_with_the_ggufs_exact_weights(
    settings, transformers_engine
):
    gguf = Path(settings.base_model)
    copy = dequantised_copy(gguf, settings.models_cache_dir)  # made when the engine loaded
    assert copy.parent == settings.models_cache_dir and copy.name.startswith(gguf.stem)
    written = (copy / "model.safetensors").stat().st_mtime_ns
    assert dequantised_copy(gguf, settings.models_cache_dir) == copy
    assert (copy / "model.safetensors").stat().st_mtime_ns == written  # reused, not rewritten
    assert "quantization_config" not in (copy / "config.json").read_text()

    direct, tokenizer = load_base(str(gguf))  # dequantised from the GGUF, no cache
    cached = transformers_engine._model.get_base_model().state_dict()
    for name, tensor in direct.state_dict().items():
        # PEFT moved the adapted linear layers' own weights under `base_layer`
        key = name if name in cached else name.replace(".weight", ".base_layer.weight")
        assert torch.equal(tensor, cached[key]), name
    text = "Hello <|im_end|> {{ braces }}"
    assert transformers_engine.tokenizer(text).input_ids == tokenizer(text).input_ids
    assert [p.name for p in settings.models_cache_dir.iterdir() if p.name.startswith(".")] == []
