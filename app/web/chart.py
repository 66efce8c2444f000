"""Bar geometry for the small per-comparison charts (inline SVG). Pure functions."""

from __future__ import annotations

from dataclasses import dataclass

from app.compare.service import CANCELLED
from app.db.models import Result

LABEL_WIDTH = 70
BAR_AREA = 200
VALUE_WIDTH = 90
ROW_HEIGHT = 18
BAR_HEIGHT = 12


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    text: str
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class BarChart:
    title: str
    bars: list[Bar]
    width: int
    height: int


def bar_chart(title: str, values: list[tuple[str, float, str]]) -> BarChart:
    """Horizontal bars, one row per `(label, value, text)`; the largest value fills the
    bar area and the others are drawn to scale (negative values count as zero)."""
    top = max((max(value, 0.0) for _, value, _ in values), default=0.0)
    bars = [
        Bar(
            label=label,
            value=value,
            text=text,
            x=LABEL_WIDTH,
            y=row * ROW_HEIGHT + (ROW_HEIGHT - BAR_HEIGHT) / 2,
            width=round(BAR_AREA * max(value, 0.0) / top, 2) if top > 0 else 0.0,
            height=BAR_HEIGHT,
        )
        for row, (label, value, text) in enumerate(values)
    ]
    return BarChart(title, bars, LABEL_WIDTH + BAR_AREA + VALUE_WIDTH, ROW_HEIGHT * len(bars))


def latency_chart(results: list[Result]) -> BarChart:
    """Total latency per level (failed levels show no bar)."""
    return bar_chart(
        "Latency",
        [(r.level, 0.0 if r.error else r.latency_total_ms, latency_text(r)) for r in results],
    )


def cost_chart(results: list[Result]) -> BarChart:
    return bar_chart(
        "Cost per query",
        [(r.level, 0.0 if r.error else r.cost_usd, cost_text(r)) for r in results],
    )


def latency_text(result: Result) -> str:
    return failure(result) or f"{result.latency_total_ms:,.0f} ms"


def cost_text(result: Result) -> str:
    return failure(result) or f"${result.cost_usd:.6f}"


def failure(result: Result) -> str | None:
    """What a bar says instead of a value for a level without one."""
    if not result.error:
        return None
    return "cancelled" if result.error == CANCELLED else "error"
