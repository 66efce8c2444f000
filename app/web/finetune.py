"""Fine-tuning in the browser: upload a dataset (with its report), start a training run,
watch it (a partial that polls itself while the job runs), and manage the adapters."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from sqlalchemy.orm import Session

from app.db.queries import (
    adapters_from_runs,
    dataset_split_counts,
    get_scenario,
    list_adapters,
    list_datasets,
)
from app.deps import RecordId, RuntimeDep, SessionDep
from app.evals.wins import ADAPTER_METRICS, adapter_wins
from app.finetune.adapters import delete_adapter, get_adapter, set_active_adapter
from app.finetune.config import ConfigError, TrainingConfig, config_from, parse_config
from app.finetune.estimate import measured_speed
from app.finetune.imports import AdapterRejected, import_adapter, staged_upload
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
from app.scenarios.current import choose_dataset, current_dataset
from app.web.loss_chart import LossChart, loss_chart
from app.web.render import go, render, templates
from app.web.training_form import config_fields, config_form, estimate_text, web_yaml

router = APIRouter(include_in_schema=False)
ConfigForm = Annotated[dict[str, Any], Depends(config_form)]


def finetune_context(session: Session, runtime: Runtime, slug: str, **extra: Any) -> dict[str, Any]:
    """The page: datasets (with their training examples), the config as a form and as YAML,
    the estimated time, the runs and the scenario's adapters."""
    scenario = get_scenario(session, slug)
    datasets = list_datasets(session, scenario_id=scenario.id)
    train_counts = {d.id: dataset_split_counts(session, d.id).get("train", 0) for d in datasets}
    config = extra.pop("config", None) or TrainingConfig()
    speed = measured_speed(session)
    current = current_dataset(session, scenario)
    first = min(train_counts[current.id], config.max_examples or 10**9) if current else 0
    base_model = runtime.settings.base_model
    return {
        "scenario": scenario,
        "datasets": datasets,
        "current_dataset_id": current.id if current else None,
        "train_counts": train_counts,
        "trainings": list_trainings(session, scenario_id=scenario.id, limit=20),
        "adapters": list_adapters(session, scenario_id=scenario.id),
        "from_runs": adapters_from_runs(session, scenario_id=scenario.id),
        "config_fields": config_fields(config, base_model),
        "config_yaml": extra.pop("config_yaml", None) or web_yaml(base_model),
        "speed": speed,
        "estimate": estimate_text(first, config.num_epochs, speed),
        **extra,
    }


@router.get("/scenarios/{slug}/finetune")
def finetune_page(request: Request, slug: str, session: SessionDep, runtime: RuntimeDep):
    context = finetune_context(session, runtime, slug)
    return render(request, "finetune.html", "finetune.html", context)


@router.post("/scenarios/{slug}/datasets", form_limits={"max_files": 2})
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


@router.post("/scenarios/{slug}/datasets/{dataset_id}/current")
def make_dataset_current(request: Request, slug: str, dataset_id: RecordId, session: SessionDep):
    """Make the dataset the scenario's current one (what trainings and the prompt level's
    default pool use), then show the fine-tuning page again."""
    choose_dataset(session, get_scenario(session, slug), dataset_id)
    session.commit()
    return go(request, f"/scenarios/{slug}/finetune")


@router.post("/scenarios/{slug}/trainings")
def start_training(
    request: Request,
    slug: str,
    session: SessionDep,
    runtime: RuntimeDep,
    fields: ConfigForm,
    config_yaml: Annotated[str, Form()] = "",
    source: Annotated[Literal["form", "yaml"] | None, Form()] = None,
    dataset_id: Annotated[int | None, Form()] = None,
    adapter_name: Annotated[str, Form()] = "",
    activate: Annotated[bool, Form()] = False,
):
    """Start a training from the config form's fields, or from the raw YAML (`source=yaml`,
    or no fields sent); a bad config comes back with its error and nothing is queued."""
    from_yaml = source == "yaml" or (source is None and not fields)
    try:
        config = parse_config(config_yaml) if from_yaml else config_from(fields)
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
        settings=runtime.settings,
        adapter_name=adapter_name.strip() or None,
        activate=activate,
    )
    session.commit()
    runtime.training_worker().notify()
    return go(request, f"/trainings/{job.id}")


@router.post("/scenarios/{slug}/adapters/import")
def import_adapter_form(
    request: Request,
    slug: str,
    session: SessionDep,
    runtime: RuntimeDep,
    files: Annotated[list[UploadFile], File()],
    name: Annotated[str, Form(max_length=128)],
    activate: Annotated[bool, Form()] = False,
):
    """Import a PEFT adapter; the adapter's page, or the reason it was refused (422)."""
    uploads = [(f.filename or "upload", f.file) for f in files]
    try:
        with staged_upload(uploads) as source:
            import_adapter(
                session,
                scenario=get_scenario(session, slug),
                name=name.strip(),
                source=source,
                base_model=runtime.settings.base_model,
                adapters_dir=runtime.settings.adapters_dir,
                activate=activate,
                origin=", ".join(u[0] for u in uploads),
            )
    except AdapterRejected as error:
        context = finetune_context(session, runtime, slug, import_error=error.message)
        return render(request, "finetune.html", "_partials/import_error.html", context, 422)
    session.commit()
    return go(request, f"/adapters/{name.strip()}")


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
        "loss": training_loss(job.loss_history, job.adapter.metrics if job.adapter else {}),
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
        "loss": training_loss(adapter.metrics.get("loss_history", []), adapter.metrics),
        "wins": adapter_wins(adapter.evaluation, metric=metric, direction=direction),
        "metrics": ADAPTER_METRICS,
    }
    return render(request, "adapter.html", "adapter.html", context)


def training_loss(losses: list[float], metrics: dict[str, Any]) -> LossChart:
    """The loss curve, with the held-out loss the training measured before and after."""
    return loss_chart(
        "Training loss",
        losses,
        eval_before=metrics.get("eval_loss_base"),
        eval_after=metrics.get("eval_loss"),
    )


@router.post("/adapters/{name}/activate")
def activate(request: Request, name: str, session: SessionDep, runtime: RuntimeDep):
    adapter = set_active_adapter(session, name)
    session.commit()
    runtime.push_adapter(adapter.name, adapter.path, adapter.checksum)
    return go(request, "/adapters")


@router.post("/adapters/{name}/delete")
def delete(request: Request, name: str, session: SessionDep):
    delete_adapter(session, name)
    session.commit()
    return go(request, "/adapters")
