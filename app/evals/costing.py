"""The cost model applied to an eval run: each level's measured usage priced by a profile,
with the scenario's one-off costs (training its adapter, embedding its corpus); and the same
costs over volumes from 10^2 to 10^7 queries a month, with the utilisation of machines billed
per hour (`cost_at_scale`; the model is in app/costs.py `variable_cost`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.config import Settings
from app.costs import (
    DAYS_PER_MONTH,
    FixedCosts,
    LevelCost,
    LevelRate,
    PricingProfile,
    ScenarioFixedInputs,
    Usage,
    break_even_queries_per_day,
    level_cost,
    load_profiles,
    monthly_total,
    parse_profiles,
    variable_cost,
)
from app.db.models import Chunk, Dataset, Example, Scenario
from app.errors import AppError, NotFound
from app.levels import REGISTRY

CHARS_PER_TOKEN = 4  # a training-token estimate for hosted fine-tuning prices
VOLUMES_PER_MONTH = [10.0**power for power in range(2, 8)]  # 100 to 10 million queries
UTILISATIONS = [1.0, 0.5, 0.25, 0.1]  # the sensitivity table's shares of busy hours


class PricingInvalid(AppError):
    status = 500


@dataclass(frozen=True)
class BreakEven:
    cheaper_below: str
    cheaper_above: str
    queries_per_day: float


@dataclass(frozen=True)
class CostEstimate:
    profile: PricingProfile
    queries_per_day: float
    levels: dict[str, LevelCost]
    break_evens: list[BreakEven]
    utilisation: float = 1.0  # of the machines billed per hour (app/costs.py variable_cost)


@dataclass(frozen=True)
class ScaleBreakEven:
    """Where two levels cost the same a month: `queries_per_month`, `monthly_usd`."""

    cheaper_below: str
    cheaper_above: str
    queries_per_month: float
    monthly_usd: float


@dataclass(frozen=True)
class CostAtScale:
    """Each level's monthly cost at each of `volumes` (queries a month) at `utilisation`,
    where each pair breaks even, which levels are billed per hour (`hourly`: utilisation
    applies to them), and their cost per 1,000 queries (one-off costs aside) at each of
    `UTILISATIONS` (`per_1000_at`: level -> one value per utilisation)."""

    utilisation: float
    volumes: list[float]
    monthly_usd: dict[str, list[float]]
    break_evens: list[ScaleBreakEven]
    hourly: list[str]
    utilisations: list[float]
    per_1000_at: dict[str, list[float]]


def pricing_profiles(
    settings: Settings, scenario: Scenario | None = None
) -> dict[str, PricingProfile]:
    """The pricing file's profiles, and the scenario's own (which replace a file's profile
    of the same name)."""
    try:
        profiles = load_profiles(settings.pricing_file)
        if scenario is not None and scenario.pricing:
            where = f"scenario {scenario.slug!r}'s pricing"
            profiles |= parse_profiles(scenario.pricing, where)
    except ValueError as error:
        raise PricingInvalid(str(error)) from None
    return profiles


def choose_profile(
    settings: Settings, name: str | None, scenario: Scenario | None = None
) -> PricingProfile:
    """Profile `name`, else the scenario's default, else the setting's (NotFound)."""
    profiles = pricing_profiles(settings, scenario)
    name = name or (scenario.pricing_profile if scenario else None) or settings.pricing_profile
    if name not in profiles:
        raise NotFound(f"pricing profile {name!r} not found; choose from {sorted(profiles)}")
    return profiles[name]


def scenario_fixed_inputs(session: Session, scenario: Scenario) -> ScenarioFixedInputs:
    corpus = session.execute(
        select(func.coalesce(func.sum(Chunk.token_count), 0)).where(
            Chunk.scenario_id == scenario.id
        )
    ).scalar_one()  # an aggregate: always one row
    adapter = scenario.active_adapter
    metrics = adapter.metrics if adapter else {}
    # Training tokens: the mean example length (about 4 characters a token) times the
    # examples the training saw (all epochs).
    mean_chars = session.scalar(
        select(func.coalesce(func.avg(func.length(Example.prompt + Example.completion)), 0))
        .join(Dataset)
        .where(
            Dataset.sha256 == (adapter.dataset_sha256 if adapter else ""),
            Example.split == "train",
        )
    )
    return ScenarioFixedInputs(
        corpus_tokens=float(corpus),
        training_seconds=float(metrics.get("seconds", 0.0)),
        training_tokens=float(mean_chars) / CHARS_PER_TOKEN * metrics.get("examples", 0),
    )


def fixed_costs(level: str, profile: PricingProfile, inputs: ScenarioFixedInputs) -> FixedCosts:
    """One-off and monthly costs of a level, as the level computes them (none for a level
    no longer registered, whose runs are still stored)."""
    found = REGISTRY.get(level)
    return found.fixed_costs(profile, inputs) if found else FixedCosts()


def level_rate(level: str, profile: PricingProfile) -> LevelRate:
    """How `profile` bills one query at `level` (see `Level.rate`)."""
    found = REGISTRY.get(level)
    return found.rate(profile) if found else profile.rate(level)


def estimate_costs(
    level_stats: dict[str, dict[str, Any]],
    profile: PricingProfile,
    inputs: ScenarioFixedInputs,
    queries_per_day: float,
    utilisation: float = 1.0,
) -> CostEstimate:
    """Each level's cost per query, per 1,000 and per month at `queries_per_day`, from its
    mean measured usage in an eval, with machines billed per hour busy a share `utilisation`
    of the time; and the break-even volume of each pair of levels."""
    costs = {}
    for level, stats in level_stats.items():
        if stats.get("prompt_tokens") is None:
            continue  # the level never answered
        usage = Usage(
            prompt_tokens=stats["prompt_tokens"],
            completion_tokens=stats["completion_tokens"],
            seconds=stats.get("seconds") or 0.0,
            embedding_tokens=stats.get("embedding_tokens") or 0.0,
        )
        rate = level_rate(level, profile)
        variable = variable_cost(rate, usage, profile.embedding_usd_per_mtok, utilisation)
        fixed = fixed_costs(level, profile, inputs)
        costs[level] = level_cost(level, variable, fixed, queries_per_day, profile.amortise_months)
    return CostEstimate(profile, queries_per_day, costs, break_evens(costs, profile), utilisation)


def break_evens(costs: dict[str, LevelCost], profile: PricingProfile) -> list[BreakEven]:
    found = []
    names = list(costs)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            volume = break_even_queries_per_day(costs[a], costs[b], profile.amortise_months)
            if volume is None:
                continue
            cheaper_per_query = min((a, b), key=lambda lv: costs[lv].variable_per_query_usd)
            other = b if cheaper_per_query == a else a
            found.append(BreakEven(other, cheaper_per_query, volume))
    return found


def monthly_usd(cost: LevelCost, queries_per_month: float, months: int) -> float:
    """A level's month at a volume: its queries, monthly costs and amortised one-off costs."""
    return monthly_total(
        cost.variable_per_query_usd, cost.fixed, queries_per_month / DAYS_PER_MONTH, months
    )


