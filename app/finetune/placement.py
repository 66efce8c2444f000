"""Where a LoRA training puts its base model: the CPU in float32 (as before), a CUDA GPU in
bfloat16 (float16 without it), or, with `qlora: true`, a CUDA GPU with the base quantised
to 4 bits (NF4, double quantisation) by bitsandbytes and prepared for k-bit training.

Kept apart from the training loop (`train.py` calls `load_training_base` once) so that the
loop stays the same on every device; the loop moves each batch to the model's device.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from transformers import PreTrainedModel, PreTrainedTokenizerBase

from app.engine.devices import qlora_refusal, resolve_device, resolve_dtype
from app.engine.transformers import dequantised_copy, load_base, model_source

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Placement:
    """What the settings say about where training runs (`TRITUNE_DEVICE`), and where a GGUF
    base's dequantised copy is kept (QLoRA quantises from it)."""

    device: str = "auto"
    models_cache_dir: Path | None = None


def load_training_base(
    base_model: str, *, qlora: bool, placement: Placement
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """The base model and tokenizer, on the device and in the dtype training uses."""
    if qlora:
        refusal = qlora_refusal(placement.device)
        if refusal:
            raise ValueError(refusal)
        return load_4bit(base_model, placement)
    model, tokenizer = load_base(base_model)
    device = resolve_device(placement.device)
    if device != "cpu":
        import torch

        model.to(device=device, dtype=getattr(torch, resolve_dtype("auto", device)))
        log.info("training on %s (%s)", device, model.dtype)
    return model, tokenizer


def load_4bit(
    base_model: str, placement: Placement
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """The base quantised to 4 bits on the GPU, ready for LoRA (QLoRA)."""
    import torch
    from peft import prepare_model_for_kbit_training
    from transformers import AutoModelForCausalLM, AutoTokenizer, BitsAndBytesConfig

    source = base_model
    if Path(base_model).suffix == ".gguf":  # bitsandbytes quantises float weights
        cache = placement.models_cache_dir or Path(base_model).parent
        source = str(dequantised_copy(Path(base_model), cache))
    source, extra = model_source(source)
    compute = getattr(torch, resolve_dtype("auto", "cuda"))
    quantisation = BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=compute,
    )
    options: dict[str, Any] = {"quantization_config": quantisation, "device_map": {"": 0}}
    model = AutoModelForCausalLM.from_pretrained(source, dtype=compute, **options, **extra)
    tokenizer = AutoTokenizer.from_pretrained(source, **extra)
    tokenizer.padding_side = "left"  # as `load_base` has it
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    log.info("QLoRA: %s in 4 bits (nf4) on cuda, compute in %s", base_model, compute)
    return prepare_model_for_kbit_training(model), tokenizer
