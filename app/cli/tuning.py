"""`tritune tune rag`: choose a scenario's retrieval settings on its eval items
(app/rag/tuning.py, the service the search page's button calls too)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from app.cli.context import cli_context
from app.cli.display import command_errors, console
from app.db.queries import get_scenario

if TYPE_CHECKING:
    from app.rag.tuning import TuneResult

app = typer.Typer(
    help="Tune a level's settings on the scenario's eval items.", no_args_is_help=True
)


@app.command("rag")
def tune_rag_command(
    ctx: typer.Context,
    scenario: Annotated[str, typer.Option(help="Scenario slug.")] = "northwind",
    seed: Annotated[int, typer.Option(help="Seed of the train/held-out split.")] = 0,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Report what it would choose; change nothing.")
    ] = False,
) -> None:
    """Choose the rag level's fusion weights, candidates per side and top_k by how often the
    answering document is retrieved for the scenario's eval items that name a `source`
    (queries drafted from chunk headings when none do), on a seeded split: chosen on some
    items, reported on the others. Stores them as a new rag prompt version unless nothing
    changed; stopping it before the end (Ctrl-C) leaves the previous settings."""
    from app.rag.tuning import tune_rag

    with cli_context(ctx).open_runtime() as runtime, command_errors():
        with console.status("loading the embedding model"):
            embedder = runtime.load_embedder()
        with runtime.session() as session, console.status("tuning retrieval"):
            result = tune_rag(
                session,
                scenario=get_scenario(session, scenario),
                embedder=embedder,
                settings=runtime.settings,
                seed=seed,
                dry_run=dry_run,
            )
            session.commit()
    print_result(result, dry_run)


def print_result(result: TuneResult, dry_run: bool) -> None:
    if result.drafted:
        console.print(
            f"[yellow]no eval item names a document of {result.scenario}:[/] "
            f"drafted {result.questions} queries from chunk headings"
        )
    table = Table(title=f"retrieval of {result.scenario} on {result.test} held-out questions")
    for column in ("", "settings", "hit@top_k", "hit@1", "MRR@10"):
        table.add_column(column)
    for label, config, figures in (
        ("before", result.before, result.test_before),
        ("tuned", result.after, result.test_after),
    ):
        cells = (figures.hit, figures.hit_at_1, figures.mrr)
        table.add_row(label, config.describe(), *(f"{value:.3f}" for value in cells))
    console.print(table)
    console.print(
        f"chosen on {result.train} questions, held out {result.test} (seed {result.seed}), "
        f"{result.seconds:.1f} s"
    )
    if not result.changed:
        console.print("[bold]unchanged:[/] the current settings are the best on those questions")
    elif dry_run:
        console.print("[bold]dry run:[/] nothing stored")
    else:
        console.print(f"[bold]stored[/] as rag prompt version {result.version}: {result.note}")
