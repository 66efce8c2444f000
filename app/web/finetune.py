"""Fine-tuning in the browser: upload a dataset (with its report), start a training run,
watch it (a partial that polls itself while the job runs), and manage the adapters."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from sqlalchemy.orm import Session

from app.db.queries import get_scenario, list_adapters, list_datasets
from app.deps import RecordId, RuntimeDep, SessionDep
from app.evals.wins import ADAPTER_METRICS, adapter_wins
from app.finetune.adapters import delete_adapter, get_adapter, set_active_adapter
from app.finetune.config import ConfigError, default_yaml, parse_config
from app.finetune.jobs import (
    active_trainings,
    cancel_training,
    get_training,
    list_trainings,
    submit_training,
    training_eta,
    training_progress,
    training_status,
)
from app.finetune.uploads import upload_from_request
from app.runtime import Runtime
from app.web.chart import line_chart
from app.web.render import go, render, templates

router = APIRouter(include_in_schema=False)


def finetune_context(session: Session, runtime: Runtime, slug: str, **extra: Any) -> dict[str, Any]:
    scenario = get_scenario(session, slug)
    datasets = list_datasets(session, scenario_id=scenario.id)
    trainings = list_trainings(session, scenario_id=scenario.id, limit=20)
    return {
        "scenario": scenario,
        "datasets": datasets,
        "trainings": trainings,
        "config_yaml": extra.pop("config_yaml", None) or default_yaml(runtime.settings.base_model),
        **extra,
    }


@router.get("/scenarios/{slug}/finetune")
def finetune_page(request: Request, slug: str, session: SessionDep, runtime: RuntimeDep):
    context = finetune_context(session, runtime, slug)
    return render(request, "finetune.html", "finetune.html", context)


@router.post("/scenarios/{slug}/datasets")
def upload(
    request: Request,
    slug: str,
    session: SessionDep,
    runtime: RuntimeDep,
    file: Annotated[UploadFile, File()],
    eval_file: Annotated[UploadFile | None, File()] = None,
    eval_fraction: Annotated[float, Form(ge=0, lt=1)] = 0.0,
    dry_run: Annotated[bool, Form()] = False,
):
    """The validation report; the dataset is stored when it has no errors."""
    dataset, report = upload_from_request(
        session,
        runtime,
        slug=slug,
        file=file,
        eval_file=eval_file,
        eval_fraction=eval_fraction,
        name=None,
        dry_run=dry_run,
    )
    session.commit()
    context = finetune_context(session, runtime, slug, report=report, dataset=dataset)
    status = 200 if report.ok else 422
    return render(request, "finetune.html", "_partials/dataset_report.html", context, status)


@router.post("/scenarios/{slug}/trainings")
def start_training(
    request: Request,
    slug: str,
    session: SessionDep,
    runtime: RuntimeDep,
    config_yaml: Annotated[str, Form()] = "",
    dataset_id: Annotated[int | None, Form()] = None,
    adapter_name: Annotated[str, Form()] = "",
    activate: Annotated[bool, Form()] = False,
):
    try:
        config = parse_config(config_yaml)
    except ConfigError as error:
        context = finetune_context(
            session, runtime, slug, config_error=str(error), config_yaml=config_yaml
        )
        return render(request, "finetune.html", "_partials/config_error.html", context, 422)
    job = submit_training(
        session,
        scenario=get_scenario(session, slug),
        dataset_id=dataset_id,
        config=config,
        base_model=runtime.settings.base_model,
        other_base_models=runtime.settings.training_base_models,
        adapter_name=adapter_name.strip() or None,
        activate=activate,
    )
    session.commit()
    runtime.training_worker().notify()
    return go(request, f"/trainings/{job.id}")


@router.get("/status/trainings")
def training_banner(request: Request, session: SessionDep):
    """The banner every page loads: the trainings queued or running, with their progress
    (it polls itself while there are any, and goes quiet when there are none)."""
    jobs = [(job, training_status(job)) for job in active_trainings(session)]
    return templates.TemplateResponse(request, "_partials/training_banner.html", {"jobs": jobs})


@router.get("/trainings/{training_id}")
def training_page(request: Request, training_id: RecordId, session: SessionDep):
    """The job's page; htmx polls the progress partial while the job is queued or running."""
    job = get_training(session, training_id)
    context = {
        "job": job,
        "progress": training_progress(job),
        "eta_s": training_eta(job),
        "loss": line_chart("Training loss", job.loss_history),
    }
    return render(request, "training.html", "_partials/training.html", context)


@router.post("/trainings/{training_id}/cancel")
def cancel(request: Request, training_id: RecordId, session: SessionDep):
    cancel_training(session, training_id)
    session.commit()
    return go(request, f"/trainings/{training_id}")


@router.get("/adapters")
def adapters_page(request: Request, session: SessionDep):
    context = {"adapters": list_adapters(session)}
    return render(request, "adapters.html", "adapters.html", context)


@router.get("/adapters/{name}")
def adapter_page(
    request: Request,
    name: str,
    session: SessionDep,
    metric: Annotated[str, Query(max_length=64)] = "field_match",
    direction: Literal["both", "a", "b"] = "both",
):
    """The adapter, its loss curve and its before/after report, with the held-out examples
    it won and lost against the base model on `metric`."""
    adapter = get_adapter(session, name)
    context = {
        "adapter": adapter,
        "loss": line_chart("Training loss", adapter.metrics.get("loss_history", [])),
        "wins": adapter_wins(adapter.evaluation, metric=metric, direction=direction),
        "metrics": ADAPTER_METRICS,
    }
    return render(request, "adapter.html", "adapter.html", context)


@router.post("/adapters/{name}/activate")
def activate(request: Request, name: str, session: SessionDep):
    set_active_adapter(session, name)
    session.commit()
    return go(request, "/adapters")


@router.post("/adapters/{name}/delete")
def delete(request: Request, name: str, session: SessionDep):
    delete_adapter(session, name)
    session.commit()
    return go(request, "/adapters")
