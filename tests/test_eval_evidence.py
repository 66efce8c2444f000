"""An eval run's evidence end to end: scores stored for a finished run, its summary kept as a
finished run keeps it, then the API, the run page and the report saying which pair of levels
is significantly apart and which the items cannot tell apart."""

import pytest
from sqlalchemy import select

from app.db.models import EvalItem, EvalRun, EvalScore, EvalSet, Scenario
from app.evals.runner import keep_summary

LEVELS = ["prompt", "rag"]
# knowledge, 40 questions: RAG answers 30, the prompt 8 of those; 22 discordant, all for RAG.
# triage, 30 tickets: the prompt gets 0-14 right, RAG 2-18; 2 discordant against 4 (p = 0.69).
PASSES = {
    ("knowledge", "prompt"): range(0, 8),
    ("knowledge", "rag"): range(0, 30),
    ("triage", "prompt"): range(0, 15),
    ("triage", "rag"): range(2, 19),
}
COUNTS = {"knowledge": 40, "triage": 30}


def scores(kind: str, level: str, index: int) -> dict[str, float]:
    passed = float(index in PASSES[(kind, level)])
    metric = "fact_recall" if kind == "knowledge" else "field_accuracy"
    usage = {"latency_ms": 900.0, "cost_usd": 0.0001, "prompt_tokens": 300.0}
    return {"quality": passed, metric: passed, **usage, "completion_tokens": 40.0, "error": 0.0}


def store_run(session, scenario_id: int, sha256: str, score) -> int:
    """An eval set of COUNTS questions and a finished run of LEVELS over it, each item's
    metrics `score(kind, level, index)`, stored as the runner stores them with the summary
    a finished run keeps; returns the run's id."""
    eval_set = EvalSet(scenario_id=scenario_id, name=f"{sha256[0]}.jsonl", sha256=sha256)
    for kind, count in COUNTS.items():
        for index in range(count):
            position = len(eval_set.items)
            item = EvalItem(position=position, kind=kind, input=f"{kind} {index}", expected="x")
            eval_set.items.append(item)
    session.add(eval_set)
    session.flush()
    total = len(eval_set.items)
    run = EvalRun(
        scenario_id=scenario_id,
        eval_set_id=eval_set.id,
        status="done",
        options={"repeats": 1},
        levels=LEVELS,
        skipped={},
        total=total,
        done=total,
    )
    session.add(run)
    session.flush()
    for item in eval_set.items:
        index = int(item.input.split()[1])
        for level in LEVELS:
            metrics = score(item.kind, level, index)
            session.add(
                EvalScore(
                    eval_run_id=run.id, eval_item_id=item.id, repeat=0, level=level, metrics=metrics
                )
            )
    session.flush()
    keep_summary(session, run)
    session.commit()
    return run.id


@pytest.fixture(scope="module")
def evidence_run(runtime):
    """A finished run of two levels over 70 items."""
    with runtime.session() as session:
        scenario = Scenario(slug="evidence", name="Evidence", system_prompt="Answer.")
        session.add(scenario)
        session.flush()
        return store_run(session, scenario.id, "e" * 64, scores)


def test_the_api_gives_each_pair_its_test(client, evidence_run):
    run = client.get(f"/api/v1/evals/{evidence_run}").json()
    knowledge = run["summary"]["kind_pairs"]["knowledge"]["quality"][0]
    assert (knowledge["a"], knowledge["b"], knowledge["n"]) == ("prompt", "rag", 40)
    assert knowledge["test"] == "mcnemar" and knowledge["b_higher"] == 22
    assert knowledge["significant"] and knowledge["p_adjusted"] < 0.001
    assert knowledge["difference"] == pytest.approx(-0.55)
    assert knowledge["low"] < -0.55 < knowledge["high"] < 0
    triage = run["summary"]["kind_pairs"]["triage"]["quality"][0]
    assert not triage["significant"] and triage["p_value"] == pytest.approx(0.6875)
    assert triage["items_needed"] > 30
    rag = run["summary"]["levels"]["rag"]["metrics"]["quality"]
    assert rag["ci_method"] == "wilson" and rag["ci"][0] < rag["mean"] < rag["ci"][1]
    assert run["winners"]["quality"] == {
        "level": "rag",
        "value": pytest.approx(47 / 70),
        "margin": pytest.approx(24 / 70),
        "clear": True,
    }


