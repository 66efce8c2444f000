"""`eval` and `eval-set`: run a scenario's eval set through the levels, store eval sets."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.table import Table
from sqlalchemy.orm import Session

from app.cli.context import cli_context
from app.cli.display import (
    PromptVersions,
    bad_parameter,
    command_errors,
    console,
    listed,
    pinned_versions,
    progress_bar,
)
from app.db.queries import get_scenario
from app.evals.items import EvalSetInvalid, parse_eval_jsonl, store_eval_set
from app.evals.requests import EvalCreate
from app.evals.runner import cancel_eval_run, get_eval_run, run_eval_here
from app.evals.scoring import QUALITY_METRICS
from app.jsonl import JsonlLimits
from app.scenarios.current import choose_eval_set
from app.serving.routing import routing_accuracy


def run_eval(
    ctx: typer.Context,
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
    prompt_version: PromptVersions = None,
) -> None:
    """Run the scenario's eval set through every level (each item a stored comparison) and
    print the summary per level."""
    try:
        body = EvalCreate(
            limit=limit,
            repeats=repeats,
            levels=listed(levels),
            kinds=listed(kinds),
            max_new_tokens=max_new_tokens,
            temperature=temperature,
            prompt_versions=pinned_versions(prompt_version),
        )
    except ValidationError as error:
        raise bad_parameter(error) from None
    with cli_context(ctx).open_runtime() as runtime, command_errors():
        with console.status("loading models", spinner="dots"):
            runtime.load()
        with progress_bar("eval", "comparisons") as bar:
            run_id = run_eval_here(runtime, scenario, body.options(), bar)
        with runtime.session() as session:
            print_eval(session, run_id)


def print_eval(session: Session, run_id: int) -> None:
    run = get_eval_run(session, run_id)
    summary = run.summary or {}
    console.print(f"[bold]eval #{run.id}[/] {run.status}: {run.done}/{run.total} comparisons")
    if run.error:
        console.print(f"[red]{run.error}[/]")
    for level, why in run.skipped.items():
        console.print(f"[yellow]{level} skipped:[/] {why}")
    groups = {"all": summary.get("levels", {}), **summary.get("kinds", {})}
    for title, group in groups.items():
        items = summary.get("kind_items", {}).get(title, summary.get("items"))
        console.print(summary_table(f"{title} ({items} items)", group))
    console.print(f"results: /evals/{run.id}   report: /scenarios/{run.scenario.slug}/report")


def summary_table(title: str, group: dict) -> Table:
    """Quality, latency and cost of each level in one group of a run's summary."""
    table = Table(title=title)
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
    table.add_row("cost/query", *[f"${group[lv]['cost_per_query_usd'] or 0:.6f}" for lv in group])
    return table


def read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise EvalSetInvalid([f"file: not UTF-8 text (byte {error.start})"]) from None


def upload_eval_set(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="JSONL file.")],
    scenario: Annotated[str, typer.Option(help="Scenario slug.")] = "northwind",
) -> None:
    """Store a JSONL file of eval items as the scenario's eval set (nothing is stored if any
    line is bad; each bad line is named)."""
    with cli_context(ctx).open_runtime() as runtime, command_errors():
        try:
            with runtime.session() as session:
                record = get_scenario(session, scenario)
                items = parse_eval_jsonl(read_text(path), JsonlLimits.of(runtime.settings))
                eval_set = store_eval_set(session, scenario=record, name=path.name, items=items)
                choose_eval_set(session, record, eval_set.id)  # the same items again too
                session.commit()
        except EvalSetInvalid as error:
            for line in error.errors:
                console.print(f"[red]{path}:[/] {line}")
            raise typer.Exit(1) from None
    console.print(f"[bold]eval set[/] #{eval_set.id}: {len(items)} items for {scenario}")


def cancel_eval(
    ctx: typer.Context,
    run_id: Annotated[int, typer.Argument(min=1, help="The eval run's id.")],
) -> None:
    """Cancel an eval run: a queued one at once, a running one after its current item (it
    keeps the scores it stored)."""
    context = cli_context(ctx)
    with context.open_runtime() as runtime, command_errors(), runtime.session() as session:
        run = cancel_eval_run(session, run_id)
        session.commit()
        state = "cancelled" if run.status == "cancelled" else "stopping after its current item"
        console.print(f"[bold]eval #{run.id}[/] {state} ({run.done}/{run.total} comparisons)")


def show_routing(
    ctx: typer.Context,
    scenario: Annotated[str, typer.Option(help="Scenario slug.")] = "northwind",
) -> None:
    """How `<scenario>/auto` routes on /v1: the kind classifier's accuracy on the eval items,
    each held out in turn, and the level each kind goes to now."""
    with cli_context(ctx).open_runtime() as runtime, command_errors():
        with console.status("loading the embedding model", spinner="dots"):
            embedder = runtime.load_embedder()
        with runtime.session() as session:
            found = routing_accuracy(session, embedder, get_scenario(session, scenario))
    run = f"eval run #{found.eval_run}" if found.eval_run else "no finished eval run: the default"
    table = Table(title=f"{scenario}/auto: eval set {found.eval_set}, routes from {run}")
    for column in ("kind", "items", "held-out accuracy", "routes to"):
        table.add_column(column, justify="left" if column in ("kind", "routes to") else "right")
    for kind, n in found.kinds.items():
        accuracy = n["correct"] / n["items"]
        table.add_row(kind, str(n["items"]), f"{accuracy:.0%}", found.routes[kind])
    table.add_row("all", str(found.items), f"{found.accuracy or 0:.0%}", "")
    console.print(table)
    console.print(f"{found.correct}/{found.items} kinds found ({found.method})")
