"""Token counts and seconds -> USD. Pure functions.

Two parts: the price of one comparison's results (`query_cost`, from the settings' prices),
and the cost model of an eval (pricing profiles from an editable TOML file, one-off costs
amortised over a query volume, cost per query / 1,000 / month, break-even volumes).
"""

from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from app.config import LevelPrice


def token_cost(price: LevelPrice, prompt_tokens: int, completion_tokens: int) -> float:
    return (
        prompt_tokens * price.input_usd_per_mtok + completion_tokens * price.output_usd_per_mtok
    ) / 1_000_000


def compute_cost(seconds: float, usd_per_hour: float) -> float:
    return seconds * usd_per_hour / 3600


def query_cost(
    *,
    price: LevelPrice,
    prompt_tokens: int,
    completion_tokens: int,
    seconds: float,
    usd_per_hour: float,
    embedding_tokens: int = 0,
    embedding_usd_per_mtok: float = 0.0,
) -> float:
    """What one query costs at one level: its tokens at the level's price, the machine time
    it held, and (retrieval levels) embedding the query."""
    return (
        token_cost(price, prompt_tokens, completion_tokens)
        + compute_cost(seconds, usd_per_hour)
        + embedding_tokens * embedding_usd_per_mtok / 1_000_000
    )


# --- Cost model: pricing profiles, one-off costs amortised over a volume, break-even ---

DAYS_PER_MONTH = 30


@dataclass(frozen=True)
class LevelRate:
    """How one level is billed per query: per token (a hosted API) and/or per second of
    compute (self-hosted: $ per hour times the measured seconds)."""

    input_usd_per_mtok: float = 0.0
    output_usd_per_mtok: float = 0.0
    usd_per_hour: float = 0.0


@dataclass(frozen=True)
class PricingProfile:
    """A named set of prices with where and when they were read (editable assumptions)."""

    name: str
    title: str
    as_of: str
    source: str
    levels: dict[str, LevelRate]
    embedding_usd_per_mtok: float = 0.0
    training_usd_per_hour: float = 0.0
    training_usd_per_mtok: float = 0.0
    vector_store_usd_per_month: float = 0.0
    amortise_months: int = 12

    def rate(self, level: str) -> LevelRate:
        return self.levels.get(level, LevelRate())


@dataclass(frozen=True)
class Usage:
    """One query at one level, averaged over an eval: tokens and seconds."""

    prompt_tokens: float
    completion_tokens: float
    seconds: float
    embedding_tokens: float = 0.0


@dataclass(frozen=True)
class FixedCosts:
    """Costs that do not grow with queries: once (training, embedding the corpus) and per
    month (the vector store)."""

    once_usd: float = 0.0
    monthly_usd: float = 0.0


@dataclass(frozen=True)
class ScenarioFixedInputs:
    """What a scenario's one-off costs are computed from (see `Level.fixed_costs`)."""

    corpus_tokens: float
    training_seconds: float
    training_tokens: float


@dataclass(frozen=True)
class LevelCost:
    level: str
    per_query_usd: float
    per_1000_usd: float
    per_month_usd: float
    variable_per_query_usd: float
    fixed: FixedCosts


PROFILE_KEYS = {f.name for f in fields(PricingProfile)} - {"name", "levels"}


def load_profiles(path: Path) -> dict[str, PricingProfile]:
    """Profiles from a TOML file (`parse_profiles`). ValueError names the file and the bad
    key."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ValueError(f"pricing file {path}: {error}") from None
    return parse_profiles(text, f"pricing file {path}")


def parse_profiles(text: str, where: str) -> dict[str, PricingProfile]:
    """Profiles from TOML text: one `[profiles.NAME]` table each, with its levels under
    `[profiles.NAME.levels.LEVEL]`. ValueError starting with `where` names the bad key."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"{where}: {error}") from None
    profiles = data.get("profiles")
    if (
        not isinstance(profiles, dict)
        or not profiles
        or not all(isinstance(table, dict) for table in profiles.values())
    ):
        raise ValueError(f"{where}: no [profiles.NAME] tables")
    return {name: profile_from(where, name, table) for name, table in profiles.items()}


