"""Eval runs: every chosen item through every level the scenario can run, each through the
comparison service (so each item becomes a stored comparison), scored and summarised.

Eval runs are one kind of background job (app/jobs.py): the API and the web page queue a run
for the runtime's eval worker; the CLI claims its run at once and runs it in the foreground
with a progress bar. One eval is active at a time across every process (`EvalBusy`, 409,
otherwise). A cancelled run stops after its current item and keeps its scores; whatever
the end, the run stores the summary over the scores it has.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from itertools import zip_longest
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app import jobs
from app.compare import ComparisonOptions, plan_level, run_comparison
from app.compare.service import output_constraint
from app.config import Settings
from app.db.models import (
    Comparison,
    EvalItem,
    EvalRun,
    EvalScore,
    EvalSet,
    PromptVersion,
    Scenario,
)
from app.db.queries import get_scenario
from app.errors import AppError, Busy
from app.evals.scores import summary_rows
from app.evals.scoring import item_schema, score_result
from app.evals.summary import summarise
from app.levels import LevelInputs, level_names
from app.runtime import Runtime
from app.scenarios.current import current_eval_set as scenario_eval_set
from app.scenarios.versions import resolve_versions

REPEAT_TEMPERATURE = 0.7  # repeats of a greedy run would all be the same answer
Progress = Callable[[int, int], None]  # (comparisons done, total)


class EvalBusy(AppError):
    status = 409


class EvalNotPossible(AppError):
    status = 422


@dataclass
class EvalOptions:
    """What to run: levels (default all), `limit` items (of `kinds`, spread over them), each
    `repeats` times; generation settings as in a comparison."""

    levels: list[str] | None = None
    limit: int | None = None
    kinds: list[str] | None = None
    repeats: int = 1
    max_new_tokens: int | None = None
    temperature: float | None = None
    # level -> prompt version number; the run stores every level's (pinned, else the latest
    # when it was queued), so that edits made meanwhile do not change what it runs
    prompt_versions: dict[str, int] | None = None
    constrained: bool = False  # every level decodes under the scenario's output schema
    item_ids: list[int] = field(default_factory=list)
    worker: str = ""  # host:pid that created the run; shown in the API's `options` since v1

    def resolved(self) -> EvalOptions:
        if self.repeats > 1 and self.temperature == 0:
            raise EvalNotPossible("repeats > 1 need temperature > 0 (greedy answers never vary)")
        temperature = self.temperature
        if temperature is None:
            temperature = REPEAT_TEMPERATURE if self.repeats > 1 else 0.0
        return EvalOptions(
            levels=self.levels or level_names(),
            limit=self.limit,
            kinds=self.kinds,
            repeats=self.repeats,
            max_new_tokens=self.max_new_tokens,
            temperature=temperature,
            prompt_versions=self.prompt_versions,
            constrained=self.constrained,
        )


def current_eval_set(session: Session, scenario: Scenario) -> EvalSet:
    """The scenario's current eval set (app/scenarios/current.py); EvalNotPossible if none."""
    eval_set = scenario_eval_set(session, scenario)
    if eval_set is None:
        raise EvalNotPossible(f"scenario {scenario.slug!r} has no eval set; upload one first")
    return eval_set


def eval_item_count(session: Session, scenario: Scenario) -> int:
    try:
        eval_set = current_eval_set(session, scenario)
    except EvalNotPossible:
        return 0
    count = select(func.count(EvalItem.id)).where(EvalItem.eval_set == eval_set)
    return session.scalar(count) or 0


def choose_items(eval_set: EvalSet, options: EvalOptions) -> list[EvalItem]:
    """The items of the chosen kinds; with a `limit`, taken in turn from each kind (in file
    order within a kind), so that a short run still covers every kind."""
    items = [i for i in eval_set.items if not options.kinds or i.kind in options.kinds]
    if options.limit:
        items = sorted(take_in_turn(items)[: options.limit], key=lambda i: i.position)
    if not items:
        raise EvalNotPossible(f"no eval items of kind(s) {options.kinds} in the scenario's set")
    return items


