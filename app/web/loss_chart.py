"""A training's loss curve with axes (inline SVG): the loss at each step, and the held-out
(eval) loss before the first step and after the last where the training measured it. Pure
functions."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

LEFT, RIGHT, TOP, BOTTOM = 52, 16, 12, 36  # room for the tick labels and axis titles
Y_TICKS = 4


@dataclass(frozen=True)
class Tick:
    at: float  # pixels along its axis
    label: str


@dataclass(frozen=True)
class Marker:
    x: float
    y: float
    label: str


@dataclass(frozen=True)
class LossChart:
    title: str
    width: int
    height: int
    left: int
    top: int
    right: float  # the plot area's right and bottom edges
    bottom: float
    points: str  # SVG polyline points of the training loss, "x,y x,y ..."
    x_ticks: list[Tick]
    y_ticks: list[Tick]
    held_out: list[Marker]  # the eval loss before and after, where measured
    count: int
    low: float
    high: float

    @property
    def held_out_line(self) -> str:
        return " ".join(f"{m.x},{m.y}" for m in self.held_out)


def loss_chart(
    title: str,
    losses: list[float],
    *,
    eval_before: float | None = None,
    eval_after: float | None = None,
    width: int = 520,
    height: int = 220,
) -> LossChart:
    """Steps 1..n on x, loss on y (spanning the training and the held-out losses)."""
    held = [v for v in (eval_before, eval_after) if v is not None]
    values = [*losses, *held]
    low, high = (min(values), max(values)) if values else (0.0, 1.0)
    if high == low:
        low, high = low - 0.5, high + 0.5
    right, bottom = width - RIGHT, height - BOTTOM
    steps = max(len(losses), 1)

    def x(step: float) -> float:  # step 0: before training; step n: after the last
        return round(LEFT + step / steps * (right - LEFT), 2)

    def y(value: float) -> float:
        return round(TOP + (high - value) / (high - low) * (bottom - TOP), 2)

    return LossChart(
        title=title,
        width=width,
        height=height,
        left=LEFT,
        top=TOP,
        right=right,
        bottom=bottom,
        points=" ".join(f"{x(i + 1)},{y(v)}" for i, v in enumerate(losses)),
        x_ticks=[Tick(x(s), str(s)) for s in sorted({0, steps // 2, steps})],
        y_ticks=[
            Tick(y(v), f"{v:.3g}")
            for v in (low + (high - low) * i / (Y_TICKS - 1) for i in range(Y_TICKS))
        ],
        held_out=held_out_markers(eval_before, eval_after, x(0), x(steps), y),
        count=len(losses),
        low=min(values) if values else 0.0,
        high=max(values) if values else 0.0,
    )


def held_out_markers(
    before: float | None,
    after: float | None,
    start_x: float,
    end_x: float,
    y: Callable[[float], float],
) -> list[Marker]:
    markers = []
    if before is not None:
        markers.append(Marker(start_x, y(before), f"held-out loss before: {before:.3f}"))
    if after is not None:
        markers.append(Marker(end_x, y(after), f"held-out loss after: {after:.3f}"))
    return markers
