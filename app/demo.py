"""The `northwind` demo scenario (files in `data/demo/`): loading it, and training its adapter.

Loading is idempotent: documents and datasets are keyed by content hash, so a second start
finds everything in place and does no work.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.config import Settings
from app.db.models import Scenario
from app.evals.items import parse_eval_jsonl, store_eval_set
from app.finetune import train as train_module
from app.finetune.adapters import register_adapter, usable
from app.finetune.dataset import (
    dataset_sha256,
    latest_dataset,
    read_chat_jsonl,
    split_examples,
    store_dataset,
)
from app.finetune.train import Progress, TrainConfig, read_training_record, train_lora
from app.rag.embedding import Embedder
from app.rag.ingest import ingest_markdown
from app.scenarios.versions import record_versions

log = logging.getLogger(__name__)
SLUG = "northwind"


def ensure_scenario(session: Session, spec: dict[str, Any]) -> Scenario:
    """The demo scenario, created from `spec` when missing. An existing one is left as it
    is: its prompts and schema are the team's to edit, and a restart must not undo that."""
    scenario = session.scalar(select(Scenario).where(Scenario.slug == spec["slug"]))
    if scenario is None:
        scenario = Scenario(
            slug=spec["slug"],
            name=spec["name"],
            description=spec.get("description", ""),
            system_prompt=spec["system_prompt"],
            output_schema=spec.get("output_schema"),
        )
        session.add(scenario)
        record_versions(session, scenario, "the demo as shipped")
    return scenario


def load_demo(
    session: Session,
    embedder: Embedder,
    settings: Settings,
    on_document: Callable[[str], None] | None = None,
) -> Scenario:
    """Create the demo scenario if missing, and add what is missing of its knowledge base and
    fine-tuning dataset (both keyed by content, so a second load adds nothing)."""
    demo = settings.demo_dir
    scenario = ensure_scenario(session, json.loads((demo / "scenario.json").read_text()))
    for path in sorted((demo / "kb").glob("*.md")):
        ingest_markdown(
            session,
            scenario=scenario,
            source=path.name,
            text=path.read_text(encoding="utf-8"),
            embedder=embedder,
            settings=settings,
        )
        if on_document:
            on_document(path.name)
    train_file, eval_file = demo / "train.jsonl", demo / "heldout.jsonl"
    store_dataset(
        session,
        scenario=scenario,
        name="northwind-tickets",
        sha256=dataset_sha256(train_file, eval_file),
        splits={"train": read_chat_jsonl(train_file), "eval": read_chat_jsonl(eval_file)},
        embedder=embedder,
    )
    evalset = (demo / "evalset.jsonl").read_text(encoding="utf-8")
    store_eval_set(
        session, scenario=scenario, name="northwind-evalset", items=parse_eval_jsonl(evalset)
    )
    session.flush()
    return scenario


def model_identity(base_model: str) -> str:
    """A model file by name and size (not path: a moved virtualenv is the same model)."""
    path = Path(base_model)
    return f"{path.name}:{path.stat().st_size}" if path.is_file() else base_model


def demo_adapter_name(dataset_sha256: str, config: TrainConfig, limit: int, base_model: str) -> str:
    """Names the adapter after everything that shapes it: the dataset, the training config
    and code, the example limit and the base model. A change to any of them trains anew."""
    recipe = hashlib.sha256()
    recipe.update(json.dumps(asdict(config), sort_keys=True).encode())
    recipe.update(f"{limit}|{model_identity(base_model)}".encode())
    recipe.update(Path(train_module.__file__).read_bytes())
    return f"{SLUG}-demo-{dataset_sha256[:8]}-{recipe.hexdigest()[:6]}"


def ensure_demo_adapter(
    session: Session,
    settings: Settings,
    *,
    config: TrainConfig | None = None,
    limit: int | None = None,
    force: bool = False,
    progress: Progress | None = None,
) -> tuple[str, bool]:
    """Train the demo adapter unless the scenario's active one was made by the same recipe
    (`demo_adapter_name`). Returns `(adapter name, trained now)`."""
    scenario = session.scalar(select(Scenario).where(Scenario.slug == SLUG))
    if scenario is None:
        raise LookupError("the demo scenario is not loaded; run `tritune setup`")
    dataset = latest_dataset(session, scenario.id)
    if dataset is None:
        raise LookupError("the demo scenario has no dataset; run `tritune setup`")
    config = config or TrainConfig()
    limit = settings.demo_train_limit if limit is None else limit
    name = demo_adapter_name(dataset.sha256, config, limit, settings.base_model)
    active = scenario.active_adapter
    if not force and usable(active) and active.name == name:
        return name, False
    path = settings.adapters_dir / name
    record = None if force else read_training_record(path)
    trained = record is None
    if trained:  # not on disk yet (a wiped database keeps the adapter files)
        examples = split_examples(session, dataset.id, "train")
        result = train_lora(
            base_model=settings.base_model,
            examples=examples[:limit] if limit else examples,
            config=config,
            output_dir=path,
            progress=progress,
        )
        record = read_training_record(Path(result.path))
    assert record is not None  # train_lora saves it with the adapter
    register_adapter(
        session,
        scenario=scenario,
        name=name,
        path=path,
        base_model=settings.base_model,
        dataset_sha256=dataset.sha256,
        config=record["config"],
        metrics=record["metrics"],
    )
    return name, trained
