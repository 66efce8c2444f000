"""The `northwind` demo scenario (the bundle in `data/demo/`): loading it, and training its
adapter.

Loading is an ordinary bundle import (app/scenarios/bundles.py) that keeps an existing
`northwind`: its prompts, schema and documents are the team's to edit, and a restart must not
undo that. Documents, datasets and the eval set are keyed by content, so a second start finds
everything in place and adds nothing.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.config import Settings
from app.db.models import Scenario
from app.finetune import train as train_module
from app.finetune.adapters import register_adapter, usable
from app.finetune.dataset import latest_dataset, split_examples
from app.finetune.train import Progress, TrainConfig, read_training_record, train_lora
from app.rag.embedding import Embedder
from app.scenarios.bundles import ImportReport, import_bundle

log = logging.getLogger(__name__)
SLUG = "northwind"


def load_demo(
    session: Session,
    embedder: Embedder,
    settings: Settings,
    on_document: Callable[[str], None] | None = None,
) -> ImportReport:
    """Import the demo bundle, keeping a `northwind` that exists and adding only what it lacks
    (not committed). `on_document` hears each file as it is stored."""

    def on_file(file: str, done: int, total: int) -> None:
        if on_document is not None:
            on_document(file)

    return import_bundle(
        session,
        source=settings.demo_dir,
        embedder=embedder,
        settings=settings,
        slug=SLUG,
        keep_existing=True,
        on_file=on_file,
    )


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
