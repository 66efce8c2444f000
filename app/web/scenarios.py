"""Scenario pages: the list, one scenario (its prompts per level and what it holds), and
creating, editing, cloning and deleting one. Every change goes through
app/scenarios/service.py with the API's request models; a bad form comes back with each
field's error next to it and what was typed kept."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from app.config import Settings
from app.db.models import MAX_ID, Scenario
from app.db.queries import get_scenario, list_adapters, list_scenarios, scenario_counts
from app.deps import SessionDep, SettingsDep
from app.errors import AppError
from app.evals.runner import eval_item_count
from app.scenarios.prompts import (
    RAG_INSTRUCTION_PLACEHOLDERS,
    RAG_TEMPLATE_PLACEHOLDERS,
    RAG_TEMPLATE_REQUIRED,
)
from app.scenarios.requests import ScenarioClone, ScenarioCreate, ScenarioUpdate
from app.scenarios.service import (
    active_work,
    clone_scenario,
    contents_counts,
    create_scenario,
    delete_scenario,
    remove_adapter_files,
    update_scenario,
)
from app.scenarios.versions import diff_versions, get_version, versions_by_level
from app.web.current import forget, remember
from app.web.forms import field_errors
from app.web.render import go, render
from app.web.scenario_forms import (
    ScenarioForm,
    edit_form,
    new_form,
    parsed_request,
    submitted_form,
)

router = APIRouter(include_in_schema=False)


@router.get("/scenarios")
def scenarios_page(request: Request, session: SessionDep, deleted: str | None = None):
    """Every scenario with what it holds; `deleted` names the one just deleted."""
    rows = [(s, scenario_counts(session, s.id)) for s in list_scenarios(session)]
    context = {"rows": rows, "deleted": deleted}
    return render(request, "scenarios.html", "scenarios.html", context)


def form_context(form: ScenarioForm, settings: Settings, **extra: Any) -> dict[str, Any]:
    """What the scenario form shows: the values, errors, defaults and placeholder help."""
    return {
        "form": form,
        "defaults": settings,
        "instruction_placeholders": RAG_INSTRUCTION_PLACEHOLDERS,
        "template_placeholders": RAG_TEMPLATE_PLACEHOLDERS,
        "template_required": RAG_TEMPLATE_REQUIRED,
        **extra,
    }


def form_page(request: Request, context: dict[str, Any], status: int = 200) -> Response:
    return render(request, "scenario_form.html", "_partials/scenario_form.html", context, status)


@router.get("/scenarios/new")
def new_page(request: Request, settings: SettingsDep):
    return form_page(request, form_context(new_form(), settings, scenario=None))


@router.post("/scenarios/new")
async def create(request: Request, session: SessionDep, settings: SettingsDep):
    """Create the scenario and go to its page; a bad form comes back (422, 409 for a taken
    slug) with nothing stored."""
    form = await submitted_form(request)
    context = form_context(form, settings, scenario=None)
    body = parsed_request(form, ScenarioCreate)
    if body is None:
        return form_page(request, context, 422)
    try:
        scenario = create_scenario(session, request=body)
    except AppError as error:
        form.add_error(error)
        return form_page(request, context, error.status)
    session.commit()
    return remember(go(request, f"/scenarios/{scenario.slug}"), scenario.slug)


@router.get("/scenarios/{slug}")
def scenario_page(request: Request, slug: str, session: SessionDep, settings: SettingsDep):
    scenario = get_scenario(session, slug)
    context = scenario_context(session, settings, scenario)
    page = render(request, "scenario.html", "_partials/scenario.html", context)
    return remember(page, scenario.slug)


def scenario_context(
    session: Session, settings: Settings, scenario: Scenario, **extra: Any
) -> dict[str, Any]:
    return {
        "scenario": scenario,
        "defaults": settings,
        # as text, autoescaped like the prompts (`tojson` would show `<` as `\u003c`)
        "schema_text": schema_text(scenario),
        "counts": scenario_counts(session, scenario.id),
        "adapters": list_adapters(session, scenario_id=scenario.id),
        "eval_items": eval_item_count(session, scenario),
        "clone": ScenarioForm({"slug": "", "name": ""}),
        "versions": versions_by_level(session, scenario.id),
        **extra,
    }


def schema_text(scenario: Scenario) -> str | None:
    schema = scenario.output_schema
    return None if schema is None else json.dumps(schema, indent=2, ensure_ascii=False)


@router.get("/scenarios/{slug}/prompts/{level}/diff")
def diff_page(
    request: Request,
    slug: str,
    level: str,
    session: SessionDep,
    old: Annotated[int, Query(ge=1, le=MAX_ID)],
    new: Annotated[int, Query(ge=1, le=MAX_ID)],
):
    """What changed between two versions of a level's prompt, field by field."""
    scenario = get_scenario(session, slug)
    before, after = (get_version(session, scenario, level, n) for n in (old, new))
    context = {
        "scenario": scenario,
        "level": level,
        "old": before,
        "new": after,
        "changes": diff_versions(before, after),
        "versions": versions_by_level(session, scenario.id).get(level, []),
    }
    return render(request, "prompt_diff.html", "prompt_diff.html", context)


