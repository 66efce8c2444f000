"""Point geometry for the eval charts (quality vs cost, quality vs latency; inline SVG).
Pure functions."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

WIDTH, HEIGHT = 320, 200
LEFT, BOTTOM, TOP, RIGHT = 44, 30, 10, 70


@dataclass(frozen=True)
class Point:
    label: str
    x: float
    y: float
    text: str


@dataclass(frozen=True)
class Scatter:
    title: str
    x_label: str
    y_label: str
    points: list[Point]
    x_ticks: list[tuple[float, str]]
    y_ticks: list[tuple[float, str]]
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    bottom: int = HEIGHT - BOTTOM
    right: int = WIDTH - RIGHT
    top: int = TOP


def scatter(
    title: str,
    x_label: str,
    y_label: str,
    values: list[tuple[str, float, float]],
    x_format: Callable[[float], str],
) -> Scatter:
    """One point per `(label, x, y)`; x from 0 to the largest x, y (a [0, 1] score) from 0
    to 1, so that points are comparable between runs."""
    x_max = max((x for _, x, _ in values), default=0.0) or 1.0
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def px(x: float) -> float:
        return round(LEFT + plot_w * x / x_max, 1)

    def py(y: float) -> float:
        return round(TOP + plot_h * (1 - y), 1)

    points = [
        Point(label, px(x), py(y), f"{label}: {y:.0%}, {x_format(x)}") for label, x, y in values
    ]
    x_ticks = [(px(0), x_format(0)), (px(x_max), x_format(x_max))]
    y_ticks = [(py(0), "0%"), (py(0.5), "50%"), (py(1), "100%")]
    return Scatter(title, x_label, y_label, points, x_ticks, y_ticks)


def quality_charts(levels: dict[str, dict]) -> list[Scatter]:
    """Quality vs cost per query and quality vs p95 latency, one point per level."""
    measured = {lv: s for lv, s in levels.items() if s["metrics"]["quality"]["mean"] is not None}
    quality = {lv: s["metrics"]["quality"]["mean"] for lv, s in measured.items()}
    cost = [(lv, s["cost_per_query_usd"] or 0.0, quality[lv]) for lv, s in measured.items()]
    latency = [(lv, (s["latency_p95_ms"] or 0.0) / 1000, quality[lv]) for lv, s in measured.items()]
    return [
        scatter("Quality vs cost per query", "cost per query", "quality", cost, usd_tick),
        scatter("Quality vs p95 latency", "p95 latency", "quality", latency, seconds_tick),
    ]


def usd_tick(value: float) -> str:
    return f"${value:.6f}"


def seconds_tick(value: float) -> str:
    return f"{value:.1f} s"
