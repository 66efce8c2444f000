"""Per-level and per-kind summaries of an eval run's scores, and the winner per metric.
Pure functions over score rows: `{"item", "kind", "level", "repeat", "metrics"}`."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from app.evals import metrics as m
from app.evals.scoring import QUALITY_METRICS

# Differences in a [0, 1] score smaller than this are called close, whatever the spread.
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
    """`{"items", "repeats", "levels": {level: stats}, "kinds": {kind: {level: stats}}}`."""
    by_kind: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        by_kind[row["kind"]].append(row)
    return {
        "items": len({row["item"] for row in rows}),
        "repeats": len({row["repeat"] for row in rows}),
        "levels": level_stats(rows, levels),
        "kinds": {kind: level_stats(group, levels) for kind, group in sorted(by_kind.items())},
        "kind_items": {kind: len({r["item"] for r in g}) for kind, g in sorted(by_kind.items())},
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


def metric_stats(rows: list[Row], name: str) -> dict[str, float | None]:
    values = [r["metrics"].get(name) for r in rows]
    by_repeat: dict[int, list[float | None]] = defaultdict(list)
    for row, value in zip(rows, values, strict=True):
        by_repeat[row["repeat"]].append(value)
    _, spread = m.mean_and_spread([m.mean(v) for v in by_repeat.values()])
    return {"mean": m.mean(values), "spread": spread, "n": sum(v is not None for v in values)}


def value(level_stats_: dict[str, Any], metric: str) -> float | None:
    if metric in level_stats_.get("metrics", {}):
        return level_stats_["metrics"][metric]["mean"]
    return level_stats_.get(metric)


def winner(group: dict[str, dict[str, Any]], metric: str) -> dict[str, Any] | None:
    """The best level on `metric` in a `{level: stats}` group, its margin over the runner-up
    and whether the margin is clear (above CLOSE and above both levels' spread for quality
    metrics; any margin for usage). None when fewer than one level measured it."""
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
    if not lower:
        spreads = [group[lv]["metrics"][metric]["spread"] or 0 for lv, _ in ranked[:2]]
        clear = margin > max(CLOSE, *spreads)
    return {"level": best, "value": best_value, "margin": margin, "clear": clear}


def winners(group: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any] | None]:
    return {metric: winner(group, metric) for metric in (*QUALITY_METRICS, *USAGE)}


def run_differences(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """Per level (and per kind and level), each quality metric's mean in two runs, the change,
    and whether it is notable (larger than CLOSE and than either run's spread)."""

    def group(a: dict[str, Any], b: dict[str, Any]) -> dict[str, dict[str, dict[str, Any]]]:
        return {
            level: {name: change(a.get(level), b.get(level), name) for name in QUALITY_METRICS}
            for level in dict.fromkeys([*a, *b])
        }

    kinds = dict.fromkeys([*before["kinds"], *after["kinds"]])
    return {
        "levels": group(before["levels"], after["levels"]),
        "kinds": {k: group(before["kinds"].get(k, {}), after["kinds"].get(k, {})) for k in kinds},
    }


def change(a: dict[str, Any] | None, b: dict[str, Any] | None, metric: str) -> dict[str, Any]:
    was = a["metrics"][metric]["mean"] if a else None
    now = b["metrics"][metric]["mean"] if b else None
    if a is None or b is None or was is None or now is None:
        return {"before": was, "after": now, "delta": None, "notable": False}
    spreads = [s["metrics"][metric]["spread"] or 0 for s in (a, b)]
    delta = now - was
    return {
        "before": was,
        "after": now,
        "delta": delta,
        "notable": abs(delta) > max(CLOSE, *spreads),
    }