@router.get("/scenarios/{slug}/edit")
def edit_page(request: Request, slug: str, session: SessionDep, settings: SettingsDep):
    scenario = get_scenario(session, slug)
    context = form_context(
        edit_form(scenario), settings, scenario=scenario, busy=active_work(session, scenario)
    )
    return form_page(request, context)


@router.post("/scenarios/{slug}/edit")
async def edit(request: Request, slug: str, session: SessionDep, settings: SettingsDep):
    """Change the scenario as the form says (blank: the default); 409 while its training or
    eval run is active, 422 for a bad field, with nothing changed."""
    scenario = get_scenario(session, slug)
    form = await submitted_form(request)
    form.values["slug"] = scenario.slug  # the slug is not edited
    context = form_context(form, settings, scenario=scenario, busy=[])
    body = parsed_request(form, ScenarioUpdate)
    if body is None:
        return form_page(request, context, 422)
    try:
        update_scenario(session, scenario=scenario, request=body)
    except AppError as error:
        session.rollback()
        form.add_error(error)
        return form_page(request, context, error.status)
    session.commit()
    return go(request, f"/scenarios/{scenario.slug}")


@router.post("/scenarios/{slug}/clone")
def clone(
    request: Request,
    slug: str,
    session: SessionDep,
    settings: SettingsDep,
    new_slug: Annotated[str, Form(alias="slug")] = "",
    name: Annotated[str, Form()] = "",
):
    """Copy the scenario under the new slug (and name: blank is the source's, "(copy)")."""
    source = get_scenario(session, slug)
    form = ScenarioForm({"slug": new_slug, "name": name})
    status = 422
    try:
        body = ScenarioClone(slug=new_slug.strip(), name=name.strip() or None)
        copy = clone_scenario(session, source=source, request=body)
    except ValidationError as error:
        form.errors = field_errors(error)
    except AppError as error:
        session.rollback()
        form.add_error(error)
        status = error.status
    else:
        session.commit()
        return remember(go(request, f"/scenarios/{copy.slug}"), copy.slug)
    context = scenario_context(session, settings, source, clone=form)
    return render(request, "scenario.html", "_partials/scenario.html", context, status)


def deletion_context(session: Session, scenario: Scenario, **extra: Any) -> dict[str, Any]:
    return {
        "scenario": scenario,
        "removes": contents_counts(session, scenario.id),
        "busy": active_work(session, scenario),
        "typed": "",
        "error": None,
        **extra,
    }


@router.get("/scenarios/{slug}/delete")
def delete_page(request: Request, slug: str, session: SessionDep):
    """What deleting the scenario removes, and a box where the user types its slug."""
    context = deletion_context(session, get_scenario(session, slug))
    return render(request, "scenario_delete.html", "scenario_delete.html", context)


@router.post("/scenarios/{slug}/delete")
def delete(
    request: Request,
    slug: str,
    session: SessionDep,
    settings: SettingsDep,
    confirm: Annotated[str, Form()] = "",
):
    """Delete the scenario and all it holds when `confirm` repeats its slug; otherwise
    nothing is deleted and the page says so."""
    scenario = get_scenario(session, slug)
    try:
        deletion = delete_scenario(
            session, scenario=scenario, confirm=confirm, adapters_dir=settings.adapters_dir
        )
    except AppError as error:
        session.rollback()
        message = error.message.removeprefix("confirm: ")
        context = deletion_context(session, scenario, typed=confirm, error=message)
        return render(
            request, "scenario_delete.html", "scenario_delete.html", context, error.status
        )
    session.commit()
    remove_adapter_files(deletion)
    return forget(request, go(request, f"/scenarios?deleted={deletion.slug}"), deletion.slug)
