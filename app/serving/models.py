"""The served models: `<scenario>/<level>` for every scenario and every registered level, and
`<scenario>/auto`, which routes each query to a level (app/serving/routing.py)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from app.db.models import Scenario
from app.db.queries import find_scenario, list_scenarios
from app.errors import NotFound
from app.levels import level_names
from app.serving.routing import AUTO


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


def served_levels() -> list[str]:
    """Every registered level, simplest first, then `auto`."""
    return [*level_names(), AUTO]


def served_models(session: Session) -> list[ServedModel]:
    """Every scenario's every served level, scenarios by slug."""
    levels = served_levels()
    return [ServedModel(s, level) for s in list_scenarios(session) for level in levels]


def find_model(session: Session, model: str) -> ServedModel:
    """The scenario and level `model` names; ModelNotFound (404) for anything else."""
    slug, _, level = model.partition("/")
    scenario = find_scenario(session, slug) if level in served_levels() else None
    if scenario is None:
        raise ModelNotFound(
            f"The model {model!r} does not exist: TriTune serves '<scenario>/<level>' "
            f"with a level among {', '.join(served_levels())}; GET /v1/models lists them"
        )
    return ServedModel(scenario, level)
