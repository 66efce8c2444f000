"""The comparison service: the one place that runs a query through the levels.

Embeds the query once, lets each level build its request (timing its retrieval or example
selection), sends every request to the engine in one batch, prices each result, and stores
the comparison with one result row per level. A level that fails stores its error; the
others still return.

While it runs it can report each level's stage (`on_stage`: queued levels hear nothing until
the engine starts them, then `prefill`, the tokens, `done`; `failed` for a level that could
not be prepared, `cancelled` for one skipped) and be cancelled (`cancel`): levels the engine
has not started yet are skipped and stored as cancelled, a level already generating finishes.

Each result stores what it is billed on (tokens, `machine_s`, `embedding_tokens`), computed
here once; the eval runner and its cost model read them rather than work them out again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from sqlalchemy.orm import Session

from app.config import Settings
from app.costs import query_cost
from app.db.models import Comparison, PromptVersion, Result, Scenario
from app.db.queries import get_comparison, get_scenario
from app.engine import Engine, GenerationRequest, GenerationResult
from app.engine.base import StageCallback, TokenCallback
from app.errors import AppError
from app.levels import LevelInputs, LevelPlan, LevelUnavailable, get_level, level_names
from app.metrics import record_comparison
from app.runtime import Runtime
from app.scenarios.versions import resolve_versions
from app.tracing import span

log = logging.getLogger(__name__)


class NoOutputSchema(AppError):
    status = 422


TokenSink = Callable[[str, str], None]  # (level, text delta)
StageSink = Callable[[str, str], None]  # (level, stage): app.engine.base's stages, or FAILED
FAILED = "failed"  # the level could not be prepared (its error is stored)
CANCELLED = "cancelled before the engine started it"  # the error a skipped level stores
Messages = list[dict[str, str]]


@dataclass
class ComparisonOptions:
    """What to run; `None` means the setting's default (all registered levels for `levels`)."""

    levels: list[str] | None = None
    max_new_tokens: int | None = None
    temperature: float | None = None
    top_k: int | None = None
    few_shot_k: int | None = None
    adapter: str | None = None
    prompt_versions: dict[str, int] | None = None  # level -> version number (None: latest)
    constrained: bool = False  # every level decodes under the scenario's output schema
    # level -> the chat messages to send instead of those the level builds: a prompt edited
    # for one run (the scenario's prompt is unchanged; the result records them)
    edited_messages: dict[str, Messages] | None = None

    @classmethod
    def from_stored(cls, settings: dict[str, Any]) -> ComparisonOptions:
        """The options a stored comparison ran with (unknown keys from older rows ignored)."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in settings.items() if k in names})

    def resolved(
        self,
        settings: Settings,
        scenario: Scenario | None = None,
        versions: dict[str, PromptVersion] | None = None,
    ) -> RunOptions:
        """Every default filled in: the scenario's default generation settings where it sets
        them, few-shot k as the prompt version sets it (a fixed list: its length), top_k as
        the rag version sets it, else `settings`."""

        def first(*values: Any) -> Any:
            return next(v for v in values if v is not None)

        own = scenario or Scenario()  # a scenario that sets nothing
        versions = versions or {}
        prompt = versions["prompt"].content if "prompt" in versions else {}
        rag = versions["rag"].content if "rag" in versions else {}
        fixed = (
            prompt.get("few_shot_examples") if prompt.get("few_shot_selection") == "fixed" else None
        )
        return RunOptions(
            levels=self.levels or level_names(),
            max_new_tokens=self.max_new_tokens or own.max_new_tokens or settings.max_new_tokens,
            temperature=first(self.temperature, own.temperature, settings.temperature),
            top_k=first(self.top_k, rag.get("rag_top_k"), settings.top_k),
            few_shot_k=first(
                self.few_shot_k,
                prompt.get("few_shot_k"),
                len(fixed) if fixed else None,
                settings.few_shot_k,
            ),
            adapter=self.adapter,
            prompt_versions={level: version.number for level, version in versions.items()},
            constrained=self.constrained,
            edited_messages=self.edited_messages or {},
        )


@dataclass(frozen=True)
class RunOptions:
    """What a comparison runs with, every default resolved (stored with the comparison)."""

    levels: list[str]
    max_new_tokens: int
    temperature: float
    top_k: int
    few_shot_k: int
    adapter: str | None
    prompt_versions: dict[str, int] = field(default_factory=dict)
    constrained: bool = False
    edited_messages: dict[str, Messages] = field(default_factory=dict)

    def stored(self) -> dict[str, Any]:
        """The settings stored with the comparison (`edited_messages` only when there are)."""
        settings = asdict(self)
        if not self.edited_messages:
            del settings["edited_messages"]
        return settings


@dataclass
class Planned:
    level: str
    plan: LevelPlan | None = None
    prepare_s: float = 0.0
    error: str | None = None
    version: PromptVersion | None = None  # the level's prompt version


def run_comparison(
    *,
    session: Session,
    runtime: Runtime,
    scenario: str,
    query: str,
    options: ComparisonOptions,
    on_token: TokenSink | None = None,
    on_stage: StageSink | None = None,
    cancel: threading.Event | None = None,
    labels: dict[str, str] | None = None,
) -> Comparison:
    """Run `query` through the levels of `scenario`, store and return the comparison.
    `labels` are stored in its settings beside the options it ran with (say who asked:
    the OpenAI-compatible endpoint marks its calls `served`).
    Raises NotFound (unknown scenario), NotReady (models loading), Busy (queue full).
    `on_stage` and `cancel`: see the module docstring."""
    embedder, engine = runtime.models()
    record = get_scenario(session, scenario)
    schema = output_constraint(record, options.constrained)
    versions = resolve_versions(session, record, options.prompt_versions)
    run = options.resolved(runtime.settings, record, versions)
    # no transaction stays open ("idle in transaction") while this waits: the embedding
    # model waits for the cores while other comparisons generate
    session.commit()
    with runtime.admission():
        started = time.perf_counter()
        embedding = embedder.embed_one(query)
        embed_s = time.perf_counter() - started
        inputs = LevelInputs(
            session=session,
            scenario=record,
            query=query,
            query_embedding=embedding,
            settings=runtime.settings,
            engine=engine,
            top_k=run.top_k,
            few_shot_k=run.few_shot_k,
            adapter=run.adapter,
            versions=versions,
        )
        planned = [plan_level(name, inputs, embed_s) for name in run.levels]
        # nor while an adapter loads (it waits for the engine) and the engine generates;
        # `store` is a short transaction of its own
        session.commit()
        load_adapters(engine, planned)
        use_edited_messages(planned, run.edited_messages)
        report_failed(planned, on_stage)
        runnable = [p for p in planned if p.plan is not None]
        sinks = LevelSinks(on_token, on_stage, cancel)
        deadline = time.monotonic() + runtime.settings.generation_timeout_s
        requests = generation_requests(runnable, run, sinks, schema, deadline)
        outputs = generate_each_level(engine, requests)
    generated = dict(zip((p.level for p in runnable), outputs, strict=True))
    with span("tritune.store"):
        comparison = store(
            session,
            record,
            query,
            run,
            planned,
            generated,
            runtime,
            query_tokens=embedder.count_tokens(query),
            labels=labels or {},
        )
    return get_comparison(session, comparison.id)


def plan_level(name: str, inputs: LevelInputs, embed_s: float) -> Planned:
    """Let one level build its request. Its database work runs in a savepoint, so a level
    whose SQL fails is rolled back alone and the comparison goes on."""
    level = get_level(name)
    version = inputs.versions.get(name)
    started = time.perf_counter()
    try:
        with span("tritune.retrieval", level=name), inputs.session.begin_nested():
            plan = level.plan(inputs)
    except LevelUnavailable as error:
        return Planned(name, error=str(error), version=version)
    except Exception as error:
        log.exception("level %s failed to prepare", name)
        return Planned(name, error=f"{type(error).__name__}: {error}", version=version)
    prepare_s = time.perf_counter() - started + (embed_s if level.uses_query_embedding else 0)
    return Planned(name, plan=plan, prepare_s=prepare_s, version=version)


def load_adapters(engine: Engine, planned: list[Planned]) -> None:
    """Make each plan's adapter usable by the engine (once per checksum; not counted as the
    level's latency, since a server loads an adapter once and keeps it)."""
    for p in planned:
        adapter = p.plan.adapter if p.plan else None
        if adapter is None:
            continue
        try:
            engine.load_adapter(adapter.name, adapter.path, adapter.checksum)
        except Exception as error:
            log.exception("loading adapter %s failed", adapter.name)
            p.plan, p.error = None, f"loading adapter {adapter.name!r} failed: {error}"


