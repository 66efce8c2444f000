"""`tritune scenario ...`: create, edit, list, show, clone and delete scenarios.

Every command calls app/scenarios/service.py, as the REST API does. A prompt is given inline
(`--system-prompt TEXT`) or from a file (`--system-prompt-file PATH`), not both.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from pydantic import ValidationError
from rich.table import Table

from app.cli.context import cli_context
from app.cli.display import bad_parameter, command_errors, console
from app.scenarios.requests import NULLABLE

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from app.runtime import Runtime

app = typer.Typer(
    help="Create, edit, list, show, clone and delete scenarios.", no_args_is_help=True
)

Slug = Annotated[str, typer.Argument(help="The scenario's slug.")]
TextFile = Annotated[
    Path | None, typer.Option(exists=True, dir_okay=False, help="Read the text from this file.")
]
Name = Annotated[str | None, typer.Option(help="Display name.")]
Description = Annotated[str | None, typer.Option(help="One paragraph: what the scenario is.")]
SystemPrompt = Annotated[str | None, typer.Option(help="The prompt level's system prompt.")]
FewShotK = Annotated[
    int | None, typer.Option(help="Examples the prompt level shows (default: the setting).")
]
FewShotDataset = Annotated[
    int | None, typer.Option(help="Dataset id of the example pool (default: the latest).")
]
RagInstruction = Annotated[
    str | None, typer.Option(help="The rag level's system message; may name {scenario}.")
]
RagTemplate = Annotated[
    str | None, typer.Option(help="The rag level's user message, with {sources} and {question}.")
]
FinetuneSystemPrompt = Annotated[
    str | None,
    typer.Option(help="The finetune level's system message (default: its training data's)."),
]
FewShotSelection = Annotated[
    str | None,
    typer.Option(help="How the prompt level picks examples: nearest (default), fixed, random."),
]
FewShotSeed = Annotated[int | None, typer.Option(help="Seed of a random selection (default 0).")]
FewShotExamples = Annotated[
    str | None,
    typer.Option(help="A fixed selection: train lines of the example pool, e.g. '3,7,12'."),
]
PricingProfile = Annotated[
    str | None, typer.Option(help="The cost model's default pricing profile (default: setting).")
]
PricingFile = Annotated[
    Path | None,
    typer.Option(exists=True, dir_okay=False, help="TOML of the scenario's own pricing profiles."),
]
Note = Annotated[
    str, typer.Option(help="Why the prompts change: the note of the new prompt versions.")
]
OutputSchema = Annotated[str | None, typer.Option(help="JSON schema of the expected output.")]
RagTopK = Annotated[
    int | None, typer.Option(help="Chunks the rag level puts in the prompt (default: setting).")
]
RagCandidates = Annotated[
    int | None, typer.Option(help="Rows each side of the rag level's hybrid search fuses.")
]
RagVectorWeight = Annotated[
    float | None, typer.Option(help="Weight of the vector ranking in the rag level's fusion.")
]
RagKeywordWeight = Annotated[
    float | None, typer.Option(help="Weight of the keyword ranking in the rag level's fusion.")
]
MaxNewTokens = Annotated[int | None, typer.Option(help="Default generation length.")]
Temperature = Annotated[float | None, typer.Option(help="Default temperature.")]


def text_value(option: str, inline: str | None, file: Path | None) -> str | None:
    """The text of `--OPTION` or `--OPTION-file` (a usage error when both are given)."""
    if inline is not None and file is not None:
        raise typer.BadParameter(f"give --{option} or --{option}-file, not both")
    return file.read_text(encoding="utf-8") if file is not None else inline


def schema_value(inline: str | None, file: Path | None) -> Any:
    text = text_value("output-schema", inline, file)
    if text is None:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise typer.BadParameter(f"output_schema: not JSON ({error})") from None


def lines_value(text: str | None) -> list[int] | None:
    """'3,7,12' as [3, 7, 12] (a usage error naming the option otherwise)."""
    if text is None:
        return None
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise typer.BadParameter(
            f"few_shot_examples: {text!r} is not a list of line numbers"
        ) from None


def pricing_value(file: Path | None) -> str | None:
    return file.read_text(encoding="utf-8") if file is not None else None


def given(**values: Any) -> dict[str, Any]:
    return {name: value for name, value in values.items() if value is not None}


@contextmanager
def open_session(ctx: typer.Context) -> Iterator[tuple[Runtime, Session]]:
    """The command's runtime and a session on it; an AppError inside ends the command with
    its message (exit code 1)."""
    context = cli_context(ctx)
    with context.open_runtime() as runtime, command_errors(), runtime.session() as session:
        yield runtime, session


@app.command("create")
def create(
    ctx: typer.Context,
    slug: Slug,
    name: Annotated[str, typer.Option(help="Display name.")],
    description: Description = None,
    system_prompt: SystemPrompt = None,
    system_prompt_file: TextFile = None,
    few_shot_k: FewShotK = None,
    rag_instruction: RagInstruction = None,
    rag_instruction_file: TextFile = None,
    rag_template: RagTemplate = None,
    rag_template_file: TextFile = None,
    rag_top_k: RagTopK = None,
    rag_candidates: RagCandidates = None,
    rag_vector_weight: RagVectorWeight = None,
    rag_keyword_weight: RagKeywordWeight = None,
    finetune_system_prompt: FinetuneSystemPrompt = None,
    finetune_system_prompt_file: TextFile = None,
    few_shot_selection: FewShotSelection = None,
    few_shot_seed: FewShotSeed = None,
    few_shot_examples: FewShotExamples = None,
    output_schema: OutputSchema = None,
    output_schema_file: TextFile = None,
    max_new_tokens: MaxNewTokens = None,
    temperature: Temperature = None,
    pricing_profile: PricingProfile = None,
    pricing_file: PricingFile = None,
    note: Note = "",
) -> None:
    """Create a scenario; every prompt not given has a default (`show` prints them)."""
    from app.scenarios.requests import ScenarioCreate
    from app.scenarios.service import create_scenario

    values = given(
        slug=slug,
        name=name,
        description=description,
        system_prompt=text_value("system-prompt", system_prompt, system_prompt_file),
        few_shot_k=few_shot_k,
        rag_instruction=text_value("rag-instruction", rag_instruction, rag_instruction_file),
        rag_template=text_value("rag-template", rag_template, rag_template_file),
        rag_top_k=rag_top_k,
        rag_candidates=rag_candidates,
        rag_vector_weight=rag_vector_weight,
        rag_keyword_weight=rag_keyword_weight,
        finetune_system_prompt=text_value(
            "finetune-system-prompt", finetune_system_prompt, finetune_system_prompt_file
        ),
        few_shot_selection=few_shot_selection,
        few_shot_seed=few_shot_seed,
        few_shot_examples=lines_value(few_shot_examples),
        output_schema=schema_value(output_schema, output_schema_file),
        max_new_tokens=max_new_tokens,
        temperature=temperature,
        pricing_profile=pricing_profile,
        pricing=pricing_value(pricing_file),
    )
    try:
        request = ScenarioCreate(**values, note=note)
    except ValidationError as error:
        raise bad_parameter(error) from None
    with open_session(ctx) as (_, session):
        create_scenario(session, request=request)
        session.commit()
    console.print(f"[bold]created[/] scenario {slug}")


@app.command("edit")
def edit(
    ctx: typer.Context,
    slug: Slug,
    name: Name = None,
    description: Description = None,
    system_prompt: SystemPrompt = None,
    system_prompt_file: TextFile = None,
    few_shot_k: FewShotK = None,
    few_shot_dataset: FewShotDataset = None,
    rag_instruction: RagInstruction = None,
    rag_instruction_file: TextFile = None,
    rag_template: RagTemplate = None,
    rag_template_file: TextFile = None,
    rag_top_k: RagTopK = None,
    rag_candidates: RagCandidates = None,
    rag_vector_weight: RagVectorWeight = None,
    rag_keyword_weight: RagKeywordWeight = None,
    finetune_system_prompt: FinetuneSystemPrompt = None,
    finetune_system_prompt_file: TextFile = None,
    few_shot_selection: FewShotSelection = None,
    few_shot_seed: FewShotSeed = None,
    few_shot_examples: FewShotExamples = None,
    output_schema: OutputSchema = None,
    output_schema_file: TextFile = None,
    max_new_tokens: MaxNewTokens = None,
    temperature: Temperature = None,
    pricing_profile: PricingProfile = None,
    pricing_file: PricingFile = None,
    note: Note = "",
    reset: Annotated[
        list[str] | None,
        typer.Option(help=f"Set back to its default (repeatable): {', '.join(NULLABLE)}."),
    ] = None,
) -> None:
    """Change the fields given; the others stay. Each level whose prompt changes gets a new
    prompt version (with --note). Refused while a training or eval run of the scenario is
    queued or running."""
    from app.db.queries import get_scenario
    from app.scenarios.requests import ScenarioUpdate
    from app.scenarios.service import update_scenario
    from app.scenarios.versions import latest_versions

    values = given(
        name=name,
        description=description,
        system_prompt=text_value("system-prompt", system_prompt, system_prompt_file),
        few_shot_k=few_shot_k,
        few_shot_dataset_id=few_shot_dataset,
        rag_instruction=text_value("rag-instruction", rag_instruction, rag_instruction_file),
        rag_template=text_value("rag-template", rag_template, rag_template_file),
        rag_top_k=rag_top_k,
        rag_candidates=rag_candidates,
        rag_vector_weight=rag_vector_weight,
        rag_keyword_weight=rag_keyword_weight,
        finetune_system_prompt=text_value(
            "finetune-system-prompt", finetune_system_prompt, finetune_system_prompt_file
        ),
        few_shot_selection=few_shot_selection,
        few_shot_seed=few_shot_seed,
        few_shot_examples=lines_value(few_shot_examples),
        output_schema=schema_value(output_schema, output_schema_file),
        max_new_tokens=max_new_tokens,
        temperature=temperature,
        pricing_profile=pricing_profile,
        pricing=pricing_value(pricing_file),
    )
    for field in reset or []:
        if field not in NULLABLE:
            raise typer.BadParameter(f"--reset {field}: choose from {', '.join(NULLABLE)}")
        values[field] = None
    if not values:
        raise typer.BadParameter("nothing to change: give a field to edit")
    try:
        request = ScenarioUpdate(**values, note=note)
    except ValidationError as error:
        raise bad_parameter(error) from None
    with open_session(ctx) as (_, session):
        scenario = get_scenario(session, slug)
        before = latest_versions(session, scenario.id)
        update_scenario(session, scenario=scenario, request=request)
        after = latest_versions(session, scenario.id)
        new = [f"{lv} v{v.number}" for lv, v in after.items() if before.get(lv) != v]
        session.commit()
    console.print(f"[bold]edited[/] scenario {slug}: {', '.join(sorted(values))}")
    if new:
        console.print(f"new prompt version(s): {', '.join(new)}")


@app.command("versions")
def versions(
    ctx: typer.Context,
    slug: Slug,
    level: Annotated[str | None, typer.Option(help="Only this level's versions.")] = None,
    diff: Annotated[
        tuple[int, int] | None,
        typer.Option(help="Show what changed from version A to B of --level.", metavar="A B"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print them as JSON.")] = False,
) -> None:
    """The versions of each level's prompt (newest first), or the diff between two."""
    from app.db.queries import get_scenario
    from app.scenarios.versions import diff_versions, get_version, list_versions, version_record

    if diff is not None and level is None:
        raise typer.BadParameter("--diff needs --level")
    with open_session(ctx) as (_, session):
        scenario = get_scenario(session, slug)
        if diff is not None:
            old, new = (get_version(session, scenario, level or "", n) for n in diff)
            changes = diff_versions(old, new)
        else:
            records = [version_record(v) for v in list_versions(session, scenario.id, level)]
    if diff is not None:
        print_diff(changes, as_json)
        return
    if as_json:
        print(json.dumps(records, indent=2, default=str))
        return
    table = Table(title=f"prompt versions of {slug}")
    for column in ("level", "version", "created", "sha256", "note"):
        table.add_column(column)
    for r in records:
        created = f"{r['created_at']:%Y-%m-%d %H:%M}"
        table.add_row(r["level"], f"v{r['number']}", created, r["sha256"][:12], r["note"])
    console.print(table)


