"""Uploading a fine-tuning dataset: decode, validate, and store only a dataset without errors.

The API, the upload page and `tritune dataset` call `upload_dataset`; each gets the same
`Report` back, stored or not.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from app.config import Settings
from app.db.models import Dataset, Scenario
from app.engine import Engine
from app.finetune.config import DEFAULTS
from app.finetune.dataset import store_dataset
from app.finetune.validate import LineError, Report, validate_dataset
from app.jsonl import JsonlLimits
from app.rag.embedding import Embedder
from app.scenarios.current import choose_dataset

if TYPE_CHECKING:
    from starlette.datastructures import UploadFile

    from app.runtime import Runtime


@dataclass(frozen=True)
class UploadedFile:
    name: str
    content: bytes


def upload_dataset(
    session: Session,
    *,
    scenario: Scenario,
    train: UploadedFile,
    eval_file: UploadedFile | None,
    eval_fraction: float,
    name: str | None,
    settings: Settings,
    embedder: Embedder,
    engine: Engine,
    dry_run: bool = False,
) -> tuple[Dataset | None, Report]:
    """Validate the files; store the dataset (train + eval splits, embedded for few-shot
    selection) when the report has no errors and this is not a dry run, and make it the
    scenario's current one."""
    report = Report()
    texts = [decode(f, settings, report) for f in (train, eval_file) if f is not None]
    if not report.ok:
        return None, report
    report = validate_dataset(
        texts[0],
        eval_text=texts[1] if eval_file else None,
        eval_fraction=eval_fraction,
        count_tokens=engine.count_tokens,
        max_seq_len=DEFAULTS.max_seq_len,
        train_name=train.name,
        eval_name=eval_file.name if eval_file else "eval.jsonl",
        limits=JsonlLimits.of(settings),
    )
    if not report.ok or dry_run:
        return None, report
    digest = hashlib.sha256(train.content + b"\0" + (eval_file.content if eval_file else b""))
    digest.update(f"eval_fraction={eval_fraction}".encode())
    dataset = store_dataset(
        session,
        scenario=scenario,
        name=name or train.name,
        sha256=digest.hexdigest(),
        splits={"train": report.train, "eval": report.eval},
        embedder=embedder,
    )
    choose_dataset(session, scenario, dataset.id)  # the same content again too
    return dataset, report


def decode(file: UploadedFile, settings: Settings, report: Report) -> str:
    limit = settings.max_upload_bytes
    if len(file.content) > limit:
        report.errors.append(
            LineError(file.name, 0, f"{len(file.content):,} bytes; the limit is {limit:,}")
        )
        return ""
    try:
        return file.content.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = file.content[: error.start].count(b"\n") + 1
        report.errors.append(LineError(file.name, line, "not UTF-8 text"))
        return ""


def read_upload(upload: UploadFile | None, default_name: str) -> UploadedFile | None:
    """A multipart file field (FastAPI `UploadFile`) as name and bytes; None when the field
    was left empty."""
    if upload is None or not upload.filename:
        return None
    return UploadedFile(upload.filename or default_name, upload.file.read())


def upload_from_request(
    session: Session,
    runtime: Runtime,
    *,
    slug: str,
    file: UploadFile | None,
    eval_file: UploadFile | None,
    eval_fraction: float,
    name: str | None,
    dry_run: bool,
) -> tuple[Dataset | None, Report]:
    """What the API and the upload page share: the scenario, the loaded models, the files."""
    from app.db.queries import get_scenario

    scenario = get_scenario(session, slug)
    embedder, engine = runtime.models()
    return upload_dataset(
        session,
        scenario=scenario,
        train=read_upload(file, "train.jsonl") or UploadedFile("train.jsonl", b""),
        eval_file=read_upload(eval_file, "eval.jsonl"),
        eval_fraction=eval_fraction,
        name=name,
        settings=runtime.settings,
        embedder=embedder,
        engine=engine,
        dry_run=dry_run,
    )
