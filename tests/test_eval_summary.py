"""Scoring one result, summaries per level and kind (with intervals and paired tests),
winners, repeats, run differences."""

from types import SimpleNamespace

import pytest

from app.evals import stats
from app.evals.items import EvalItemSpec
from app.evals.scoring import item_schema, score_result
from app.evals.summary import run_differences, summarise, winner

TRIAGE_SCHEMA = {"type": "object", "required": ["category"]}


def result(level="prompt", output="", error=None, context=(), latency=1000.0, cost=0.001):
    return SimpleNamespace(
        level=level,
        output=output,
        error=error,
        context=list(context),
        latency_total_ms=latency,
        cost_usd=cost,
        prompt_tokens=100,
        completion_tokens=20,
    )


def spec(**kwargs):
    item = EvalItemSpec(input="q", **kwargs)
    item.json_schema = item.schema
    return item


def test_a_knowledge_answer_scores_facts_and_retrieval():
    item = spec(kind="knowledge", facts=["60"], source="returns-policy.md")
    rag = result("rag", "Tents: 60 days.", context=[{"source": "returns-policy.md"}])
    scores = score_result(item, rag, schema=None, k=3)
    assert scores["fact_recall"] == 1.0 and scores["retrieval_hit"] == 1.0
    assert scores["quality"] == 1.0
    assert scores["json_validity"] is None and scores["field_accuracy"] is None
    prompt = score_result(item, result("prompt", "30 days"), schema=None, k=3)
    assert prompt["retrieval_hit"] is None and prompt["quality"] == 0.0


def test_a_triage_answer_uses_the_scenario_schema_and_fields():
    item = spec(kind="triage", fields={"category": "return"})
    schema = item_schema(item, TRIAGE_SCHEMA)
    assert schema == TRIAGE_SCHEMA
    scores = score_result(item, result(output='{"category": "return"}'), schema=schema, k=3)
    assert scores["json_validity"] == scores["schema_validity"] == scores["field_accuracy"] == 1
    assert item_schema(spec(kind="general", keywords=["x"]), TRIAGE_SCHEMA) is None


def test_a_failed_level_scores_nothing_but_counts_as_an_error():
    scores = score_result(spec(facts=["60"]), result(error="no adapter"), schema=None, k=3)
    assert scores["error"] == 1.0 and scores["quality"] is None and scores["fact_recall"] is None


def row(item, kind, level, repeat, quality, latency=1000.0, cost=0.001, error=0.0):
    metrics = {"quality": quality, "latency_ms": latency, "cost_usd": cost, "error": error}
    metrics |= {"prompt_tokens": 100.0, "completion_tokens": 20.0}
    return {"item": item, "kind": kind, "level": level, "repeat": repeat, "metrics": metrics}


def test_summary_per_level_and_kind_with_spread_over_repeats():
    rows = [
        row(1, "knowledge", "rag", 0, 1.0, latency=100),
        row(1, "knowledge", "rag", 1, 0.0, latency=300),
        row(2, "triage", "rag", 0, 1.0, latency=200),
        row(2, "triage", "rag", 1, 1.0, latency=400),
        row(1, "knowledge", "prompt", 0, None, error=1.0),
    ]
    summary = summarise(rows, ["prompt", "rag"])
    assert summary["items"] == 2 and summary["repeats"] == 2
    assert summary["kind_items"] == {"knowledge": 1, "triage": 1}
    rag = summary["levels"]["rag"]
    assert rag["metrics"]["quality"]["mean"] == 0.75
    # per-repeat means 1.0 and 0.5 -> sample standard deviation 0.354
    assert rag["metrics"]["quality"]["spread"] == pytest.approx(0.35355, abs=1e-4)
    assert rag["latency_p50_ms"] == 250 and rag["latency_p95_ms"] == pytest.approx(385)
    assert summary["levels"]["prompt"]["errors"] == 1
    assert summary["levels"]["prompt"]["metrics"]["quality"]["mean"] is None
    assert summary["kinds"]["knowledge"]["rag"]["metrics"]["quality"]["mean"] == 0.5


def test_winner_marks_clear_and_close_margins():
    def stats(quality, spread=None, latency=1000.0):
        return {
            "metrics": {"quality": {"mean": quality, "spread": spread, "n": 10}},
            "latency_p95_ms": latency,
        }

    clear = winner({"prompt": stats(0.3), "rag": stats(0.8)}, "quality")
    assert clear["level"] == "rag" and clear["clear"] and clear["margin"] == pytest.approx(0.5)
    close = winner({"prompt": stats(0.8), "rag": stats(0.82)}, "quality")
    assert close["level"] == "rag" and not close["clear"]
    noisy = winner({"prompt": stats(0.5, 0.3), "rag": stats(0.7, 0.1)}, "quality")
    assert not noisy["clear"]
    fastest = winner({"prompt": stats(0.5, latency=900), "rag": stats(0.5)}, "latency_p95_ms")
    assert fastest["level"] == "prompt"
    assert winner({"prompt": stats(None)}, "quality") is None


