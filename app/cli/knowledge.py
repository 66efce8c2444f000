"""`ingest` and `reembed`: a scenario's knowledge base from the command line."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import TextColumn
from rich.table import Table

from app.cli.context import cli_context
from app.cli.display import Advance, command_errors, console, progress_bar
from app.db.queries import get_scenario
from app.rag.extract import KINDS
from app.rag.ingest import IngestReport, SourceFile


def ingest(
    ctx: typer.Context,
    paths: Annotated[list[Path], typer.Argument(help="Files or directories (walked recursively).")],
    scenario: Annotated[str, typer.Option(help="Scenario slug.")] = "northwind",
) -> None:
    """Put Markdown, text, HTML and PDF files into a scenario's knowledge base. Each file is
    stored in its own transaction; rejected files are listed with the reason (exit code 1)."""
    from app.rag.ingest import ingest_files

    sources = collect_sources(paths)
    if not sources:
        raise typer.BadParameter("no files found", param_hint="PATHS")
    with cli_context(ctx).open_runtime() as runtime, command_errors():
        with console.status("loading the embedding model"):
            embedder = runtime.load_embedder()
        name = TextColumn("{task.fields[name]}")
        with runtime.session() as session, progress_bar("ingesting", "files", name, name="") as bar:
            bar(0, len(sources))
            report = ingest_files(
                session,
                scenario=get_scenario(session, scenario),
                files=sources,
                embedder=embedder,
                settings=runtime.settings,
                on_file=counter(bar, len(sources)),
            )
    console.print(ingest_table(report))
    if report.rejected:
        raise typer.Exit(1)


def counter(bar: Advance, total: int) -> Callable[[str], None]:
    """An `on_file(name)` callback that advances `bar` by one file."""
    done = 0

    def advance(name: str) -> None:
        nonlocal done
        done += 1
        bar(done, total, name=name)

    return advance


def collect_sources(paths: list[Path]) -> list[SourceFile]:
    """Named files as they are; directories walked for the supported types, each file named
    by its path below the directory."""
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


def ingest_table(report: IngestReport) -> Table:
    table = Table(title="knowledge base")
    for column in ("file", "status", "chunks", "document"):
        table.add_column(column)
    for s in report.stored:
        table.add_row(s.source, s.status, str(s.chunks), f"#{s.document_id} {s.title}")
    for r in report.rejected:
        table.add_row(r.source, "[red]rejected[/]", "", r.reason)
    return table


def reembed(
    ctx: typer.Context,
    scenario: Annotated[str, typer.Option(help="Scenario slug.")] = "northwind",
    everything: Annotated[
        bool, typer.Option("--all", help="Re-embed every chunk, not only other models' ones.")
    ] = False,
) -> None:
    """Embed a scenario's chunks again with the configured embedding model (those embedded
    with another model; all with --all), in one transaction."""
    from app.rag.reembed import reembed_scenario

    with cli_context(ctx).open_runtime() as runtime, command_errors():
        with console.status("loading the embedding model"):
            embedder = runtime.load_embedder()
        with runtime.session() as session, progress_bar("re-embedding", "chunks") as bar:
            count = reembed_scenario(
                session,
                scenario=get_scenario(session, scenario),
                embedder=embedder,
                everything=everything,
                on_progress=bar,
            )
    console.print(f"[bold]re-embedded[/] {count} chunks of {scenario} with {embedder.name}")
