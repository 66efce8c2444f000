"""The `tritune` command line, in-process, on the test database."""

import json

import pytest
from typer.testing import CliRunner

from app import cli


@pytest.fixture
def cli_env(echo_runtime, monkeypatch):
    """The CLI against the session's database and models, with the engine's test double:
    these tests are about the commands, not the answers."""
    monkeypatch.setattr(cli, "get_settings", lambda: echo_runtime.settings)
    monkeypatch.setattr(cli, "open_runtime", lambda settings: echo_runtime)
    return CliRunner()


def test_compare_json_prints_the_stored_comparison(cli_env, client):
    result = cli_env.invoke(
        cli.app,
        [
            "compare",
            "How many days do I have to return a tent?",
            "--levels",
            "rag,finetune",
            "--max-new-tokens",
            "32",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    printed = json.loads(result.output[result.output.index("{") :])
    assert [r["level"] for r in printed["results"]] == ["rag", "finetune"]
    assert all("heard: " in r["output"] for r in printed["results"])  # the double's answers
    stored = client.get(f"/api/v1/comparisons/{printed['id']}").json()
    assert stored["query"] == printed["query"]


def test_compare_table_shows_levels_side_by_side(cli_env):
    result = cli_env.invoke(
        cli.app,
        ["compare", "Do you price match?", "--levels", "prompt,rag", "--max-new-tokens", "16"],
    )
    assert result.exit_code == 0, result.output
    for label in ("prompt", "rag", "latency ms", "tokens in/out", "/ 1k queries"):
        assert label in result.output


def test_compare_rejects_an_unknown_level(cli_env):
    result = cli_env.invoke(cli.app, ["compare", "hi", "--levels", "prompt,oracle"])
    assert result.exit_code == 2
    assert "oracle" in result.output


def test_settings_lists_every_variable(cli_env):
    result = cli_env.invoke(cli.app, ["settings"])
    assert result.exit_code == 0
    assert "TRITUNE_BASE_MODEL" in result.output and "DATABASE_URL" in result.output
