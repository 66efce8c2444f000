"""Geometry of the cost-at-scale chart (inline SVG): each level's monthly cost against the
queries a month, both axes logarithmic, break-even points marked. Pure functions."""

from __future__ import annotations

import math
from dataclasses import dataclass

from app.evals.costing import CostAtScale, CostEstimate, ScaleBreakEven, monthly_usd

WIDTH, HEIGHT = 560, 300
LEFT, RIGHT, TOP, BOTTOM = 64, 90, 12, 36
LABEL_GAP = 12  # px between the level names at the lines' ends
STEPS_PER_DECADE = 8  # points along each line: the month's fixed part bends it on log axes


@dataclass(frozen=True)
class Line:
    level: str
    points: str  # SVG polyline points
    end_x: float
    end_y: float  # where its name goes: by its end, clear of the other names


@dataclass(frozen=True)
class Marker:
    x: float
    y: float
    text: str


@dataclass(frozen=True)
class ScaleChart:
    lines: list[Line]
    markers: list[Marker]
    x_ticks: list[tuple[float, str]]
    y_ticks: list[tuple[float, str]]
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right: int = WIDTH - RIGHT
    top: int = TOP
    bottom: int = HEIGHT - BOTTOM


def scale_chart(scale: CostAtScale, costs: CostEstimate) -> ScaleChart | None:
    """The chart over `scale`'s volumes; None when no level costs anything (nothing to draw
    on a logarithmic axis)."""
    low_q, high_q = scale.volumes[0], scale.volumes[-1]
    volumes = dense(low_q, high_q)
    months = costs.profile.amortise_months
    curves = {lv: [monthly_usd(c, q, months) for q in volumes] for lv, c in costs.levels.items()}
    positive = [v for values in curves.values() for v in values if v > 0]
    if not positive:
        return None
    low_usd = 10 ** math.floor(math.log10(min(positive)))
    high_usd = 10 ** math.ceil(math.log10(max(positive)))
    high_usd = max(high_usd, low_usd * 10)

    def px(q: float) -> float:
        return round(LEFT + (WIDTH - LEFT - RIGHT) * fraction(q, low_q, high_q), 1)

    def py(usd: float) -> float:
        return round(
            HEIGHT - BOTTOM - (HEIGHT - TOP - BOTTOM) * fraction(usd, low_usd, high_usd), 1
        )

    label_y = apart({lv: py(values[-1]) for lv, values in curves.items()})
    lines = [
        Line(
            lv,
            " ".join(f"{px(q)},{py(v)}" for q, v in zip(volumes, values, strict=True)),
            px(volumes[-1]),
            label_y[lv],
        )
        for lv, values in curves.items()
    ]
    markers = [
        Marker(px(even.queries_per_month), py(even.monthly_usd), break_even_text(even))
        for even in scale.break_evens
        if low_q <= even.queries_per_month <= high_q
    ]
    x_ticks = [(px(q), count_tick(q)) for q in scale.volumes]
    y_ticks = [(py(v), usd_tick(v)) for v in decades(low_usd, high_usd)]
    return ScaleChart(lines, markers, x_ticks, y_ticks)


def apart(ys: dict[str, float], gap: float = LABEL_GAP) -> dict[str, float]:
    """Label heights at least `gap` apart, each pushed down from the one above it."""
    placed: dict[str, float] = {}
    for level, y in sorted(ys.items(), key=lambda pair: pair[1]):
        placed[level] = max([y, *(p + gap for p in placed.values())])
    return placed


def dense(low: float, high: float) -> list[float]:
    """Volumes evenly spaced on a log axis from `low` to `high`."""
    steps = round(math.log10(high / low) * STEPS_PER_DECADE)
    return [low * (high / low) ** (i / steps) for i in range(steps + 1)]


def fraction(value: float, low: float, high: float) -> float:
    """Where `value` sits between `low` and `high` on a log axis (at or below 0: `low`)."""
    if value <= low:
        return 0.0
    return min(1.0, math.log10(value / low) / math.log10(high / low))


def decades(low: float, high: float) -> list[float]:
    """Powers of ten from `low` to `high`, every other one past eight of them."""
    powers = range(round(math.log10(low)), round(math.log10(high)) + 1)
    step = 2 if len(powers) > 8 else 1
    return [10.0**p for p in powers[::step]]


def count_tick(queries: float) -> str:
    for size, suffix in ((1e6, "M"), (1e3, "k")):
        if queries >= size:
            return f"{queries / size:g}{suffix}"
    return f"{queries:g}"


def usd_tick(usd: float) -> str:
    return f"${count_tick(usd)}" if usd >= 1 else f"${usd:g}"


def break_even_text(even: ScaleBreakEven) -> str:
    return (
        f"{even.cheaper_above} cheaper than {even.cheaper_below} above "
        f"{even.queries_per_month:,.0f} queries a month (${even.monthly_usd:,.2f} a month each)"
    )
