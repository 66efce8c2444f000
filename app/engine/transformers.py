"""The `transformers` backend: the base model in fp32 plus PEFT LoRA adapters by name.

Requests are decoded by continuous batching (`batching.Batcher`): requests that arrive
together, from one comparison or from several, share decoding steps; with adapters loaded,
PEFT's mixed-batch inference routes each row through its own adapter (`adapter_names`,
`"__base__"` for none).
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

from app.config import Settings
from app.cores import configure_threads
from app.engine.base import Engine, GenerationRequest, GenerationResult
from app.engine.batching import Batcher, Row
from app.engine.devices import resolve_device, resolve_dtype
from app.engine.tokenizers import hf_decode, hf_render_chat

if TYPE_CHECKING:  # peft loads with the first adapter
    from peft import PeftModel

BASE_ADAPTER = "__base__"
log = logging.getLogger(__name__)


def model_source(base_model: str) -> tuple[str, dict[str, str]]:
    """Where `from_pretrained` finds `base_model`: a .gguf file, a directory or a hub id."""
    path = Path(base_model)
    if path.suffix == ".gguf":
        if not path.is_file():
            raise FileNotFoundError(f"GGUF model file not found: {base_model}")
        return str(path.parent), {"gguf_file": path.name}
    return base_model, {}


def model_display_name(base_model: str) -> str:
    path = Path(base_model)
    return path.name if path.exists() else base_model


def load_base(
    base_model: str, cache_dir: Path | None = None
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Load model and tokenizer in fp32, tokenizer padding left. A GGUF is dequantised; with
    `cache_dir`, from the copy `dequantised_copy` keeps there (made on first use)."""
    if cache_dir is not None and Path(base_model).suffix == ".gguf":
        base_model = str(dequantised_copy(Path(base_model), cache_dir))
    source, extra = model_source(base_model)
    tokenizer = AutoTokenizer.from_pretrained(source, **extra)
    model = AutoModelForCausalLM.from_pretrained(source, dtype=torch.float32, **extra)
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer


def dequantised_copy(gguf: Path, cache_dir: Path) -> Path:
    """A directory with `gguf` dequantised to fp32 safetensors, plus its config and tokenizer,
    under `cache_dir`, keyed by the file's SHA-256 (so a changed file gets a new copy).
    Dequantising the packaged 135M GGUF takes transformers 16 s at every start; loading the
    copy takes 0.4-0.6 s. Written to a temporary directory and renamed into place, so an
    interrupted write is never used."""
    if not gguf.is_file():
        raise FileNotFoundError(f"GGUF model file not found: {gguf}")
    digest = hashlib.sha256()
    with gguf.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    target = cache_dir / f"{gguf.stem}.{digest.hexdigest()[:16]}"
    if (target / "config.json").is_file():
        return target
    log.info("dequantising %s into %s (once)", gguf.name, target)
    model, tokenizer = load_base(str(gguf))
    # the weights are plain fp32 now; save them as such. (transformers sets `hf_quantizer`
    # without declaring it on the class, so torch types it as a submodule or tensor.)
    model.hf_quantizer = None  # type: ignore[assignment]
    del model.config.quantization_config
    cache_dir.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=cache_dir))
    try:
        model.save_pretrained(partial)
        tokenizer.save_pretrained(partial)
        partial.rename(target)
    except OSError:
        if not (target / "config.json").is_file():  # not a concurrent writer winning
            raise
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return target


def placement_label(dtype: str, device: str) -> str:
    """What results add to the model's name: nothing for the reference (float32 on the
    CPU), else the dtype and a GPU device (`SmolLM2... (bfloat16, cuda)`)."""
    parts = [p for p in (dtype, device) if p not in ("float32", "cpu")]
    return f" ({', '.join(parts)})" if parts else ""