def output_constraint(scenario: Scenario, constrained: bool) -> dict[str, Any] | None:
    """The JSON schema a constrained comparison decodes under (NoOutputSchema when the
    scenario has none); None for free text."""
    if not constrained:
        return None
    if scenario.output_schema is None:
        raise NoOutputSchema(
            f"constrained: scenario {scenario.slug!r} has no output JSON schema to decode "
            "under; set one on its page or with PATCH /api/v1/scenarios/{slug}"
        )
    return scenario.output_schema


def use_edited_messages(planned: list[Planned], edited: dict[str, Messages]) -> None:
    """Send a level's edited messages instead of those it built (its retrieval, examples
    and adapter stay as planned, and its provenance says the prompt was edited)."""
    for p in planned:
        if p.plan is not None and p.level in edited:
            p.plan.messages = edited[p.level]
            p.plan.provenance = {**p.plan.provenance, "prompt_edited": True}


def report_failed(planned: list[Planned], on_stage: StageSink | None) -> None:
    for p in planned:
        if p.plan is None and on_stage is not None:
            on_stage(p.level, FAILED)


@dataclass(frozen=True)
class LevelSinks:
    """Where a comparison's generation reports, and its cancel switch."""

    on_token: TokenSink | None = None
    on_stage: StageSink | None = None
    cancel: threading.Event | None = None

    def token(self, level: str) -> TokenCallback | None:
        on_token = self.on_token
        return (lambda text: on_token(level, text)) if on_token else None

    def stage(self, level: str) -> StageCallback | None:
        on_stage = self.on_stage
        return (lambda stage: on_stage(level, stage)) if on_stage else None


