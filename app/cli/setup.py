"""`serve`, `setup`, `train-demo` and `settings`: getting a TriTune running."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from pydantic_core import to_jsonable_python
from rich.table import Table

from app.cli.context import cli_context
from app.cli.display import console
from app.cli.finetune import training_bar
from app.config import Settings
from app.runtime import Runtime


def serve(
    ctx: typer.Context,
    host: Annotated[
        str | None, typer.Option(help="Interface to listen on (default: TRITUNE_HOST).")
    ] = None,
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
) -> None:
    """Serve the REST API on HOST:PORT (migrates, loads the demo and the models on start).
    Without users it refuses a non-loopback HOST unless TRITUNE_OPEN_ACCESS is set."""
    import uvicorn

    from app.main import configure_logging, create_app

    settings = cli_context(ctx).settings
    settings = settings.model_copy(update={"host": host}) if host else settings
    configure_logging(settings)
    uvicorn.run(create_app(settings), host=settings.host, port=port)


def setup(
    ctx: typer.Context,
    train: Annotated[bool, typer.Option(help="Train the demo adapter if missing.")] = True,
    limit: Annotated[int, typer.Option(help="Train on the first N examples; 0 = all.")] = -1,
) -> None:
    """Migrate the database, load the demo scenario and train its adapter if it is missing."""
    from app.demo import load_demo

    with cli_context(ctx).open_runtime() as runtime:
        console.print(f"[bold]database[/] migrated ({runtime.db.url.render_as_string()})")
        embedder = runtime.load_embedder()
        with runtime.session() as session, console.status("loading the demo scenario") as status:
            load_demo(session, embedder, runtime.settings, on_document=status.update)
            session.commit()
        console.print("[bold]demo[/] northwind scenario loaded")
        if train:
            train_demo_adapter(runtime, None if limit < 0 else limit, force=False)


def train_demo(
    ctx: typer.Context,
    force: Annotated[bool, typer.Option(help="Retrain even if the adapter exists.")] = False,
    limit: Annotated[int, typer.Option(help="Train on the first N examples; 0 = all.")] = -1,
) -> None:
    """Train the demo scenario's LoRA adapter (PEFT) and make it active."""
    with cli_context(ctx).open_runtime() as runtime:
        train_demo_adapter(runtime, None if limit < 0 else limit, force=force)


def train_demo_adapter(runtime: Runtime, limit: int | None, force: bool) -> None:
    from app.demo import ensure_demo_adapter

    with training_bar("checking the demo adapter") as report, runtime.session() as session:
        name, trained = ensure_demo_adapter(
            session, runtime.settings, limit=limit, force=force, progress=report
        )
        session.commit()
    console.print(f"[bold]adapter[/] {name} " + ("trained" if trained else "already in place"))


def show_settings(ctx: typer.Context) -> None:
    """List every setting, its environment variable, current value and description."""
    table = Table(show_lines=True)
    table.add_column("variable", no_wrap=True)
    table.add_column("value", overflow="fold")
    table.add_column("description")
    settings = cli_context(ctx).settings
    for name, field in Settings.model_fields.items():
        variable = "DATABASE_URL" if name == "database_url" else f"TRITUNE_{name.upper()}"
        value = getattr(settings, name)
        if isinstance(value, dict):  # JSON, as it is set (prices, the openai engine's maps)
            value = json.dumps(to_jsonable_python(value))
        table.add_row(variable, str(value), field.description or "")  # a SecretStr: ******
    console.print(table)
