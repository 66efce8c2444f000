"""Adapter files never outlive their registry row (D12): a training killed between saving
its adapter and registering it leaves a directory that the next worker start removes, and
deleting an adapter removes its converted GGUF copy too."""

from __future__ import annotations

import secrets
import shutil

from sqlalchemy import select

from app import jobs
from app.db.models import Dataset, Scenario, Training
from app.finetune.adapters import delete_adapter, register_adapter
from app.finetune.jobs import TRAINING, remove_unregistered


def ended_training(session, name: str, status: str) -> Training:
    scenario = session.scalar(select(Scenario).where(Scenario.slug == "northwind"))
    dataset_id = session.scalar(select(Dataset.id).where(Dataset.scenario_id == scenario.id))
    job = Training(
        scenario_id=scenario.id,
        dataset_id=dataset_id,
        adapter_name=name,
        status=status,
        config={},
        error="the process running this training stopped",
    )
    session.add(job)
    session.commit()
    return job


def saved_adapter(adapters_dir, name: str, demo_adapter) -> None:
    shutil.copytree(demo_adapter.path, adapters_dir / name)
    (adapters_dir / f"{name}.0123456789abcdef.lora.gguf").write_bytes(b"GGUF")


def test_an_adapter_saved_but_never_registered_is_removed_at_the_workers_start(
    runtime, session, demo_adapter
):
    adapters_dir = runtime.settings.adapters_dir
    orphan, staged = f"orphan-{secrets.token_hex(3)}", f"staged-{secrets.token_hex(3)}"
    saved_adapter(adapters_dir, orphan, demo_adapter)
    (adapters_dir / f".{staged}.partial").mkdir()
    stranger = adapters_dir / f"by-hand-{secrets.token_hex(3)}"  # no training named it
    stranger.mkdir()
    ended_training(session, orphan, jobs.INTERRUPTED)
    ended_training(session, staged, jobs.FAILED)
    assert TRAINING.recover is remove_unregistered  # JobWorker.start calls it
    assert remove_unregistered(runtime) == sorted([orphan, staged])
    assert not (adapters_dir / orphan).exists() and not list(adapters_dir.glob(f"{orphan}*"))
    assert not (adapters_dir / f".{staged}.partial").exists()
    assert stranger.is_dir()
    stranger.rmdir()


def test_a_registered_adapter_of_an_interrupted_name_is_kept(runtime, session, demo_adapter):
    name = demo_adapter.name
    ended_training(session, name, jobs.INTERRUPTED)  # an earlier try of the same name
    assert name not in remove_unregistered(runtime)
    assert (runtime.settings.adapters_dir / name / "adapter_config.json").is_file()


def test_deleting_an_adapter_removes_its_gguf_copy(runtime, session, demo_adapter):
    adapters_dir = runtime.settings.adapters_dir
    name = f"doomed-{secrets.token_hex(3)}"
    saved_adapter(adapters_dir, name, demo_adapter)
    scenario = session.scalar(select(Scenario).where(Scenario.slug == "northwind"))
    register_adapter(
        session,
        scenario=scenario,
        name=name,
        path=adapters_dir / name,
        base_model="base",
        dataset_sha256="0" * 64,
        config={},
        metrics={},
        activate=False,
    )
    session.commit()
    delete_adapter(session, name)
    session.commit()
    assert not list(adapters_dir.glob(f"{name}*"))
