"""Levels declare everything about themselves: a new level is one module plus one registration,
and shows up in the settings' prices, the cost model and the decision report unedited."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from app.compare import billed_cost
from app.config import LevelPrice, Settings
from app.costs import (
    FixedCosts,
    ScenarioFixedInputs,
    corpus_costs,
    load_profiles,
    query_cost,
    training_cost,
)
from app.db.models import Result
from app.evals.costing import estimate_costs
from app.evals.report import build_report
from app.evals.summary import summarise
from app.levels import REGISTRY, Level, LevelPlan, get_level, level_names, register, unregister

PRICING = Path(__file__).resolve().parent.parent / "data" / "pricing.toml"
INPUTS = ScenarioFixedInputs(corpus_tokens=2_000_000, training_seconds=3600, training_tokens=1e6)


class HybridLevel(Level):
    """A throwaway extra level: retrieval on the fine-tuned model, ranked below it."""

    name = "hybrid"
    description = "Retrieved chunks, base model + the scenario's adapter"
    title = "RAG on the fine-tuned model"
    rank = 25
    default_price = LevelPrice(input_usd_per_mtok=1.0, output_usd_per_mtok=2.0)
    price_key = "finetune"

    def plan(self, inputs):
        return LevelPlan(messages=[{"role": "user", "content": inputs.query}])

    def fixed_costs(self, profile, inputs):
        return FixedCosts(once_usd=5.0, monthly_usd=1.0)

    def reason(self, stats: dict[str, Any], simpler_stats: dict[str, Any]) -> str:
        return "; the documents and the voice both matter"


@pytest.fixture
def hybrid():
    register(HybridLevel)
    yield get_level("hybrid")
    unregister("hybrid")


def test_the_existing_levels_declare_what_the_tables_used_to_hold():
    assert level_names() == ["prompt", "rag", "finetune", "rag_finetune"]
    assert [get_level(lv).title for lv in level_names()] == [
        "the few-shot prompt",
        "RAG",
        "the fine-tuned model",
        "RAG on the fine-tuned model",
    ]
    prices = Settings(_env_file=None).prices
    assert list(prices) == ["prompt", "rag", "finetune", "rag_finetune"]
    base = LevelPrice(input_usd_per_mtok=0.15, output_usd_per_mtok=0.60)
    assert prices["prompt"] == prices["rag"] == base
    assert prices["finetune"] == LevelPrice(input_usd_per_mtok=0.30, output_usd_per_mtok=1.20)


def test_each_level_computes_its_own_fixed_costs():
    profile = load_profiles(PRICING)["hosted-api"]
    assert get_level("prompt").fixed_costs(profile, INPUTS) == FixedCosts()
    assert get_level("rag").fixed_costs(profile, INPUTS) == corpus_costs(profile, 2_000_000)
    assert get_level("finetune").fixed_costs(profile, INPUTS) == FixedCosts(
        once_usd=training_cost(profile, seconds=3600, tokens=1e6)
    )
    assert get_level("finetune").fixed_costs(profile, INPUTS).once_usd == pytest.approx(3.0)


def test_a_new_level_is_one_module_and_one_registration(hybrid):
    assert level_names() == ["prompt", "rag", "hybrid", "finetune", "rag_finetune"]
    assert Settings(_env_file=None).price("hybrid") == HybridLevel.default_price
    result = Result(
        level="hybrid", prompt_tokens=1000, completion_tokens=100, machine_s=36, embedding_tokens=0
    )
    settings = Settings(_env_file=None)
    assert billed_cost(result, settings) == pytest.approx(
        query_cost(
            price=HybridLevel.default_price,
            prompt_tokens=1000,
            completion_tokens=100,
            seconds=36,
            usd_per_hour=settings.compute_usd_per_hour,
        )
    )


def test_a_new_level_is_priced_by_the_cost_model(hybrid):
    profile = load_profiles(PRICING)["hosted-api"]
    usage = {"prompt_tokens": 1e6, "completion_tokens": 0.0, "seconds": 0.0}
    stats = {lv: usage for lv in ("finetune", "hybrid")}
    costs = estimate_costs(stats, profile, INPUTS, queries_per_day=1000)
    # No `levels.hybrid` in the profile: billed at the fine-tuned model's rate (its price_key).
    assert costs.levels["hybrid"].variable_per_query_usd == pytest.approx(0.30)
    assert costs.levels["hybrid"].fixed == FixedCosts(once_usd=5.0, monthly_usd=1.0)


def rows(kind: str, count: int, quality: dict[str, float]) -> list[dict[str, Any]]:
    metrics = {"latency_ms": 1000.0, "cost_usd": 0.001, "prompt_tokens": 100.0}
    metrics |= {"completion_tokens": 10.0, "error": 0.0}
    return [
        {"item": n, "kind": kind, "level": lv, "repeat": 0, "metrics": metrics | {"quality": q}}
        for n in range(count)
        for lv, q in quality.items()
    ]


def test_a_new_level_is_named_ordered_and_explained_by_the_report(hybrid):
    data = rows("knowledge", 30, {"prompt": 0.2, "rag": 0.5, "hybrid": 0.8, "finetune": 0.6})
    data += [dict(r, item=r["item"] + 100) for r in rows("general", 30, {"rag": 0.7})]
    report = build_report(summarise(data, ["prompt", "rag", "hybrid", "finetune"]), None, {})
    knowledge = next(k for k in report.kinds if k.kind == "knowledge")
    assert knowledge.level == "hybrid"  # the simplest level no other beats significantly
    assert knowledge.reason == (
        "RAG on the fine-tuned model beats RAG on quality by +30 points (95% CI +30 to +30, "
        "p < 0.001, Wilcoxon, n = 30); the documents and the voice both matter"
    )
    assert report.headline == (
        "Use RAG for general; RAG on the fine-tuned model for knowledge "
        "(route each kind of request to its level)."
    )


def test_a_level_name_cannot_be_registered_twice():
    before = REGISTRY["rag"]

    class SecondRag(HybridLevel):
        name = "rag"
        rank = 99

    with pytest.raises(ValueError, match="'rag' is already registered by RagLevel"):
        register(SecondRag)
    assert REGISTRY["rag"] is before
    assert level_names() == ["prompt", "rag", "finetune", "rag_finetune"]


def test_a_level_must_declare_its_rank_title_and_price():
    class Unranked(Level):
        name = "unranked"
        description = "no rank, title or price"

        def plan(self, inputs):
            raise NotImplementedError

    with pytest.raises(ValueError, match="does not set title, rank, default_price"):
        register(Unranked)

    class SameRank(HybridLevel):
        name = "same-rank"
        rank = 20

    with pytest.raises(ValueError, match="rank 20 is taken by 'rag'"):
        register(SameRank)
    assert "unranked" not in REGISTRY and "same-rank" not in REGISTRY