def generation_requests(
    runnable: list[Planned],
    options: RunOptions,
    sinks: LevelSinks,
    schema: dict[str, Any] | None = None,
    deadline: float | None = None,
) -> list[GenerationRequest]:
    def request(level: str, plan: LevelPlan) -> GenerationRequest:
        return GenerationRequest(
            messages=plan.messages,
            adapter=plan.adapter.name if plan.adapter else None,
            max_new_tokens=options.max_new_tokens,
            temperature=options.temperature,
            on_token=sinks.token(level),
            on_stage=sinks.stage(level),
            cancel=sinks.cancel,
            json_schema=schema,
            deadline=deadline,
        )

    return [request(p.level, p.plan) for p in runnable if p.plan is not None]


def generate_each_level(
    engine: Engine, requests: list[GenerationRequest]
) -> list[GenerationResult | Exception]:
    """One batch for all levels; if the batch fails, each request alone so that one broken
    request cannot take the others down. Failures come back as exceptions in their slot."""
    if not requests:
        return []
    try:
        with span("tritune.generation", engine=engine.name, requests=len(requests)):
            return list(engine.generate(requests))
    except Exception:
        log.exception("batched generation failed; retrying level by level")
    outputs: list[GenerationResult | Exception] = []
    for request in requests:
        try:
            outputs.extend(engine.generate([request]))
        except Exception as error:
            outputs.append(error)
    return outputs


def store(
    session: Session,
    scenario: Scenario,
    query: str,
    options: RunOptions,
    planned: list[Planned],
    generated: dict[str, GenerationResult | Exception],
    runtime: Runtime,
    *,
    query_tokens: int,
    labels: dict[str, str],
) -> Comparison:
    shares = machine_shares(generated)
    settings = {**options.stored(), **labels}
    comparison = Comparison(scenario_id=scenario.id, query=query, settings=settings)
    embedder, engine = runtime.models()
    for p in planned:
        result = describe(p, engine, embedder.name, runtime.settings)
        if options.constrained and p.plan is not None:
            result.provenance = {**result.provenance, "constrained": True}
        output = generated.get(p.level)
        if isinstance(output, Exception):
            result.error = f"{type(output).__name__}: {output}"
        elif output is not None and output.cancelled:
            result.error = CANCELLED
        elif output is not None:
            fill_generation(result, output, p)
            fill_billing(result, p, machine_share=shares[p.level], query_tokens=query_tokens)
            result.cost_usd = billed_cost(result, runtime.settings)
            if output.timed_out:
                result.error = timed_out_error(runtime.settings)
        comparison.results.append(result)
    session.add(comparison)
    session.commit()
    record_comparison(comparison)
    return comparison