def test_run_differences_test_each_change_on_common_items():
    """finetune passes 12 of 20 items before and all 20 after: 8 discordant pairs, all one
    way (McNemar p = 2 / 2**8); rag changes on one item only; prompt ran in one run only."""
    before = [row(n, "triage", "finetune", 0, float(n < 12)) for n in range(20)]
    before += [row(n, "triage", "rag", 0, 1.0) for n in range(20)]
    before += [row(n, "triage", "prompt", 0, 1.0) for n in range(20)]
    after = [row(n, "triage", "finetune", 0, 1.0) for n in range(20)]
    after += [row(n, "triage", "rag", 0, float(n != 3)) for n in range(20)]
    diff = run_differences(before, after, ["prompt", "rag", "finetune"])
    finetune = diff["levels"]["finetune"]["quality"]
    assert finetune["before"] == pytest.approx(0.6) and finetune["after"] == 1.0
    assert finetune["delta"] == pytest.approx(0.4) and finetune["notable"]
    assert finetune["test"]["test"] == "mcnemar" and finetune["test"]["n"] == 20
    # Holm across the two tested levels: the smaller p doubled
    assert finetune["test"]["p_adjusted"] == pytest.approx(2 * 2 / 2**8)
    rag = diff["kinds"]["triage"]["rag"]["quality"]
    assert rag["delta"] == pytest.approx(-0.05) and not rag["notable"]
    prompt = diff["levels"]["prompt"]["quality"]
    assert prompt["before"] == 1.0 and prompt["after"] is None and prompt["test"] is None


def test_a_limit_takes_the_kinds_in_turn():
    from app.evals.runner import EvalOptions, choose_items

    kinds = ["knowledge"] * 3 + ["triage"] * 2 + ["general"]
    items = [SimpleNamespace(kind=k, position=n) for n, k in enumerate(kinds)]
    eval_set = SimpleNamespace(items=items)
    chosen = choose_items(eval_set, EvalOptions(limit=4))
    assert [i.position for i in chosen] == [0, 1, 3, 5]
    only = choose_items(eval_set, EvalOptions(limit=2, kinds=["triage"]))
    assert [i.position for i in only] == [3, 4]
    assert len(choose_items(eval_set, EvalOptions())) == 6


def test_summary_carries_intervals_and_holm_adjusted_pair_tests():
    """Pass/fail scores once per item: Wilson intervals and McNemar; `rag` passes 18 of 20
    items that `prompt` fails, `finetune` differs from `prompt` on two items only."""
    rows = []
    for n in range(20):
        rows.append(row(n, "knowledge", "prompt", 0, float(n >= 18)))
        rows.append(row(n, "knowledge", "rag", 0, 1.0))
        rows.append(row(n, "knowledge", "finetune", 0, float(n in (0, 18))))
    summary = summarise(rows, ["prompt", "rag", "finetune"])
    quality = summary["levels"]["prompt"]["metrics"]["quality"]
    assert quality["ci_method"] == "wilson" and quality["items"] == 20
    assert quality["ci"] == pytest.approx(list(stats.wilson_interval(2, 20)))
    tests = {(t["a"], t["b"]): t for t in summary["pairs"]["quality"]}
    assert list(tests) == [("prompt", "rag"), ("prompt", "finetune"), ("rag", "finetune")]
    rag = tests[("prompt", "rag")]
    assert rag["test"] == "mcnemar" and rag["n"] == 20 and rag["b_higher"] == 18
    assert rag["difference"] == pytest.approx(-0.9)
    raw = [t["p_value"] for t in tests.values()]
    assert [t["p_adjusted"] for t in tests.values()] == pytest.approx(stats.holm(raw))
    assert rag["significant"] and not tests[("prompt", "finetune")]["significant"]
    assert summary["kind_pairs"]["knowledge"]["quality"][0] == rag
    assert "fact_recall" not in summary["pairs"]  # no level scored it
    best = winner(summary["levels"], "quality", summary["pairs"]["quality"])
    assert best["level"] == "rag" and best["clear"]


def test_repeats_make_item_rates_bootstrapped_and_tested_by_signed_rank():
    rows = [
        row(n, "triage", level, repeat, float((n + repeat) % 3 != 0 or level == "finetune"))
        for n in range(12)
        for repeat in range(3)
        for level in ("prompt", "finetune")
    ]
    summary = summarise(rows, ["prompt", "finetune"])
    quality = summary["levels"]["prompt"]["metrics"]["quality"]
    assert quality["ci_method"] == "bootstrap" and quality["items"] == 12 and quality["n"] == 36
    (test,) = summary["pairs"]["quality"]
    assert test["test"] == "wilcoxon" and test["n"] == 12  # items, not answers
    assert test["difference"] == pytest.approx(-1 / 3)


def test_levels_compared_on_different_items_say_how_many_they_share():
    rows = [row(n, "general", "prompt", 0, 1.0) for n in range(10)]
    rows += [row(n, "general", "rag", 0, 0.0) for n in range(7, 20)]
    (test,) = summarise(rows, ["prompt", "rag"])["pairs"]["quality"]
    assert test["n"] == 3 and test["status"] == "too_few_items" and test["p_value"] is None
