"""The adapter registry: PEFT adapter directories under `<data_dir>/adapters`, one row each."""

from __future__ import annotations

import glob
import hashlib
import shutil
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, TypeGuard

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db.models import Adapter, Scenario
from app.errors import AppError, NotFound


class AdapterInUse(AppError):
    status = 409


def adapter_checksum(path: Path) -> str:
    """sha256 over the adapter's files (names and bytes), stable across copies."""
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(file.relative_to(path).as_posix().encode())
        digest.update(file.read_bytes())
    return digest.hexdigest()


def register_adapter(
    session: Session,
    *,
    scenario: Scenario,
    name: str,
    path: Path,
    base_model: str,
    dataset_sha256: str,
    config: dict,
    metrics: dict,
    activate: bool = True,
) -> Adapter:
    """Record a trained adapter (replacing a row of the same name) and optionally make it the
    scenario's active adapter."""
    adapter = session.scalar(select(Adapter).where(Adapter.name == name))
    if adapter is None:
        adapter = Adapter(name=name, scenario_id=scenario.id)
        session.add(adapter)
    adapter.path = str(path.resolve())
    adapter.base_model = base_model
    adapter.dataset_sha256 = dataset_sha256
    adapter.checksum = adapter_checksum(path)
    adapter.config = config
    adapter.metrics = metrics
    session.flush()
    if activate:
        scenario.active_adapter_id = adapter.id
        session.flush()
    return adapter


def usable(adapter: Adapter | None) -> TypeGuard[Adapter]:
    """Whether the adapter's files are still on disk."""
    return adapter is not None and (Path(adapter.path) / "adapter_config.json").is_file()


def get_adapter(session: Session, name: str) -> Adapter:
    adapter = session.scalar(select(Adapter).where(Adapter.name == name))
    if adapter is None:
        raise NotFound(f"adapter {name!r} not found")
    return adapter


def set_active_adapter(session: Session, name: str) -> Adapter:
    """Make `name` its scenario's active adapter (its files must be on disk)."""
    adapter = get_adapter(session, name)
    if not usable(adapter):
        raise AdapterInUse(f"adapter {name!r}: its files are missing from {adapter.path}")
    adapter.scenario.active_adapter_id = adapter.id
    session.flush()
    return adapter


def delete_adapter(session: Session, name: str) -> None:
    """Delete an adapter that is not its scenario's active one: the row, then its files."""
    adapter = get_adapter(session, name)
    if adapter.scenario.active_adapter_id == adapter.id:
        raise AdapterInUse(f"adapter {name!r} is active; activate another one first")
    path = Path(adapter.path)
    session.delete(adapter)
    session.flush()
    remove_adapter_files(path)


def remove_adapter_files(path: Path) -> None:
    """Remove an adapter directory, its staging copy (a save that never finished) and the
    GGUF LoRA copies converted from it (cached beside it as `<name>.<checksum>.lora.gguf`)."""
    shutil.rmtree(path, ignore_errors=True)
    shutil.rmtree(path.with_name(f".{path.name}.partial"), ignore_errors=True)
    for converted in path.parent.glob(f"{glob.escape(path.name)}.*.lora.gguf"):
        converted.unlink(missing_ok=True)


def adapter_archive(directory: Path, name: str) -> BinaryIO:
    """The adapter's directory as a .tar.gz in an unnamed temporary file (gone once closed,
    whatever happens to the request), read from its start."""
    file = tempfile.TemporaryFile()  # noqa: SIM115 (the caller closes it once sent)
    with tarfile.open(fileobj=file, mode="w:gz") as archive:
        archive.add(directory, arcname=name)
    file.seek(0)
    return file


def file_chunks(file: BinaryIO, size: int = 64 * 1024) -> Iterator[bytes]:
    """The file's bytes in chunks of `size`; the file is closed at the end (or when the
    reader stops early)."""
    with file:
        while chunk := file.read(size):
            yield chunk
