"""Creating, editing, cloning and deleting scenarios: the one service the API, the CLI and
the pages call. Each function does one unit of work: it flushes, the caller commits (the
rule in app/deps.py).

- **create**: 409 when the slug is taken. Makes version 1 of each level's prompt.
- **edit**: only the fields sent change; each level whose prompt changed gets a new version
  with the request's note (app/scenarios/versions.py). While a training or an eval run of
  the scenario is queued or running, an edit is refused (409): an eval run pins the versions
  it started with, but a training reads the scenario as it goes.
- **clone**: a new scenario with the source's prompts, schema and settings, and copies of its
  documents (with their chunks), datasets (with their examples) and eval sets. Not copied:
  adapters (a clone trains its own), comparisons, trainings and eval runs (its history).
- **delete**: needs the slug repeated as `confirm`; refused (409) while its work runs, as an
  edit. The database removes the scenario's rows (every table's `scenario_id` cascades);
  the adapters' directories under the adapters folder are returned, for the caller to remove
  with `remove_adapter_files` once it has committed (a failed commit leaves them on disk).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app import jobs
from app.db.models import (
    Adapter,
    Chunk,
    Comparison,
    Dataset,
    Document,
    EvalRun,
    EvalSet,
    Example,
    PromptVersion,
    Scenario,
    Training,
)
from app.db.queries import find_scenario
from app.errors import AppError
from app.scenarios.copying import copy_contents
from app.scenarios.requests import NULLABLE, ScenarioClone, ScenarioCreate, ScenarioUpdate
from app.scenarios.versions import latest_versions, record_versions

# What a clone takes over from its source besides its contents.
COPIED_SETTINGS = (
    "system_prompt",
    "few_shot_selection",
    "rag_instruction",
    "rag_template",
    *(name for name in NULLABLE if name != "few_shot_dataset_id"),  # a clone's own datasets
)

# A scenario's own fields as the API and `tritune scenario show --json` print them.
FIELDS = ("slug", "name", "description", *COPIED_SETTINGS, "few_shot_dataset_id", "created_at")


def scenario_fields(scenario: Scenario) -> dict[str, Any]:
    """The scenario's own fields (not what it holds) by name."""
    return {name: getattr(scenario, name) for name in FIELDS}


class SlugTaken(AppError):
    status = 409


class ScenarioBusy(AppError):
    status = 409


class BadScenario(AppError):
    """A value that only the database can check (a dataset of another scenario), or a delete
    without its confirmation; the message starts with the field's name."""

    status = 422


@dataclass
class Deletion:
    """What deleting a scenario removed: rows per kind, and the adapter directories that its
    caller removes after committing."""

    slug: str
    removed: dict[str, int]
    adapter_dirs: list[Path] = field(default_factory=list)


def create_scenario(session: Session, *, request: ScenarioCreate) -> Scenario:
    """Add a scenario (SlugTaken, BadScenario)."""
    values = request.values()
    if values["few_shot_dataset_id"] is not None:  # a new scenario has no datasets yet
        raise BadScenario(
            f"few_shot_dataset_id: dataset {values['few_shot_dataset_id']} is not one of "
            f"scenario {request.slug!r}'s datasets"
        )
    scenario = add_new(session, Scenario(**values))
    check_selection(scenario)
    record_versions(session, scenario, request.note or "created")
    return scenario


def add_new(session: Session, scenario: Scenario) -> Scenario:
    if find_scenario(session, scenario.slug) is not None:
        raise SlugTaken(f"slug: a scenario {scenario.slug!r} exists already")
    try:
        with session.begin_nested():  # another request may have taken it meanwhile
            session.add(scenario)
            session.flush()
    except IntegrityError:
        raise SlugTaken(f"slug: a scenario {scenario.slug!r} exists already") from None
    return scenario


def update_scenario(session: Session, *, scenario: Scenario, request: ScenarioUpdate) -> Scenario:
    """Change the fields the request sent (ScenarioBusy, BadScenario)."""
    check_idle(session, scenario, "edited")
    changes = request.given()
    dataset_id = changes.get("few_shot_dataset_id")
    if dataset_id is not None:
        check_own_dataset(session, scenario, dataset_id)
    for name, value in changes.items():
        setattr(scenario, name, value)
    check_selection(scenario)
    check_weights(scenario)
    session.flush()
    record_versions(session, scenario, request.note)
    return scenario


def check_selection(scenario: Scenario) -> None:
    """A `fixed` selection needs its list of example lines (BadScenario)."""
    if scenario.few_shot_selection == "fixed" and not scenario.few_shot_examples:
        raise BadScenario(
            "few_shot_examples: a fixed selection needs the example lines to show (1-based)"
        )


def check_weights(scenario: Scenario) -> None:
    """Hybrid search needs one side of its fusion to count (BadScenario)."""
    if scenario.rag_vector_weight == 0 and scenario.rag_keyword_weight == 0:
        raise BadScenario(
            "rag_keyword_weight: rag_vector_weight is 0 already; one side of the fusion must count"
        )


def check_own_dataset(session: Session, scenario: Scenario, dataset_id: int) -> None:
    dataset = session.get(Dataset, dataset_id)
    if dataset is None or dataset.scenario_id != scenario.id:
        raise BadScenario(
            f"few_shot_dataset_id: dataset {dataset_id} is not one of scenario "
            f"{scenario.slug!r}'s datasets"
        )


