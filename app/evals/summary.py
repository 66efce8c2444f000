"""Per-level and per-kind summaries of an eval run's scores, with each metric's 95% interval,
the paired tests between levels (app/evals/stats.py), and the winner per metric.
Pure functions over score rows: `{"item", "kind", "level", "repeat", "metrics"}`."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict
from itertools import combinations
from typing import Any

from app.evals import metrics as m
from app.evals import stats as st
from app.evals.scoring import QUALITY_METRICS

# Where no paired test is at hand (a summary without tests), differences in a [0, 1] score
# smaller than this are called close, whatever the spread.
CLOSE = 0.05
USAGE = (
    "latency_p50_ms",
    "latency_p95_ms",
    "cost_per_query_usd",
    "prompt_tokens",
    "completion_tokens",
)
LOWER_IS_BETTER = set(USAGE)

Row = dict[str, Any]


def summarise(rows: list[Row], levels: list[str]) -> dict[str, Any]:
    """`{"items", "repeats", "levels": {level: stats}, "kinds": {kind: {level: stats}},
    "kind_items", "pairs": {metric: [test]}, "kind_pairs": {kind: {metric: [test]}}}`."""
    by_kind: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        by_kind[row["kind"]].append(row)
    kinds = sorted(by_kind.items())
    return {
        "items": len({row["item"] for row in rows}),
        "repeats": len({row["repeat"] for row in rows}),
        "levels": level_stats(rows, levels),
        "kinds": {kind: level_stats(group, levels) for kind, group in kinds},
        "kind_items": {kind: len({r["item"] for r in g}) for kind, g in kinds},
        "pairs": pair_tests(rows, levels),
        "kind_pairs": {kind: pair_tests(group, levels) for kind, group in kinds},
    }


def level_stats(rows: list[Row], levels: list[str]) -> dict[str, dict[str, Any]]:
    return {level: stats([r for r in rows if r["level"] == level]) for level in levels}


def stats(rows: list[Row]) -> dict[str, Any]:
    """Each quality metric's mean over the items it applies to, its spread (standard
    deviation of the per-repeat means; None for one repeat) and n; latency percentiles,
    mean cost and tokens over the answers that did not fail; the failures."""
    ok = [r["metrics"] for r in rows if not r["metrics"].get("error")]
    latencies = [s["latency_ms"] for s in ok]
    return {
        "metrics": {name: metric_stats(rows, name) for name in QUALITY_METRICS},
        "latency_p50_ms": m.percentile(latencies, 50),
        "latency_p95_ms": m.percentile(latencies, 95),
        "cost_per_query_usd": m.mean([s["cost_usd"] for s in ok]),
        "prompt_tokens": m.mean([s["prompt_tokens"] for s in ok]),
        "completion_tokens": m.mean([s["completion_tokens"] for s in ok]),
        "seconds": m.mean([s.get("seconds", 0.0) for s in ok]),
        "embedding_tokens": m.mean([s.get("embedding_tokens", 0.0) for s in ok]),
        "answers": len(rows),
        "errors": len(rows) - len(ok),
    }


def metric_stats(rows: list[Row], name: str) -> dict[str, Any]:
    """The metric's mean over every answer, its spread between repeats, n (answers), and its
    95% interval over `items` (Wilson or bootstrap, see app/evals/stats.py; None below two
    items for a bootstrap)."""
    values = [r["metrics"].get(name) for r in rows]
    by_repeat: dict[int, list[float | None]] = defaultdict(list)
    for row, value in zip(rows, values, strict=True):
        by_repeat[row["repeat"]].append(value)
    _, spread = m.mean_and_spread([m.mean(v) for v in by_repeat.values()])
    scores = item_scores(rows, name)
    interval = st.level_interval(st.item_means(scores), st.is_pass_fail(scores))
    return {
        "mean": m.mean(values),
        "spread": spread,
        "n": sum(v is not None for v in values),
        "items": interval.items,
        "ci": None if interval.low is None else [interval.low, interval.high],
        "ci_method": interval.method,
    }


def item_scores(rows: list[Row], name: str) -> dict[Any, list[float]]:
    """A metric's scores per item (one per repeat) in `rows`."""
    return st.scores_by_item((r["item"], r["metrics"].get(name)) for r in rows)


def pair_tests(rows: list[Row], levels: list[str]) -> dict[str, list[dict[str, Any]]]:
    """Per quality metric, each pair of levels (in `levels`' order) that scored common items:
    the paired test with its p-value Holm-adjusted across the metric's pairs. A metric that
    no two levels scored on common items has no entry."""
    found = {}
    for name in QUALITY_METRICS:
        scores = {lv: item_scores([r for r in rows if r["level"] == lv], name) for lv in levels}
        tests = {(a, b): paired(scores[a], scores[b]) for a, b in combinations(levels, 2)}
        shown = {pair: test for pair, test in tests.items() if test.n}
        adjusted = st.holm_adjust(list(shown.values()))
        if shown:
            found[name] = [
                {"a": a, "b": b, **asdict(test)}
                for (a, b), test in zip(shown, adjusted, strict=True)
            ]
    return found


def paired(a: dict[Any, list[float]], b: dict[Any, list[float]]) -> st.PairedTest:
    return st.paired_test(st.item_means(a), st.item_means(b), st.is_pass_fail(a, b))


