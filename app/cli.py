"""The `tritune` command line: set up, serve, compare."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer
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


def train_demo_adapter(runtime, limit: int | None, force: bool) -> None:
    from app.demo import ensure_demo_adapter

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
    waiting = console.status("checking the demo adapter")
    waiting.start()

    def report(step) -> None:
        if not progress.live.is_started:  # first report: the base model is loaded
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
        with runtime.session() as session:
            name, trained = ensure_demo_adapter(
                session, runtime.settings, limit=limit, force=force, progress=report
            )
            session.commit()
    finally:
        waiting.stop()
        progress.stop()
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
    from app.errors import AppError

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
    try:
        with runtime.session() as session, console.status("comparing"):
            comparison = run_comparison(
                session=session,
                runtime=runtime,
                scenario=scenario,
                query=body.query,
                options=options,
            )
            public = ComparisonPublic.of(comparison)
    except AppError as error:
        console.print(f"[red]error:[/] {error.message}")
        raise typer.Exit(1) from None
    finally:
        runtime.close()
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
    from app.errors import AppError
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
    try:
        with runtime.session() as session, progress:
            task = progress.add_task("ingest", total=len(sources), name="")
            report = ingest_files(
                session,
                scenario=get_scenario(session, scenario),
                files=sources,
                embedder=embedder,
                settings=runtime.settings,
                on_file=lambda name: progress.update(task, advance=1, name=name),
            )
    except AppError as error:
        console.print(f"[red]error:[/] {error.message}")
        raise typer.Exit(1) from None
    finally:
        runtime.close()
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
    from app.errors import AppError
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
    try:
        with runtime.session() as session, progress:
            task = progress.add_task("reembed", total=None)
            count = reembed_scenario(
                session,
                scenario=get_scenario(session, scenario),
                embedder=embedder,
                everything=everything,
                on_progress=lambda done, total: progress.update(task, completed=done, total=total),
            )
    except AppError as error:
        console.print(f"[red]error:[/] {error.message}")
        raise typer.Exit(1) from None
    finally:
        runtime.close()
    console.print(f"[bold]re-embedded[/] {count} chunks of {scenario} with {embedder.name}")


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
        if isinstance(value, dict):
            value = json.dumps({k: v.model_dump() for k, v in value.items()})
        table.add_row(variable, str(value), field.description or "")
    console.print(table)


if __name__ == "__main__":
    app()
