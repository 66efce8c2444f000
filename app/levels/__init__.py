"""Customisation levels behind one interface (`base.Level`), looked up by name."""

# The modules register themselves on import; this order (cheapest level first, as the
# levels are usually weighed) is the default order of a comparison's results.
# isort: off
from app.levels import prompt, rag, finetune  # noqa: F401

# isort: on
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
