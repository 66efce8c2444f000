"""Where models run: the CPU or a CUDA GPU, in which dtype, and whether QLoRA can run here.

`TRITUNE_DEVICE` (`auto`, `cpu`, `cuda`) serves both the `transformers` engine and LoRA
training; `auto` takes the GPU when torch sees one. `TRITUNE_TRANSFORMERS_DTYPE=auto` keeps
the reference float32 on the CPU and takes bfloat16 on a GPU that has it (float16 on older
ones). QLoRA (a 4-bit base through bitsandbytes, LoRA weights in 16 bits) needs both a CUDA
GPU and the `bitsandbytes` package; `qlora_refusal` says which is missing, naming the
setting, before a job is queued.

The decisions are pure functions of what was asked and what the machine has (passed in by
the tests, probed otherwise), so that they are tested on a machine without a GPU.
"""

from __future__ import annotations

import importlib.util
from typing import Literal

DeviceSetting = Literal["auto", "cpu", "cuda"]
DtypeSetting = Literal["auto", "float32", "bfloat16", "float16"]


class DeviceUnavailable(ValueError):
    """The setting asks for a device this machine does not have."""


def cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def cuda_bf16() -> bool:
    import torch

    return torch.cuda.is_available() and torch.cuda.is_bf16_supported()


def bitsandbytes_installed() -> bool:
    return importlib.util.find_spec("bitsandbytes") is not None


def resolve_device(setting: str, *, cuda: bool | None = None) -> str:
    """`cpu` or `cuda` for the setting; `auto` takes the GPU when there is one."""
    has_cuda = cuda_available() if cuda is None else cuda
    if setting == "auto":
        return "cuda" if has_cuda else "cpu"
    if setting == "cuda" and not has_cuda:
        raise DeviceUnavailable(
            "TRITUNE_DEVICE=cuda, but torch sees no CUDA GPU (a CPU build of torch, or no "
            "driver); use TRITUNE_DEVICE=auto or cpu"
        )
    if setting not in ("cpu", "cuda"):
        raise DeviceUnavailable(f"TRITUNE_DEVICE={setting!r}: auto, cpu or cuda")
    return setting


def resolve_dtype(setting: str, device: str, *, bf16: bool | None = None) -> str:
    """The weights' dtype: `auto` is float32 on the CPU (the reference the engines are
    tested against), bfloat16 on a GPU that supports it, else float16."""
    if setting != "auto":
        return setting
    if device == "cpu":
        return "float32"
    return "bfloat16" if (cuda_bf16() if bf16 is None else bf16) else "float16"


def qlora_refusal(
    device_setting: str, *, cuda: bool | None = None, bitsandbytes: bool | None = None
) -> str | None:
    """Why a QLoRA training cannot run here, naming the setting; None when it can."""
    try:
        device = resolve_device(device_setting, cuda=cuda)
    except DeviceUnavailable as error:
        return f"qlora: {error}"
    if device != "cuda":
        return (
            "qlora: a 4-bit QLoRA base needs a CUDA GPU, and training runs on the CPU here "
            f"(TRITUNE_DEVICE={device_setting}); set qlora: false to train a plain LoRA"
        )
    has_bnb = bitsandbytes_installed() if bitsandbytes is None else bitsandbytes
    if not has_bnb:
        return "qlora: needs the bitsandbytes package (pip install bitsandbytes)"
    return None