def timed_out_error(settings: Settings) -> str:
    """A level stopped at the comparison's deadline: its output (kept) is cut short."""
    return (
        f"timed out: generation took longer than {settings.generation_timeout_s:g} s "
        "(TRITUNE_GENERATION_TIMEOUT_S); the output is cut short"
    )


def machine_shares(generated: dict[str, GenerationResult | Exception]) -> dict[str, float]:
    """Seconds of the shared batch charged to each level: the batch's wall time split in
    proportion to each level's tokens (so three levels in one batch are not billed thrice)."""
    done = {
        lv: r for lv, r in generated.items() if isinstance(r, GenerationResult) and not r.cancelled
    }
    if not done:
        return {}
    batch_s = max(r.first_token_s + r.generation_s for r in done.values())
    tokens = {lv: r.prompt_tokens + r.completion_tokens for lv, r in done.items()}
    total = sum(tokens.values()) or 1
    return {lv: batch_s * n / total for lv, n in tokens.items()}


def describe(planned: Planned, engine: Engine, embedding_model: str, settings: Settings) -> Result:
    """A result row with what produced it (and the level's error, if it could not run)."""
    result = Result(
        level=planned.level,
        engine=engine.name,
        model=engine.model,
        error=planned.error,
        latency_retrieval_ms=planned.prepare_s * 1000,
        prompt_version_id=planned.version.id if planned.version else None,
    )
    plan = planned.plan
    if plan is not None:
        result.adapter = plan.adapter.name if plan.adapter else None
        result.adapter_checksum = plan.adapter.checksum if plan.adapter else None
        result.context = plan.context
        result.examples = plan.examples
        result.provenance = {
            **plan.provenance,
            **version_provenance(planned.version),
            "embedding_model": embedding_model,
            "base_model": settings.base_model,
            "messages": plan.messages,  # the prompt as sent
        }
    return result


def version_provenance(version: PromptVersion | None) -> dict[str, Any]:
    """How a result names the prompt version it used (nothing for a level without one)."""
    if version is None:
        return {}
    return {"prompt_version": {"number": version.number, "sha256": version.sha256}}


def fill_generation(result: Result, output: GenerationResult, planned: Planned) -> None:
    total_s = planned.prepare_s + output.first_token_s + output.generation_s
    result.output = output.text
    result.prompt_tokens = output.prompt_tokens
    result.completion_tokens = output.completion_tokens
    result.latency_first_token_ms = output.first_token_s * 1000
    result.latency_generation_ms = output.generation_s * 1000
    result.latency_total_ms = total_s * 1000
    result.tokens_per_s = round(output.tokens_per_s, 2)


def fill_billing(
    result: Result, planned: Planned, *, machine_share: float, query_tokens: int
) -> None:
    """What the level is billed on besides its tokens: the machine time it held (its own
    preparation plus its share of the batch) and, for a level that embeds the query, the
    query's embedding tokens."""
    result.machine_s = planned.prepare_s + machine_share
    uses_embedding = get_level(planned.level).uses_query_embedding
    result.embedding_tokens = query_tokens if uses_embedding else 0


def billed_cost(result: Result, settings: Settings) -> float:
    """The result's price at the settings' rates, from its stored billing inputs."""
    return query_cost(
        price=settings.price(result.level),
        prompt_tokens=result.prompt_tokens,
        completion_tokens=result.completion_tokens,
        seconds=result.machine_s or 0.0,
        usd_per_hour=settings.compute_usd_per_hour,
        embedding_tokens=result.embedding_tokens or 0,
        embedding_usd_per_mtok=settings.embedding_usd_per_mtok,
    )
