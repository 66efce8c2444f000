"""The adapter registry: PEFT adapter directories under `<data_dir>/adapters`, one row each."""

from __future__ import annotations

import hashlib
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db.models import Adapter, Scenario


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


def usable(adapter: Adapter | None) -> bool:
    """Whether the adapter's files are still on disk."""
    return adapter is not None and (Path(adapter.path) / "adapter_config.json").is_file()