def find_pair(tests: list[dict[str, Any]], one: str, other: str) -> dict[str, Any] | None:
    """The test between two levels in a metric's list, whichever order it was run in."""
    return next((t for t in tests if {t["a"], t["b"]} == {one, other}), None)


def leads(test: dict[str, Any], level: str) -> bool:
    """Whether `level` scored higher on average on the test's common items."""
    difference = test["difference"] or 0.0
    return difference > 0 if test["a"] == level else difference < 0


def beats(tests: list[dict[str, Any]], one: str, other: str) -> bool:
    """Whether `one` scored significantly higher than `other` (after Holm's adjustment)."""
    test = find_pair(tests, one, other)
    return test is not None and test["significant"] and leads(test, one)


def value(level_stats_: dict[str, Any], metric: str) -> float | None:
    if metric in level_stats_.get("metrics", {}):
        return level_stats_["metrics"][metric]["mean"]
    return level_stats_.get(metric)


def winner(
    group: dict[str, dict[str, Any]], metric: str, tests: list[dict[str, Any]] | None = None
) -> dict[str, Any] | None:
    """The best level on `metric` in a `{level: stats}` group, its margin over the runner-up
    and whether the margin is clear: for quality metrics, the paired test between the two
    in `tests` (the metric's pair tests) is significant after Holm's adjustment, or without
    one, the margin is above CLOSE and both levels' spread; any margin for usage. None
    when fewer than one level measured it."""
    measured = [(lv, v) for lv, s in group.items() if (v := value(s, metric)) is not None]
    if not measured:
        return None
    lower = metric in LOWER_IS_BETTER
    ranked = sorted(measured, key=lambda pair: pair[1], reverse=not lower)
    best, best_value = ranked[0]
    if len(ranked) == 1:
        return {"level": best, "value": best_value, "margin": None, "clear": False}
    margin = abs(best_value - ranked[1][1])
    clear = margin > 0
    if tests and find_pair(tests, best, ranked[1][0]):
        clear = beats(tests, best, ranked[1][0])
    elif not lower:
        spreads = [group[lv]["metrics"][metric]["spread"] or 0 for lv, _ in ranked[:2]]
        clear = margin > max(CLOSE, *spreads)
    return {"level": best, "value": best_value, "margin": margin, "clear": clear}


def winners(
    group: dict[str, dict[str, Any]], pairs: dict[str, list[dict[str, Any]]] | None = None
) -> dict[str, dict[str, Any] | None]:
    """The winner per metric; `pairs` (a summary's pair tests per metric) decide which
    margins are clear."""
    pairs = pairs or {}
    return {
        metric: winner(group, metric, pairs.get(metric)) for metric in (*QUALITY_METRICS, *USAGE)
    }


def run_differences(
    before: list[Row], after: list[Row], levels: list[str]
) -> dict[str, dict[str, Any]]:
    """Two runs of a scenario, level by level (and per kind and level): each quality metric's
    mean in both, and the change (after - before) tested on the items both scored, as levels
    are tested within a run (McNemar or Wilcoxon, the p-values Holm-adjusted across the
    levels of a metric). Rows must name items the same way in both runs (`comparable_rows`)."""
    kinds = sorted({row["kind"] for row in [*before, *after]})
    return {
        "levels": changes(before, after, levels),
        "kinds": {
            kind: changes(of_kind(before, kind), of_kind(after, kind), levels) for kind in kinds
        },
    }


def of_kind(rows: list[Row], kind: str) -> list[Row]:
    return [row for row in rows if row["kind"] == kind]


def changes(before: list[Row], after: list[Row], levels: list[str]) -> dict[str, Any]:
    """`{level: {metric: change}}` for the levels that either run scored."""
    scored = [lv for lv in levels if any(r["level"] == lv for r in [*before, *after])]
    found: dict[str, dict[str, Any]] = {lv: {} for lv in scored}
    for name in QUALITY_METRICS:
        was = {lv: item_scores(of_level(before, lv), name) for lv in scored}
        now = {lv: item_scores(of_level(after, lv), name) for lv in scored}
        tests = {lv: paired(now[lv], was[lv]) for lv in scored}
        shown = [lv for lv in scored if tests[lv].n]
        tests.update(zip(shown, st.holm_adjust([tests[lv] for lv in shown]), strict=True))
        for lv in scored:
            found[lv][name] = change(was[lv], now[lv], tests[lv])
    return found


def of_level(rows: list[Row], level: str) -> list[Row]:
    return [row for row in rows if row["level"] == level]


def change(
    was: dict[Any, list[float]], now: dict[Any, list[float]], test: st.PairedTest
) -> dict[str, Any]:
    """A metric's mean over each run's items, and the paired test of the change on their
    common items (`delta`: its mean difference there; None without common items)."""
    before, after = mean_over_items(was), mean_over_items(now)
    return {
        "before": before,
        "after": after,
        "delta": test.difference if test.n else None,
        "notable": test.significant,
        "test": asdict(test) if test.n else None,
    }


def mean_over_items(scores: dict[Any, list[float]]) -> float | None:
    means = st.item_means(scores)
    return sum(means.values()) / len(means) if means else None