def profile_from(source: str, name: str, table: dict) -> PricingProfile:
    where = f"{source}, profile {name!r}"
    unknown = set(table) - PROFILE_KEYS - {"levels"}
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {sorted(unknown)}")
    try:
        levels = {lv: LevelRate(**rate) for lv, rate in table.get("levels", {}).items()}
        profile = PricingProfile(
            name=name, levels=levels, **{k: table[k] for k in set(table) - {"levels"}}
        )
    except TypeError as error:
        raise ValueError(f"{where}: {error}") from None
    numbers = [getattr(profile, f.name) for f in fields(profile) if f.type in ("float", "int")]
    numbers += [v for rate in levels.values() for v in asdict(rate).values()]
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in numbers):
        raise ValueError(f"{where}: prices must be numbers")
    if any(v < 0 for v in numbers) or profile.amortise_months < 1:
        raise ValueError(f"{where}: prices must be >= 0 and amortise_months >= 1")
    return profile


def variable_cost(
    rate: LevelRate, usage: Usage, embedding_usd_per_mtok: float, utilisation: float = 1.0
) -> float:
    """What each query costs at a level: tokens, compute seconds, embedding the query.

    Utilisation: a machine billed per hour costs its price whether it answers queries or
    waits for them. The eval measures the seconds a query keeps it busy; if it is busy a
    share `utilisation` (0 < u <= 1) of the hours it is paid for, each busy second carries
    1/u paid seconds, so the compute part of a query costs 1/u times as much (busy 10% of
    the time: 10x). Per-token prices are paid per query whatever the utilisation."""
    if not 0 < utilisation <= 1:
        raise ValueError(f"utilisation must be in (0, 1], not {utilisation}")
    return (
        (usage.prompt_tokens * rate.input_usd_per_mtok)
        + (usage.completion_tokens * rate.output_usd_per_mtok)
        + usage.embedding_tokens * embedding_usd_per_mtok
    ) / 1_000_000 + compute_cost(usage.seconds, rate.usd_per_hour) / utilisation


def training_cost(profile: PricingProfile, *, seconds: float, tokens: float) -> float:
    """LoRA training: its compute time at the training price per hour, or (hosted
    fine-tuning) its training tokens at the price per 1M tokens."""
    return compute_cost(seconds, profile.training_usd_per_hour) + (
        tokens * profile.training_usd_per_mtok / 1_000_000
    )


def corpus_costs(profile: PricingProfile, corpus_tokens: float) -> FixedCosts:
    """Embedding the knowledge base once, and keeping it in a vector store."""
    return FixedCosts(
        once_usd=corpus_tokens * profile.embedding_usd_per_mtok / 1_000_000,
        monthly_usd=profile.vector_store_usd_per_month,
    )


def monthly_total(variable: float, fixed: FixedCosts, queries_per_day: float, months: int) -> float:
    """A month at `queries_per_day`: the queries, the monthly costs, and the one-off costs
    spread over `months`."""
    return variable * queries_per_day * DAYS_PER_MONTH + fixed.monthly_usd + fixed.once_usd / months


def level_cost(
    level: str, variable: float, fixed: FixedCosts, queries_per_day: float, months: int
) -> LevelCost:
    """Cost per query (fixed costs amortised over the month's queries), per 1,000 queries
    and per month at `queries_per_day`."""
    month = monthly_total(variable, fixed, queries_per_day, months)
    queries = queries_per_day * DAYS_PER_MONTH
    per_query = month / queries if queries > 0 else variable
    return LevelCost(level, per_query, per_query * 1000, month, variable, fixed)


def break_even_queries_per_day(a: LevelCost, b: LevelCost, months: int) -> float | None:
    """The daily volume at which `a` and `b` cost the same per month: below it the level
    with the smaller fixed costs is cheaper, above it the one with the smaller cost per
    query. None when one is cheaper at every volume."""
    fixed_a = a.fixed.monthly_usd + a.fixed.once_usd / months
    fixed_b = b.fixed.monthly_usd + b.fixed.once_usd / months
    slope = (a.variable_per_query_usd - b.variable_per_query_usd) * DAYS_PER_MONTH
    if slope == 0:
        return None
    volume = (fixed_b - fixed_a) / slope
    return volume if volume > 0 else None
