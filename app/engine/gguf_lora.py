"""PEFT LoRA adapter directory -> GGUF LoRA file that llama.cpp loads next to a GGUF base.

llama.cpp computes `W x + scale * B (A x)` with `scale = adapter_scale * alpha / rank`, like
PEFT's `lora_alpha / r`. Two things differ from the PEFT files and are handled here:

- names: PEFT's `...layers.{i}.self_attn.q_proj.lora_A.weight` is llama.cpp's
  `blk.{i}.attn_q.weight.lora_a` (`lora_b` for `lora_B`); the shapes stay as they are
  (`lora_a`: rank x in, `lora_b`: out x rank, row-major, i.e. ggml `ne` = [in, rank], [rank, out]);
- rotary rows: llama.cpp's converter (`LlamaModel.permute` in convert_hf_to_gguf.py) reorders
  the output rows of the q and k projections of a llama model, per head, from Hugging Face's
  "rotate half" layout to interleaved pairs. The GGUF base carries that order, so the rows
  of the q and k `lora_B` (the adapter's output rows) need the same permutation, or the
  adapter's delta lands on the wrong rotary dimensions and outputs silently differ.

Per-module scaling that a single `adapter.lora.alpha` cannot express (rsLoRA,
`rank_pattern`, `alpha_pattern`) is folded into `lora_B`, so llama.cpp's `alpha / rank`
times `lora_B` equals PEFT's scaling times `lora_B` for every tensor.

The converted file is cached next to the adapter directory, named by the adapter's checksum,
so a conversion happens once per adapter version (`gguf_lora_path`).
"""

from __future__ import annotations

import json
import math
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import gguf
import numpy as np

PEFT_TO_GGUF = {
    "self_attn.q_proj": "attn_q",
    "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output",
    "mlp.gate_proj": "ffn_gate",
    "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
}
PEFT_KEY = re.compile(
    r"^(?:base_model\.model\.)?model\.layers\.(\d+)\.(\w+\.\w+)\.lora_([AB])\.weight$"
)
SUPPORTED_ARCHITECTURES = ("llama",)


class LoraConversionError(ValueError):
    """The adapter or base model cannot be expressed as a llama.cpp GGUF LoRA."""


@dataclass(frozen=True)
class BaseShape:
    architecture: str
    n_head: int
    n_head_kv: int


def read_base_shape(base_gguf: str | Path) -> BaseShape:
    """Architecture and attention head counts of a GGUF base model."""
    reader = gguf.GGUFReader(str(base_gguf))
    arch = reader.fields["general.architecture"].contents()
    if arch not in SUPPORTED_ARCHITECTURES:
        raise LoraConversionError(
            f"GGUF LoRA conversion supports {', '.join(SUPPORTED_ARCHITECTURES)} bases, "
            f"not {arch!r}; use TRITUNE_ENGINE=transformers for this model"
        )
    n_head = int(reader.fields[f"{arch}.attention.head_count"].contents())
    kv_field = reader.fields.get(f"{arch}.attention.head_count_kv")
    n_head_kv = int(kv_field.contents()) if kv_field else n_head
    return BaseShape(arch, n_head, n_head_kv)


