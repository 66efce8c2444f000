"""`tritune scenario import|export` and `tritune init`: scenario bundles on the command line
(app/scenarios/bundles.py, as the REST API and the import page)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import TextColumn

from app.cli.context import cli_context
from app.cli.display import command_errors, console, progress_bar
from app.scenarios.bundle_files import BundleInvalid, where


def import_bundle(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="A bundle directory or a .tar.gz of one.")],
    slug: Annotated[
        str | None, typer.Option(help="Import under this slug (default: the bundle's).")
    ] = None,
) -> None:
    """Import a scenario bundle: all of it is checked first (each problem named with its file
    and line) and nothing is stored unless all of it is valid."""
    from app.scenarios import bundles

    context = cli_context(ctx)
    with context.open_runtime() as runtime, command_errors(), runtime.session() as session:
        embedder = runtime.load_embedder()
        try:
            stored = TextColumn("{task.fields[file]}")
            with progress_bar(
                "importing", "files", stored, waiting_for="checking the bundle", file=""
            ) as bar:
                report = bundles.import_bundle(
                    session,
                    source=path,
                    embedder=embedder,
                    settings=runtime.settings,
                    slug=bundles.import_slug(slug),
                    on_file=lambda file, done, total: bar(done, total, file=file),
                )
            session.commit()
        except BundleInvalid as error:
            for problem in error.problems:
                console.print(f"[red]{where(problem)}[/]: {problem.message}", highlight=False)
            console.print(f"[red]error:[/] {len(error.problems)} problem(s); nothing was stored")
            raise typer.Exit(1) from None
    for warning in report.warnings:
        console.print(f"[yellow]warning:[/] {warning}", highlight=False)
    added = ", ".join(f"{n} {kind.replace('_', ' ')}" for kind, n in report.added.items())
    added = added or "nothing new"
    console.print(f"[bold]imported[/] scenario {report.slug}: {added}")


def export_bundle(
    ctx: typer.Context,
    slug: Annotated[str, typer.Argument(help="The scenario to export.")],
    out: Annotated[
        Path, typer.Argument(help="A new (or empty) directory, or a path ending .tar.gz.")
    ],
    with_adapters: Annotated[
        bool, typer.Option(help="Include the adapters' weights (not only their metadata).")
    ] = False,
) -> None:
    """Write a scenario as a bundle: its prompts and their history, documents, datasets,
    latest eval set, pricing and adapters' metadata."""
    from app.db.queries import get_scenario
    from app.scenarios.bundles import export_bundle as export

    context = cli_context(ctx)
    with context.open_runtime() as runtime, command_errors(), runtime.session() as session:
        scenario = get_scenario(session, slug)
        with console.status(f"exporting {slug}"):
            export(session, scenario=scenario, out=out, with_adapters=with_adapters)
    console.print(f"[bold]exported[/] scenario {slug} to {out}")


def init(
    directory: Annotated[Path, typer.Argument(help="A new (or empty) directory.")],
) -> None:
    """Write a commented template bundle to start a scenario from; `tritune scenario import
    DIRECTORY` then loads it."""
    from app.scenarios.bundles import init_bundle

    with command_errors():
        written = init_bundle(directory)
    for path in written:
        console.print(f"  {path}", highlight=False)
    console.print(
        f"[bold]wrote[/] a template bundle; edit it, then `tritune scenario import {directory}`"
    )
