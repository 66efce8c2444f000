"""Comparisons: one query through the levels, side by side.

`service` runs and stores a comparison (the one place that does), `shapes` are its request
and JSON forms shared by every front end, `streaming` runs one in a worker thread and yields
its events.
"""

from app.compare.service import (
    ComparisonOptions,
    TokenSink,
    billed_cost,
    plan_level,
    run_comparison,
)
from app.compare.shapes import ComparisonCreate, ComparisonPublic, ResultPublic

__all__ = [
    "ComparisonCreate",
    "ComparisonOptions",
    "ComparisonPublic",
    "ResultPublic",
    "TokenSink",
    "billed_cost",
    "plan_level",
    "run_comparison",
]
