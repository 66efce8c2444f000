"""The decision report: which level a scenario should use, and why, from an eval summary and
the cost model. Pure functions; the wording is tested.

The reasoning: start from the prompt, the cheapest level to build and change. Pay for a more
complex level only where the eval shows it earns its keep: retrieval when the answers need
the team's own documents (it wins the knowledge items), a fine-tuned model when the output's
format or voice must be exact (it wins JSON validity and fields), or when the volume is high
enough that its short prompts make it the cheaper level to serve.

"Shows" means a paired test on the kind's items (app/evals/stats.py, Holm-adjusted across the
kind's pairs of levels): each kind gets the simplest level that no other level beats
significantly on quality, and every sentence carries its numbers ("RAG beats the few-shot
prompt on quality by +50 points (95% CI +33 to +67, p < 0.001, McNemar, n = 30)"), or says the
items cannot tell two levels apart and about how many would.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from app.evals.costing import CostEstimate
from app.evals.evidence import Test, interval, name, versus
from app.evals.stats import ALPHA, POWER
from app.evals.stats import MIN_ITEMS as MIN_TEST_ITEMS
from app.evals.summary import beats
from app.evals.wording import metric, pct
from app.levels import REGISTRY, level_names

MIN_KIND_ITEMS = 10
MIN_ITEMS = 20


@dataclass
class KindDecision:
    kind: str
    items: int
    level: str | None
    reason: str
    quality: dict[str, float | None]
    doubts: list[str] = field(default_factory=list)
    intervals: dict[str, list[float] | None] = field(default_factory=dict)  # quality's 95% CI
    tests: list[Test] = field(default_factory=list)  # quality, each pair of levels


@dataclass
class Report:
    headline: str
    thin: bool
    kinds: list[KindDecision]
    costs: list[str]
    notes: list[str]
    thresholds: dict[str, float]


def volume(queries_per_day: float) -> str:
    return f"{queries_per_day:,.0f}" if queries_per_day >= 10 else f"{queries_per_day:.2g}"


def complexity(level: str) -> float:
    """The level's rank, simplest first; a level no longer registered comes last."""
    return REGISTRY[level].rank if level in REGISTRY else math.inf


def spread(stats: dict[str, Any] | None, key: str) -> float | None:
    return stats["metrics"][key]["spread"] if stats else None


def decide_kind(
    kind: str, items: int, group: dict[str, dict[str, Any]], tests: list[Test]
) -> KindDecision:
    """The simplest level that no other level beats significantly on this kind's quality
    (`tests`: the kind's quality tests between levels)."""
    quality = {lv: metric(stats, "quality") for lv, stats in group.items()}
    measured = {lv: q for lv, q in quality.items() if q is not None}
    if not measured:
        return KindDecision(kind, items, None, "no level produced a scored answer", quality)
    unbeaten = [
        lv
        for lv in sorted(measured, key=complexity)
        if not any(beats(tests, o, lv) for o in measured)
    ]
    # Tests on different common items could rank levels in a circle: then the best mean.
    chosen = unbeaten[0] if unbeaten else max(measured, key=lambda lv: measured[lv])
    decision = KindDecision(
        kind,
        items,
        chosen,
        reason_for(chosen, group, measured, tests),
        quality,
        intervals={lv: stats["metrics"]["quality"].get("ci") for lv, stats in group.items()},
        tests=tests,
    )
    decision.doubts = doubts(items, chosen, group, measured, tests)
    return decision


def reason_for(
    chosen: str, group: dict[str, dict[str, Any]], quality: dict[str, float], tests: list[Test]
) -> str:
    simpler = [lv for lv in quality if complexity(lv) < complexity(chosen)]
    others = [lv for lv in quality if lv != chosen]
    if not simpler:
        evidence = "; ".join(versus(tests, chosen, lv) for lv in others)
        return (
            f"{name(chosen)} scores {pct(quality[chosen])} quality{interval(group[chosen])} "
            "and no more complex level beats it significantly, so keep the simplest level "
            f"that works: {evidence or 'no other level ran'}"
        )
    base = max(simpler, key=lambda lv: quality[lv])
    rival = next((lv for lv in [chosen, *others] if beats(tests, lv, base)), chosen)
    text = versus(tests, rival, base)
    if rival != chosen:  # the best level ruled out the simpler ones; chosen is as good
        text += f"; {name(chosen)} is not significantly worse: {versus(tests, chosen, rival)}"
    if chosen in REGISTRY:
        text += REGISTRY[chosen].reason(group[chosen], group[base])
    return text


def doubts(
    items: int,
    chosen: str,
    group: dict[str, dict[str, Any]],
    quality: dict[str, float],
    tests: list[Test],
) -> list[str]:
    """Why this kind's decision may not hold: few items, a level that scores higher but that
    the items cannot tell apart from the chosen one, repeats disagreeing."""
    found = []
    if items < MIN_KIND_ITEMS:
        found.append(f"only {items} items (fewer than {MIN_KIND_ITEMS})")
    rivals = [lv for lv in quality if lv != chosen]
    found += [versus(tests, lv, chosen) for lv in rivals if quality[lv] > quality[chosen]]
    if rivals:
        rival = min(rivals, key=lambda lv: abs(quality[lv] - quality[chosen]))
        margin = abs(quality[chosen] - quality[rival])
        spreads = [
            s for s in (spread(group[chosen], "quality"), spread(group[rival], "quality")) if s
        ]
        if spreads and max(spreads) >= margin:
            found.append(
                f"repeated runs disagree: quality varies by {max(spreads) * 100:.0f} points "
                f"between repeats, more than the {margin * 100:.0f}-point margin"
            )
    return found


