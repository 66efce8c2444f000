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
    from app.errors import AppError
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
    try:
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
    except AppError as error:
        console.print(f"[red]error:[/] {error.message}")
        raise typer.Exit(1) from None
    finally:
        runtime.close()


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
        if isinstance(value, dict):
            value = json.dumps({k: v.model_dump() for k, v in value.items()})
        table.add_row(variable, str(value), field.description or "")
    console.print(table)


if __name__ == "__main__":
    app()
