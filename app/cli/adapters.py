"""`adapter import`, `adapter export` and `dataset-export`: adapters and datasets in the
ecosystem's formats (PEFT, GGUF LoRA, axolotl)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Annotated, Literal

import typer

from app.cli.context import cli_context
from app.cli.display import command_errors, console
from app.db.queries import get_scenario
from app.errors import NotFound

app = typer.Typer(help="Adapters trained elsewhere, and adapters in other formats.")


@app.command("import")
def import_command(
    ctx: typer.Context,
    source: Annotated[Path, typer.Argument(exists=True, help="PEFT adapter directory or .tar.gz.")],
    name: Annotated[str, typer.Option(help="Name to register it under.")],
    scenario: Annotated[str, typer.Option(help="Scenario slug.")] = "northwind",
    activate: Annotated[bool, typer.Option(help="Make it the scenario's active adapter.")] = False,
) -> None:
    """Import a LoRA adapter trained with axolotl, Unsloth, LLaMA-Factory or PEFT, after
    checking its base model and modules against the scenario's."""
    from app.finetune.imports import import_adapter

    with cli_context(ctx).open_runtime() as runtime, command_errors(), runtime.session() as session:
        adapter = import_adapter(
            session,
            scenario=get_scenario(session, scenario),
            name=name,
            source=source,
            base_model=runtime.settings.base_model,
            adapters_dir=runtime.settings.adapters_dir,
            activate=activate,
        )
        session.commit()
        state = " (active)" if activate else ""
        console.print(f"[green]imported[/] {adapter.name}{state} ({adapter.checksum[:12]})")


@app.command("export")
def export_command(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Adapter name.")],
    out: Annotated[Path, typer.Option(help="File to write.")],
    format: Annotated[  # noqa: A002 (the option's name)
        str, typer.Option(help="peft (.tar.gz of the PEFT directory) or gguf (GGUF LoRA).")
    ] = "peft",
) -> None:
    """Write an adapter as a PEFT .tar.gz or a GGUF LoRA file."""
    from app.finetune.adapters import get_adapter
    from app.finetune.exports import adapter_gguf, adapter_peft_archive

    if format not in ("peft", "gguf"):
        raise typer.BadParameter("--format: peft or gguf")
    with cli_context(ctx).open_runtime() as runtime, command_errors(), runtime.session() as session:
        adapter = get_adapter(session, name)
        if format == "gguf":
            shutil.copyfile(adapter_gguf(adapter, runtime.settings.base_model), out)
        else:
            out.write_bytes(adapter_peft_archive(adapter))
    console.print(f"[green]wrote[/] {out} ({format})")


def export_dataset(
    ctx: typer.Context,
    dataset_id: Annotated[int, typer.Argument(help="Dataset id (`GET /api/v1/scenarios/...`).")],
    out: Annotated[Path, typer.Option(help="The .tar.gz to write.")],
    format: Annotated[Literal["axolotl"], typer.Option(help="axolotl.")] = "axolotl",  # noqa: A002
) -> None:
    """Write a dataset as train.jsonl, eval.jsonl and a matching axolotl.yaml in a .tar.gz."""
    from app.db.models import Dataset
    from app.finetune.exports import axolotl_archive

    with cli_context(ctx).open_runtime() as runtime, command_errors(), runtime.session() as session:
        dataset = session.get(Dataset, dataset_id)
        if dataset is None:
            raise NotFound(f"dataset {dataset_id} not found")
        out.write_bytes(axolotl_archive(session, dataset, runtime.settings.base_model))
    console.print(f"[green]wrote[/] {out} ({format})")
