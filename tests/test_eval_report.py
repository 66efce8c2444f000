"""The decision report's wording, for clear and for thin evidence."""

from app.costs import FixedCosts, LevelRate, PricingProfile, level_cost
from app.evals.costing import CostEstimate, break_evens
from app.evals.report import build_report
from app.evals.summary import summarise

LEVELS = ["prompt", "rag", "finetune"]
PROFILE = PricingProfile(
    name="t", title="t", as_of="d", source="s", levels={"prompt": LevelRate(0.15, 0.6)}
)


def rows(kind, count, quality, repeats=1, start=0, extra=None):
    """`count` items of `kind`; `quality[level]` is a score or a list (one per repeat)."""
    out = []
    for n in range(start, start + count):
        for level, score in quality.items():
            for repeat in range(repeats):
                value = score[repeat] if isinstance(score, list) else score
                metrics = {"quality": value, "latency_ms": 2000.0, "cost_usd": 0.001}
                metrics |= {"prompt_tokens": 500.0, "completion_tokens": 50.0, "error": 0.0}
                metrics |= (extra or {}).get(level, {})
                out.append(
                    {"item": n, "kind": kind, "level": level, "repeat": repeat, "metrics": metrics}
                )
    return out


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
    data = rows("knowledge", 30, {"prompt": 0.2, "rag": 0.7, "finetune": 0.1}, 1, 0, hits)
    data += rows("triage", 25, {"prompt": 0.1, "rag": 0.1, "finetune": 0.75}, 1, 100, triage_extra)
    data += rows("general", 20, {"prompt": 0.8, "rag": 0.75, "finetune": 0.3}, 1, 200)
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
    assert "RAG scores 70% quality against 20% for the few-shot prompt (+50 points" in (
        by_kind["knowledge"].reason
    )
    assert "team's own documents (the right document was retrieved for 90% of items)" in (
        by_kind["knowledge"].reason
    )
    assert by_kind["triage"].level == "finetune"
    assert "format must be exact (valid JSON 98% vs 10%, fields 70% vs 5%)" in (
        by_kind["triage"].reason
    )
    assert by_kind["general"].level == "prompt"
    assert "keep the simplest level that works" in by_kind["general"].reason
    assert not any(k.doubts for k in report.kinds)
    assert any("per 1,000 queries" in line and "vs the prompt" in line for line in report.costs)
    assert any(
        "queries/day the fine-tuned model is cheaper than the few-shot prompt" in line
        for line in report.costs
    )
    assert "one run per item: repeat the eval (--repeats) to measure the spread" in report.notes


def test_a_small_gain_does_not_justify_a_more_complex_level():
    data = rows("knowledge", 30, {"prompt": 0.62, "rag": 0.68})
    report = build_report(summarise(data, ["prompt", "rag"]), None, {})
    assert report.kinds[0].level == "prompt"
    assert report.headline == "Use the few-shot prompt for every kind of item."


def test_few_items_make_thin_evidence():
    data = rows("knowledge", 3, {"prompt": 0.0, "rag": 1.0})
    report = build_report(summarise(data, ["prompt", "rag"]), None, {})
    assert report.thin
    assert report.headline.startswith("Evidence is too thin to decide with confidence.")
    assert "Tentatively: Use RAG for every kind of item." in report.headline
    assert "only 3 items in all (fewer than 20)" in report.notes
    assert "only 3 items (fewer than 10)" in report.kinds[0].doubts


def test_close_scores_are_called_too_close():
    data = rows("knowledge", 30, {"prompt": 0.5, "rag": 0.52})
    report = build_report(summarise(data, ["prompt", "rag"]), None, {})
    assert report.thin
    assert (
        "knowledge: the few-shot prompt and RAG are too close to call (50% vs 52%)" in report.notes
    )


def test_repeats_that_disagree_make_thin_evidence():
    data = rows("triage", 30, {"prompt": [0.1, 0.5, 0.2], "finetune": [0.9, 0.2, 0.5]}, 3)
    report = build_report(summarise(data, ["prompt", "finetune"]), None, {})
    assert report.thin
    assert any("repeated runs disagree" in d for d in report.kinds[0].doubts)
    assert not any("--repeats" in note for note in report.notes)


def test_skipped_levels_are_reported():
    data = rows("knowledge", 30, {"prompt": 0.3})
    skipped = {"rag": "scenario 'x' has no documents to retrieve from"}
    report = build_report(summarise(data, ["prompt"]), None, skipped)
    assert "RAG was not evaluated: scenario 'x' has no documents to retrieve from" in report.notes


def test_volume_can_make_the_fine_tuned_model_the_better_buy():
    data = rows("triage", 30, {"prompt": 0.7, "finetune": 0.62})
    report = build_report(summarise(data, ["prompt", "finetune"]), costs(), {})
    assert report.kinds[0].level == "prompt"
    assert (
        "triage: the fine-tuned model scores 62% against 70% for the few-shot prompt and is "
        "cheaper above 104 queries/day; at that volume it is the better buy" in report.notes
    )


def test_rag_winning_items_without_a_source_is_not_called_knowledge():
    data = rows("general", 30, {"prompt": 0.2, "rag": 0.8})
    report = build_report(summarise(data, ["prompt", "rag"]), None, {})
    assert "the retrieved context helps these answers" in report.kinds[0].reason
    assert "own documents" not in report.kinds[0].reason