def rotary_permute(rows: np.ndarray, n_head: int) -> np.ndarray:
    """llama.cpp's `LlamaModel.permute` on the first axis: within each head, rows
    `[0..d/2)` and `[d/2..d)` become interleaved pairs."""
    head_rows = rows.shape[0] // n_head
    return (
        rows.reshape(n_head, 2, head_rows // 2, *rows.shape[1:]).swapaxes(1, 2).reshape(rows.shape)
    )


def peft_scaling(config: dict, module: str) -> float:
    """PEFT's scaling factor for one module (rank and alpha patterns, rsLoRA)."""
    rank = _pattern_value(config.get("rank_pattern") or {}, module, config["r"])
    alpha = _pattern_value(config.get("alpha_pattern") or {}, module, config["lora_alpha"])
    return alpha / (math.sqrt(rank) if config.get("use_rslora") else rank)


def _pattern_value(pattern: dict[str, float], module: str, default: float) -> float:
    for key, value in pattern.items():  # PEFT's matching: a key names a module suffix
        if re.match(rf"(.*\.)?({key})$", module):
            return value
    return default


def check_config(config: dict) -> None:
    """Refuse PEFT features that a GGUF LoRA cannot carry, naming the field."""
    refusals = {
        "peft_type": config.get("peft_type", "LORA") != "LORA",
        "use_dora": bool(config.get("use_dora")),
        "bias": config.get("bias", "none") != "none",
        "lora_bias": bool(config.get("lora_bias")),
        "modules_to_save": bool(config.get("modules_to_save")),
        "fan_in_fan_out": bool(config.get("fan_in_fan_out")),
    }
    bad = [name for name, refused in refusals.items() if refused]
    if bad:
        raise LoraConversionError(
            f"adapter_config.json: {', '.join(bad)} cannot be converted to a GGUF LoRA"
        )


def load_peft_tensors(adapter_dir: Path) -> dict[str, np.ndarray]:
    """The adapter's tensors as float32 arrays (bf16/fp16 files included)."""
    from safetensors import safe_open

    file = adapter_dir / "adapter_model.safetensors"
    if not file.is_file():
        raise LoraConversionError(f"{file} not found (only safetensors adapters convert)")
    with safe_open(str(file), framework="pt") as tensors:
        return {key: tensors.get_tensor(key).float().numpy() for key in tensors.keys()}  # noqa: SIM118


def gguf_tensors(adapter_dir: Path, shape: BaseShape) -> tuple[dict[str, np.ndarray], float]:
    """GGUF tensor name -> array, and the `adapter.lora.alpha` to write."""
    config = json.loads((adapter_dir / "adapter_config.json").read_text())
    check_config(config)
    alpha = float(config["lora_alpha"])
    out: dict[str, np.ndarray] = {}
    for key, array in load_peft_tensors(adapter_dir).items():
        match = PEFT_KEY.match(key)
        if match is None or match.group(2) not in PEFT_TO_GGUF:
            raise LoraConversionError(f"adapter tensor {key!r} has no GGUF LoRA equivalent")
        layer, module, side = match.groups()
        name = f"blk.{layer}.{PEFT_TO_GGUF[module]}.weight.lora_{side.lower()}"
        if side == "B":
            array = b_rows_for_llamacpp(array, layer, module, config, alpha, shape)
        out[name] = np.ascontiguousarray(array, dtype=np.float32)
    return out, alpha


def b_rows_for_llamacpp(
    b: np.ndarray, layer: str, module: str, config: dict, alpha: float, shape: BaseShape
) -> np.ndarray:
    scaling = peft_scaling(config, f"model.layers.{layer}.{module}")
    llamacpp_scaling = alpha / b.shape[1]  # llama.cpp: alpha / the tensor's own rank
    if not math.isclose(scaling, llamacpp_scaling):
        b = b * (scaling / llamacpp_scaling)
    if module == "self_attn.q_proj":
        return rotary_permute(b, shape.n_head)
    if module == "self_attn.k_proj":
        return rotary_permute(b, shape.n_head_kv)
    return b


def convert_peft_to_gguf(adapter_dir: str | Path, base_gguf: str | Path, output: Path) -> Path:
    """Write the GGUF LoRA for `adapter_dir` (trained on `base_gguf`) to `output`,
    atomically (a temporary file renamed into place)."""
    adapter_dir = Path(adapter_dir)
    shape = read_base_shape(base_gguf)
    tensors, alpha = gguf_tensors(adapter_dir, shape)
    fd, tmp = tempfile.mkstemp(prefix=output.name, suffix=".tmp", dir=output.parent)
    os.close(fd)
    try:
        writer = gguf.GGUFWriter(tmp, arch=shape.architecture)
        writer.add_string(gguf.Keys.General.TYPE, gguf.GGUFType.ADAPTER)
        writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
        writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, alpha)
        writer.add_name(adapter_dir.name)
        for name, array in tensors.items():
            writer.add_tensor(name, array)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        os.replace(tmp, output)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return output


def gguf_lora_path(adapter_dir: str | Path, checksum: str) -> Path:
    """Where the converted adapter is cached: beside the adapter directory (not inside it,
    which would change the directory's checksum), named by that checksum."""
    adapter_dir = Path(adapter_dir).resolve()
    return adapter_dir.parent / f"{adapter_dir.name}.{checksum[:16]}.lora.gguf"


def ensure_gguf_lora(adapter_dir: str | Path, checksum: str, base_gguf: str | Path) -> Path:
    """The cached GGUF LoRA for this adapter version, converted now if missing."""
    path = gguf_lora_path(adapter_dir, checksum)
    if not path.is_file():
        convert_peft_to_gguf(adapter_dir, base_gguf, path)
    return path
