"""The level interface and its registry.

A level turns a query into one generation request for the engine and records what it used.
A new level implements:

- `name` (the `level` value in the API) and `description`;
- `uses_query_embedding`: whether its preparation time includes embedding the query;
- `plan(inputs) -> LevelPlan`: the chat messages, the adapter (or None for the base model),
  and the chunks or examples it put in the prompt. Raise `LevelUnavailable` when the scenario
  lacks what the level needs (no adapter, no documents).

then registers itself with `@register` and is imported in `app/levels/__init__.py`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from sqlalchemy.orm import Session

from app.config import Settings
from app.db.models import Adapter, Scenario
from app.engine.base import Engine


class LevelUnavailable(Exception):
    """The scenario lacks what this level needs; the message says what and how to fix it."""


@dataclass
class LevelInputs:
    session: Session
    scenario: Scenario
    query: str
    query_embedding: np.ndarray
    settings: Settings
    engine: Engine
    top_k: int
    few_shot_k: int
    adapter: str | None = None


@dataclass
class LevelPlan:
    messages: list[dict[str, str]]
    adapter: Adapter | None = None
    context: list[dict[str, Any]] = field(default_factory=list)
    examples: list[dict[str, Any]] = field(default_factory=list)
    provenance: dict[str, Any] = field(default_factory=dict)


class Level(ABC):
    name: ClassVar[str]
    description: ClassVar[str]
    uses_query_embedding: ClassVar[bool] = False

    @abstractmethod
    def plan(self, inputs: LevelInputs) -> LevelPlan:
        """Build this level's request for `inputs.query`."""


REGISTRY: dict[str, Level] = {}


def register(cls: type[Level]) -> type[Level]:
    REGISTRY[cls.name] = cls()
    return cls


def get_level(name: str) -> Level:
    return REGISTRY[name]


def level_names() -> list[str]:
    return list(REGISTRY)
