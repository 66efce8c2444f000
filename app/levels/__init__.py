"""Customisation levels behind one interface (`base.Level`), looked up by name.

Each module registers its level on import; one import line here adds a level everywhere.
"""

from app.levels import finetune, prompt, rag, rag_finetune  # noqa: F401
from app.levels.base import (
    REGISTRY,
    Level,
    LevelInputs,
    LevelPlan,
    LevelUnavailable,
    get_level,
    level_label,
    level_names,
    register,
    unregister,
)

__all__ = [
    "REGISTRY",
    "Level",
    "LevelInputs",
    "LevelPlan",
    "LevelUnavailable",
    "get_level",
    "level_label",
    "level_names",
    "register",
    "unregister",
]
