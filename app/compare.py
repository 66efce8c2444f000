"""The comparison service: the one place that runs a query through the levels.

Embeds the query once, lets each level build its request (timing its retrieval or example
selection), sends every request to the engine in one batch, prices each result, and stores
the comparison with one result row per level. A level that fails stores its error; the
others still return.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from sqlalchemy.orm import Session

from app.config import LEVELS
from app.costs import query_cost
from app.db.models import Comparison, Result
from app.db.queries import get_comparison, get_scenario
from app.engine import GenerationRequest, GenerationResult
from app.levels import LevelInputs, LevelPlan, LevelUnavailable, get_level
from app.runtime import Runtime

log = logging.getLogger(__name__)
TokenSink = Callable[[str, str], None]  # (level, text delta)


@dataclass
class ComparisonOptions:
    levels: list[str] = field(default_factory=lambda: list(LEVELS))
    max_new_tokens: int = 128
    temperature: float = 0.0
    top_k: int | None = None
    few_shot_k: int | None = None
    adapter: str | None = None


@dataclass
class Planned:
    level: str
    plan: LevelPlan | None = None
    prepare_s: float = 0.0
    error: str | None = None


def run_comparison(
    *,
    session: Session,
    runtime: Runtime,
    scenario: str,
    query: str,
    options: ComparisonOptions,
    on_token: TokenSink | None = None,
) -> Comparison:
    """Run `query` through `options.levels` of `scenario`, store and return the comparison."""
    embedder, engine = runtime.models()
    settings = runtime.settings
    record = get_scenario(session, scenario)
    started = time.perf_counter()
    embedding = embedder.embed_one(query)
    embed_s = time.perf_counter() - started
    inputs = LevelInputs(
        session=session,
        scenario=record,
        query=query,
        query_embedding=embedding,
        settings=settings,
        engine=engine,
        top_k=options.top_k or settings.top_k,
        few_shot_k=settings.few_shot_k if options.few_shot_k is None else options.few_shot_k,
        adapter=options.adapter,
    )
    planned = [plan_level(name, inputs, embed_s) for name in options.levels]
    runnable = [p for p in planned if p.plan is not None]
    requests = [
        GenerationRequest(
            messages=p.plan.messages,
            adapter=p.plan.adapter.name if p.plan.adapter else None,
            max_new_tokens=options.max_new_tokens,
            temperature=options.temperature,
            on_token=(lambda text, level=p.level: on_token(level, text)) if on_token else None,
        )
        for p in runnable
    ]
    outputs = generate_each_level(engine, requests)
    comparison = Comparison(scenario_id=record.id, query=query, settings=asdict(options))
    generated = dict(zip((p.level for p in runnable), outputs, strict=True))
    for p in planned:
        comparison.results.append(
            build_result(p, generated.get(p.level), runtime, embedder.count_tokens(query))
        )
    session.add(comparison)
    session.commit()
    return get_comparison(session, comparison.id)


def plan_level(name: str, inputs: LevelInputs, embed_s: float) -> Planned:
    level = get_level(name)
    started = time.perf_counter()
    try:
        plan = level.plan(inputs)
    except LevelUnavailable as error:
        return Planned(name, error=str(error))
    except Exception as error:
        log.exception("level %s failed to prepare", name)
        return Planned(name, error=f"{type(error).__name__}: {error}")
    prepare_s = time.perf_counter() - started + (embed_s if level.uses_query_embedding else 0)
    return Planned(name, plan=plan, prepare_s=prepare_s)


def generate_each_level(engine, requests: list[GenerationRequest]) -> list:
    """One batch for all levels; if the batch fails, each request alone so that one broken
    request cannot take the others down. Failures come back as exceptions in their slot."""
    if not requests:
        return []
    try:
        return engine.generate(requests)
    except Exception:
        log.exception("batched generation failed; retrying level by level")
    outputs: list[GenerationResult | Exception] = []
    for request in requests:
        try:
            outputs.extend(engine.generate([request]))
        except Exception as error:
            outputs.append(error)
    return outputs


def build_result(
    planned: Planned,
    output: GenerationResult | Exception | None,
    runtime: Runtime,
    query_tokens: int,
) -> Result:
    settings = runtime.settings
    plan = planned.plan
    result = Result(
        level=planned.level,
        engine=runtime.engine.name,
        model=runtime.engine.model,
        latency_retrieval_ms=planned.prepare_s * 1000,
        error=planned.error,
    )
    if plan is not None:
        result.adapter = plan.adapter.name if plan.adapter else None
        result.adapter_checksum = plan.adapter.checksum if plan.adapter else None
        result.context = plan.context
        result.examples = plan.examples
        result.provenance = {
            **plan.provenance,
            "embedding_model": runtime.embedder.name,
            "base_model": settings.base_model,
        }
    if isinstance(output, Exception):
        result.error = f"{type(output).__name__}: {output}"
    elif output is not None:
        fill_generation(result, output, planned, settings, query_tokens)
    return result


def fill_generation(
    result: Result, output: GenerationResult, planned: Planned, settings, query_tokens: int
) -> None:
    total_s = planned.prepare_s + output.first_token_s + output.generation_s
    result.output = output.text
    result.prompt_tokens = output.prompt_tokens
    result.completion_tokens = output.completion_tokens
    result.latency_first_token_ms = output.first_token_s * 1000
    result.latency_generation_ms = output.generation_s * 1000
    result.latency_total_ms = total_s * 1000
    result.tokens_per_s = round(output.tokens_per_s, 2)
    uses_embedding = get_level(planned.level).uses_query_embedding
    result.cost_usd = query_cost(
        price=settings.price(planned.level),
        prompt_tokens=output.prompt_tokens,
        completion_tokens=output.completion_tokens,
        seconds=total_s,
        usd_per_hour=settings.compute_usd_per_hour,
        embedding_tokens=query_tokens if uses_embedding else 0,
        embedding_usd_per_mtok=settings.embedding_usd_per_mtok,
    )
