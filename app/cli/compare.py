"""`compare`: one query through the levels, printed side by side (or as JSON)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer
from pydantic import ValidationError
from rich.table import Table

from app.cli.context import cli_context
from app.cli.display import (
    PromptVersions,
    bad_parameter,
    command_errors,
    console,
    listed,
    pinned_versions,
)

if TYPE_CHECKING:
    from app.compare.shapes import ComparisonPublic, ResultPublic


def compare(
    ctx: typer.Context,
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
    prompt_version: PromptVersions = None,
) -> None:
    """Run one query through the levels and print the results side by side."""
    from app.compare import ComparisonCreate, ComparisonPublic, run_comparison

    try:
        body = ComparisonCreate(
            query=query,
            scenario=scenario,
            levels=listed(levels),
            max_new_tokens=max_new_tokens,
            temperature=temperature,
            prompt_versions=pinned_versions(prompt_version),
        )
    except ValidationError as error:
        raise bad_parameter(error) from None
    with cli_context(ctx).open_runtime() as runtime, command_errors():
        with console.status("loading models", spinner="dots"):
            runtime.load()
        with runtime.session() as session, console.status("comparing"):
            comparison = run_comparison(
                session=session,
                runtime=runtime,
                scenario=scenario,
                query=body.query,
                options=body.options(),
            )
            public = ComparisonPublic.of(comparison)
    if as_json:
        print(json.dumps(public.model_dump(mode="json"), indent=2))
    else:
        console.print(results_table(public))


def results_table(public: ComparisonPublic) -> Table:
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
        "used": used_summary,
    }
    for label, cell in rows.items():
        table.add_row(label, *[cell(r) for r in public.results])
    return table


def used_summary(result: ResultPublic) -> str:
    if result.context:
        return "\n".join(f"[{c['citation']}] {c['document']}" for c in result.context)
    if result.examples:
        return f"{len(result.examples)} examples"
    if result.adapter:
        return f"{result.adapter} ({(result.adapter_checksum or '')[:12]})"
    return ""
