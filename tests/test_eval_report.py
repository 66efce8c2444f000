"""The decision report's wording, for clear and for thin evidence: which level each kind
gets, and the paired tests behind it."""

import pytest

from app.costs import FixedCosts, LevelRate, PricingProfile, level_cost
from app.evals.costing import CostEstimate, break_evens
from app.evals.report import build_report
from app.evals.summary import summarise

LEVELS = ["prompt", "rag", "finetune"]
PROFILE = PricingProfile(
    name="t", title="t", as_of="d", source="s", levels={"prompt": LevelRate(0.15, 0.6)}
)


def rows(kind, count, quality, repeats=1, start=0, extra=None):
    """`count` items of `kind`; `quality[level]` is a score, a list (one per repeat) or a
    function of the item's index in the kind (0 to count - 1)."""
    out = []
    for n in range(start, start + count):
        for level, score in quality.items():
            for repeat in range(repeats):
                value = score[repeat] if isinstance(score, list) else score
                value = value(n - start) if callable(value) else value
                metrics = {"quality": value, "latency_ms": 2000.0, "cost_usd": 0.001}
                metrics |= {"prompt_tokens": 500.0, "completion_tokens": 50.0, "error": 0.0}
                metrics |= (extra or {}).get(level, {})
                out.append(
                    {"item": n, "kind": kind, "level": level, "repeat": repeat, "metrics": metrics}
                )
    return out


def passes(first, last=None):
    """Pass/fail quality: items `first` to `last` (exclusive) pass, or the first `first`."""
    low, high = (0, first) if last is None else (first, last)
    return lambda index: float(low <= index < high)


def costs():
    levels = {
        "prompt": level_cost("prompt", 0.002, FixedCosts(), 1000, 12),
        "rag": level_cost("rag", 0.0025, FixedCosts(0.01, 12.0), 1000, 12),
        "finetune": level_cost("finetune", 0.0004, FixedCosts(once_usd=60.0), 1000, 12),
    }
    return CostEstimate(PROFILE, 1000, levels, break_evens(levels, PROFILE))


def clear_summary():
    triage_extra = {
        "finetune": {"json_validity": 0.98, "field_accuracy": 0.7},
        "prompt": {"json_validity": 0.1, "field_accuracy": 0.05},
    }
    hits = {"rag": {"retrieval_hit": 0.9}}
    knowledge = {"prompt": passes(6), "rag": passes(21), "finetune": passes(3)}
    triage = {"prompt": passes(3), "rag": passes(3), "finetune": passes(19)}
    general = {"prompt": passes(16), "rag": passes(15), "finetune": passes(6)}
    data = rows("knowledge", 30, knowledge, 1, 0, hits)
    data += rows("triage", 25, triage, 1, 100, triage_extra)
    data += rows("general", 20, general, 1, 200)
    return summarise(data, LEVELS)


def test_clear_evidence_routes_each_kind_with_the_numbers():
    report = build_report(clear_summary(), costs(), {})
    assert not report.thin
    assert report.headline == (
        "Use the few-shot prompt for general; RAG for knowledge; the fine-tuned model for "
        "triage (route each kind of request to its level)."
    )
    by_kind = {k.kind: k for k in report.kinds}
    assert by_kind["knowledge"].level == "rag"
    # 15 items only RAG passed, none only the prompt: McNemar's p = 2 / 2**15, times 3 (Holm)
    assert "RAG beats the few-shot prompt on quality by +50 points (95% CI +" in (
        by_kind["knowledge"].reason
    )
    assert "p < 0.001, McNemar, n = 30)" in by_kind["knowledge"].reason
    assert "team's own documents (the right document was retrieved for 90% of items)" in (
        by_kind["knowledge"].reason
    )
    assert by_kind["triage"].level == "finetune"
    assert "format must be exact (valid JSON 98% vs 10%, fields 70% vs 5%)" in (
        by_kind["triage"].reason
    )
    assert "the fine-tuned model beats the few-shot prompt on quality by +64 points" in (
        by_kind["triage"].reason
    )
    assert by_kind["general"].level == "prompt"
    general = by_kind["general"].reason
    assert general.startswith(
        "the few-shot prompt scores 80% quality (95% CI 58-92%) and no more complex level "
        "beats it significantly, so keep the simplest level that works: "
    )
    assert "RAG are not distinguishable on quality with 20 items" in general
    assert "the few-shot prompt beats the fine-tuned model on quality by +50 points" in general
    tests = {(t["a"], t["b"]): t for t in by_kind["general"].tests}
    assert tests[("prompt", "finetune")]["significant"] and tests[("prompt", "finetune")]["n"] == 20
    assert not tests[("prompt", "rag")]["significant"]
    assert by_kind["general"].intervals["prompt"] == pytest.approx([0.584, 0.919], abs=1e-3)
    assert not any(k.doubts for k in report.kinds)
    assert any("per 1,000 queries" in line and "vs the prompt" in line for line in report.costs)
    assert any(
        "queries/day the fine-tuned model is cheaper than the few-shot prompt" in line
        for line in report.costs
    )
    assert "one run per item: repeat the eval (--repeats) to measure the spread" in report.notes


