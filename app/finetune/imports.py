"""Adapters trained elsewhere: a PEFT LoRA as axolotl, Unsloth, LLaMA-Factory or PEFT itself
write it (`adapter_config.json` + `adapter_model.safetensors`), from a directory or a
`.tar.gz`, registered beside the adapters TriTune trains.

Checked before anything is stored (each refusal is an `AdapterRejected`, HTTP 422, naming
why):

- the files: exactly one adapter, the shallowest `adapter_config.json` (axolotl's output
  directory also holds `checkpoint-N/` copies), with safetensors weights;
- the base model: `base_model_name_or_path` must name the scenario's base (a hub id, a
  directory or a GGUF file, compared by name without organisation, extension or
  quantisation suffix: `HuggingFaceTB/SmolLM2-135M-Instruct` is
  `SmolLM2-135M-Instruct.Q4_1.gguf`), and every tensor must fit that base's layers;
- the modules: only the attention and MLP projections, which both local engines serve
  (PEFT on transformers, the GGUF LoRA conversion on llama.cpp); no DoRA, biases or
  `modules_to_save`.

The two files are copied into `<data_dir>/adapters/<name>` (a temporary directory renamed
into place); the registry records their checksum, and the adapter's `config` says where it
came from (`imported`: the archive's sha256, the declared base, PEFT version).
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy.orm import Session

from app.db.models import Adapter, Scenario
from app.engine.gguf_lora import PEFT_KEY, PEFT_TO_GGUF, LoraConversionError, check_config
from app.errors import AppError
from app.finetune.adapters import register_adapter
from app.finetune.jobs import check_adapter_name

ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors")
QUANTISATION = re.compile(r"[.-](i?q\d\w*|f16|f32|bf16)$", re.IGNORECASE)
ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar")
UNPACKED_LIMIT = 4 << 30  # bytes an archive may unpack to


class AdapterRejected(AppError):
    status = 422


def import_adapter(
    session: Session,
    *,
    scenario: Scenario,
    name: str,
    source: Path,
    base_model: str,
    adapters_dir: Path,
    activate: bool = False,
    origin: str | None = None,
) -> Adapter:
    """Check the adapter in `source` (a directory or .tar.gz) against `base_model` and
    register it under `name` for `scenario` (`origin`: what the user gave, recorded; by
    default `source`'s name); nothing is stored when a check fails."""
    check_adapter_name(session, name)
    adapters_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".import-", dir=adapters_dir) as work:
        found = adapter_directory(source, Path(work))
        config = read_adapter_config(found)
        check_base_model(config, base_model)
        check_tensors(found, config, base_model)
        target = install(found, adapters_dir / name)
    try:
        return register_adapter(
            session,
            scenario=scenario,
            name=name,
            path=target,
            base_model=base_model,
            dataset_sha256="",  # trained elsewhere, on data TriTune never saw
            config=imported_config(config, source, origin or source.name),
            metrics={},
            activate=activate,
        )
    except Exception:
        shutil.rmtree(target, ignore_errors=True)
        raise


def adapter_directory(source: Path, work: Path) -> Path:
    """The directory holding the adapter: `source` itself or inside it, or unpacked from
    the archive `source` into `work`."""
    if source.is_file():
        source = unpack(source, work / "unpacked")
    if not source.is_dir():
        raise AdapterRejected(f"{source.name}: not a directory or a .tar.gz archive")
    configs = sorted(source.rglob("adapter_config.json"), key=lambda p: (len(p.parts), p))
    if not configs:
        raise AdapterRejected("no adapter_config.json found: not a PEFT adapter")
    directory = configs[0].parent
    if not (directory / "adapter_model.safetensors").is_file():
        raise AdapterRejected(
            "adapter_model.safetensors not found beside adapter_config.json (only safetensors "
            "weights are imported; save with safe_serialization=True)"
        )
    return directory


def unpack(archive: Path, into: Path) -> Path:
    """Extract a tar archive (gzip or not) safely: no links, no paths outside `into`."""
    try:
        with tarfile.open(archive) as tar:
            members = tar.getmembers()
            if sum(m.size for m in members) > UNPACKED_LIMIT:
                raise AdapterRejected(f"{archive.name}: unpacks to more than 4 GiB")
            tar.extractall(into, filter="data")
    except (tarfile.TarError, OSError) as error:
        raise AdapterRejected(f"{archive.name}: not a readable .tar.gz ({error})") from None
    return into


def read_adapter_config(directory: Path) -> dict[str, Any]:
    try:
        config = json.loads((directory / "adapter_config.json").read_text())
    except (ValueError, UnicodeDecodeError) as error:
        raise AdapterRejected(f"adapter_config.json is not valid JSON: {error}") from None
    if not isinstance(config, dict) or not {"r", "lora_alpha"} <= set(config):
        raise AdapterRejected("adapter_config.json: not a LoRA config (needs r and lora_alpha)")
    try:
        check_config(config)  # what neither engine's LoRA path carries
    except LoraConversionError as error:
        raise AdapterRejected(f"{error}; such adapters are not supported") from None
    return config


