"""`generate` drafts eval items and training examples from a scenario's documents;
`drafts` lists those waiting for a verdict; `draft-accept` and `draft-reject` give it."""

from __future__ import annotations

from typing import Annotated

import typer
from pydantic import ValidationError
from rich.table import Table

from app.cli.context import cli_context
from app.cli.display import bad_parameter, command_errors, console, listed
from app.db.models import Draft
from app.db.queries import get_scenario
from app.drafts.jobs import draft_here, get_draft_run
from app.drafts.requests import DraftRunCreate
from app.drafts.review import PENDING, Edit, accept_draft, reject_draft, scenario_drafts


def generate(
    ctx: typer.Context,
    scenario: Annotated[str, typer.Option(help="Scenario slug.")] = "northwind",
    kinds: Annotated[
        str, typer.Option(help="Comma-separated: eval_item, chat_example.")
    ] = "eval_item,chat_example",
    count: Annotated[int, typer.Option(min=1, max=200, help="Drafts of each kind.")] = 5,
    engine: Annotated[str, typer.Option(help="local, or teacher (with --teacher-*).")] = "local",
    teacher_base_url: Annotated[str | None, typer.Option(help="Teacher's base URL.")] = None,
    teacher_model: Annotated[str | None, typer.Option(help="Teacher's model.")] = None,
    label: Annotated[str, typer.Option(help="The eval items' kind.")] = "knowledge",
) -> None:
    """Draft eval items and training examples from the scenario's documents (split by source
    document: none shares a source with the other kind) and list them; nothing is stored in
    an eval set or dataset until accepted (`tritune draft-accept`, or the Drafts page)."""
    try:
        body = DraftRunCreate(
            kinds=listed(kinds),
            count=count,
            engine=engine,
            teacher_base_url=teacher_base_url,
            teacher_model=teacher_model,
            label=label,
        )
    except ValidationError as error:
        raise bad_parameter(error) from None
    with cli_context(ctx).open_runtime() as runtime, command_errors():
        with console.status("loading models and drafting", spinner="dots"):
            runtime.load()
            run_id = draft_here(runtime, scenario, body.options())
        with runtime.session() as session:
            run = get_draft_run(session, run_id)
            console.print(f"[bold]drafting #{run.id}[/] {run.status} with {run.engine}")
            if run.error:
                console.print(f"[red]{run.error}[/]")
            console.print(drafts_table(run.drafts))
    console.print(f"review: /scenarios/{scenario}/drafts, or tritune draft-accept ID ...")


def list_drafts(
    ctx: typer.Context,
    scenario: Annotated[str, typer.Option(help="Scenario slug.")] = "northwind",
) -> None:
    """The scenario's drafts waiting for a verdict."""
    with cli_context(ctx).open_runtime() as runtime, command_errors(), runtime.session() as session:
        found = scenario_drafts(session, get_scenario(session, scenario), PENDING)
        console.print(drafts_table(found))


def accept(
    ctx: typer.Context,
    ids: Annotated[list[int], typer.Argument(help="Draft ids.")],
) -> None:
    """Accept drafts as drafted: eval items into the eval set, examples into the dataset."""
    with cli_context(ctx).open_runtime() as runtime, command_errors():
        with console.status("loading the embedding model", spinner="dots"):
            embedder = runtime.load_embedder()
        with runtime.session() as session:
            for draft_id in ids:
                draft = accept_draft(session, embedder, draft_id, Edit())
                session.commit()
                console.print(f"draft {draft_id}: accepted into {draft.stored_in}")


def reject(
    ctx: typer.Context,
    ids: Annotated[list[int], typer.Argument(help="Draft ids.")],
) -> None:
    """Reject drafts: they are stored nowhere."""
    with cli_context(ctx).open_runtime() as runtime, command_errors(), runtime.session() as session:
        for draft_id in ids:
            reject_draft(session, draft_id)
            session.commit()
            console.print(f"draft {draft_id}: rejected")


def drafts_table(drafts: list[Draft]) -> Table:
    table = Table(title="drafts")
    for column in ("id", "kind", "document", "question", "answer", "status"):
        table.add_column(column)
    for d in drafts:
        question = d.question or f"(none; the engine wrote {d.output[:60]!r})"
        table.add_row(str(d.id), d.kind, d.document, question, d.answer, d.status)
    return table