def print_diff(changes: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        print(json.dumps(changes, indent=2))
        return
    changed = [c for c in changes if c["changed"]]
    if not changed:
        console.print("no change")
    for change in changed:
        console.print(f"[bold]{change['field']}[/]")
        for line in change["diff"]:
            style = "green" if line.startswith("+") else "red" if line.startswith("-") else ""
            console.print(line, style=style, markup=False, highlight=False)


@app.command("list")
def list_all(ctx: typer.Context) -> None:
    """Every scenario with what it holds."""
    from app.db.queries import list_scenarios, scenario_counts

    table = Table(title="scenarios")
    for column in ("slug", "name", "documents", "examples", "active adapter"):
        table.add_column(column)
    with cli_context(ctx).open_runtime() as runtime, runtime.session() as session:
        for scenario in list_scenarios(session):
            counts = scenario_counts(session, scenario.id)
            adapter = scenario.active_adapter.name if scenario.active_adapter else ""
            row = (str(counts["documents"]), str(counts["examples"]), adapter)
            table.add_row(scenario.slug, scenario.name, *row)
    console.print(table)


@app.command("show")
def show(
    ctx: typer.Context,
    slug: Slug,
    as_json: Annotated[bool, typer.Option("--json", help="Print the fields as JSON.")] = False,
) -> None:
    """A scenario's fields, each level's prompt, and what it holds."""
    from app.db.queries import get_scenario, scenario_counts
    from app.scenarios.service import scenario_fields

    with open_session(ctx) as (_, session):
        scenario = get_scenario(session, slug)
        fields = scenario_fields(scenario)
        counts = scenario_counts(session, scenario.id)
    if as_json:
        print(json.dumps({**fields, **counts}, indent=2, default=str))
        return
    table = Table(title=f"scenario {slug}", show_header=False, show_lines=True)
    table.add_column("field", style="bold")
    table.add_column("value")
    for name, value in {**fields, **counts}.items():
        shown = json.dumps(value, indent=2) if isinstance(value, dict) else value
        table.add_row(name, "[dim](default)[/]" if value is None else str(shown))
    console.print(table)


@app.command("clone")
def clone(
    ctx: typer.Context,
    source: Annotated[str, typer.Argument(help="The scenario to copy.")],
    slug: Annotated[str, typer.Argument(help="The new scenario's slug.")],
    name: Annotated[
        str | None, typer.Option(help="Display name (default: '<name> (copy)').")
    ] = None,
    description: Description = None,
) -> None:
    """Copy a scenario: prompts, schema and settings, documents, datasets and eval sets (not
    its adapters, comparisons, trainings or eval runs)."""
    from app.db.queries import get_scenario
    from app.scenarios.requests import ScenarioClone
    from app.scenarios.service import clone_scenario

    try:
        request = ScenarioClone(**given(slug=slug, name=name, description=description))
    except ValidationError as error:
        raise bad_parameter(error) from None
    with open_session(ctx) as (_, session):
        clone_scenario(session, source=get_scenario(session, source), request=request)
        session.commit()
    console.print(f"[bold]cloned[/] {source} as {slug}")


@app.command("delete")
def delete(
    ctx: typer.Context,
    slug: Slug,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete a scenario with everything it holds: documents, datasets, eval sets, adapters
    (their files too), trainings, eval runs and comparisons."""
    from app.db.queries import get_scenario
    from app.scenarios.service import contents_counts, delete_scenario, remove_adapter_files

    with open_session(ctx) as (runtime, session):
        scenario = get_scenario(session, slug)
        if not yes:
            counts = contents_counts(session, scenario.id)
            held = ", ".join(f"{n} {kind}" for kind, n in counts.items() if n) or "nothing"
            typer.confirm(f"Delete scenario {slug} and everything it holds ({held})?", abort=True)
        deletion = delete_scenario(
            session, scenario=scenario, confirm=slug, adapters_dir=runtime.settings.adapters_dir
        )
        session.commit()
    remove_adapter_files(deletion)
    console.print(f"[bold]deleted[/] scenario {slug}")
