"""Fine-tuning data and adapters in the ecosystem's formats.

- an adapter as a PEFT directory (`.tar.gz`, what `PeftModel.from_pretrained`, vLLM
  `--lora-modules` and the import here read) or as a GGUF LoRA (what llama.cpp's
  `--lora` and `Llama(lora_path=...)` read), converted by `app/engine/gguf_lora.py`;
- a dataset as an axolotl run: `train.jsonl` (and `eval.jsonl`) in OpenAI chat format, and
  `axolotl.yaml`, a LoRA config with TriTune's hyper-parameters that trains on them with
  axolotl's `chat_template` loader, only the assistant turns learned (as TriTune trains).
"""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import yaml
from sqlalchemy.orm import Session

from app.db.models import Adapter, Dataset
from app.engine.gguf_lora import LoraConversionError, ensure_gguf_lora
from app.errors import AppError, NotFound
from app.finetune.config import TrainingConfig
from app.finetune.dataset import split_examples


class ExportRefused(AppError):
    status = 422


def adapter_peft_archive(adapter: Adapter) -> bytes:
    """The adapter's PEFT directory as a .tar.gz whose top directory is its name."""
    directory = adapter_files(adapter)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        archive.add(directory, arcname=adapter.name)
    return buffer.getvalue()


def adapter_gguf(adapter: Adapter, base_model: str) -> Path:
    """The adapter as a GGUF LoRA for the GGUF `base_model` (converted once, cached)."""
    directory = adapter_files(adapter)
    if Path(base_model).suffix != ".gguf":
        raise ExportRefused(
            "a GGUF LoRA is converted against a GGUF base model; TRITUNE_BASE_MODEL is "
            f"{Path(base_model).name!r}"
        )
    try:
        return ensure_gguf_lora(directory, adapter.checksum, base_model)
    except LoraConversionError as error:
        raise ExportRefused(str(error)) from None


def adapter_files(adapter: Adapter) -> Path:
    directory = Path(adapter.path)
    if not (directory / "adapter_config.json").is_file():
        raise NotFound(f"adapter {adapter.name!r}: its files are missing from {directory}")
    return directory


def axolotl_archive(
    session: Session, dataset: Dataset, base_model: str, config: TrainingConfig | None = None
) -> bytes:
    """`train.jsonl`, `eval.jsonl` (when the dataset has an eval split) and `axolotl.yaml`
    in a .tar.gz whose top directory is named after the dataset."""
    config = config or TrainingConfig()
    splits = {s: split_examples(session, dataset.id, s) for s in ("train", "eval")}
    files = {f"{s}.jsonl": jsonl([e.messages for e in rows]) for s, rows in splits.items() if rows}
    files["axolotl.yaml"] = axolotl_yaml(base_model, config, has_eval=bool(splits["eval"]))
    top = f"{dataset.name.rsplit('.', 1)[0] or 'dataset'}-axolotl"
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"{top}/{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def jsonl(conversations: list[list[dict[str, str]]]) -> str:
    return "".join(json.dumps({"messages": m}, ensure_ascii=False) + "\n" for m in conversations)


def chat_dataset(path: str) -> dict[str, object]:
    """axolotl's loader for an OpenAI chat JSONL file."""
    return {
        "path": path,
        "ds_type": "json",
        "type": "chat_template",
        "field_messages": "messages",
        "message_property_mappings": {"role": "role", "content": "content"},
        "roles_to_train": ["assistant"],
    }


def axolotl_yaml(base_model: str, config: TrainingConfig, *, has_eval: bool) -> str:
    """An axolotl LoRA config with `config`'s hyper-parameters (paths relative to it)."""
    run = {
        "base_model": config.base_model or hub_name(base_model),
        "chat_template": "tokenizer_default",
        "datasets": [chat_dataset("train.jsonl")],
        **(
            {"test_datasets": [{**chat_dataset("eval.jsonl"), "split": "train"}]}
            if has_eval
            else {}
        ),
        "train_on_inputs": False,
        "adapter": "lora",
        "lora_r": config.lora_r,
        "lora_alpha": config.lora_alpha,
        "lora_dropout": config.lora_dropout,
        "lora_target_modules": list(config.target_modules),
        "sequence_len": config.max_seq_len,
        "micro_batch_size": config.micro_batch_size,
        "gradient_accumulation_steps": config.gradient_accumulation_steps,
        "num_epochs": config.num_epochs,
        "learning_rate": config.learning_rate,
        "lr_scheduler": "linear",
        "warmup_ratio": 0.05,
        "optimizer": "adamw_torch",
        "seed": config.seed,
        "save_safetensors": True,
        "output_dir": "./outputs/lora",
    }
    header = (
        "# axolotl LoRA config exported by TriTune: `axolotl train axolotl.yaml`.\n"
        "# base_model must be a Hugging Face model (hub id or directory); a GGUF base is\n"
        "# named by its file, so point it at the model the GGUF was converted from.\n"
        "# Import the result with `tritune adapter import outputs/lora`.\n"
    )
    return header + yaml.safe_dump(run, sort_keys=False)


def hub_name(base_model: str) -> str:
    """The base as axolotl can name it: a GGUF file by its stem (e.g.
    `SmolLM2-135M-Instruct.Q4_1`), anything else as configured."""
    path = Path(base_model)
    return path.stem if path.suffix == ".gguf" else base_model
