"""Token counts and seconds -> USD. Pure functions."""

from __future__ import annotations

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