def test_a_gain_the_items_cannot_show_does_not_justify_a_more_complex_level():
    data = rows("knowledge", 30, {"prompt": passes(18), "rag": passes(20)})
    report = build_report(summarise(data, ["prompt", "rag"]), None, {})
    assert report.kinds[0].level == "prompt"
    assert report.headline.endswith("Use the few-shot prompt for every kind of item.")


def test_few_items_make_thin_evidence():
    data = rows("knowledge", 3, {"prompt": 0.0, "rag": 1.0})
    report = build_report(summarise(data, ["prompt", "rag"]), None, {})
    assert report.thin
    assert report.headline.startswith("Evidence is too thin to decide with confidence.")
    # three items cannot show a difference: the simplest level stays, with the reason
    assert "Tentatively: Use the few-shot prompt for every kind of item." in report.headline
    assert "only 3 items in all (fewer than 20)" in report.notes
    assert report.kinds[0].doubts == [
        "only 3 items (fewer than 10)",
        "RAG vs the few-shot prompt: not enough items for a test (3 in common; a test needs 6)"
        "; about 6 would settle it",
    ]
    assert report.kinds[0].tests[0]["p_value"] is None


def test_levels_the_items_cannot_tell_apart_say_how_many_items_would():
    """61% vs 64% on 28 triage tickets: two tickets only the prompt got right, three only
    the fine-tuned model (McNemar's p = 1); Connor's formula at that split asks ~1,100."""
    quality = {"prompt": passes(17), "finetune": passes(2, 20)}
    report = build_report(summarise(rows("triage", 28, quality), ["prompt", "finetune"]), None, {})
    assert report.thin and report.kinds[0].level == "prompt"
    (doubt,) = report.kinds[0].doubts
    assert doubt.startswith(
        "the fine-tuned model and the few-shot prompt are not distinguishable on quality with "
        "28 items (the fine-tuned model +4 points, 95% CI "
    )
    assert doubt.endswith("p = 1.00, McNemar); about 1,100 would settle it")
    assert f"triage: {doubt}" in report.notes


def test_repeats_that_disagree_make_thin_evidence():
    data = rows("triage", 30, {"prompt": [0.1, 0.5, 0.2], "finetune": [0.9, 0.2, 0.5]}, 3)
    report = build_report(summarise(data, ["prompt", "finetune"]), None, {})
    assert report.thin
    assert any("repeated runs disagree" in d for d in report.kinds[0].doubts)
    assert not any("--repeats" in note for note in report.notes)


def test_a_level_as_good_as_the_one_that_beats_the_prompt_is_chosen_if_simpler():
    """The fine-tuned model beats the prompt (10 items to 0); RAG does not (9 to 3, p = 0.15)
    but the fine-tuned model does not beat RAG either (4 to 0): RAG is the simplest level
    that no other level beats."""
    quality = {"prompt": passes(6), "rag": passes(3, 15), "finetune": passes(16)}
    data = rows("knowledge", 30, quality)
    report = build_report(summarise(data, ["prompt", "rag", "finetune"]), None, {})
    decision = report.kinds[0]
    assert decision.level == "rag"
    assert decision.reason.startswith(
        "the fine-tuned model beats the few-shot prompt on quality by +33 points (95% CI +"
    )
    assert "; RAG is not significantly worse: RAG and the fine-tuned model are not " in (
        decision.reason
    )
    assert decision.doubts[0].startswith(
        "the fine-tuned model and RAG are not distinguishable on quality with 30 items"
    )


def test_skipped_levels_are_reported():
    data = rows("knowledge", 30, {"prompt": 0.3})
    skipped = {"rag": "scenario 'x' has no documents to retrieve from"}
    report = build_report(summarise(data, ["prompt"]), None, skipped)
    assert "RAG was not evaluated: scenario 'x' has no documents to retrieve from" in report.notes


def test_volume_can_make_the_fine_tuned_model_the_better_buy():
    """Not significantly worse (3 tickets only the prompt got right, p = 0.25) and cheaper at
    volume; a fine-tuned model significantly worse gets no such note."""
    data = rows("triage", 30, {"prompt": passes(21), "finetune": passes(2, 20)})
    report = build_report(summarise(data, ["prompt", "finetune"]), costs(), {})
    assert report.kinds[0].level == "prompt"
    assert (
        "triage: the fine-tuned model scores 60% against 70% for the few-shot prompt and is "
        "cheaper above 104 queries/day; at that volume it is the better buy" in report.notes
    )
    worse = rows("triage", 30, {"prompt": passes(21), "finetune": passes(2)})
    report = build_report(summarise(worse, ["prompt", "finetune"]), costs(), {})
    assert not any("better buy" in note for note in report.notes)


def test_rag_winning_items_without_a_source_is_not_called_knowledge():
    data = rows("general", 30, {"prompt": 0.2, "rag": 0.8})
    report = build_report(summarise(data, ["prompt", "rag"]), None, {})
    assert "the retrieved context helps these answers" in report.kinds[0].reason
    assert "own documents" not in report.kinds[0].reason
