"""The `tritune` command line: set up, serve, compare."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from pydantic_core import to_jsonable_python
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from app.config import Settings, get_settings

app = typer.Typer(help="TriTune: few-shot prompt vs RAG vs LoRA fine-tune, side by side.")
console = Console()


@app.callback()
def quiet_libraries() -> None:
    """Our own progress bars only: the libraries' bars and deprecation notes are noise here."""
    import warnings

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TQDM_DISABLE", "1")  # read when tqdm is first imported
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", message=".*user_runtime_dir.*")
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()


@contextmanager
def command_errors(runtime) -> Iterator[None]:
    """How a command ends: an AppError is printed in red (exit code 1), not a traceback, and
    the runtime is closed either way."""
    from app.errors import AppError

    try:
        yield
    except AppError as error:
        console.print(f"[red]error:[/] {error.message}")
        raise typer.Exit(1) from None
    finally:
        runtime.close()


def open_runtime(settings: Settings):
    from app.runtime import Runtime

    runtime = Runtime(settings)
    runtime.migrate()
    return runtime


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
) -> None:
    """Serve the REST API on HOST:PORT (migrates, loads the demo and the models on start)."""
    import uvicorn

    from app.main import configure_logging, create_app

    configure_logging()
    uvicorn.run(create_app(), host=host, port=port)


@app.command()
def setup(
    train: Annotated[bool, typer.Option(help="Train the demo adapter if missing.")] = True,
    limit: Annotated[int, typer.Option(help="Train on the first N examples; 0 = all.")] = -1,
) -> None:
    """Migrate the database, load the demo scenario and train its adapter if it is missing."""
    from app.demo import load_demo

    settings = get_settings()
    runtime = open_runtime(settings)
    console.print(f"[bold]database[/] migrated ({runtime.db.url.render_as_string()})")
    embedder = runtime.load_embedder()
    with runtime.session() as session, console.status("loading the demo scenario") as status:
        load_demo(session, embedder, settings, on_document=lambda name: status.update(name))
        session.commit()
    console.print("[bold]demo[/] northwind scenario loaded")
    if train:
        train_demo_adapter(runtime, None if limit < 0 else limit, force=False)
    runtime.close()


