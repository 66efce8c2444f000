"""What a command runs against: the settings and a runtime, both injectable.

`tritune` builds them from the environment. A caller that already holds a runtime (the
tests, an embedding program) passes it as Typer's context object and every command uses it
instead, without closing it:

    CliRunner().invoke(app, ["compare", "..."], obj=CliContext(runtime=runtime))
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import typer

from app.config import Settings, get_settings
from app.runtime import Runtime


@dataclass
class CliContext:
    """The injected runtime (or settings), if any; otherwise settings from the environment
    and a runtime opened (migrated) per command and closed when it ends."""

    runtime: Runtime | None = None
    settings: Settings = None  # type: ignore[assignment]  # set in __post_init__

    def __post_init__(self) -> None:
        if self.settings is None:
            self.settings = self.runtime.settings if self.runtime else get_settings()

    @contextmanager
    def open_runtime(self) -> Iterator[Runtime]:
        if self.runtime is not None:
            yield self.runtime
            return
        runtime = Runtime(self.settings)
        try:
            runtime.migrate()
            yield runtime
        finally:
            runtime.close()


def cli_context(ctx: typer.Context) -> CliContext:
    """The command's `CliContext` (a default one unless the caller passed `obj=`)."""
    return ctx.ensure_object(CliContext)