def test_the_report_says_which_pair_is_significant_and_which_is_not(client, evidence_run):
    report = client.get("/api/v1/scenarios/evidence/report").json()
    assert report["eval_run_id"] == evidence_run
    kinds = {k["kind"]: k for k in report["kinds"]}
    knowledge, triage = kinds["knowledge"], kinds["triage"]
    assert knowledge["level"] == "rag"
    assert knowledge["reason"].startswith(
        "RAG beats the few-shot prompt on quality by +55 points (95% CI +"
    )
    assert "p < 0.001, McNemar, n = 40)" in knowledge["reason"]
    assert knowledge["tests"][0]["significant"] and knowledge["intervals"]["rag"][1] > 0.75
    assert triage["level"] == "prompt"  # RAG is ahead by 7 points, which 30 items cannot show
    assert triage["tests"][0]["significant"] is False
    (doubt,) = triage["doubts"]
    assert doubt.startswith(
        "RAG and the few-shot prompt are not distinguishable on quality with 30 items "
        "(RAG +7 points, 95% CI "
    )
    assert "p = 0.69, McNemar); about" in doubt and doubt.endswith("would settle it")
    assert report["thin"] and f"triage: {doubt}" in report["notes"]
    assert report["thresholds"]["alpha"] == 0.05 and report["thresholds"]["min_test_items"] == 6


def test_the_pages_show_intervals_and_the_pair_table(client, evidence_run):
    page = client.get(f"/evals/{evidence_run}").text
    assert "Levels compared on the same items" in page
    assert "<td>prompt vs rag</td>" in page and "rag ahead" in page
    assert "not distinguishable" in page and "mcnemar" in page
    assert '<span class="meta">[' in page  # the 95% intervals next to the means
    report = client.get("/scenarios/evidence/report").text
    assert "RAG beats the few-shot prompt on quality by +55 points" in report
    assert "not distinguishable on quality with 30 items" in report
    assert "Levels compared on each kind's items" in report and "rag ahead" in report


def test_a_summary_stored_before_the_tests_gets_them_from_the_scores(client, evidence_run):
    with client.app.state.runtime.session() as session:
        run = session.get(EvalRun, evidence_run)
        old = {k: v for k, v in run.summary.items() if k not in ("pairs", "kind_pairs")}
        run.summary = old
        session.commit()
        assert session.scalar(select(EvalRun.summary).where(EvalRun.id == evidence_run)) == old
    report = client.get("/api/v1/scenarios/evidence/report").json()
    assert {k["kind"]: k["level"] for k in report["kinds"]} == {
        "knowledge": "rag",
        "triage": "prompt",
    }
    assert all(k["tests"] for k in report["kinds"])


@pytest.fixture(scope="module")
def later_run(runtime, evidence_run):
    """The same 70 questions uploaded again (new item ids) and run again: the prompt now
    answers 30 knowledge questions (22 more; none fewer), RAG the same as before."""

    def improved(kind: str, level: str, index: int) -> dict[str, float]:
        return scores(kind, "rag" if kind == "knowledge" else level, index)

    with runtime.session() as session:
        scenario_id = session.get(EvalRun, evidence_run).scenario_id
        return store_run(session, scenario_id, "f" * 64, improved)


def test_run_against_run_tests_each_change(client, evidence_run, later_run):
    """Items of two uploads of one eval set match by question; the prompt's gain on knowledge
    is significant, RAG's unchanged answers are the same on every item."""
    changes = client.get(f"/api/v1/evals/{later_run}/changes?other={evidence_run}").json()
    knowledge = changes["kinds"]["knowledge"]
    prompt = knowledge["prompt"]["fact_recall"]
    assert prompt["before"] == pytest.approx(8 / 40) and prompt["after"] == pytest.approx(30 / 40)
    assert prompt["notable"] and prompt["test"]["n"] == 40 and prompt["test"]["test"] == "mcnemar"
    assert knowledge["rag"]["fact_recall"]["test"]["status"] == "no_difference"
    page = client.get(f"/evals/{later_run}/compare?other={evidence_run}")
    assert page.status_code == 200
    assert "+55 (95% CI" in page.text and "same on all 40 common items" in page.text
    assert 'class="better"' in page.text