def take_in_turn(items: list[EvalItem]) -> list[EvalItem]:
    """First item of each kind, then the second of each, and so on."""
    by_kind: dict[str, list[EvalItem]] = {}
    for item in items:
        by_kind.setdefault(item.kind, []).append(item)
    rounds = zip_longest(*by_kind.values())
    return [item for round_ in rounds for item in round_ if item is not None]


def probe_levels(
    session: Session,
    runtime: Runtime,
    scenario: Scenario,
    levels: list[str],
    query: str,
    versions: dict[str, PromptVersion],
) -> tuple[list[str], dict[str, str]]:
    """Which levels can run for this scenario, and why the others cannot: each level plans
    the first item's query (as a comparison would) and a `LevelUnavailable` skips it."""
    embedder, engine = runtime.models()
    inputs = LevelInputs(
        session=session,
        scenario=scenario,
        query=query,
        query_embedding=embedder.embed_one(query),
        settings=runtime.settings,
        engine=engine,
        top_k=runtime.settings.top_k,
        few_shot_k=runtime.settings.few_shot_k,
        versions=versions,
    )
    planned = [plan_level(name, inputs, 0.0) for name in levels]
    skipped = {p.level: p.error for p in planned if p.error}
    return [p.level for p in planned if not p.error], skipped


def add_eval_run(session: Session, runtime: Runtime, slug: str, options: EvalOptions) -> EvalRun:
    """Check and add a queued run, uncommitted (NotFound, NotReady, EvalNotPossible, EvalBusy):
    until the caller commits, no other process can add one."""
    scenario = get_scenario(session, slug)
    options = options.resolved()
    output_constraint(scenario, options.constrained)  # a constrained run needs a schema
    runtime.models()
    items = choose_items(current_eval_set(session, scenario), options)
    check_eval_size(len(items), options.repeats, runtime.settings)
    chosen = options.levels or level_names()
    versions = resolve_versions(session, scenario, options.prompt_versions)
    options.prompt_versions = {level: version.number for level, version in versions.items()}
    levels, skipped = probe_levels(session, runtime, scenario, chosen, items[0].input, versions)
    if not levels:
        reasons = "; ".join(f"{lv}: {why}" for lv, why in skipped.items())
        raise EvalNotPossible(f"no level can run for scenario {slug!r} ({reasons})")
    jobs.mark_interrupted(session, EVAL_RUNS)
    jobs.one_at_a_time(session, EVAL_RUNS)
    if jobs.active_jobs(session, EVAL_RUNS):
        raise EvalBusy("an eval is already running; wait for it to finish")
    options.item_ids = [item.id for item in items]
    options.worker = worker_id()
    run = EvalRun(
        scenario_id=scenario.id,
        eval_set_id=items[0].eval_set_id,
        status=jobs.QUEUED,
        options=asdict(options),
        levels=levels,
        skipped=skipped,
        total=len(items) * options.repeats,
        done=0,
    )
    session.add(run)
    session.flush()
    return run


def check_eval_size(items: int, repeats: int, settings: Settings) -> None:
    """EvalNotPossible (422) for a run larger than the settings allow."""
    if items > settings.max_eval_items:
        raise EvalNotPossible(
            f"the run would take {items} items; the limit is {settings.max_eval_items} "
            "(TRITUNE_MAX_EVAL_ITEMS): pass `limit` or `kinds` for fewer"
        )
    if repeats > settings.max_eval_repeats:
        raise EvalNotPossible(
            f"repeats: {repeats}; the limit is {settings.max_eval_repeats} "
            "(TRITUNE_MAX_EVAL_REPEATS)"
        )


def start_eval(session: Session, runtime: Runtime, slug: str, options: EvalOptions) -> EvalRun:
    """Queue a run for the runtime's eval worker (committed: the worker is told only once the
    run is there for it to claim)."""
    run = add_eval_run(session, runtime, slug, options)
    session.commit()
    runtime.eval_worker().notify()
    return run


def run_eval_here(
    runtime: Runtime, slug: str, options: EvalOptions, progress: Progress | None = None
) -> int:
    """Add, claim and execute a run in this thread (the CLI); returns its id."""
    with runtime.session() as session:
        run_id = add_eval_run(session, runtime, slug, options).id
        jobs.claim(session, EVAL_RUNS, run_id)  # in the same commit: no worker can take it
    jobs.run_job(runtime, EVAL_RUNS, run_id, progress=progress)
    return run_id


