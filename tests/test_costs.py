import pytest

from app.config import LevelPrice
from app.costs import compute_cost, query_cost, token_cost

PRICE = LevelPrice(input_usd_per_mtok=0.15, output_usd_per_mtok=0.60)


def test_token_cost_uses_input_and_output_prices():
    assert token_cost(PRICE, 1_000_000, 0) == pytest.approx(0.15)
    assert token_cost(PRICE, 0, 1_000_000) == pytest.approx(0.60)
    assert token_cost(PRICE, 200, 50) == pytest.approx((200 * 0.15 + 50 * 0.60) / 1e6)


def test_compute_cost_is_per_hour_of_wall_clock():
    assert compute_cost(3600, 0.10) == pytest.approx(0.10)
    assert compute_cost(1.8, 0.10) == pytest.approx(0.00005)


def test_query_cost_adds_tokens_compute_and_embedding():
    cost = query_cost(
        price=PRICE,
        prompt_tokens=1000,
        completion_tokens=100,
        seconds=36,
        usd_per_hour=0.10,
        embedding_tokens=10_000,
        embedding_usd_per_mtok=0.02,
    )
    assert cost == pytest.approx(0.00015 + 0.00006 + 0.001 + 0.0002)
