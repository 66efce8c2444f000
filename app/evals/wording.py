"""Small helpers the decision report and the levels' `reason` share to word numbers."""

from __future__ import annotations

from typing import Any


def pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


def metric(stats: dict[str, Any] | None, key: str) -> float | None:
    """A quality metric's mean in one level's eval stats (None when the level has none)."""
    return stats["metrics"][key]["mean"] if stats else None
