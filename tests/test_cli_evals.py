"""`tritune eval` and `tritune eval-set`, in-process, on the test database."""

import time

from sqlalchemy import func, select

from app.db.models import EvalRun, EvalSet


def test_eval_runs_in_the_foreground_and_prints_the_summary(cli_run, session):
    args = ["eval", "--limit", "1", "--levels", "prompt,rag", "--max-new-tokens", "8"]
    result = cli_run(args)
    assert result.exit_code == 0, result.output
    assert "1/1 comparisons" in result.output and "fact_recall" in result.output
    run = session.scalar(select(EvalRun).order_by(EvalRun.id.desc()))
    assert run.status == "done" and run.levels == ["prompt", "rag"]
    assert f"/evals/{run.id}" in result.output


def test_eval_refuses_bad_options(cli_run):
    result = cli_run(["eval", "--levels", "oracle"])
    assert result.exit_code == 2 and "oracle" in result.output


def test_eval_set_names_bad_lines_and_stores_nothing(cli_run, session, tmp_path, monkeypatch):
    before = session.scalar(select(func.count(EvalSet.id)))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.jsonl").write_text('{"input": "ok", "expected": "x"}\n{"input": ""}\nnope\n')
    result = cli_run(["eval-set", "bad.jsonl", "--scenario", "northwind"])
    assert result.exit_code == 1
    assert "line 2: 'input'" in result.output and "line 3: not JSON" in result.output
    assert session.scalar(select(func.count(EvalSet.id))) == before


def test_eval_cancel_stops_a_run_and_refuses_to_cancel_twice(cli_run, runtime, session):
    from app.evals.runner import EvalOptions, add_eval_run

    with runtime.session() as other:  # queued, as a server would queue it
        run_id = add_eval_run(other, runtime, "northwind", EvalOptions(limit=1)).id
        other.commit()
    result = cli_run(["eval-cancel", str(run_id)])
    assert result.exit_code == 0, result.output
    # A server's eval worker may have claimed it meanwhile: then it stops after its item.
    assert f"eval #{run_id}" in result.output
    assert "cancelled" in result.output or "stopping after its current item" in result.output
    again = cli_run(["eval-cancel", str(run_id)])
    assert again.exit_code == 1
    assert "already cancelled" in again.output or "already being cancelled" in again.output
    assert cli_run(["eval-cancel", "999999"]).exit_code == 1
    deadline = time.monotonic() + 300
    while (status := status_of(session, run_id)) == "running" and time.monotonic() < deadline:
        time.sleep(0.5)
    assert status == "cancelled"


def status_of(session, run_id: int) -> str:
    session.expire_all()
    return session.get(EvalRun, run_id).status
