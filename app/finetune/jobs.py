"""Training jobs: queued in Postgres, run one at a time by a background worker.

`submit_training` checks everything that can be checked before a job starts (the config,
the dataset, the adapter name) and queues it; `TrainingWorker` runs queued jobs in order.
Each step writes its progress to the job's row; a cancel request is seen at the next step.
The adapter is saved by renaming a finished directory into place and registered only then,
so a failed or cancelled job leaves the registry as it was. A job found `running` when the
worker starts belonged to a server that stopped: it is marked `interrupted`.
"""

from __future__ import annotations

import logging
import re
import shutil
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.db.models import Adapter, Dataset, Scenario, Training
from app.errors import AppError, NotFound
from app.finetune.adapters import register_adapter
from app.finetune.config import ConfigError, TrainingConfig, check_target_modules
from app.finetune.dataset import split_examples
from app.finetune.report import before_after
from app.finetune.train import StepReport, read_training_record, train_lora

log = logging.getLogger(__name__)
ADAPTER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class Conflict(AppError):
    status = 409


class BadTraining(AppError):
    status = 422


class TrainingCancelled(Exception):
    """Raised from the progress callback when the job was asked to stop."""


def submit_training(
    session: Session,
    *,
    scenario: Scenario,
    dataset_id: int | None,
    config: TrainingConfig,
    base_model: str,
    adapter_name: str | None = None,
    activate: bool = False,
) -> Training:
    """Validate and queue a training job (the caller commits)."""
    dataset = pick_dataset(session, scenario, dataset_id)
    config = config.model_copy(update={"base_model": config.base_model or base_model})
    try:
        check_target_modules(config, config.base_model)
    except ConfigError as error:
        raise BadTraining(str(error)) from None
    name = adapter_name or f"{scenario.slug}-lora-{datetime.now(UTC):%Y%m%d-%H%M%S}"
    check_adapter_name(session, name)
    job = Training(
        scenario_id=scenario.id,
        dataset_id=dataset.id,
        adapter_name=name,
        status="queued",
        config=config.model_dump(),
        activate=activate,
        step=0,
        total_steps=0,
        examples_per_s=0.0,
        loss_history=[],
        cancel_requested=False,
    )
    session.add(job)
    session.flush()
    return job


def pick_dataset(session: Session, scenario: Scenario, dataset_id: int | None) -> Dataset:
    statement = select(Dataset).where(Dataset.scenario_id == scenario.id)
    if dataset_id is not None:
        statement = statement.where(Dataset.id == dataset_id)
    dataset = session.scalar(statement.order_by(Dataset.id.desc()).limit(1))
    if dataset is None:
        which = f"dataset {dataset_id}" if dataset_id is not None else "a dataset"
        raise BadTraining(f"scenario {scenario.slug!r} has no {which}; upload one first")
    return dataset


def check_adapter_name(session: Session, name: str) -> None:
    if not ADAPTER_NAME.match(name):
        raise BadTraining(
            f"adapter_name {name!r}: 1-128 letters, digits, '.', '_' or '-', starting with a "
            "letter or digit"
        )
    taken = session.scalar(select(Adapter.id).where(Adapter.name == name)) or session.scalar(
        select(Training.id).where(
            Training.adapter_name == name, Training.status.in_(("queued", "running"))
        )
    )
    if taken:
        raise Conflict(f"adapter_name {name!r} is already used; choose another")


def get_training(session: Session, training_id: int) -> Training:
    job = session.get(Training, training_id)
    if job is None:
        raise NotFound(f"training {training_id} not found")
    return job


def cancel_training(session: Session, training_id: int) -> Training:
    """Stop a queued job now, or ask a running one to stop at its next step."""
    job = get_training(session, training_id)
    if job.status in Training.FINISHED:
        raise Conflict(f"training {training_id} already {job.status}; nothing to cancel")
    if job.cancel_requested:
        raise Conflict(f"training {training_id} is already being cancelled")
    job.cancel_requested = True
    if job.status == "queued":
        finish(job, "cancelled")
    session.flush()
    return job


def finish(job: Training, status: str, error: str | None = None) -> None:
    job.status = status
    job.error = error
    job.finished_at = datetime.now(UTC)