def cancel_eval_run(session: Session, run_id: int) -> EvalRun:
    """Cancel a queued run now, or ask a running one to stop after its current item."""
    return jobs.cancel(session, EVAL_RUNS, run_id)


def execute_eval_run(runtime: Runtime, run_id: int, progress: Progress | None = None) -> None:
    """Run every (repeat, item) as one comparison of the run's levels and store its scores;
    a whole pass over the items comes before the next repeat."""
    with runtime.session() as session:
        run = session.get_one(EvalRun, run_id)
        items = [session.get_one(EvalItem, item_id) for item_id in run.options["item_ids"]]
        for repeat in range(run.options["repeats"]):
            for item in items:
                run_item(session, runtime, run, item, repeat)
                jobs.advance(session, run, run.done + 1, run.total)
                if progress:
                    progress(run.done, run.total)


def run_item(session: Session, runtime: Runtime, run: EvalRun, item: EvalItem, repeat: int):
    options = ComparisonOptions(
        levels=run.levels,
        max_new_tokens=run.options["max_new_tokens"],
        temperature=run.options["temperature"],
        prompt_versions=run.options.get("prompt_versions"),  # None in runs before versions
        constrained=run.options.get("constrained", False),
    )
    comparison = compare_when_admitted(session, runtime, run.scenario.slug, item.input, options)
    session.commit()  # the reads end: embedding for the scores may wait for the cores
    schema = item_schema(item, run.scenario.output_schema)
    reference = item.reference or item.expected
    embedder = runtime.loaded_embedder()
    reference_vector = embedder.embed_one(reference) if reference else None
    for result in comparison.results:
        output_vector = (
            embedder.embed_one(result.output) if reference and not result.error else None
        )
        scores = score_result(
            item,
            result,
            schema=schema,
            k=int(comparison.settings.get("top_k") or runtime.settings.top_k),
            output_vector=output_vector,
            reference_vector=reference_vector,
        )
        # What the comparison service billed the level on (0 for a failed level).
        scores["seconds"] = result.machine_s or 0.0
        scores["embedding_tokens"] = float(result.embedding_tokens or 0)
        session.add(
            EvalScore(
                eval_run_id=run.id,
                eval_item_id=item.id,
                comparison_id=comparison.id,
                repeat=repeat,
                level=result.level,
                metrics=scores,
            )
        )


def compare_when_admitted(
    session: Session, runtime: Runtime, slug: str, query: str, options: ComparisonOptions
) -> Comparison:
    """A comparison; while interactive comparisons fill the queue (Busy), wait for a place
    instead of failing the eval."""
    while True:
        try:
            return run_comparison(
                session=session, runtime=runtime, scenario=slug, query=query, options=options
            )
        except Busy:
            time.sleep(2)


def keep_summary(session: Session, run: EvalRun) -> None:
    """What a run keeps whatever its end: the summary over the scores it stored."""
    run.summary = summarise(summary_rows(session, run.id), run.levels)


def get_eval_run(session: Session, run_id: int) -> EvalRun:
    return jobs.get_job(session, EVAL_RUNS, run_id)


def current_summary(session: Session, run: EvalRun) -> dict[str, Any]:
    """The stored summary, or (while running, or stored before summaries had paired tests)
    one over the scores so far; levels in the run's order (a JSONB column keeps keys sorted
    by length: rag, prompt, finetune)."""
    stored = run.summary if run.summary and "pairs" in run.summary else None
    summary = stored or summarise(summary_rows(session, run.id), run.levels)
    return {
        **summary,
        "levels": in_order(summary["levels"], run.levels),
        "kinds": {kind: in_order(group, run.levels) for kind, group in summary["kinds"].items()},
    }


def in_order(by_level: dict[str, Any], levels: list[str]) -> dict[str, Any]:
    return {level: by_level[level] for level in levels if level in by_level}


def worker_id() -> str:
    """Which process created an eval: host and process id."""
    return f"{socket.gethostname()}:{os.getpid()}"


EVAL_RUNS = jobs.JobKind(
    name="eval run",
    row=EvalRun,
    run=execute_eval_run,
    needs_models=True,
    on_end=keep_summary,
)
