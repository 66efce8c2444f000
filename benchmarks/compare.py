"""Latency of one comparison (all three levels in one batch) against each level alone.

Runs on the configured database and models (the demo scenario must be set up: `make setup`).
Prints a table and writes benchmarks/results/compare.json. Ratio goal (DESIGN.md): one
three-level comparison <= 1.5x the slowest single level alone.

    .venv/bin/python benchmarks/compare.py [--repeats 3] [--max-new-tokens 64]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
from pathlib import Path

from common import timed_comparison

from app.config import get_settings
from app.levels import level_names
from app.runtime import Runtime

LEVELS = level_names()
QUERIES = [
    "How many days do I have to return a tent?",
    "My Kestrel 2 tent arrived with a torn rainfly and I leave on Friday. What now?",
    "What should I pack for a cold, windy day hike?",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    args = parser.parse_args()

    runtime = Runtime(get_settings())
    runtime.migrate()
    runtime.load(demo=False)
    timed_comparison(runtime, "warm-up", list(LEVELS), 4)

    rows = []
    for query in QUERIES:
        for _ in range(args.repeats):
            tokens = args.max_new_tokens
            wall_all, results = timed_comparison(runtime, query, list(LEVELS), tokens)
            alone = {lv: timed_comparison(runtime, query, [lv], tokens)[0] for lv in LEVELS}
            rows.append(
                {
                    "query": query,
                    "all_levels_s": wall_all,
                    "alone_s": alone,
                    "per_level_total_ms": {lv: r.latency_total_ms for lv, r in results.items()},
                    "completion_tokens": {lv: r.completion_tokens for lv, r in results.items()},
                }
            )
    report = summarise(rows, runtime, args)
    print_table(report)
    out = Path(__file__).resolve().parent / "results"
    out.mkdir(exist_ok=True)
    (out / "compare.json").write_text(json.dumps({"summary": report, "runs": rows}, indent=2))
    runtime.close()


def summarise(rows, runtime, args) -> dict:
    median = statistics.median
    all_levels = median(r["all_levels_s"] for r in rows)
    alone = {lv: median(r["alone_s"][lv] for r in rows) for lv in LEVELS}
    slowest = max(alone.values())
    return {
        "machine": f"{platform.machine()}, {runtime.settings.inference_threads} threads",
        "engine": runtime.engine.name,
        "model": runtime.engine.model,
        "max_new_tokens": args.max_new_tokens,
        "runs": len(rows),
        "median_all_levels_s": round(all_levels, 3),
        "median_alone_s": {lv: round(s, 3) for lv, s in alone.items()},
        "median_level_total_ms": {
            lv: round(median(r["per_level_total_ms"][lv] for r in rows)) for lv in LEVELS
        },
        "ratio_all_vs_slowest_alone": round(all_levels / slowest, 2),
        "ratio_goal": 1.5,
    }


def print_table(report: dict) -> None:
    print(
        f"\n{report['engine']} / {report['model']} / {report['machine']}, "
        f"max_new_tokens={report['max_new_tokens']}, {report['runs']} runs (medians)"
    )
    print(f"{'':28}{'prompt':>10}{'rag':>10}{'finetune':>10}")
    totals = report["median_level_total_ms"]
    alone = report["median_alone_s"]
    print(f"{'level latency in comparison':28}" + "".join(f"{totals[lv]:>8}ms" for lv in LEVELS))
    print(f"{'level alone (wall)':28}" + "".join(f"{alone[lv] * 1000:>8.0f}ms" for lv in LEVELS))
    print(
        f"three levels in one comparison: {report['median_all_levels_s'] * 1000:.0f} ms = "
        f"{report['ratio_all_vs_slowest_alone']}x the slowest level alone "
        f"(goal <= {report['ratio_goal']}x)"
    )


if __name__ == "__main__":
    main()
