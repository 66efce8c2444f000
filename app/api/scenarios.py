"""`/api/v1/scenarios`: what each scenario holds."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy.orm import Session

from app.api.schemas import ScenarioPublic
from app.db.models import Scenario
from app.db.queries import get_scenario, list_scenarios, scenario_counts
from app.deps import SessionDep

router = APIRouter(prefix="/api/v1/scenarios", tags=["scenarios"])


def public(session: Session, scenario: Scenario) -> ScenarioPublic:
    adapter = scenario.active_adapter
    return ScenarioPublic(
        slug=scenario.slug,
        name=scenario.name,
        description=scenario.description,
        system_prompt=scenario.system_prompt,
        active_adapter=adapter.name if adapter else None,
        **scenario_counts(session, scenario.id),
    )


@router.get("", response_model=list[ScenarioPublic])
def list_all(session: SessionDep):
    return [public(session, s) for s in list_scenarios(session)]


@router.get("/{slug}", response_model=ScenarioPublic)
def read(slug: str, session: SessionDep):
    return public(session, get_scenario(session, slug))