class TransformersEngine(Engine):
    name = "transformers"

    def __init__(
        self,
        base_model: str,
        threads: int = 0,
        max_batch_rows: int = 8,
        cache_dir: Path | None = None,
        dtype: str = "float32",
        device: str = "cpu",
    ) -> None:
        if threads:
            configure_threads(threads)
        self.model = model_display_name(base_model)
        self.base_model = base_model
        self.device = torch.device(device)
        self._model: PreTrainedModel | PeftModel
        self._model, self.tokenizer = load_base(base_model, cache_dir)
        # adapters loaded later keep fp32 LoRA weights (PEFT's default), on the same device
        self._model.to(device=self.device, dtype=getattr(torch, dtype))
        self.model += placement_label(dtype, device)  # stored with every result
        self._model.eval()
        self._batcher = Batcher(
            model_fn=lambda: self._model,
            adapter_kwargs=self.adapter_kwargs,
            decode=self.decode,
            stop_ids=self.stop_ids(),
            max_rows=max_batch_rows,
            device=self.device,
        )
        super().__init__(model_lock=self._batcher.model_lock)  # adapters load between steps

    @classmethod
    def from_settings(cls, settings: Settings) -> TransformersEngine:
        """The engine on `TRITUNE_DEVICE` in `TRITUNE_TRANSFORMERS_DTYPE` (auto: the GPU when
        there is one, float32 on the CPU, bfloat16 or float16 on a GPU)."""
        device = resolve_device(settings.device)
        return cls(
            settings.base_model,
            threads=settings.inference_threads,
            max_batch_rows=settings.max_batch_rows,
            cache_dir=settings.models_cache_dir,
            dtype=resolve_dtype(settings.transformers_dtype, device),
            device=device,
        )

    def release(self) -> None:
        """Stop the batcher's worker (also done at interpreter exit)."""
        self._batcher.close()

    def queue_depth(self) -> dict[str, int]:
        """Requests queued for the batcher and rows decoding in its batch."""
        return {"queued": self._batcher.queued, "decoding": self._batcher.decoding}

    @property
    def forward_seconds(self) -> float:
        """Seconds the model spent in forward passes (`/metrics`)."""
        return self._batcher.forward_seconds

    def add_adapter(self, name: str, path: str, checksum: str) -> None:
        from peft import PeftModel

        if isinstance(self._model, PeftModel):
            if name in self._model.peft_config:  # same name, new files: replace it
                self._model.delete_adapter(name)
            self._model.load_adapter(path, adapter_name=name)
        else:
            self._model = PeftModel.from_pretrained(self._model, path, adapter_name=name)
        self._model.eval()

    def count_tokens(self, text: str) -> int:
        return len(self.tokenize(text))

    def render_chat(self, messages: list[dict[str, str]]) -> str:
        return hf_render_chat(self.tokenizer, messages)

    def run(self, requests: list[GenerationRequest]) -> list[GenerationResult]:
        """Queue every request for the batcher, then wait for all of them: requests that
        arrive together, from this call or from others, decode in the same steps."""
        rows = [
            self._batcher.submit(request, self.tokenize(self.render_chat(request.messages)))
            for request in requests
        ]
        return [row.wait() for row in rows]

    def tokenize(self, text: str) -> list[int]:
        return self.tokenizer.encode(text, add_special_tokens=False)

    def adapter_kwargs(self, rows: list[Row]) -> dict[str, Any]:
        """Each row's adapter for PEFT's mixed-adapter forward (none before any is loaded)."""
        if not self._checksums:
            return {}
        return {"adapter_names": [row.request.adapter or BASE_ADAPTER for row in rows]}

    def decode(self, tokens: list[int]) -> str:
        return hf_decode(self.tokenizer, tokens)

    def stop_ids(self) -> set[int]:
        """The tokenizer's end and padding tokens and the model's end-of-sequence ids."""
        configured = self._model.generation_config.eos_token_id
        if configured is None:
            configured = []
        elif isinstance(configured, int):
            configured = [configured]
        ids = {self.tokenizer.eos_token_id, self.tokenizer.pad_token_id, *configured}
        return {i for i in ids if i is not None}
