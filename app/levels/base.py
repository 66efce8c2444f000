"""The level interface and its registry.

A level turns a query into one generation request for the engine, records what it used, and
declares how the report and the cost model weigh it. A new level is one module: a subclass
of `Level` decorated with `@register`, imported in `app/levels/__init__.py`. Nothing else
names the levels.

A new level must set:

- `name`: the `level` value in the API, the settings' `prices` and the pricing profiles;
- `description`: one line for the compare form and the CLI;
- `title`: how the report names it in a sentence ("the few-shot prompt");
- `rank`: its place simplest first (prompt 10, rag 20, finetune 30); the report prefers the
  simplest level that is good enough and lists levels in this order, and so does a
  comparison's default list of levels;
- `default_price`: its price per token when the settings' `prices` do not name it;

and implement:

- `plan(inputs) -> LevelPlan`: the chat messages, the adapter (or None for the base model),
  and the chunks or examples it put in the prompt. Raise `LevelUnavailable` when the scenario
  lacks what the level needs (no adapter, no documents).

It may override:

- `prompt_fields` (none): the scenario fields that make its prompt; a change of any of them
  makes a new prompt version (app/scenarios/versions.py), and `plan` reads them from
  `inputs.prompt(name)`, the version the comparison runs with, never from the scenario;

- `label` (default `name`): how pages and tables show it ("rag+finetune");
- `short_title` (default `title`): the name when the report mentions it again ("vs the prompt");
- `uses_query_embedding` (False): its preparation time includes embedding the query, and the
  query's embedding tokens are billed to it;
- `price_key` (default its name): the entry of a pricing profile (`levels.KEY` in
  data/pricing.toml) that prices it when the profile has none under its own name;
- `fixed_costs(profile, inputs) -> FixedCosts`: its one-off and monthly costs (none);
- `reason(stats, simpler_stats) -> str`: what the report adds to the quality gain when it
  chooses this level over a simpler one ("; the answers need the team's own documents");
- `wins_at_volume` (False): the report points out the daily volume above which this level,
  nearly as good as the chosen one, becomes the cheaper buy (short prompts after a one-off
  cost, as a fine-tuned model).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from sqlalchemy.orm import Session

from app.config import LevelPrice, Settings
from app.costs import FixedCosts, LevelRate, PricingProfile, ScenarioFixedInputs
from app.db.models import Adapter, PromptVersion, Scenario
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
    # the prompt version each level runs with (app/scenarios/versions.py `resolve_versions`)
    versions: dict[str, PromptVersion] = field(default_factory=dict)

    def prompt(self, level: str) -> dict[str, Any]:
        """The level's prompt fields in the version it runs with."""
        return self.versions[level].content


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
    title: ClassVar[str]
    rank: ClassVar[int]
    default_price: ClassVar[LevelPrice]
    short_title: ClassVar[str | None] = None
    label: ClassVar[str | None] = None
    uses_query_embedding: ClassVar[bool] = False
    price_key: ClassVar[str | None] = None
    wins_at_volume: ClassVar[bool] = False
    prompt_fields: ClassVar[tuple[str, ...]] = ()

    @abstractmethod
    def plan(self, inputs: LevelInputs) -> LevelPlan:
        """Build this level's request for `inputs.query`."""

    def fixed_costs(self, profile: PricingProfile, inputs: ScenarioFixedInputs) -> FixedCosts:
        """Costs that do not grow with queries (training, a corpus' embedding): none."""
        return FixedCosts()

    def rate(self, profile: PricingProfile) -> LevelRate:
        """How `profile` bills one query: its entry for this level, else for `price_key`."""
        return profile.levels.get(self.name) or profile.rate(self.price_key or self.name)

    def reason(self, stats: dict[str, Any], simpler_stats: dict[str, Any]) -> str:
        """Why the report chose this level over a simpler one, beyond the quality gain: a
        clause starting with "; ", from both levels' eval stats. Empty by default."""
        return ""

    def mention(self) -> str:
        """The report's name for the level when it has named it already."""
        return self.short_title or self.title


REQUIRED = ("name", "description", "title", "rank", "default_price")
REGISTRY: dict[str, Level] = {}


def register(cls: type[Level]) -> type[Level]:
    """Add a level to the registry. ValueError when it lacks a required attribute, or its
    name or rank is taken (the report's order needs distinct ranks)."""
    missing = [attr for attr in REQUIRED if not hasattr(cls, attr)]
    if missing:
        raise ValueError(f"level {cls.__qualname__} does not set {', '.join(missing)}")
    if cls.name in REGISTRY:
        taken = type(REGISTRY[cls.name])
        raise ValueError(f"level name {cls.name!r} is already registered by {taken.__qualname__}")
    same_rank = [lv.name for lv in REGISTRY.values() if lv.rank == cls.rank]
    if same_rank:
        raise ValueError(f"level {cls.name!r}: rank {cls.rank} is taken by {same_rank[0]!r}")
    REGISTRY[cls.name] = cls()
    ranked = sorted(REGISTRY.items(), key=lambda item: item[1].rank)
    REGISTRY.clear()
    REGISTRY.update(ranked)  # simplest first, whatever the import order
    return cls


def unregister(name: str) -> None:
    """Remove a level (tests that register a throwaway level)."""
    del REGISTRY[name]


def get_level(name: str) -> Level:
    return REGISTRY[name]


def level_label(name: str) -> str:
    """How pages show a level: its `label`, else its name (also for a level no longer
    registered, as an old result may name)."""
    level = REGISTRY.get(name)
    return (level.label if level else None) or name


def level_names() -> list[str]:
    """Every registered level, simplest first."""
    return list(REGISTRY)
