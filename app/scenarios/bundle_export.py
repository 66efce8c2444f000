"""Exporting a scenario as a bundle, in the layout an import reads (app/scenarios/
bundle_files.py): documents as their stored text, every dataset (oldest first, the latest at
the root), the latest eval set, the prompt history, the scenario's pricing, and each
adapter's metadata (its weights only on request). Not exported: comparisons, trainings and
eval runs (the scenario's history of results), older eval sets, and uploaded files as they
were (a PDF or HTML document comes back as its extracted text).

Each dataset is written one example a line (`{"messages": [...]}` as `json.dumps` writes it)
and listed in scenario.yaml with its sha256 and its files' hash, so that an import of the
unchanged files keeps its identity (and its adapters' link to it).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db.models import Adapter, Dataset, Document, EvalItem, PromptVersion, Scenario
from app.errors import AppError
from app.evals.items import CHECKS
from app.finetune.adapters import usable
from app.finetune.dataset import dataset_sha256, split_examples
from app.rag.extract import Extracted
from app.rag.ingest import default_title
from app.scenarios.bundle_files import (
    ADAPTER_METADATA,
    ADAPTERS,
    DATASETS,
    DOCUMENTS,
    EVAL_SPLIT,
    EVALSET,
    MANIFEST,
    PRICING,
    TRAIN,
    WEIGHTS,
    is_archive,
    pack,
    safe_name,
    unique,
)
from app.scenarios.current import current_dataset, current_eval_set
from app.scenarios.manifest import (
    POOL_FIELD,
    POOL_KEY,
    DatasetEntry,
    DocumentEntry,
    manifest_yaml,
)
from app.scenarios.service import COPIED_SETTINGS


class BundleTarget(AppError):
    """409: the destination holds files already."""

    status = 409


def export_bundle(
    session: Session, *, scenario: Scenario, out: Path, with_adapters: bool = False
) -> Path:
    """Write the scenario as a bundle at `out`: a `.tar.gz` (written whole, then renamed into
    place, replacing a file of that name) or a directory (new or empty; BundleTarget
    otherwise). Returns `out`."""
    if not is_archive(out):
        write_bundle(session, scenario, empty_directory(out), with_adapters)
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.partial")
    with tempfile.TemporaryDirectory(prefix="tritune-export-") as scratch:
        directory = Path(scratch) / scenario.slug
        try:
            write_bundle(session, scenario, directory, with_adapters)
            pack(directory, partial, scenario.slug)
            partial.replace(out)
        finally:
            partial.unlink(missing_ok=True)
    return out


def empty_directory(path: Path) -> Path:
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise BundleTarget(f"{path} exists and is not an empty directory; choose a new one")
    path.mkdir(parents=True, exist_ok=True)
    return path


def write_bundle(session: Session, scenario: Scenario, root: Path, with_adapters: bool) -> None:
    root.mkdir(parents=True, exist_ok=True)
    documents = write_documents(session, scenario, root)
    datasets, names = write_datasets(session, scenario, root)
    eval_set = write_eval_set(session, scenario, root)
    if scenario.pricing is not None:
        (root / PRICING).write_text(scenario.pricing, encoding="utf-8")
    write_adapters(session, scenario, root, with_adapters)
    values = {
        name: getattr(scenario, name) for name in ("slug", "name", "description", *COPIED_SETTINGS)
    }
    text = manifest_yaml(
        values,
        pool=names.get(scenario.few_shot_dataset_id or 0),
        datasets=datasets,
        eval_set=eval_set,
        documents=documents,
        versions=history(session, scenario, names),
    )
    (root / MANIFEST).write_text(text, encoding="utf-8")


def write_documents(session: Session, scenario: Scenario, root: Path) -> dict[str, DocumentEntry]:
    """Each document's stored text as a file under documents/; the entries scenario.yaml
    needs where the file's name or text would not give its source or title back."""
    entries: dict[str, DocumentEntry] = {}
    taken: set[str] = set()
    rows = session.scalars(
        select(Document).where(Document.scenario_id == scenario.id).order_by(Document.id)
    )
    for document in rows:
        name = unique(document_file(document), taken)
        path = root / DOCUMENTS / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(document.text, encoding="utf-8")
        kind = "markdown" if name.endswith((".md", ".markdown")) else "text"
        title = default_title(document.source, Extracted(kind, document.text, None))
        entry = DocumentEntry(
            source=None if document.source == name else document.source,
            title=None if document.title == title else document.title,
        )
        if entry.source or entry.title:
            entries[name] = entry
    return entries


def document_file(document: Document) -> str:
    """The file a document's text is written to: its source's path made safe, with the
    extension of what the text is (Markdown for Markdown and HTML, else plain text)."""
    parts = [
        safe_name(part, "document")
        for part in PurePosixPath(document.source).parts
        if part not in ("/", "..", ".")
    ]
    name = "/".join(parts) or "document"
    markdown = document.media_type in ("text/markdown", "text/html")
    wanted = (".md", ".markdown") if markdown else (".txt", ".text")
    return name if name.lower().endswith(wanted) else name + wanted[0]


