"""`tritune eval` and `tritune eval-set`, in-process, on the test database."""

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from app import cli
from app.db.models import EvalRun, EvalSet


@pytest.fixture
def cli_env(echo_runtime, monkeypatch):
    """The CLI against the session's database and models, with the engine's test double."""
    monkeypatch.setattr(cli, "get_settings", lambda: echo_runtime.settings)
    monkeypatch.setattr(cli, "open_runtime", lambda settings: echo_runtime)
    return CliRunner()


def test_eval_runs_in_the_foreground_and_prints_the_summary(cli_env, session):
    args = ["eval", "--limit", "1", "--levels", "prompt,rag", "--max-new-tokens", "8"]
    result = cli_env.invoke(cli.app, args)
    assert result.exit_code == 0, result.output
    assert "1/1 comparisons" in result.output and "fact_recall" in result.output
    run = session.scalar(select(EvalRun).order_by(EvalRun.id.desc()))
    assert run.status == "done" and run.levels == ["prompt", "rag"]
    assert f"/evals/{run.id}" in result.output


def test_eval_refuses_bad_options(cli_env):
    result = cli_env.invoke(cli.app, ["eval", "--levels", "oracle"])
    assert result.exit_code == 2 and "oracle" in result.output


def test_eval_set_names_bad_lines_and_stores_nothing(cli_env, session, tmp_path, monkeypatch):
    before = session.scalar(select(func.count(EvalSet.id)))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.jsonl").write_text('{"input": "ok", "expected": "x"}\n{"input": ""}\nnope\n')
    result = cli_env.invoke(cli.app, ["eval-set", "bad.jsonl", "--scenario", "northwind"])
    assert result.exit_code == 1
    assert "line 2: 'input'" in result.output and "line 3: not JSON" in result.output
    assert session.scalar(select(func.count(EvalSet.id))) == before