@contextmanager
def training_bar(waiting_for: str) -> Iterator[Callable]:
    """A spinner until the first step report (the base model is loaded), then a progress
    bar with loss and speed. Yields the step callback."""
    columns = (
        TextColumn("[bold]training LoRA[/]"),
        BarColumn(),
        TextColumn("step {task.completed}/{task.total}"),
        TextColumn("loss {task.fields[loss]:.3f}"),
        TextColumn("{task.fields[speed]:.2f} ex/s"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    progress = Progress(*columns, console=console)
    task = progress.add_task("train", total=None, loss=float("nan"), speed=0.0)
    waiting = console.status(waiting_for)
    waiting.start()

    def report(step) -> None:
        if not progress.live.is_started:
            waiting.stop()
            progress.start()
        progress.update(
            task,
            completed=step.step,
            total=step.total_steps,
            loss=step.loss,
            speed=step.examples_per_s,
        )

    try:
        yield report
    finally:
        waiting.stop()
        progress.stop()


def train_demo_adapter(runtime, limit: int | None, force: bool) -> None:
    from app.demo import ensure_demo_adapter

    with training_bar("checking the demo adapter") as report, runtime.session() as session:
        name, trained = ensure_demo_adapter(
            session, runtime.settings, limit=limit, force=force, progress=report
        )
        session.commit()
    console.print(f"[bold]adapter[/] {name} " + ("trained" if trained else "already in place"))


@app.command("train-demo")
def train_demo(
    force: Annotated[bool, typer.Option(help="Retrain even if the adapter exists.")] = False,
    limit: Annotated[int, typer.Option(help="Train on the first N examples; 0 = all.")] = -1,
) -> None:
    """Train the demo scenario's LoRA adapter (PEFT) and make it active."""
    runtime = open_runtime(get_settings())
    train_demo_adapter(runtime, None if limit < 0 else limit, force=force)
    runtime.close()


@app.command()
def compare(
    query: Annotated[str, typer.Argument(help="Question or ticket.")],
    scenario: Annotated[str, typer.Option(help="Scenario slug.")] = "northwind",
    levels: Annotated[str, typer.Option(help="Comma-separated levels.")] = "prompt,rag,finetune",
    max_new_tokens: Annotated[
        int | None, typer.Option(min=1, max=1024, help="Default: the setting.")
    ] = None,
    temperature: Annotated[
        float | None, typer.Option(min=0.0, max=2.0, help="Default: the setting.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the stored comparison.")] = False,
) -> None:
    """Run one query through the levels and print the results side by side."""
    from pydantic import ValidationError

    from app.api.schemas import ComparisonCreate, ComparisonPublic
    from app.compare import run_comparison

    try:
        body = ComparisonCreate(
            query=query,
            scenario=scenario,
            levels=[v.strip() for v in levels.split(",")],
            max_new_tokens=max_new_tokens,
            temperature=temperature,
        )
    except ValidationError as error:
        raise typer.BadParameter("; ".join(e["msg"] for e in error.errors())) from None
    runtime = open_runtime(get_settings())
    with console.status("loading models", spinner="dots"):
        runtime.load()
    options = body.options()
    with command_errors(runtime), runtime.session() as session, console.status("comparing"):
        comparison = run_comparison(
            session=session,
            runtime=runtime,
            scenario=scenario,
            query=body.query,
            options=options,
        )
        public = ComparisonPublic.of(comparison)
    if as_json:
        print(json.dumps(public.model_dump(mode="json"), indent=2))
    else:
        console.print(results_table(public))


def results_table(public) -> Table:
    table = Table(title=f"#{public.id} {public.query}", show_lines=True, expand=True)
    table.add_column("", style="bold", no_wrap=True)
    for result in public.results:
        table.add_column(result.level, ratio=1)
    rows = {
        "output": lambda r: r.error and f"[red]{r.error}[/]" or r.output,
        "tokens in/out": lambda r: f"{r.prompt_tokens} / {r.completion_tokens}",
        "latency ms": lambda r: (
            f"total {r.latency_ms.total:.0f}\nretrieval {r.latency_ms.retrieval:.0f}\n"
            f"first token {r.latency_ms.first_token:.0f}\n"
            f"generation {r.latency_ms.generation:.0f}"
        ),
        "tokens/s": lambda r: f"{r.tokens_per_s:.1f}",
        "cost": lambda r: f"${r.cost_usd:.7f}\n${r.cost_usd * 1000:.4f} / 1k queries",
        "used": lambda r: used_summary(r),
    }
    for label, cell in rows.items():
        table.add_row(label, *[cell(r) for r in public.results])
    return table


def used_summary(result) -> str:
    if result.context:
        return "\n".join(f"[{c['citation']}] {c['document']}" for c in result.context)
    if result.examples:
        return f"{len(result.examples)} examples"
    if result.adapter:
        return f"{result.adapter} ({(result.adapter_checksum or '')[:12]})"
    return ""


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or directories (walked recursively).")],
    scenario: Annotated[str, typer.Option(help="Scenario slug.")] = "northwind",
) -> None:
    """Put Markdown, text, HTML and PDF files into a scenario's knowledge base. Each file is
    stored in its own transaction; rejected files are listed with the reason (exit code 1)."""
    from app.db.queries import get_scenario
    from app.rag.ingest import ingest_files

    sources = collect_sources(paths)
    if not sources:
        raise typer.BadParameter("no files found", param_hint="PATHS")
    runtime = open_runtime(get_settings())
    with console.status("loading the embedding model"):
        embedder = runtime.load_embedder()
    progress = Progress(
        TextColumn("[bold]ingesting[/]"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} files"),
        TimeElapsedColumn(),
        TextColumn("{task.fields[name]}"),
        console=console,
    )
    with command_errors(runtime), runtime.session() as session, progress:
        task = progress.add_task("ingest", total=len(sources), name="")
        report = ingest_files(
            session,
            scenario=get_scenario(session, scenario),
            files=sources,
            embedder=embedder,
            settings=runtime.settings,
            on_file=lambda name: progress.update(task, advance=1, name=name),
        )
    console.print(ingest_table(report))
    if report.rejected:
        raise typer.Exit(1)


def collect_sources(paths: list[Path]) -> list:
    """Named files as they are; directories walked for the supported types, each file named
    by its path below the directory."""
    from app.rag.extract import KINDS
    from app.rag.ingest import SourceFile

    sources = []
    for path in paths:
        if path.is_dir():
            for file in sorted(p for p in path.rglob("*") if p.is_file()):
                if file.suffix.lower() in KINDS:
                    sources.append(SourceFile.of_path(file.relative_to(path).as_posix(), file))
        elif path.is_file():
            sources.append(SourceFile.of_path(path.name, path))
        else:
            raise typer.BadParameter(f"{path} does not exist", param_hint="PATHS")
    return sources


def ingest_table(report) -> Table:
    table = Table(title="knowledge base")
    for column in ("file", "status", "chunks", "document"):
        table.add_column(column)
    for s in report.stored:
        table.add_row(s.source, s.status, str(s.chunks), f"#{s.document_id} {s.title}")
    for r in report.rejected:
        table.add_row(r.source, "[red]rejected[/]", "", r.reason)
    return table


@app.command()
def reembed(
    scenario: Annotated[str, typer.Option(help="Scenario slug.")] = "northwind",
    everything: Annotated[
        bool, typer.Option("--all", help="Re-embed every chunk, not only other models' ones.")
    ] = False,
) -> None:
    """Embed a scenario's chunks again with the configured embedding model (those embedded
    with another model; all with --all), in one transaction."""
    from app.db.queries import get_scenario
    from app.rag.reembed import reembed_scenario

    runtime = open_runtime(get_settings())
    with console.status("loading the embedding model"):
        embedder = runtime.load_embedder()
    progress = Progress(
        TextColumn("[bold]re-embedding[/]"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} chunks"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
    )
    with command_errors(runtime), runtime.session() as session, progress:
        task = progress.add_task("reembed", total=None)
        count = reembed_scenario(
            session,
            scenario=get_scenario(session, scenario),
            embedder=embedder,
            everything=everything,
            on_progress=lambda done, total: progress.update(task, completed=done, total=total),
        )
    console.print(f"[bold]re-embedded[/] {count} chunks of {scenario} with {embedder.name}")


@app.command("eval")
def run_eval(
    scenario: Annotated[str, typer.Option(help="Scenario slug.")] = "northwind",
    limit: Annotated[int | None, typer.Option(min=1, help="Only the first N items.")] = None,
    repeats: Annotated[int, typer.Option(min=1, max=20, help="Runs of each item.")] = 1,
    levels: Annotated[str | None, typer.Option(help="Comma-separated levels.")] = None,
    kinds: Annotated[str | None, typer.Option(help="Comma-separated item kinds.")] = None,
    max_new_tokens: Annotated[
        int | None, typer.Option(min=1, max=1024, help="Default: the setting.")
    ] = None,
    temperature: Annotated[
        float | None, typer.Option(min=0.0, max=2.0, help="Default 0; 0.7 with repeats.")
    ] = None,
) -> None:
    """Run the scenario's eval set through every level (each item a stored comparison) and
    print the summary per level."""
    from pydantic import ValidationError

    from app.api.evals import EvalCreate
    from app.evals.runner import run_eval_here

    def listed(value: str | None) -> list[str] | None:
        return [v.strip() for v in value.split(",") if v.strip()] if value else None

    try:
        body = EvalCreate(
            limit=limit,
            repeats=repeats,
            levels=listed(levels),
            kinds=listed(kinds),
            max_new_tokens=max_new_tokens,
            temperature=temperature,
        )
    except ValidationError as error:
        raise typer.BadParameter("; ".join(e["msg"] for e in error.errors())) from None
    runtime = open_runtime(get_settings())
    with console.status("loading models", spinner="dots"):
        runtime.load()
    columns = (
        TextColumn("[bold]eval[/]"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} comparisons"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with command_errors(runtime):
        with Progress(*columns, console=console) as bar:
            task = bar.add_task("eval", total=None)
            run_id = run_eval_here(
                runtime,
                scenario,
                body.options(),
                lambda done, total: bar.update(task, completed=done, total=total),
            )
        with runtime.session() as session:
            print_eval(session, run_id)


def print_eval(session, run_id: int) -> None:
    from app.evals.runner import get_eval_run
    from app.evals.scoring import QUALITY_METRICS

    run = get_eval_run(session, run_id)
    summary = run.summary or {}
    console.print(f"[bold]eval #{run.id}[/] {run.status}: {run.done}/{run.total} comparisons")
    for level, why in run.skipped.items():
        console.print(f"[yellow]{level} skipped:[/] {why}")
    groups = {"all": summary.get("levels", {}), **summary.get("kinds", {})}
    for title, group in groups.items():
        items = summary.get("kind_items", {}).get(title, summary.get("items"))
        table = Table(title=f"{title} ({items} items)")
        table.add_column("metric")
        for level in group:
            table.add_column(level, justify="right")
        for metric in QUALITY_METRICS:
            cells = [group[lv]["metrics"][metric]["mean"] for lv in group]
            if any(c is not None for c in cells):
                table.add_row(metric, *["–" if c is None else f"{c:.0%}" for c in cells])
        table.add_row(
            "latency p95", *[f"{(group[lv]['latency_p95_ms'] or 0) / 1000:.1f} s" for lv in group]
        )
        table.add_row(
            "cost/query", *[f"${group[lv]['cost_per_query_usd'] or 0:.6f}" for lv in group]
        )
        console.print(table)
    console.print(f"results: /evals/{run.id}   report: /scenarios/{run.scenario.slug}/report")


def read_text(path: Path) -> str:
    from app.evals.items import EvalSetInvalid

    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise EvalSetInvalid([f"file: not UTF-8 text (byte {error.start})"]) from None


@app.command("eval-set")
def upload_eval_set(
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="JSONL file.")],
    scenario: Annotated[str, typer.Option(help="Scenario slug.")] = "northwind",
) -> None:
    """Store a JSONL file of eval items as the scenario's eval set (nothing is stored if any
    line is bad; each bad line is named)."""
    from app.db.queries import get_scenario
    from app.errors import AppError
    from app.evals.items import EvalSetInvalid, parse_eval_jsonl, store_eval_set

    runtime = open_runtime(get_settings())
    try:
        with runtime.session() as session:
            record = get_scenario(session, scenario)
            items = parse_eval_jsonl(read_text(path))
            eval_set = store_eval_set(session, scenario=record, name=path.name, items=items)
            session.commit()
    except EvalSetInvalid as error:
        for line in error.errors:
            console.print(f"[red]{path}:[/] {line}")
        raise typer.Exit(1) from None
    except AppError as error:
        console.print(f"[red]error:[/] {error.message}")
        raise typer.Exit(1) from None
    finally:
        runtime.close()
    console.print(f"[bold]eval set[/] #{eval_set.id}: {len(items)} items for {scenario}")


