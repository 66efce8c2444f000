"""The decision report's sentences about the evidence: what a paired test between two levels
shows ("RAG beats the few-shot prompt on quality by +50 points (95% CI +33 to +67,
p < 0.001, McNemar, n = 30)"), or that the items cannot tell two levels apart and about how
many would. The numbers come from a summary's pair tests (app/evals/summary.py)."""

from __future__ import annotations

from typing import Any

from app.evals.stats import MIN_ITEMS, NO_DIFFERENCE, TOO_FEW_ITEMS
from app.evals.summary import find_pair, leads
from app.levels import REGISTRY

TEST_NAMES = {"mcnemar": "McNemar", "wilcoxon": "Wilcoxon"}
Test = dict[str, Any]  # one pair's test in a summary (`pair_tests`)


def name(level: str) -> str:
    """The level's title ("the few-shot prompt"); a level no longer registered by its key."""
    return REGISTRY[level].title if level in REGISTRY else level


def interval(stats: dict[str, Any], key: str = "quality") -> str:
    """A level's interval on a metric, " (95% CI 50-73%)", or nothing without one."""
    ci = stats["metrics"][key].get("ci")
    return f" (95% CI {ci[0] * 100:.0f}-{ci[1] * 100:.0f}%)" if ci else ""


def versus(tests: list[Test], one: str, other: str, label: str = "quality") -> str:
    """What the paired test between two levels shows, from `one`'s side."""
    test = find_pair(tests, one, other)
    if test is None:
        return f"{name(one)} and {name(other)} scored no common items"
    return pair_sentence(test, one, other, label)


def pair_sentence(test: Test, one: str, other: str, label: str) -> str:
    """Either "A beats B on quality by +18 points (95% CI +9 to +27, p = 0.001, McNemar,
    n = 60)", or that the items cannot tell them apart and about how many would."""
    n = test["n"]
    if test["status"] == TOO_FEW_ITEMS:
        text = f"{name(one)} vs {name(other)}: not enough items for a test ({n} in common; "
        return text + f"a test needs {MIN_ITEMS}){settle(test)}"
    if test["status"] == NO_DIFFERENCE:
        return f"{name(one)} and {name(other)} score the same on all {n} items"
    ahead, behind = (one, other) if leads(test, one) else (other, one)
    if test["significant"]:
        return (
            f"{name(ahead)} beats {name(behind)} on {label} by {points(test, ahead)} points "
            f"({figures(test, ahead)}, n = {n})"
        )
    return (
        f"{name(one)} and {name(other)} are not distinguishable on {label} with {n} items "
        f"({name(ahead)} {points(test, ahead)} points, {figures(test, ahead)}){settle(test)}"
    )


def points(test: Test, ahead: str, key: str = "difference") -> str:
    """A difference (or a bound of its interval) in points, from `ahead`'s side: "+18"."""
    sign = 1 if test["a"] == ahead else -1
    return f"{round(sign * test[key] * 100):+d}"


def figures(test: Test, ahead: str) -> str:
    """The interval from `ahead`'s side, the Holm-adjusted p and the test: "95% CI +9 to
    +27, p = 0.001, McNemar"."""
    low, high = (points(test, ahead, key) for key in ("low", "high"))
    if test["a"] != ahead:  # the bounds swap when the difference changes sign
        low, high = high, low
    return f"95% CI {low} to {high}, p {p_value(test['p_adjusted'])}, {TEST_NAMES[test['test']]}"


def p_value(p: float) -> str:
    if p < 0.001:
        return "< 0.001"
    return f"= {p:.3f}" if p < 0.01 else f"= {p:.2f}"


def settle(test: Test) -> str:
    """How many items would settle it ("; about 140 would settle it"), when more than the
    test had."""
    needed = test["items_needed"]
    if needed is None or needed <= test["n"]:
        return ""
    return f"; about {float(f'{needed:.2g}'):,.0f} would settle it"  # two figures: an estimate
