"""The fine-tuning workflow over REST: datasets, training jobs and the adapter registry."""

from __future__ import annotations

import os
from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Query, UploadFile
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from app.api.bodies import TEXT_BODIES
from app.api.schemas import API_ERRORS
from app.db import queries
from app.db.models import Adapter, Dataset, Scenario, Training
from app.db.queries import dataset_split_counts, get_scenario, list_adapters
from app.deps import MAX_ID, RecordId, RuntimeDep, SessionDep
from app.errors import NotFound
from app.evals.wins import adapter_wins
from app.finetune import jobs as training_jobs
from app.finetune.adapters import (
    adapter_archive,
    delete_adapter,
    file_chunks,
    get_adapter,
    set_active_adapter,
)
from app.finetune.config import TrainingConfig
from app.finetune.exports import adapter_files, adapter_gguf, axolotl_archive
from app.finetune.imports import import_adapter, staged_upload
from app.finetune.jobs import (
    cancel_training,
    get_training,
    submit_training,
    training_eta,
    training_progress,
)
from app.finetune.uploads import upload_from_request
from app.scenarios.current import choose_dataset, current_dataset

router = APIRouter(
    prefix="/api/v1", tags=["fine-tuning"], responses=API_ERRORS, dependencies=TEXT_BODIES
)


class DatasetPublic(BaseModel):
    id: int
    name: str
    sha256: str
    train_examples: int
    eval_examples: int
    created_at: datetime
    current: bool = Field(
        False, description="Whether trainings use it by default (the scenario's current)."
    )


class TrainingCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dataset_id: int | None = Field(
        None,
        ge=1,
        le=MAX_ID,
        description="Dataset to train on (default: the scenario's current one).",
    )
    adapter_name: str | None = Field(None, description="Name of the adapter to register.")
    activate: bool = Field(False, description="Make it the scenario's active adapter.")
    config: TrainingConfig = Field(default_factory=TrainingConfig)


class TrainingPublic(BaseModel):
    id: int
    scenario: str
    dataset_id: int
    adapter_name: str
    status: str
    step: int
    total_steps: int
    progress: float
    loss_history: list[float]
    examples_per_s: float
    eta_s: float | None
    cancel_requested: bool
    error: str | None
    adapter_id: int | None
    config: dict[str, Any]
    data_report: dict[str, Any] | None = Field(
        None,
        description="With the config's `raft`: how many training examples got retrieved "
        "context and from which documents (null until built, or without raft)",
    )
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @classmethod
    def of(cls, job: Training) -> TrainingPublic:
        return cls(
            **{name: getattr(job, name) for name in TRAINING_COLUMNS},
            scenario=job.scenario.slug,
            progress=training_progress(job),
            eta_s=training_eta(job),
        )


TRAINING_COLUMNS = [
    "id",
    "dataset_id",
    "adapter_name",
    "status",
    "step",
    "total_steps",
    "loss_history",
    "examples_per_s",
    "cancel_requested",
    "error",
    "adapter_id",
    "config",
    "data_report",
    "created_at",
    "started_at",
    "finished_at",
]


class AdapterPublic(BaseModel):
    id: int
    name: str
    scenario: str
    active: bool
    base_model: str
    dataset_sha256: str
    checksum: str
    config: dict[str, Any]
    metrics: dict[str, Any]
    evaluation: dict[str, Any]
    created_at: datetime

    @classmethod
    def of(cls, adapter: Adapter, scenario: Scenario) -> AdapterPublic:
        columns = {n: getattr(adapter, n) for n in ADAPTER_COLUMNS}
        # Each held-out example's outputs stay out of listings: /adapters/{name}/wins has them.
        columns["evaluation"] = {k: v for k, v in adapter.evaluation.items() if k != "per_item"}
        return cls(
            **columns, scenario=scenario.slug, active=scenario.active_adapter_id == adapter.id
        )


ADAPTER_COLUMNS = [
    "id",
    "name",
    "base_model",
    "dataset_sha256",
    "checksum",
    "config",
    "metrics",
    "evaluation",
    "created_at",
]


def dataset_public(session: Session, dataset: Dataset, current: bool) -> DatasetPublic:
    counts = dataset_split_counts(session, dataset.id)
    return DatasetPublic(
        id=dataset.id,
        name=dataset.name,
        sha256=dataset.sha256,
        train_examples=counts.get("train", 0),
        eval_examples=counts.get("eval", 0),
        created_at=dataset.created_at,
        current=current,
    )