def write_datasets(
    session: Session, scenario: Scenario, root: Path
) -> tuple[list[DatasetEntry], dict[int, str]]:
    """Every dataset, oldest first but the current one last (an import makes the last one
    current): that one at the root (train.jsonl, eval_split.jsonl), the others under
    datasets/<name>/. Returns their entries and names by id."""
    rows = list(
        session.scalars(
            select(Dataset)
            .where(Dataset.scenario_id == scenario.id)
            .order_by(Dataset.created_at, Dataset.id)
        )
    )
    current = current_dataset(session, scenario)
    rows.sort(key=lambda dataset: current is not None and dataset.id == current.id)
    entries: list[DatasetEntry] = []
    names: dict[int, str] = {}
    taken: set[str] = set()
    dirs: set[str] = set()
    for position, dataset in enumerate(rows):
        name = unique(dataset.name, taken)
        directory = "." if position == len(rows) - 1 else unique(safe_name(name, "dataset"), dirs)
        folder = root if directory == "." else root / DATASETS / directory
        files = write_splits(session, dataset, folder)
        entries.append(
            DatasetEntry(
                name=name, dir=directory, sha256=dataset.sha256, files_sha256=dataset_sha256(*files)
            )
        )
        names[dataset.id] = name
    return entries, names


def write_splits(session: Session, dataset: Dataset, folder: Path) -> list[Path]:
    """The train split and (when it has one) the eval split, one chat example a line."""
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for split, file in (("train", TRAIN), ("eval", EVAL_SPLIT)):
        examples = split_examples(session, dataset.id, split)
        if examples or split == "train":
            lines = (json.dumps({"messages": e.messages}) + "\n" for e in examples)
            (folder / file).write_text("".join(lines), encoding="utf-8", newline="\n")
            files.append(folder / file)
    return files


def write_eval_set(session: Session, scenario: Scenario, root: Path) -> str | None:
    """The current eval set (app/scenarios/current.py) as evalset.jsonl; its name."""
    latest = current_eval_set(session, scenario)
    if latest is None:
        return None
    lines = (json.dumps(item_record(item), ensure_ascii=False) + "\n" for item in latest.items)
    (root / EVALSET).write_text("".join(lines), encoding="utf-8", newline="\n")
    return latest.name


def item_record(item: EvalItem) -> dict[str, Any]:
    """An eval item as its line: what it is scored on, nothing left at its default."""
    record: dict[str, Any] = {"kind": item.kind, "input": item.input}
    for name in CHECKS:
        value = item.json_schema if name == "schema" else getattr(item, name)
        if value is not None:
            record[name] = value
    return record


def history(session: Session, scenario: Scenario, names: dict[int, str]) -> list[dict[str, Any]]:
    """The prompt versions, oldest first, with the example pool by dataset name."""
    rows = session.scalars(
        select(PromptVersion)
        .where(PromptVersion.scenario_id == scenario.id)
        .order_by(PromptVersion.created_at, PromptVersion.id)
    )
    return [
        {
            "level": version.level,
            "number": version.number,
            "note": version.note,
            "created_at": version.created_at,
            "content": {
                POOL_KEY if key == POOL_FIELD else key: names.get(value)
                if key == POOL_FIELD
                else value
                for key, value in version.content.items()
            },
        }
        for version in rows
    ]


def write_adapters(session: Session, scenario: Scenario, root: Path, with_weights: bool) -> None:
    """adapters/<name>/adapter.json for each adapter; its files under weights/ on request."""
    taken: set[str] = set()
    rows = session.scalars(
        select(Adapter).where(Adapter.scenario_id == scenario.id).order_by(Adapter.id)
    )
    for adapter in rows:
        folder = root / ADAPTERS / unique(safe_name(adapter.name, "adapter"), taken)
        folder.mkdir(parents=True)
        metadata = {
            "name": adapter.name,
            "base_model": adapter.base_model,
            "dataset_sha256": adapter.dataset_sha256,
            "checksum": adapter.checksum,
            "config": adapter.config,
            "metrics": adapter.metrics,
            "evaluation": adapter.evaluation,
            "active": scenario.active_adapter_id == adapter.id,
            "created_at": adapter.created_at.isoformat(),
        }
        (folder / ADAPTER_METADATA).write_text(
            json.dumps(metadata, indent=2) + "\n", encoding="utf-8"
        )
        if with_weights and usable(adapter):
            shutil.copytree(adapter.path, folder / WEIGHTS)


def export_archive(session: Session, *, scenario: Scenario, with_adapters: bool = False) -> Path:
    """The scenario as `<slug>.tar.gz` in a new temporary directory, which the caller removes
    (`path.parent`) once it has sent the file."""
    scratch = Path(tempfile.mkdtemp(prefix="tritune-export-"))
    try:
        out = scratch / f"{scenario.slug}.tar.gz"
        return export_bundle(session, scenario=scenario, out=out, with_adapters=with_adapters)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