def cost_lines(costs: CostEstimate | None, chosen: set[str]) -> list[str]:
    if costs is None or not costs.levels:
        return ["no cost estimate: no level answered"]
    lines = []
    simplest = level_names()[0]  # the baseline every other level's cost is weighed against
    base = costs.levels.get(simplest)
    per_day = f"{costs.queries_per_day:,.0f} queries/day"
    for level in sorted(chosen, key=complexity):
        cost = costs.levels.get(level)
        if cost is None:
            continue
        text = f"{name(level)}: ${cost.per_1000_usd:.4f} per 1,000 queries, "
        text += f"${cost.per_month_usd:,.2f} a month at {per_day}"
        if base and level != simplest:
            extra = cost.per_1000_usd - base.per_1000_usd
            text += f" ({'+' if extra >= 0 else '-'}${abs(extra):.4f} per 1,000 "
            text += f"vs {REGISTRY[simplest].mention()})"
        lines.append(text)
    for even in costs.break_evens:
        lines.append(
            f"above {volume(even.queries_per_day)} queries/day {name(even.cheaper_above)} is "
            f"cheaper than {name(even.cheaper_below)} (one-off costs spread over "
            f"{costs.profile.amortise_months} months)"
        )
    return lines


def volume_notes(kinds: list[KindDecision], costs: CostEstimate | None) -> list[str]:
    """Where a level that wins at volume (the fine-tuned model) is nearly as good as the
    chosen level and, past some daily volume, cheaper: at that volume it is the better buy."""
    if costs is None:
        return []
    at_volume = [lv for lv in level_names() if REGISTRY[lv].wins_at_volume]
    return [
        note
        for k in kinds
        for level in at_volume
        if k.level not in (None, level)
        for note in volume_note(k, level, costs)
    ]


def volume_note(k: KindDecision, level: str, costs: CostEstimate) -> list[str]:
    """The note for one kind and one level that wins at volume, if it applies: the level is
    not significantly worse than the chosen one."""
    if k.level is None:
        return []
    rival, chosen = k.quality.get(level), k.quality.get(k.level)
    if rival is None or chosen is None or beats(k.tests, k.level, level):
        return []
    return [
        f"{k.kind}: {name(level)} scores {pct(rival)} against {pct(chosen)} "
        f"for {name(k.level)} and is cheaper above {volume(even.queries_per_day)} "
        "queries/day; at that volume it is the better buy"
        for even in costs.break_evens
        if even.cheaper_above == level and even.cheaper_below == k.level
    ]


def latency_note(summary: dict[str, Any], chosen: set[str]) -> str | None:
    levels = summary["levels"]
    parts = [
        f"{name(lv)} {levels[lv]['latency_p95_ms'] / 1000:.1f} s"
        for lv in sorted(chosen, key=complexity)
        if levels.get(lv, {}).get("latency_p95_ms") is not None
    ]
    return f"p95 latency: {', '.join(parts)}" if parts else None


def build_report(
    summary: dict[str, Any], costs: CostEstimate | None, skipped: dict[str, str]
) -> Report:
    kinds = [
        decide_kind(kind, summary["kind_items"][kind], group, quality_tests(summary, kind))
        for kind, group in summary["kinds"].items()
    ]
    chosen = {k.level for k in kinds if k.level}
    thin_reasons = [f"{k.kind}: {d}" for k in kinds for d in k.doubts]
    if summary["items"] < MIN_ITEMS:
        thin_reasons.insert(0, f"only {summary['items']} items in all (fewer than {MIN_ITEMS})")
    notes = [f"{name(lv)} was not evaluated: {why}" for lv, why in skipped.items()]
    notes += volume_notes(kinds, costs)
    if summary["repeats"] < 2:
        notes.append("one run per item: repeat the eval (--repeats) to measure the spread")
    if latency := latency_note(summary, chosen):
        notes.append(latency)
    return Report(
        headline=headline(kinds, thin_reasons),
        thin=bool(thin_reasons),
        kinds=kinds,
        costs=cost_lines(costs, chosen),
        notes=thin_reasons + notes,
        # No fixed margins since the paired tests decide: gain and close are 0.
        thresholds={
            "gain": 0.0,
            "close": 0.0,
            "min_kind_items": MIN_KIND_ITEMS,
            "alpha": ALPHA,
            "power": POWER,
            "min_test_items": MIN_TEST_ITEMS,
        },
    )


def quality_tests(summary: dict[str, Any], kind: str) -> list[Test]:
    """The kind's quality tests between levels (none in a summary stored before them)."""
    return summary.get("kind_pairs", {}).get(kind, {}).get("quality", [])


def headline(kinds: list[KindDecision], thin_reasons: list[str]) -> str:
    by_level: dict[str, list[str]] = {}
    for k in kinds:
        if k.level:
            by_level.setdefault(k.level, []).append(k.kind)
    if not by_level:
        return "No recommendation: no level produced a scored answer."
    if len(by_level) == 1:
        text = f"Use {name(next(iter(by_level)))} for every kind of item."
    else:
        parts = [
            f"{name(lv)} for {', '.join(kinds_)}"
            for lv, kinds_ in sorted(by_level.items(), key=lambda p: complexity(p[0]))
        ]
        text = f"Use {'; '.join(parts)} (route each kind of request to its level)."
    if thin_reasons:
        text = f"Evidence is too thin to decide with confidence. Tentatively: {text}"
    return text
