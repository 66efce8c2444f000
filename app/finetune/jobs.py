"""Training jobs, one kind of background job (app/jobs.py: queue, claim, progress, cancel,
interrupted), named `succeeded` when done.

`submit_training` checks everything that can be checked before a job starts (the config,
the dataset, the adapter name) and queues it; the runtime's training worker runs queued
jobs in order. Each step writes its progress to the job's row; a cancel request is seen at
the next step. The adapter is saved by renaming a finished directory into place and
registered only then, so a failed or cancelled job leaves the registry as it was.
"""

from __future__ import annotations

import glob
import logging
import math
import random
import re
import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app import jobs
from app.config import Settings
from app.db.models import MAX_ID, Adapter, Dataset, Example, Scenario, Training
from app.engine.devices import qlora_refusal
from app.errors import AppError, Busy
from app.finetune.adapters import register_adapter, remove_adapter_files
from app.finetune.config import ConfigError, TrainingConfig, check_target_modules
from app.finetune.dataset import ChatExample, split_examples
from app.finetune.placement import Placement
from app.finetune.report import before_after
from app.finetune.train import StepReport, read_training_record, train_lora
from app.scenarios.current import current_dataset

if TYPE_CHECKING:
    from app.runtime import Runtime

log = logging.getLogger(__name__)
ADAPTER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
HOLD_OUT = 0.1  # of the training examples, for a dataset without an eval split
StepSink = Callable[[StepReport], None]  # told of each step, as the CLI's progress bar is


class Conflict(AppError):
    status = 409


class BadTraining(AppError):
    status = 422


def submit_training(
    session: Session,
    *,
    scenario: Scenario,
    dataset_id: int | None,
    config: TrainingConfig,
    base_model: str,
    settings: Settings,
    adapter_name: str | None = None,
    activate: bool = False,
) -> Training:
    """Validate and queue a training job (the caller commits); Busy (503) when the scenario
    has `max_queued_trainings` waiting already. `config.base_model` must be `base_model` (the
    default) or one of `settings.training_base_models`; a QLoRA config is checked against
    `settings.device` (TRITUNE_DEVICE; BadTraining naming what is missing)."""
    allowed = [base_model, *settings.training_base_models]
    model = allowed_base_model(config.base_model or base_model, allowed)
    refusal = qlora_refusal(settings.device) if config.qlora else None
    if refusal:
        raise BadTraining(refusal)
    dataset = pick_dataset(session, scenario, dataset_id)
    check_training_size(session, config, dataset, settings)
    check_queue_room(session, scenario, settings)
    config = config.model_copy(update={"base_model": model})
    try:
        check_target_modules(config, model)
    except ConfigError as error:
        raise BadTraining(str(error)) from None
    except (OSError, ValueError) as error:  # an allowed model that cannot be read: the setting
        raise BadTraining(f"config.base_model: {model!r} cannot be loaded ({error})") from None
    name = adapter_name or f"{scenario.slug}-lora-{datetime.now(UTC):%Y%m%d-%H%M%S}"
    check_adapter_name(session, name)
    job = Training(
        scenario_id=scenario.id,
        dataset_id=dataset.id,
        adapter_name=name,
        status=jobs.QUEUED,
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


def allowed_base_model(model: str, allowed: list[str]) -> str:
    """`model` if allowed, else BadTraining naming the allowed ones. Nothing is looked up
    before: the answer must not tell a client which paths exist on the server."""
    if model not in allowed:
        raise BadTraining(
            f"config.base_model: {model!r} is not allowed; allowed: {', '.join(allowed)} "
            "(the setting training_base_models adds others)"
        )
    return model


def check_training_size(
    session: Session, config: TrainingConfig, dataset: Dataset, settings: Settings
) -> None:
    """BadTraining (422) for more epochs or steps than the settings allow."""
    if config.num_epochs > settings.max_training_epochs:
        raise BadTraining(
            f"num_epochs: {config.num_epochs}; the limit is {settings.max_training_epochs} "
            "(TRITUNE_MAX_TRAINING_EPOCHS)"
        )
    examples = session.scalar(
        select(func.count(Example.id)).where(
            Example.dataset_id == dataset.id, Example.split == "train"
        )
    )
    examples = min(examples or 0, config.max_examples or examples or 0)
    per_epoch = math.ceil(examples / config.micro_batch_size)
    steps = math.ceil(per_epoch * config.num_epochs / config.gradient_accumulation_steps)
    if steps > settings.max_training_steps:
        raise BadTraining(
            f"the run would take {steps:,} steps; the limit is {settings.max_training_steps:,} "
            "(TRITUNE_MAX_TRAINING_STEPS): fewer epochs or max_examples, or larger batches"
        )


def check_queue_room(session: Session, scenario: Scenario, settings: Settings) -> None:
    """Busy (503 + Retry-After) when the scenario's queue of trainings is full."""
    queued = session.scalar(
        select(func.count(Training.id)).where(
            Training.scenario_id == scenario.id, Training.status == jobs.QUEUED
        )
    )
    if (queued or 0) >= settings.max_queued_trainings:
        raise Busy(
            f"scenario {scenario.slug!r} has {queued} trainings waiting already "
            f"(TRITUNE_MAX_QUEUED_TRAININGS); retry when one has started"
        )


def pick_dataset(session: Session, scenario: Scenario, dataset_id: int | None) -> Dataset:
    """Dataset `dataset_id` of the scenario, else its current one (app/scenarios/current.py)."""
    if dataset_id is not None and not 1 <= dataset_id <= MAX_ID:
        raise BadTraining(f"dataset_id: {dataset_id} is not a dataset id (1 to {MAX_ID})")
    if dataset_id is None:
        dataset = current_dataset(session, scenario)
    else:
        found = session.get(Dataset, dataset_id)
        dataset = found if found is not None and found.scenario_id == scenario.id else None
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
        select(Training.id).where(Training.adapter_name == name, Training.status.in_(jobs.ACTIVE))
    )
    if taken:
        raise Conflict(f"adapter_name {name!r} is already used; choose another")


