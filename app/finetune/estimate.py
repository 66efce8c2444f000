"""How long a training should take: its examples × epochs at the speed (examples/s) that
the newest adapter trained on this installation measured. No measurement, no estimate."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db.models import Adapter


@dataclass(frozen=True)
class Speed:
    examples_per_s: float
    measured_by: str  # the adapter whose training measured it


def measured_speed(session: Session) -> Speed | None:
    """The training speed the newest adapter recorded (None before any did)."""
    for adapter in session.scalars(select(Adapter).order_by(Adapter.created_at.desc()).limit(20)):
        rate = (adapter.metrics or {}).get("examples_per_s")
        if isinstance(rate, int | float) and rate > 0:
            return Speed(float(rate), adapter.name)
    return None


def training_seconds(examples: int, epochs: int, speed: Speed | None) -> float | None:
    """Seconds to train `examples` for `epochs` at `speed` (None without a measurement)."""
    if speed is None or examples <= 0:
        return None
    return examples * epochs / speed.examples_per_s
