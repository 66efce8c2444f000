"""The `northwind` demo scenario (files in `data/demo/`): loading it, and training its adapter.

Loading is idempotent: documents and datasets are keyed by content hash, so a second start
finds everything in place and does no work.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.config import Settings
from app.db.models import Scenario
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

log = logging.getLogger(__name__)
SLUG = "northwind"


def upsert_scenario(session: Session, spec: dict) -> Scenario:
    scenario = session.scalar(select(Scenario).where(Scenario.slug == spec["slug"]))
    if scenario is None:
        scenario = Scenario(slug=spec["slug"])
        session.add(scenario)
    scenario.name = spec["name"]
    scenario.description = spec.get("description", "")
    scenario.system_prompt = spec["system_prompt"]
    scenario.output_schema = spec.get("output_schema")
    session.flush()
    return scenario


def load_demo(
    session: Session,
    embedder: Embedder,
    settings: Settings,
    on_document: Callable[[str], None] | None = None,
) -> Scenario:
    """Create or update the demo scenario with its knowledge base and fine-tuning dataset."""
    demo = settings.demo_dir
    scenario = upsert_scenario(session, json.loads((demo / "scenario.json").read_text()))
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
    session.flush()
    return scenario


def demo_adapter_name(sha256: str) -> str:
    return f"{SLUG}-demo-{sha256[:8]}"


def ensure_demo_adapter(
    session: Session,
    settings: Settings,
    *,
    config: TrainConfig | None = None,
    limit: int | None = None,
    force: bool = False,
    progress: Progress | None = None,
) -> tuple[str, bool]:
    """Train the demo adapter unless the scenario's active one matches its dataset.
    Returns `(adapter name, trained now)`."""
    scenario = session.scalar(select(Scenario).where(Scenario.slug == SLUG))
    if scenario is None:
        raise LookupError("the demo scenario is not loaded; run `tritune setup`")
    dataset = latest_dataset(session, scenario.id)
    active = scenario.active_adapter
    if not force and usable(active) and active.dataset_sha256 == dataset.sha256:
        return active.name, False
    name = demo_adapter_name(dataset.sha256)
    path = settings.adapters_dir / name
    record = None if force else read_training_record(path)
    trained = record is None
    if trained:  # no adapter on disk for this dataset (a wiped database keeps the files)
        examples = split_examples(session, dataset.id, "train")
        limit = settings.demo_train_limit if limit is None else limit
        result = train_lora(
            base_model=settings.base_model,
            examples=examples[:limit] if limit else examples,
            config=config or TrainConfig(),
            output_dir=path,
            progress=progress,
        )
        record = read_training_record(Path(result.path))
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