@router.post("/scenarios/{slug}/datasets", status_code=201, form_limits={"max_files": 2})
def create_dataset(
    slug: str,
    session: SessionDep,
    runtime: RuntimeDep,
    file: Annotated[UploadFile, File(description="JSONL: chat messages or prompt/completion")],
    eval_file: Annotated[UploadFile | None, File(description="Optional eval split")] = None,
    eval_fraction: Annotated[float, Form(ge=0, lt=1)] = 0.0,
    name: Annotated[str | None, Form(max_length=200)] = None,
    dry_run: Annotated[bool, Form()] = False,
):
    """Validate a dataset and store it when it has no errors. The answer always carries the
    validation report (per-line errors, duplicates, overlap, lengths, token statistics):
    201 stored, 200 for a dry run, 422 rejected (nothing stored)."""
    dataset, report = upload_from_request(
        session,
        runtime,
        slug=slug,
        file=file,
        eval_file=eval_file,
        eval_fraction=eval_fraction,
        name=name,
        dry_run=dry_run,
    )
    if not report.ok:
        detail = f"the dataset has {report.errors.total} error(s); nothing was stored"
        return JSONResponse({"detail": detail, "report": report.summary()}, status_code=422)
    if dataset is None:
        return JSONResponse({"dataset": None, "report": report.summary()}, status_code=200)
    session.commit()
    return {"dataset": dataset_public(session, dataset, True), "report": report.summary()}


@router.get("/scenarios/{slug}/datasets", response_model=list[DatasetPublic])
def list_datasets(slug: str, session: SessionDep):
    """The scenario's datasets, newest first; `current` marks the one trainings use."""
    scenario = get_scenario(session, slug)
    rows = queries.list_datasets(session, scenario_id=scenario.id)
    current = current_dataset(session, scenario)
    return [dataset_public(session, d, current is not None and d.id == current.id) for d in rows]


@router.post("/scenarios/{slug}/datasets/{dataset_id}/current", response_model=DatasetPublic)
def make_dataset_current(slug: str, dataset_id: RecordId, session: SessionDep):
    """Make this dataset the scenario's current one: what trainings without a `dataset_id`
    and the prompt level's default example pool use (404 when the scenario has no dataset of
    that id)."""
    dataset = choose_dataset(session, get_scenario(session, slug), dataset_id)
    session.commit()
    return dataset_public(session, dataset, True)


@router.post("/scenarios/{slug}/trainings", status_code=202, response_model=TrainingPublic)
def create_training(slug: str, body: TrainingCreate, session: SessionDep, runtime: RuntimeDep):
    """Queue a LoRA training run (one runs at a time; others wait). Poll
    `GET /api/v1/trainings/{id}` for progress."""
    job = submit_training(
        session,
        scenario=get_scenario(session, slug),
        dataset_id=body.dataset_id,
        config=body.config,
        base_model=runtime.settings.base_model,
        settings=runtime.settings,
        adapter_name=body.adapter_name,
        activate=body.activate,
    )
    session.commit()
    runtime.training_worker().notify()
    return TrainingPublic.of(job)


@router.get("/trainings", response_model=list[TrainingPublic])
def list_trainings(session: SessionDep, limit: Annotated[int, Query(ge=1, le=200)] = 50):
    rows = training_jobs.list_trainings(session, limit=limit)
    return [TrainingPublic.of(job) for job in rows]


@router.get("/trainings/{training_id}", response_model=TrainingPublic)
def read_training(training_id: RecordId, session: SessionDep):
    return TrainingPublic.of(get_training(session, training_id))


@router.post("/trainings/{training_id}/cancel", response_model=TrainingPublic)
def cancel(training_id: RecordId, session: SessionDep):
    """Stop a queued job, or a running one at its next step (409 when already finished or
    already being cancelled)."""
    job = cancel_training(session, training_id)
    session.commit()
    return TrainingPublic.of(job)


@router.get("/adapters", response_model=list[AdapterPublic])
def adapters(session: SessionDep, scenario: str | None = None):
    scenario_id = get_scenario(session, scenario).id if scenario else None
    return [
        AdapterPublic.of(a, a.scenario) for a in list_adapters(session, scenario_id=scenario_id)
    ]


@router.get("/adapters/{name}", response_model=AdapterPublic)
def read_adapter(name: str, session: SessionDep):
    adapter = get_adapter(session, name)
    return AdapterPublic.of(adapter, adapter.scenario)


@router.get("/adapters/{name}/wins")
def adapter_before_after_wins(
    name: str,
    session: SessionDep,
    metric: Annotated[str, Query(max_length=64)] = "field_match",
    direction: Literal["both", "a", "b"] = "both",
) -> dict[str, Any]:
    """The adapter's before/after per item: the held-out examples where the adapter (`a`)
    scored higher on `metric` (field_match, json_valid or exact_match) than the base model
    (`b`) and the other way round, with both outputs, the counts and a paired test. Adapters
    whose report kept no per-item results (trained before it did) give no items and a
    `note`."""
    adapter = get_adapter(session, name)
    wins = adapter_wins(adapter.evaluation, metric=metric, direction=direction)
    return {"adapter": adapter.name, **asdict(wins)}


