"""What every command shows: one console, one way to draw progress, one way to end on an
error, and the tables more than one command prints."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from app.errors import AppError

console = Console()
Advance = Callable[..., None]  # (completed, total, **fields) for a running bar


@contextmanager
def progress_bar(
    title: str, unit: str, *extra: ProgressColumn, waiting_for: str = "", **fields: Any
) -> Iterator[Advance]:
    """A bar `title ▕███▏ done/total unit elapsed remaining`, plus `extra` columns that may
    read `fields`. With `waiting_for`, a spinner shows that text until the first update.
    Yields `update(completed, total=None, **fields)`. When the output is not a terminal (a
    log, CI), plain lines instead (`progress_lines`): rich would show nothing there."""
    if not console.is_terminal:
        with progress_lines(title, unit, waiting_for) as advance:
            yield advance
        return
    columns = (
        TextColumn(f"[bold]{title}[/]"),
        BarColumn(),
        TextColumn(f"{{task.completed}}/{{task.total}} {unit}"),
        *extra,
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    bar = Progress(*columns, console=console)
    task = bar.add_task(title, total=None, **fields)
    waiting = console.status(waiting_for) if waiting_for else None
    (waiting.start() if waiting else bar.start())

    def update(completed: float, total: float | None = None, **values: Any) -> None:
        if waiting is not None and not bar.live.is_started:
            waiting.stop()
            bar.start()
        bar.update(task, completed=completed, total=total, **values)

    try:
        yield update
    finally:
        if waiting is not None:
            waiting.stop()
        bar.stop()


@contextmanager
def progress_lines(title: str, unit: str, waiting_for: str = "") -> Iterator[Advance]:
    """Progress as plain lines, one per tenth of the work (and at its end): `title: 12/30
    unit (40%), field value, ..., 42 s elapsed, about 63 s left`."""
    if waiting_for:
        console.print(f"{waiting_for}…", highlight=False)
    started = time.monotonic()
    shown = -1

    def update(completed: float, total: float | None = None, **values: Any) -> None:
        nonlocal shown
        if not total:
            return
        tenth = int(10 * completed / total)
        if tenth == shown:
            return
        shown = tenth
        elapsed = time.monotonic() - started
        parts = [f"{title}: {completed:g}/{total:g} {unit} ({completed / total:.0%})"]
        parts += [f"{name} {plain(value)}" for name, value in values.items()]
        parts.append(f"{elapsed:.0f} s elapsed")
        if 0 < completed < total:
            parts.append(f"about {elapsed * (total - completed) / completed:.0f} s left")
        console.print(", ".join(parts), highlight=False, markup=False)

    yield update


def plain(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


@contextmanager
def command_errors() -> Iterator[None]:
    """An AppError ends the command with its message in red and exit code 1, not a
    traceback."""
    try:
        yield
    except AppError as error:
        console.print(f"[red]error:[/] {error.message}")
        raise typer.Exit(1) from None


def bad_parameter(error: ValidationError) -> typer.BadParameter:
    """A request model's validation errors, each with its field's name, as the usage error
    Typer prints (exit code 2)."""
    return typer.BadParameter("; ".join(map(field_message, error.errors())))


def field_message(error: Any) -> str:
    field = ".".join(map(str, error["loc"]))
    return f"{field}: {error['msg']}" if field else error["msg"]


def listed(value: str | None) -> list[str] | None:
    """`"a, b"` -> `["a", "b"]`; nothing -> None (the default)."""
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


PromptVersions = Annotated[
    list[str] | None,
    typer.Option(
        "--prompt-version",
        help="Run an older prompt version of a level: LEVEL=NUMBER (repeatable; default: "
        "each level's latest; `tritune scenario versions` lists them).",
    ),
]


def pinned_versions(values: list[str] | None) -> dict[str, str] | None:
    """`["prompt=2"]` as `{"prompt": "2"}` (the request model checks the numbers)."""
    if not values:
        return None
    pinned = {}
    for value in values:
        level, sep, number = value.partition("=")
        if not sep or not level or not number:
            raise typer.BadParameter(f"--prompt-version {value!r}: write LEVEL=NUMBER")
        pinned[level.strip()] = number.strip()
    return pinned