def active_work(session: Session, scenario: Scenario) -> list[str]:
    """The scenario's trainings and eval runs that are queued, or running in a live process
    (one left `running` by a stopped process is not work any more)."""
    trainings = select(Training).where(
        Training.scenario_id == scenario.id, Training.status.in_(jobs.ACTIVE)
    )
    runs = select(EvalRun).where(
        EvalRun.scenario_id == scenario.id, EvalRun.status.in_(jobs.ACTIVE)
    )
    active: list[Training | EvalRun] = [*session.scalars(trainings), *session.scalars(runs)]
    return [
        f"{'training' if isinstance(job, Training) else 'eval run'} {job.id} ({job.status})"
        for job in active
        if job.status == jobs.QUEUED or jobs.owner_alive(session, job.owner)
    ]


def check_idle(session: Session, scenario: Scenario, action: str) -> None:
    busy = active_work(session, scenario)
    if busy:
        raise ScenarioBusy(
            f"scenario {scenario.slug!r} cannot be {action} while its work runs: "
            f"{', '.join(busy)}; wait for it to finish or cancel it"
        )


def clone_scenario(session: Session, *, source: Scenario, request: ScenarioClone) -> Scenario:
    """A copy of `source` under a new slug (SlugTaken); see the module docstring for what
    is copied."""
    clone = Scenario(
        slug=request.slug,
        name=request.name or f"{source.name} (copy)",
        description=source.description if request.description is None else request.description,
        **{name: getattr(source, name) for name in COPIED_SETTINGS},
    )
    add_new(session, clone)
    copy_contents(session, source_id=source.id, target_id=clone.id)
    if source.few_shot_dataset_id is not None:
        clone.few_shot_dataset_id = same_dataset(session, source.few_shot_dataset_id, clone.id)
    if source.current_dataset_id is not None:
        clone.current_dataset_id = same_dataset(session, source.current_dataset_id, clone.id)
    if source.current_eval_set_id is not None:
        clone.current_eval_set_id = same_eval_set(session, source.current_eval_set_id, clone.id)
    versions = latest_versions(session, source.id)
    numbers = ", ".join(f"{level} v{version.number}" for level, version in versions.items())
    record_versions(session, clone, f"cloned from {source.slug} ({numbers})")
    return clone


def same_dataset(session: Session, dataset_id: int, scenario_id: int) -> int | None:
    """The id of scenario `scenario_id`'s copy of dataset `dataset_id` (same content)."""
    sha256 = select(Dataset.sha256).where(Dataset.id == dataset_id).scalar_subquery()
    return session.scalar(
        select(Dataset.id).where(Dataset.scenario_id == scenario_id, Dataset.sha256 == sha256)
    )


def same_eval_set(session: Session, eval_set_id: int, scenario_id: int) -> int | None:
    """The id of scenario `scenario_id`'s copy of eval set `eval_set_id` (same content)."""
    sha256 = select(EvalSet.sha256).where(EvalSet.id == eval_set_id).scalar_subquery()
    return session.scalar(
        select(EvalSet.id).where(EvalSet.scenario_id == scenario_id, EvalSet.sha256 == sha256)
    )


def delete_scenario(
    session: Session, *, scenario: Scenario, confirm: str | None, adapters_dir: Path
) -> Deletion:
    """Delete the scenario and everything it holds (BadScenario without `confirm` equal to
    its slug, ScenarioBusy). Its adapters' files stay until `remove_adapter_files`."""
    if confirm != scenario.slug:
        raise BadScenario(f"confirm: repeat the slug ({scenario.slug!r}) to delete the scenario")
    check_idle(session, scenario, "deleted")
    deletion = Deletion(
        slug=scenario.slug,
        removed=contents_counts(session, scenario.id),
        adapter_dirs=adapter_dirs(session, scenario, adapters_dir),
    )
    # its own references first, so that the cascades do not update the row being deleted
    scenario.active_adapter_id = scenario.few_shot_dataset_id = None
    scenario.current_dataset_id = scenario.current_eval_set_id = None
    session.flush()
    session.delete(scenario)
    session.flush()
    return deletion


def contents_counts(session: Session, scenario_id: int) -> dict[str, int]:
    """How many rows of each kind the scenario holds."""

    def count(model: Any, *joined: Any) -> int:  # mapped classes with `scenario_id` last
        statement = select(func.count()).select_from(model)
        for other in joined:
            statement = statement.join(other)
        owner = joined[-1] if joined else model
        return session.scalar(statement.where(owner.scenario_id == scenario_id)) or 0

    return {
        "documents": count(Document),
        "chunks": count(Chunk),
        "datasets": count(Dataset),
        "examples": count(Example, Dataset),
        "eval_sets": count(EvalSet),
        "adapters": count(Adapter),
        "trainings": count(Training),
        "eval_runs": count(EvalRun),
        "comparisons": count(Comparison),
        "prompt_versions": count(PromptVersion),
    }


def adapter_dirs(session: Session, scenario: Scenario, adapters_dir: Path) -> list[Path]:
    """The scenario's adapter directories that lie in the adapters folder (a path elsewhere
    was put there by hand, and is not TriTune's to remove)."""
    root = adapters_dir.resolve()
    paths = session.scalars(select(Adapter.path).where(Adapter.scenario_id == scenario.id))
    resolved = (Path(path).resolve() for path in paths)
    return [path for path in resolved if path != root and path.is_relative_to(root)]


def remove_adapter_files(deletion: Deletion) -> None:
    """Remove the deleted adapters' directories and their converted GGUF copies (cached
    beside each directory as `<name>.<checksum>.lora.gguf`)."""
    for path in deletion.adapter_dirs:
        shutil.rmtree(path, ignore_errors=True)
        for converted in path.parent.glob(f"{path.name}.*.lora.gguf"):
            converted.unlink(missing_ok=True)