class TrainingWorker:
    """The background thread that runs queued training jobs in order."""

    def __init__(self, runtime) -> None:
        self.runtime = runtime
        self.wakeup = threading.Event()
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None

    def start(self, mark_interrupted: bool = True) -> None:
        if mark_interrupted:
            self.mark_interrupted()
        self.thread = threading.Thread(target=self.loop, name="tritune-training", daemon=True)
        self.thread.start()

    @property
    def alive(self) -> bool:
        return self.thread is not None and self.thread.is_alive() and not self.stopping.is_set()

    def notify(self) -> None:
        self.wakeup.set()

    def stop(self, timeout: float = 5.0) -> None:
        self.stopping.set()
        self.wakeup.set()
        if self.thread:
            self.thread.join(timeout)

    def mark_interrupted(self) -> None:
        with self.runtime.session() as session:
            session.execute(
                update(Training)
                .where(Training.status == "running")
                .values(
                    status="interrupted",
                    error="the server stopped while this job ran",
                    finished_at=datetime.now(UTC),
                )
            )
            session.commit()

    def loop(self) -> None:
        """Claim and run jobs until stopped. Nothing that goes wrong here ends the loop (a
        dead worker would leave every later job queued forever)."""
        while not self.stopping.is_set():
            try:
                job_id = self.claim_next()
            except Exception:
                log.exception("could not claim a training job; retrying")
                job_id = None
            if job_id is None:
                self.wakeup.wait(2.0)
                self.wakeup.clear()
                continue
            try:
                run_training(self.runtime, job_id)
            except Exception:
                log.exception("training %s failed outside its own error handling", job_id)

    def claim_next(self) -> int | None:
        return claim(self.runtime)


def claim(runtime, job_id: int | None = None) -> int | None:
    """Mark the oldest queued job (or `job_id`) running and return its id."""
    with runtime.session() as session:
        statement = select(Training).where(Training.status == "queued")
        if job_id is not None:
            statement = statement.where(Training.id == job_id)
        job = session.scalar(
            statement.order_by(Training.id).limit(1).with_for_update(skip_locked=True)
        )
        if job is None:
            return None
        job.status = "running"
        job.started_at = datetime.now(UTC)
        session.commit()
        return job.id


def run_training(runtime, job_id: int, on_step: Callable[[StepReport], None] | None = None) -> None:
    """Train, evaluate before/after, register: the whole life of one claimed job."""
    settings = runtime.settings
    with runtime.session() as session:
        job = session.get(Training, job_id)
        config = TrainingConfig.model_validate(job.config)
        train = split_examples(session, job.dataset_id, "train")
        held_out = split_examples(session, job.dataset_id, "eval")
        name = job.adapter_name
    output_dir = settings.adapters_dir / name
    try:
        result = train_lora(
            base_model=config.base_model,
            examples=train,
            config=config.train_config(),
            output_dir=output_dir,
            progress=lambda report: record_step(runtime, job_id, report, on_step),
            eval_examples=held_out,
        )
        evaluation = evaluate(runtime, name, output_dir, held_out)
        register(runtime, job_id, result.path, evaluation)
    except TrainingCancelled:
        set_status(runtime, job_id, "cancelled")
    except Exception as error:
        log.exception("training %s failed", job_id)
        if not registered(runtime, name):  # leave the registry and the adapters dir as they were
            shutil.rmtree(output_dir, ignore_errors=True)
        set_status(runtime, job_id, "failed", f"{type(error).__name__}: {error}")


def record_step(runtime, job_id: int, report: StepReport, on_step=None) -> None:
    if on_step:
        on_step(report)
    with runtime.session() as session:
        job = session.get(Training, job_id)
        if job.cancel_requested:
            raise TrainingCancelled
        job.step, job.total_steps = report.step, report.total_steps
        if report.step > 0:
            job.loss_history = [*job.loss_history, report.loss]
            job.examples_per_s = round(report.examples_per_s, 3)
        session.commit()


def evaluate(runtime, name: str, path, held_out) -> dict:
    """Before/after on the held-out split with the serving engine (once the models are up)."""
    examples = held_out[: runtime.settings.training_eval_items]
    if not examples:
        return {"items": 0, "note": "the dataset has no eval split"}
    runtime.wait_ready()
    try:
        _, engine = runtime.models()
        return before_after(
            engine,
            adapter=name,
            adapter_path=path,
            examples=examples,
            max_new_tokens=runtime.settings.max_new_tokens,
        )
    except Exception as error:  # the adapter is still good; say why it has no scores
        log.exception("before/after evaluation of %s failed", name)
        return {"items": len(examples), "error": f"{type(error).__name__}: {error}"}


def register(runtime, job_id: int, path, evaluation: dict) -> None:
    record = read_training_record(path)
    with runtime.session() as session:
        job = session.get(Training, job_id)
        evaluation["loss"] = {
            "base": record["metrics"].get("eval_loss_base"),
            "adapter": record["metrics"].get("eval_loss"),
        }
        adapter = register_adapter(
            session,
            scenario=job.scenario,
            name=job.adapter_name,
            path=path,
            base_model=job.config["base_model"],
            dataset_sha256=job.dataset.sha256,
            config=record["config"],
            metrics=record["metrics"],
            activate=job.activate,
        )
        adapter.evaluation = evaluation
        job.adapter_id = adapter.id
        finish(job, "succeeded")
        session.commit()


def registered(runtime, name: str) -> bool:
    with runtime.session() as session:
        return session.scalar(select(Adapter.id).where(Adapter.name == name)) is not None


def set_status(runtime, job_id: int, status: str, error: str | None = None) -> None:
    with runtime.session() as session:
        finish(session.get(Training, job_id), status, error)
        session.commit()
