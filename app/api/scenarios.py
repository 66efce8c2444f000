"""`/api/v1/scenarios`: what each scenario holds, and creating, editing, cloning and deleting
one (app/scenarios/service.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy.orm import Session

from app.api.bodies import TEXT_BODIES
from app.api.schemas import (
    API_ERRORS,
    PromptDiff,
    PromptVersionPublic,
    ScenarioDeleted,
    ScenarioPublic,
)
from app.db.models import Scenario
from app.db.queries import get_scenario, list_scenarios, scenario_counts
from app.deps import RecordId, SessionDep, SettingsDep
from app.scenarios.requests import ScenarioClone, ScenarioCreate, ScenarioUpdate
from app.scenarios.service import (
    clone_scenario,
    create_scenario,
    delete_scenario,
    remove_adapter_files,
    scenario_fields,
    update_scenario,
)
from app.scenarios.versions import (
    diff_versions,
    get_version,
    latest_versions,
    list_versions,
    version_record,
)

router = APIRouter(
    prefix="/api/v1/scenarios", tags=["scenarios"], responses=API_ERRORS, dependencies=TEXT_BODIES
)


def public(session: Session, scenario: Scenario) -> ScenarioPublic:
    adapter = scenario.active_adapter
    latest = latest_versions(session, scenario.id)
    return ScenarioPublic(
        **scenario_fields(scenario),
        active_adapter=adapter.name if adapter else None,
        **scenario_counts(session, scenario.id),
        prompt_versions={level: version.number for level, version in latest.items()},
    )


@router.get("", response_model=list[ScenarioPublic])
def list_all(session: SessionDep):
    return [public(session, s) for s in list_scenarios(session)]


@router.post("", status_code=201, response_model=ScenarioPublic)
def create(body: ScenarioCreate, session: SessionDep):
    """Create a scenario (409 when the slug is taken, 422 naming a bad field). Then upload
    its documents, a dataset and an eval set under `/api/v1/scenarios/{slug}/...`."""
    scenario = create_scenario(session, request=body)
    session.commit()
    return public(session, scenario)


@router.get("/{slug}", response_model=ScenarioPublic)
def read(slug: str, session: SessionDep):
    return public(session, get_scenario(session, slug))


@router.patch("/{slug}", response_model=ScenarioPublic)
def edit(slug: str, body: ScenarioUpdate, session: SessionDep):
    """Change the fields sent (`null` resets a nullable one to its default). 409 while a
    training or eval run of the scenario is queued or running: its results must come from
    one version of the prompts."""
    scenario = update_scenario(session, scenario=get_scenario(session, slug), request=body)
    session.commit()
    return public(session, scenario)


@router.post("/{slug}/clone", status_code=201, response_model=ScenarioPublic)
def clone(slug: str, body: ScenarioClone, session: SessionDep):
    """Copy the scenario under a new slug: prompts, schema and settings, documents with their
    chunks, datasets with their examples, eval sets. Adapters, comparisons, trainings and
    eval runs are not copied."""
    scenario = clone_scenario(session, source=get_scenario(session, slug), request=body)
    session.commit()
    return public(session, scenario)


@router.delete("/{slug}", response_model=ScenarioDeleted)
def delete(
    slug: str,
    session: SessionDep,
    settings: SettingsDep,
    confirm: Annotated[str, Query(description="The scenario's slug again, to confirm.")],
):
    """Delete the scenario with its documents, chunks, datasets, eval sets, adapters (their
    files too), trainings, eval runs and comparisons. 422 unless `confirm` repeats the slug;
    409 while a training or eval run of it is queued or running."""
    deletion = delete_scenario(
        session,
        scenario=get_scenario(session, slug),
        confirm=confirm,
        adapters_dir=settings.adapters_dir,
    )
    session.commit()
    remove_adapter_files(deletion)
    return ScenarioDeleted(slug=deletion.slug, removed=deletion.removed)


@router.get("/{slug}/prompt-versions", response_model=list[PromptVersionPublic])
def versions(
    slug: str,
    session: SessionDep,
    level: Annotated[str | None, Query(description="Only this level's versions.")] = None,
):
    """Every version of each level's prompt, newest first. A change of a level's prompt
    fields (PATCH the scenario, with a `note`) makes a new version; results name theirs."""
    scenario = get_scenario(session, slug)
    return [version_record(v) for v in list_versions(session, scenario.id, level)]


@router.get("/{slug}/prompt-versions/{level}/{number}", response_model=PromptVersionPublic)
def version(slug: str, level: str, number: RecordId, session: SessionDep):
    return version_record(get_version(session, get_scenario(session, slug), level, number))


@router.get("/{slug}/prompt-versions/{level}/{old}/diff/{new}", response_model=PromptDiff)
def diff(slug: str, level: str, old: RecordId, new: RecordId, session: SessionDep):
    """What changed between two versions of a level's prompt, field by field."""
    scenario = get_scenario(session, slug)
    before, after = (get_version(session, scenario, level, n) for n in (old, new))
    return PromptDiff(level=level, old=old, new=new, changes=diff_versions(before, after))