def get_training(session: Session, training_id: int) -> Training:
    return jobs.get_job(session, TRAINING, training_id)


def cancel_training(session: Session, training_id: int) -> Training:
    """Stop a queued job now, or ask a running one to stop at its next step."""
    return jobs.cancel(session, TRAINING, training_id)


def claim(runtime: Runtime, job_id: int | None = None) -> int | None:
    """Mark the oldest queued job (or `job_id`) running in this process and return its id."""
    with runtime.session() as session:
        job = jobs.claim(session, TRAINING, job_id)
        return job.id if job else None


def run_training(runtime: Runtime, job_id: int, on_step: StepSink | None = None) -> None:
    """The whole life of one claimed job (`on_step`: also told of each step, as the CLI's
    progress bar is)."""
    jobs.run_job(runtime, TRAINING, job_id, on_step=on_step)


def train_and_register(runtime: Runtime, job_id: int, on_step: StepSink | None = None) -> None:
    """Train, evaluate before/after, register; a failed run leaves the adapters as they were."""
    from app.finetune.raft import with_raft_context  # it imports the levels, which import us

    settings = runtime.settings
    with runtime.session() as session:
        job = session.get_one(Training, job_id)
        config = TrainingConfig.model_validate(job.config)
        train, held_out, held_out_note = training_split(session, job.dataset_id, config.seed)
        train = train[: config.max_examples] if config.max_examples else train
        name = job.adapter_name
    train, held_out = with_raft_context(runtime, job_id, config, train, held_out)
    output_dir = settings.adapters_dir / name
    try:
        result = train_lora(
            base_model=config.base_model or settings.base_model,
            examples=train,
            config=config.train_config(),
            output_dir=output_dir,
            progress=lambda report: record_step(runtime, job_id, report, on_step),
            eval_examples=held_out,
            placement=Placement(settings.device, settings.models_cache_dir),
        )
        evaluation = evaluate(runtime, name, output_dir, held_out)
        if held_out_note:
            evaluation["held_out"] = held_out_note
        register(runtime, job_id, result.path, evaluation)
    except Exception:
        if not registered(runtime, name):  # leave the registry and the adapters dir as they were
            shutil.rmtree(output_dir, ignore_errors=True)
        raise


def training_split(
    session: Session, dataset_id: int, seed: int
) -> tuple[list[ChatExample], list[ChatExample], str | None]:
    """The examples to train on and to hold out for the before/after report, and a note
    when the dataset has no eval split of its own: then a share (`HOLD_OUT`) of its training
    examples, chosen with the training's seed, is held out and not trained on."""
    train = split_examples(session, dataset_id, "train")
    held_out = split_examples(session, dataset_id, "eval")
    if held_out or len(train) < 2:
        return train, held_out, None
    count = max(1, round(len(train) * HOLD_OUT))
    chosen = set(random.Random(seed).sample(range(len(train)), count))
    note = (
        f"the dataset has no eval split: {count} of its {len(train)} training examples "
        f"({HOLD_OUT:.0%}, chosen with seed {seed}) were held out for this report and not "
        "trained on"
    )
    kept = [ex for i, ex in enumerate(train) if i not in chosen]
    return kept, [ex for i, ex in enumerate(train) if i in chosen], note