@app.command("settings")
def show_settings() -> None:
    """List every setting, its environment variable, current value and description."""
    table = Table(show_lines=True)
    table.add_column("variable", no_wrap=True)
    table.add_column("value", overflow="fold")
    table.add_column("description")
    settings = get_settings()
    for name, field in Settings.model_fields.items():
        variable = "DATABASE_URL" if name == "database_url" else f"TRITUNE_{name.upper()}"
        value = getattr(settings, name)
        if isinstance(value, dict):  # JSON, as it is set (prices, the openai engine's maps)
            value = json.dumps(to_jsonable_python(value))
        table.add_row(variable, str(value), field.description or "")  # a SecretStr: ******
    console.print(table)


@app.command()
def dataset(
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
    from app.db.queries import get_scenario
    from app.finetune.uploads import UploadedFile, upload_dataset

    runtime = open_runtime(get_settings())
    with console.status("loading models"):
        runtime.load(demo=False)
    with command_errors(runtime), runtime.session() as session:
        stored, report = upload_dataset(
            session,
            scenario=get_scenario(session, scenario),
            train=UploadedFile(file.name, file.read_bytes()),
            eval_file=UploadedFile(eval_file.name, eval_file.read_bytes()) if eval_file else None,
            eval_fraction=eval_fraction,
            name=file.name,
            settings=runtime.settings,
            embedder=runtime.embedder,
            engine=runtime.engine,
            dry_run=check,
        )
        session.commit()
        print_report(report, stored)
    if not report.ok:
        raise typer.Exit(1)


def print_report(report, stored) -> None:
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


@app.command()
def train(
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
    from app.db.queries import get_scenario
    from app.finetune.config import ConfigError, default_yaml, parse_config
    from app.finetune.jobs import claim, run_training, submit_training

    settings = get_settings()
    if write_config:
        write_config.write_text(default_yaml(settings.base_model))
        console.print(f"wrote {write_config}")
        return
    try:
        config = parse_config(config_file.read_text() if config_file else "")
    except (ConfigError, OSError) as error:
        raise typer.BadParameter(str(error)) from None
    runtime = open_runtime(settings)
    with command_errors(runtime):
        with runtime.session() as session:
            job = submit_training(
                session,
                scenario=get_scenario(session, scenario),
                dataset_id=dataset_id,
                config=config,
                base_model=settings.base_model,
                adapter_name=name,
                activate=activate,
            )
            session.commit()
            job_id = job.id
        claim(runtime, job_id)
        with console.status("loading models"):
            runtime.load(demo=False)
        with training_bar("loading the base model") as report:
            run_training(runtime, job_id, on_step=report)
        with runtime.session() as session:
            print_training(session, job_id)


def print_training(session, job_id: int) -> None:
    from app.db.models import Training

    job = session.get(Training, job_id)
    if job.status != "succeeded":
        console.print(f"[red]{job.status}[/] {job.error or ''}")
        raise typer.Exit(1)
    evaluation = job.adapter.evaluation
    console.print(f"[bold]adapter[/] {job.adapter.name} registered ({job.adapter.checksum[:12]})")
    for side in ("base", "adapter"):
        scores = evaluation.get(side) or {}
        console.print(
            f"  {side:8} "
            + ", ".join(f"{k} {v}" for k, v in scores.items())
            + f", loss {evaluation.get('loss', {}).get(side)}"
        )


if __name__ == "__main__":
    app()
