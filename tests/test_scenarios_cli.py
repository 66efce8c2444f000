"""`tritune scenario ...` in-process on the test database: create, list, show, edit, clone
and delete, with the same checks as the API."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from app.cli import app
from app.cli.context import CliContext
from tests.scenario_files import LABELS_PROMPT, unique_slug


@pytest.fixture
def cli_answer(echo_runtime):
    """As `cli_run`, with what the user types at the prompts: `cli_answer(args, "y\\n")`."""
    runner = CliRunner()
    context = CliContext(runtime=echo_runtime)
    return lambda args, typed: runner.invoke(app, args, obj=context, input=typed)


def test_create_list_show_edit_and_delete(cli_run, cli_answer, tmp_path):
    slug = unique_slug("cli")
    prompt_file = tmp_path / "system.txt"
    prompt_file.write_text(LABELS_PROMPT)
    schema_file = tmp_path / "schema.json"
    schema_file.write_text(json.dumps({"type": "object", "required": ["intent"]}))
    created = cli_run(
        [
            "scenario", "create", slug, "--name", "Bank intents",
            "--system-prompt-file", str(prompt_file),
            "--output-schema-file", str(schema_file),
            "--few-shot-k", "2",
        ]
    )  # fmt: skip
    assert created.exit_code == 0, created.output

    listed = cli_run(["scenario", "list"])
    assert listed.exit_code == 0 and slug in listed.output and "northwind" in listed.output

    shown = json.loads(cli_run(["scenario", "show", slug, "--json"]).output)
    assert shown["system_prompt"] == LABELS_PROMPT and shown["few_shot_k"] == 2
    assert shown["output_schema"] == {"type": "object", "required": ["intent"]}
    assert "{question}" in shown["rag_template"] and shown["documents"] == 0
    assert "rag_instruction" in cli_run(["scenario", "show", slug]).output

    template = "Question: {question}\nSources:\n{sources}"
    edited = cli_run(
        ["scenario", "edit", slug, "--rag-template", template, "--reset", "few_shot_k"]
    )
    assert edited.exit_code == 0, edited.output
    shown = json.loads(cli_run(["scenario", "show", slug, "--json"]).output)
    assert shown["rag_template"] == template and shown["few_shot_k"] is None

    kept = cli_answer(["scenario", "delete", slug], "n\n")
    assert kept.exit_code == 1 and "Delete scenario" in kept.output
    assert cli_run(["scenario", "show", slug]).exit_code == 0
    deleted = cli_answer(["scenario", "delete", slug], "y\n")
    assert deleted.exit_code == 0, deleted.output
    gone = cli_run(["scenario", "show", slug])
    assert gone.exit_code == 1 and "not found" in gone.output


def test_bad_input_names_the_field_and_stores_nothing(cli_run, tmp_path):
    slug = unique_slug("clibad")
    bad_template = cli_run(
        ["scenario", "create", slug, "--name", "X", "--rag-template", "{question} {oops}"]
    )
    assert bad_template.exit_code == 2 and "rag_template" in bad_template.output
    assert "{oops}" in bad_template.output
    bad_slug = cli_run(["scenario", "create", "Not A Slug", "--name", "X"])
    assert bad_slug.exit_code == 2 and "slug" in bad_slug.output
    taken = cli_run(["scenario", "create", "northwind", "--name", "X"])
    assert taken.exit_code == 1 and "exists already" in taken.output
    assert cli_run(["scenario", "show", slug]).exit_code == 1
    prompt_file = tmp_path / "system.txt"
    prompt_file.write_text("b")
    both = cli_run(
        ["scenario", "edit", "northwind", "--system-prompt", "a"]
        + ["--system-prompt-file", str(prompt_file)]
    )
    assert both.exit_code == 2 and "not both" in both.output
    nothing = cli_run(["scenario", "edit", "northwind"])
    assert nothing.exit_code == 2


def test_clone_then_delete_without_asking(cli_run):
    slug = unique_slug("cliclone")
    cloned = cli_run(["scenario", "clone", "northwind", slug, "--name", "Trail copy"])
    assert cloned.exit_code == 0, cloned.output
    shown = json.loads(cli_run(["scenario", "show", slug, "--json"]).output)
    assert shown["name"] == "Trail copy" and shown["documents"] > 0 and shown["examples"] > 0
    deleted = cli_run(["scenario", "delete", slug, "--yes"])
    assert deleted.exit_code == 0, deleted.output
    assert cli_run(["scenario", "show", slug]).exit_code == 1