def cost_at_scale(
    level_stats: dict[str, dict[str, Any]],
    inputs: ScenarioFixedInputs,
    estimate: CostEstimate,
    volumes: list[float] = VOLUMES_PER_MONTH,
) -> CostAtScale:
    """`estimate`'s levels over `volumes` (queries a month) and their break-evens; and the
    levels billed per hour priced again at each of `UTILISATIONS`."""
    profile, months = estimate.profile, estimate.profile.amortise_months
    hourly = [lv for lv in estimate.levels if level_rate(lv, profile).usd_per_hour > 0]
    again = {
        u: estimate_costs(level_stats, profile, inputs, estimate.queries_per_day, u)
        for u in UTILISATIONS
    }
    return CostAtScale(
        utilisation=estimate.utilisation,
        volumes=volumes,
        monthly_usd={
            lv: [monthly_usd(cost, q, months) for q in volumes]
            for lv, cost in estimate.levels.items()
        },
        break_evens=[scale_break_even(even, estimate) for even in estimate.break_evens],
        hourly=hourly,
        utilisations=UTILISATIONS,
        per_1000_at={
            lv: [again[u].levels[lv].variable_per_query_usd * 1000 for u in UTILISATIONS]
            for lv in hourly
        },
    )


def scale_break_even(even: BreakEven, estimate: CostEstimate) -> ScaleBreakEven:
    queries = even.queries_per_day * DAYS_PER_MONTH
    cost = estimate.levels[even.cheaper_below]
    month = monthly_usd(cost, queries, estimate.profile.amortise_months)
    return ScaleBreakEven(even.cheaper_below, even.cheaper_above, queries, month)