def model_key(name: str) -> str:
    """A base model's name for comparison: last path part, lower case, no .gguf or
    quantisation suffix."""
    last = Path(name.rstrip("/")).name.lower().removesuffix(".gguf")
    return QUANTISATION.sub("", last)


def base_model_keys(base_model: str) -> set[str]:
    """The names the configured base answers to (for a GGUF: the file and its directory,
    which is what PEFT records when it trains on a GGUF's dequantised weights)."""
    path = Path(base_model)
    keys = {model_key(base_model)}
    if path.suffix == ".gguf":
        keys.add(model_key(str(path.parent)))
    return keys


def check_base_model(config: dict[str, Any], base_model: str) -> None:
    declared = config.get("base_model_name_or_path")
    if not declared:
        raise AdapterRejected("adapter_config.json names no base_model_name_or_path")
    if model_key(str(declared)) not in base_model_keys(base_model):
        raise AdapterRejected(
            f"the adapter was trained on {declared!r}; this scenario's base model is "
            f"{Path(base_model).name!r} (TRITUNE_BASE_MODEL)"
        )


def check_tensors(directory: Path, config: dict[str, Any], base_model: str) -> None:
    """Every tensor a LoRA A or B of a supported module, shaped for the base model."""
    from safetensors import safe_open

    layers, shapes = module_shapes(base_model)
    with safe_open(str(directory / "adapter_model.safetensors"), framework="pt") as tensors:
        for key in tensors.keys():  # noqa: SIM118 (a safetensors handle, not a dict)
            check_tensor(key, tensors.get_slice(key).get_shape(), layers, shapes)


def check_tensor(
    key: str, shape: list[int], layers: int, shapes: dict[str, tuple[int, int]]
) -> None:
    match = PEFT_KEY.match(key)
    if match is None or match.group(2) not in PEFT_TO_GGUF:
        supported = ", ".join(sorted(m.split(".")[1] for m in PEFT_TO_GGUF))
        raise AdapterRejected(
            f"unsupported target module in tensor {key!r}: only {supported} are served"
        )
    layer, module, side = int(match.group(1)), match.group(2), match.group(3)
    in_features, out_features = shapes[module.split(".")[1]]
    expected = in_features if side == "A" else out_features
    actual = shape[1] if side == "A" else shape[0]
    if layer >= layers or len(shape) != 2 or actual != expected:
        raise AdapterRejected(
            f"tensor {key!r} has shape {list(shape)}, which does not fit the scenario's base "
            f"model ({layers} layers, {module} {in_features} -> {out_features}): the adapter "
            "was trained on another base"
        )


@lru_cache(maxsize=4)
def module_shapes(base_model: str) -> tuple[int, dict[str, tuple[int, int]]]:
    """The base's layer count and each projection's (in, out) features, read from its
    config on the meta device (no weights loaded)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    from app.engine.transformers import model_source

    source, extra = model_source(base_model)
    config = AutoConfig.from_pretrained(source, **extra)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    shapes = {
        name.rsplit(".", 1)[-1]: (module.in_features, module.out_features)
        for name, module in model.named_modules()
        if isinstance(module, torch.nn.Linear)
    }
    return int(config.num_hidden_layers), shapes


def install(found: Path, target: Path) -> Path:
    """Copy the adapter's two files into `target` atomically."""
    if target.exists():
        raise AdapterRejected(f"{target} already exists; choose another name")
    partial = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        for file in ADAPTER_FILES:
            shutil.copyfile(found / file, partial / file)
        partial.rename(target)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return target


def imported_config(config: dict[str, Any], source: Path, origin_name: str) -> dict[str, Any]:
    """The registry's `config` for an imported adapter: its LoRA shape and its origin."""
    origin = {
        "source": origin_name,
        "base_model_name_or_path": config.get("base_model_name_or_path"),
        "peft_version": config.get("peft_version"),
    }
    if source.is_file():
        origin["archive_sha256"] = file_sha256(source)
    return {
        "lora_r": config["r"],
        "lora_alpha": config["lora_alpha"],
        "target_modules": config.get("target_modules"),
        "imported": origin,
    }


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@contextmanager
def staged_upload(files: list[tuple[str, BinaryIO]]) -> Iterator[Path]:
    """Uploaded files on disk, for `import_adapter`: one archive as itself, else the files
    (adapter_config.json, adapter_model.safetensors) in one directory, by base name."""
    if not files:
        raise AdapterRejected("no file uploaded: send a .tar.gz or the adapter's two files")
    with tempfile.TemporaryDirectory(prefix="tritune-upload-") as work:
        names = [Path(name).name or "upload" for name, _ in files]
        archive = len(files) == 1 and names[0].endswith(ARCHIVE_SUFFIXES)
        folder = Path(work) if archive else Path(work) / "adapter"
        folder.mkdir(exist_ok=True)
        for name, (_, stream) in zip(names, files, strict=True):
            with (folder / name).open("wb") as out:
                shutil.copyfileobj(stream, out, 1 << 20)
        yield folder / names[0] if archive else folder
