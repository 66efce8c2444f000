"""Customisation levels behind one interface (`base.Level`), looked up by name."""

from app.levels import finetune, prompt, rag  # noqa: F401  (modules register themselves)
from app.levels.base import (
    REGISTRY,
    Level,
    LevelInputs,
    LevelPlan,
    LevelUnavailable,
    get_level,
    level_names,
)

__all__ = [
    "REGISTRY",
    "Level",
    "LevelInputs",
    "LevelPlan",
    "LevelUnavailable",
    "get_level",
    "level_names",
]
