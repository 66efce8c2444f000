"""`dataset` and `train`: fine-tuning data and LoRA training from the command line."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import TextColumn
from sqlalchemy.orm import Session

from app.cli.context import cli_context
from app.cli.display import command_errors, console, progress_bar
from app.db.queries import get_scenario
from app.finetune.train import StepReport

if TYPE_CHECKING:
    from app.db.models import Dataset
    from app.finetune.validate import Report


@contextmanager
def training_bar(waiting_for: str) -> Iterator[Callable[[StepReport], None]]:
    """A spinner until the first step report (the base model is loaded), then a progress
    bar with loss and speed. Yields the step callback."""
    loss = TextColumn("loss {task.fields[loss]:.3f}")
    speed = TextColumn("{task.fields[speed]:.2f} ex/s")
    with progress_bar(
        "training LoRA", "steps", loss, speed, waiting_for=waiting_for, loss=float("nan"), speed=0.0
    ) as bar:
        yield lambda step: bar(
            step.step, step.total_steps, loss=step.loss, speed=step.examples_per_s
        )


def dataset(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="Training JSONL.")],
    scenario: Annotated[str, typer.Option(help="Scenario slug.")] = "northwind",
    eval_file: Annotated[
        Path | None, typer.Option("--eval", exists=True, dir_okay=False, help="Eval JSONL.")
    ] = None,
    eval_fraction: Annotated[
        float, typer.Option(min=0.0, max=0.5, help="Hold out this share when no --eval.")
    ] = 0.0,
    check: Annotated[bool, typer.Option(help="Only print the report; store nothing.")] = False,
) -> None:
    """Validate a fine-tuning dataset and store it when it has no errors."""
    from app.finetune.uploads import UploadedFile, upload_dataset

    with cli_context(ctx).open_runtime() as runtime, command_errors():
        with console.status("loading models"):
            runtime.load(demo=False)
        embedder, engine = runtime.models()
        with runtime.session() as session:
            stored, report = upload_dataset(
                session,
                scenario=get_scenario(session, scenario),
                train=UploadedFile(file.name, file.read_bytes()),
                eval_file=UploadedFile(eval_file.name, eval_file.read_bytes())
                if eval_file
                else None,
                eval_fraction=eval_fraction,
                name=file.name,
                settings=runtime.settings,
                embedder=embedder,
                engine=engine,
                dry_run=check,
            )
            session.commit()
            print_report(report, stored)
    if not report.ok:
        raise typer.Exit(1)


def print_report(report: Report, stored: Dataset | None) -> None:
    for error in report.errors:
        console.print(f"[red]error[/] {error.file}:{error.line}: {error.message}")
    for warning in report.warnings:
        console.print(f"[yellow]warning[/] {warning}")
    if report.token_stats:
        console.print("tokens " + ", ".join(f"{k} {v}" for k, v in report.token_stats.items()))
    if not report.ok:
        console.print(f"[red]rejected[/]: {len(report.errors)} error(s); nothing stored")
    elif stored is not None:
        console.print(
            f"[green]stored[/] dataset #{stored.id}: {len(report.train)} train, "
            f"{len(report.eval)} eval examples"
        )
    else:
        console.print(f"[green]ok[/]: {len(report.train)} train, {len(report.eval)} eval examples")


def train(
    ctx: typer.Context,
    config_file: Annotated[
        Path | None, typer.Argument(help="Training config (YAML); default: the defaults.")
    ] = None,
    scenario: Annotated[str, typer.Option(help="Scenario slug.")] = "northwind",
    dataset_id: Annotated[
        int | None, typer.Option("--dataset", help="Dataset id; default: the latest.")
    ] = None,
    name: Annotated[str | None, typer.Option(help="Adapter name.")] = None,
    activate: Annotated[bool, typer.Option(help="Make the adapter active when done.")] = False,
    write_config: Annotated[
        Path | None, typer.Option(help="Write the default config to this file and stop.")
    ] = None,
) -> None:
    """Train a LoRA adapter on a stored dataset (in this process, with a progress bar),
    evaluate it before/after on the eval split, and register it."""
    from app import jobs
    from app.finetune.config import ConfigError, default_yaml, parse_config
    from app.finetune.jobs import TRAINING, run_training, submit_training

    context = cli_context(ctx)
    if write_config:
        write_config.write_text(default_yaml(context.settings.base_model))
        console.print(f"wrote {write_config}")
        return
    try:
        config = parse_config(config_file.read_text() if config_file else "")
    except (ConfigError, OSError) as error:
        raise typer.BadParameter(str(error)) from None
    with context.open_runtime() as runtime, command_errors():
        with runtime.session() as session:
            job = submit_training(
                session,
                scenario=get_scenario(session, scenario),
                dataset_id=dataset_id,
                config=config,
                base_model=runtime.settings.base_model,
                other_base_models=runtime.settings.training_base_models,
                adapter_name=name,
                activate=activate,
            )
            jobs.claim(session, TRAINING, job.id)  # in the same commit: no worker can take it
            job_id = job.id
        with console.status("loading models"):
            runtime.load(demo=False)
        with training_bar("loading the base model") as report:
            run_training(runtime, job_id, on_step=report)
        with runtime.session() as session:
            print_training(session, job_id)


def print_training(session: Session, job_id: int) -> None:
    from app.db.models import Training

    job = session.get_one(Training, job_id)
    if job.status != "succeeded":
        console.print(f"[red]{job.status}[/] {job.error or ''}")
        raise typer.Exit(1)
    adapter = job.adapter
    assert adapter is not None  # a training succeeds by registering its adapter
    evaluation = adapter.evaluation
    console.print(f"[bold]adapter[/] {adapter.name} registered ({adapter.checksum[:12]})")
    for side in ("base", "adapter"):
        scores = evaluation.get(side) or {}
        console.print(
            f"  {side:8} "
            + ", ".join(f"{k} {v}" for k, v in scores.items())
            + f", loss {evaluation.get('loss', {}).get(side)}"
        )
