"""Drafting jobs, one kind of background job (app/jobs.py): chunks of the scenario's
documents through an engine, each answer stored as a `pending` draft with its chunk.

Which chunks: the documents on each kind's side of the leakage guard (app/drafts/split.py),
their chunks taken in turn (the first chunk of every document, then the second...), so that
a short run covers many documents. Which engine: `local`, the runtime's own (the packaged
model unless configured otherwise), or `teacher`, an OpenAI-compatible server named in the
request (`teacher_base_url`, `teacher_model`; it gets the settings' `openai_api_key` only
when it is the configured `openai_base_url`, so that a key is never sent to another host).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from itertools import zip_longest
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from app import jobs
from app.db.models import Chunk, Document, Draft, DraftRun, Scenario
from app.drafts.split import SIDE_OF_KIND, held_sources, split_documents
from app.drafts.writing import KINDS, drafting_request, read_draft
from app.engine.base import Engine
from app.errors import AppError

if TYPE_CHECKING:
    from app.runtime import Runtime

EngineChoice = Literal["local", "teacher"]


class DraftingNotPossible(AppError):
    status = 422


@dataclass
class DraftOptions:
    """What to draft: `count` drafts of each kind in `kinds`, eval items labelled `label`."""

    kinds: list[str]
    count: int = 5
    engine: EngineChoice = "local"
    teacher_base_url: str | None = None
    teacher_model: str | None = None
    eval_share: float = 0.5
    label: str = "knowledge"
    max_new_tokens: int = 160

    def check(self) -> DraftOptions:
        unknown = [kind for kind in self.kinds if kind not in KINDS]
        if unknown or not self.kinds:
            raise DraftingNotPossible(f"kinds: choose among {', '.join(KINDS)}")
        if self.engine == "teacher" and not (self.teacher_base_url and self.teacher_model):
            raise DraftingNotPossible(
                "engine teacher needs teacher_base_url and teacher_model (an OpenAI-compatible "
                "server and its model)"
            )
        return self


def submit_drafting(
    session: Session, runtime: Runtime, *, scenario: Scenario, options: DraftOptions
) -> DraftRun:
    """Check and queue a drafting job (the caller commits)."""
    options.check()
    chosen = choose_chunks(session, scenario, options)
    if not any(chosen.values()):
        raise DraftingNotPossible(f"scenario {scenario.slug!r} has no documents to draft from")
    job = DraftRun(
        scenario_id=scenario.id,
        status=jobs.QUEUED,
        options=asdict(options) | {"chunk_ids": chosen},
        engine=engine_label(runtime, options),
        done=0,
        total=sum(len(ids) for ids in chosen.values()),
        cancel_requested=False,
    )
    session.add(job)
    session.flush()
    return job


def choose_chunks(
    session: Session, scenario: Scenario, options: DraftOptions
) -> dict[str, list[int]]:
    """Per kind, the ids of the chunks to draft from: documents on the kind's side, their
    chunks in turn, at most `count`."""
    rows = session.execute(
        select(Chunk.id, Document.source)
        .join(Document, Chunk.document_id == Document.id)
        .where(Chunk.scenario_id == scenario.id)
        .order_by(Document.id, Chunk.position)
    ).all()
    by_document: dict[str, list[int]] = {}
    for chunk_id, source in rows:
        by_document.setdefault(source, []).append(chunk_id)
    on_eval, on_train = held_sources(session, scenario)
    sides = split_documents(
        list(by_document),
        eval_share=options.eval_share,
        eval_sources=on_eval,
        train_sources=on_train,
    )
    chosen = {}
    for kind in options.kinds:
        columns = [
            ids for source, ids in by_document.items() if sides[source] == SIDE_OF_KIND[kind]
        ]
        in_turn = [i for round_ in zip_longest(*columns) for i in round_ if i is not None]
        chosen[kind] = in_turn[: options.count]
    return chosen


def engine_label(runtime: Runtime, options: DraftOptions) -> str:
    if options.engine == "teacher":
        return f"teacher · {options.teacher_model} at {options.teacher_base_url}"
    return f"local · {runtime.settings.engine} · {runtime.settings.base_model.rsplit('/', 1)[-1]}"


def drafting_engine(runtime: Runtime, options: dict[str, Any]) -> tuple[Engine, bool]:
    """The engine that drafts, and whether the job must close it when done."""
    if options["engine"] != "teacher":
        return runtime.models()[1], False
    from app.engine.openai_api import OpenAIEngine

    settings = runtime.settings
    same_host = options["teacher_base_url"] == settings.openai_base_url
    key = (
        settings.openai_api_key.get_secret_value()
        if same_host and settings.openai_api_key
        else None
    )
    engine = OpenAIEngine(
        base_url=options["teacher_base_url"],
        model=options["teacher_model"],
        base_model=settings.base_model,
        api_key=key,
        timeout_s=settings.openai_timeout_s,
    )
    return engine, True


def run_drafting(runtime: Runtime, job_id: int) -> None:
    """Draft from each chosen chunk in turn, storing each draft as it comes."""
    with runtime.session() as session:
        job = session.get_one(DraftRun, job_id)
        engine, owned = drafting_engine(runtime, job.options)
        try:
            for kind, chunk_ids in job.options["chunk_ids"].items():
                for chunk_id in chunk_ids:
                    draft_one(session, engine, job, kind, chunk_id)
                    jobs.advance(session, job, job.done + 1, job.total)
        finally:
            if owned:
                engine.close()


def draft_one(session: Session, engine: Engine, job: DraftRun, kind: str, chunk_id: int) -> None:
    chunk = session.get(Chunk, chunk_id)
    if chunk is None:  # its document was deleted since the job was queued
        return
    request = drafting_request(
        job.scenario.name,
        chunk.heading,
        chunk.text,
        kind,
        job.options["max_new_tokens"],
        schema=engine.constrains_output,
    )
    output = engine.generate([request])[0].text
    text = read_draft(output)
    job.drafts.append(
        Draft(
            scenario_id=job.scenario_id,
            kind=kind,
            document_id=chunk.document_id,
            document=chunk.document.source,
            chunk_id=chunk.id,
            chunk_text=chunk.text,
            question=text.question,
            answer=text.answer,
            output=output,
            status="pending",
        )
    )


def get_draft_run(session: Session, run_id: int) -> DraftRun:
    return jobs.get_job(session, DRAFTING, run_id)


def cancel_draft_run(session: Session, run_id: int) -> DraftRun:
    return jobs.cancel(session, DRAFTING, run_id)


def start_drafting(
    session: Session, runtime: Runtime, *, scenario: Scenario, options: DraftOptions
) -> DraftRun:
    """Queue a job for the runtime's drafting worker (committed, then the worker is told)."""
    job = submit_drafting(session, runtime, scenario=scenario, options=options)
    session.commit()
    runtime.worker(DRAFTING).notify()
    return job


def draft_here(runtime: Runtime, slug: str, options: DraftOptions) -> int:
    """Add, claim and run a job in this thread (the CLI); returns its id."""
    from app.db.queries import get_scenario

    with runtime.session() as session:
        scenario = get_scenario(session, slug)
        job = submit_drafting(session, runtime, scenario=scenario, options=options)
        jobs.claim(session, DRAFTING, job.id)
        job_id = job.id
    jobs.run_job(runtime, DRAFTING, job_id)
    return job_id


DRAFTING = jobs.JobKind(name="drafting", row=DraftRun, run=run_drafting, needs_models=True)


def resume_drafting(runtime: Runtime) -> None:
    """Start this process's drafting worker when jobs wait or run (a server stopped with
    jobs queued, or with one running, which the worker marks interrupted); otherwise the
    first `start_drafting` starts it. Drafting with the `local` engine uses the engine of
    the process that claims the job, so a process starts claiming only once asked to."""
    try:
        with runtime.session() as session:
            waiting = jobs.active_jobs(session, DRAFTING)
    except OperationalError:  # the database is away: the worker waits for it and then looks
        waiting = True
    if waiting:
        runtime.worker(DRAFTING)
