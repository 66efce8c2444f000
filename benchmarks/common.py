"""Pieces the benchmark scripts share (they run as `.venv/bin/python benchmarks/<name>.py`,
so this directory is on the import path)."""

from __future__ import annotations

import time

from app.compare import ComparisonOptions, run_comparison
from app.db.models import Result
from app.runtime import Runtime


def timed_comparison(
    runtime: Runtime, query: str, levels: list[str], max_new_tokens: int
) -> tuple[float, dict[str, Result]]:
    """Wall seconds of one stored comparison on the demo scenario, and its results by level."""
    with runtime.session() as session:
        started = time.perf_counter()
        comparison = run_comparison(
            session=session,
            runtime=runtime,
            scenario="northwind",
            query=query,
            options=ComparisonOptions(levels=levels, max_new_tokens=max_new_tokens),
        )
        wall = time.perf_counter() - started
        return wall, {r.level: r for r in comparison.results}