@router.post("/adapters/{name}/activate", response_model=AdapterPublic)
def activate(name: str, session: SessionDep, runtime: RuntimeDep):
    """Make this adapter its scenario's active one (what the finetune level uses); with
    `TRITUNE_OPENAI_PUSH_ADAPTERS`, it is loaded into the vLLM server now."""
    adapter = set_active_adapter(session, name)
    session.commit()
    runtime.push_adapter(adapter.name, adapter.path, adapter.checksum)
    return AdapterPublic.of(adapter, adapter.scenario)


@router.delete("/adapters/{name}", status_code=204)
def delete(name: str, session: SessionDep):
    """Delete an adapter that is not active: its row and its files (409 when active)."""
    delete_adapter(session, name)
    session.commit()


@router.get("/adapters/{name}/export")
def export(
    name: str,
    session: SessionDep,
    runtime: RuntimeDep,
    format: Literal["peft", "gguf"] = "peft",  # noqa: A002 (the query parameter's name)
):
    """The adapter as a PEFT directory in a .tar.gz (loadable with `PeftModel.from_pretrained`,
    vLLM `--lora-modules`), or with `format=gguf` as a GGUF LoRA for llama.cpp (`--lora`;
    422 when the base model is not a GGUF file)."""
    adapter = get_adapter(session, name)
    if format == "gguf":
        path = adapter_gguf(adapter, runtime.settings.base_model)
        return FileResponse(path, media_type="application/octet-stream", filename=f"{name}.gguf")
    directory = adapter_files(adapter)
    # A temporary file sent in chunks: a StreamingResponse of an in-memory archive went line
    # by line (splitting binary data at every newline) and took 75 s for 9 MB.
    archive = adapter_archive(directory, name)
    size = archive.seek(0, os.SEEK_END)
    archive.seek(0)
    headers = {
        "Content-Disposition": f'attachment; filename="{name}.tar.gz"',
        "Content-Length": str(size),
    }
    return StreamingResponse(file_chunks(archive), media_type="application/gzip", headers=headers)


@router.post("/scenarios/{slug}/adapters", status_code=201, response_model=AdapterPublic)
def import_peft_adapter(
    slug: str,
    session: SessionDep,
    runtime: RuntimeDep,
    files: Annotated[
        list[UploadFile],
        File(
            description="A .tar.gz of a PEFT adapter directory, or its adapter_config.json "
            "and adapter_model.safetensors"
        ),
    ],
    name: Annotated[str, Form(max_length=128, description="Name to register it under.")],
    activate: Annotated[bool, Form(description="Make it the scenario's active adapter.")] = False,
):
    """Import a LoRA adapter trained elsewhere (axolotl, Unsloth, LLaMA-Factory, PEFT): its
    base model must be the scenario's and its modules ones both local engines serve (422
    naming why, nothing stored otherwise); its checksum is recorded."""
    scenario = get_scenario(session, slug)
    uploads = [(f.filename or "upload", f.file) for f in files]
    with staged_upload(uploads) as source:
        adapter = import_adapter(
            session,
            scenario=scenario,
            name=name,
            source=source,
            base_model=runtime.settings.base_model,
            adapters_dir=runtime.settings.adapters_dir,
            activate=activate,
            origin=", ".join(u[0] for u in uploads),
        )
    session.commit()
    if activate:
        runtime.push_adapter(adapter.name, adapter.path, adapter.checksum)
    return AdapterPublic.of(adapter, scenario)


@router.get("/datasets/{dataset_id}/export")
def export_dataset(
    dataset_id: RecordId,
    session: SessionDep,
    runtime: RuntimeDep,
    format: Literal["axolotl"] = "axolotl",  # noqa: A002 (the query parameter's name)
):
    """The dataset as an axolotl run in a .tar.gz: `train.jsonl`, `eval.jsonl` (when it has an
    eval split) and `axolotl.yaml` (a LoRA config with TriTune's defaults)."""
    dataset = session.get(Dataset, dataset_id)
    if dataset is None:
        raise NotFound(f"dataset {dataset_id} not found")
    body = axolotl_archive(session, dataset, runtime.settings.base_model)
    filename = f"dataset-{dataset.id}-{format}.tar.gz"
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    return Response(body, media_type="application/gzip", headers=headers)
