"""The `tritune` command line, in-process, on the test database."""

import json


def test_compare_json_prints_the_stored_comparison(cli_run, client):
    result = cli_run(
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


def test_compare_table_shows_levels_side_by_side(cli_run):
    result = cli_run(
        ["compare", "Do you price match?", "--levels", "prompt,rag", "--max-new-tokens", "16"],
    )
    assert result.exit_code == 0, result.output
    for label in ("prompt", "rag", "latency ms", "tokens in/out", "/ 1k queries"):
        assert label in result.output


def test_compare_rejects_an_unknown_level(cli_run):
    result = cli_run(["compare", "hi", "--levels", "prompt,oracle"])
    assert result.exit_code == 2
    assert "oracle" in result.output


def test_settings_lists_every_variable(cli_run):
    result = cli_run(["settings"])
    assert result.exit_code == 0
    assert "TRITUNE_BASE_MODEL" in result.output and "DATABASE_URL" in result.output