def record_step(
    runtime: Runtime, job_id: int, report: StepReport, on_step: StepSink | None = None
) -> None:
    """Write a step's progress, loss and speed; stop here if the job was cancelled."""
    if on_step:
        on_step(report)
    if report.step and tenth(report.step, report.total_steps) != tenth(
        report.step - 1, report.total_steps
    ):  # a plain log line per tenth: a server's log shows the progress too
        log.info(
            "training job %s: step %d of %d, loss %.3f, %.2f examples/s",
            job_id,
            report.step,
            report.total_steps,
            report.loss,
            report.examples_per_s,
        )
    with runtime.session() as session:
        job = session.get_one(Training, job_id)
        if report.step > 0:
            job.loss_history = [*job.loss_history, report.loss]
            job.examples_per_s = round(report.examples_per_s, 3)
        jobs.advance(session, job, report.step, report.total_steps)


def tenth(step: int, total: int) -> int:
    return 10 * step // total


def evaluate(
    runtime: Runtime, name: str, path: Path, held_out: list[ChatExample]
) -> dict[str, Any]:
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


def register(runtime: Runtime, job_id: int, path: Path, evaluation: dict[str, Any]) -> None:
    record = read_training_record(path)
    if record is None:
        raise FileNotFoundError(f"{path} has no training record; the training did not finish")
    with runtime.session() as session:
        job = session.get_one(Training, job_id)
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
        jobs.finish(session, TRAINING, job, jobs.DONE)  # with its adapter, in one commit
        session.commit()


def registered(runtime: Runtime, name: str) -> bool:
    with runtime.session() as session:
        return session.scalar(select(Adapter.id).where(Adapter.name == name)) is not None


def remove_unregistered(runtime: Runtime) -> list[str]:
    """Remove the adapter directories of trainings that ended without registering them (a
    process killed between saving and registering); returns their names. A name that is
    registered, or that an active training will write, is left alone."""
    with runtime.session() as session:
        ended = select(Training.adapter_name).where(
            Training.status.in_((jobs.FAILED, jobs.CANCELLED, jobs.INTERRUPTED))
        )
        kept = select(Adapter.name).union(
            select(Training.adapter_name).where(Training.status.in_(jobs.ACTIVE))
        )
        names = set(session.scalars(ended)) - set(session.scalars(kept))
    adapters_dir = runtime.settings.adapters_dir
    left = sorted(name for name in names if has_files(adapters_dir, name))
    for name in left:
        log.warning("removing adapter %s: its training ended before registering it", name)
        remove_adapter_files(adapters_dir / name)
    return left


def has_files(adapters_dir: Path, name: str) -> bool:
    """Whether an adapter's directory, staging copy or converted GGUF copy is on disk."""
    converted = adapters_dir.glob(f"{glob.escape(name)}.*.lora.gguf")
    staging = adapters_dir / f".{name}.partial"
    return (adapters_dir / name).exists() or staging.exists() or any(converted)


TRAINING = jobs.JobKind(
    name="training",
    row=Training,
    run=train_and_register,
    done_status="succeeded",
    recover=remove_unregistered,
)


def training_progress(job: Training) -> float:
    if job.status == "succeeded":
        return 1.0
    return round(job.step / job.total_steps, 4) if job.total_steps else 0.0


def training_eta(job: Training) -> float | None:
    """Seconds left at the pace so far (None until a step has been timed)."""
    if job.status != "running" or not job.step or not job.started_at:
        return None
    elapsed = (datetime.now(job.started_at.tzinfo) - job.started_at).total_seconds()
    return round(elapsed / job.step * (job.total_steps - job.step), 1)


def list_trainings(
    session: Session, *, scenario_id: int | None = None, limit: int = 50
) -> list[Training]:
    """Training jobs, newest first (of one scenario, or all)."""
    statement = select(Training).order_by(Training.id.desc()).limit(limit)
    if scenario_id is not None:
        statement = statement.where(Training.scenario_id == scenario_id)
    return list(session.scalars(statement))


def active_trainings(session: Session, *, scenario_id: int | None = None) -> list[Training]:
    """Training jobs queued or running (of one scenario, or all), oldest first."""
    statement = select(Training).where(Training.status.in_(jobs.ACTIVE)).order_by(Training.id)
    if scenario_id is not None:
        statement = statement.where(Training.scenario_id == scenario_id)
    return list(session.scalars(statement))


def training_status(job: Training) -> str:
    """One line for a person: `queued`, or `step 12 of 75 (16%), about 4 min left`."""
    if job.status == jobs.QUEUED:
        return "queued"
    if not job.total_steps:
        return "starting (loading the base model)"
    if job.step >= job.total_steps:
        return "trained; comparing it with the base model on held-out examples"
    eta = training_eta(job)
    left = f", about {duration(eta)} left" if eta is not None else ""
    return f"step {job.step} of {job.total_steps} ({training_progress(job):.0%}){left}"


def duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"
