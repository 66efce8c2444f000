"""The served models: `<scenario>/<level>` for every scenario and every registered level."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from app.db.models import Scenario
from app.db.queries import find_scenario, list_scenarios
from app.errors import NotFound
from app.levels import level_names


class ModelNotFound(NotFound):
    code = "model_not_found"
    param = "model"


@dataclass(frozen=True)
class ServedModel:
    scenario: Scenario
    level: str

    @property
    def id(self) -> str:
        return f"{self.scenario.slug}/{self.level}"

    def describe(self) -> dict[str, object]:
        """The model as `GET /v1/models` lists it."""
        created = self.scenario.created_at
        return {
            "id": self.id,
            "object": "model",
            "created": int(created.timestamp()) if created else 0,
            "owned_by": "tritune",
        }


def served_models(session: Session) -> list[ServedModel]:
    """Every scenario's every level, scenarios by slug, levels simplest first."""
    levels = level_names()
    return [ServedModel(s, level) for s in list_scenarios(session) for level in levels]


def find_model(session: Session, model: str) -> ServedModel:
    """The scenario and level `model` names; ModelNotFound (404) for anything else."""
    slug, _, level = model.partition("/")
    scenario = find_scenario(session, slug) if level in level_names() else None
    if scenario is None:
        raise ModelNotFound(
            f"The model {model!r} does not exist: TriTune serves '<scenario>/<level>' "
            f"with a level among {', '.join(level_names())}; GET /v1/models lists them"
        )
    return ServedModel(scenario, level)
