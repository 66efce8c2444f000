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


# --- the cost model ---

from pathlib import Path  # noqa: E402

from app.costs import (  # noqa: E402
    FixedCosts,
    LevelRate,
    PricingProfile,
    Usage,
    break_even_queries_per_day,
    corpus_costs,
    level_cost,
    load_profiles,
    monthly_total,
    training_cost,
    variable_cost,
)
from app.levels import level_names  # noqa: E402

HOSTED = PricingProfile(
    name="t",
    title="test",
    as_of="today",
    source="made up",
    levels={"prompt": LevelRate(0.15, 0.60), "finetune": LevelRate(0.30, 1.20)},
    embedding_usd_per_mtok=0.02,
    training_usd_per_hour=3.6,
    training_usd_per_mtok=3.0,
    vector_store_usd_per_month=12.0,
    amortise_months=12,
)


def test_variable_cost_per_token_per_second_and_embedding():
    usage = Usage(prompt_tokens=1000, completion_tokens=100, seconds=36, embedding_tokens=500)
    assert variable_cost(LevelRate(0.15, 0.60), usage, 0.02) == pytest.approx(
        0.00015 + 0.00006 + 0.00001
    )
    assert variable_cost(LevelRate(usd_per_hour=0.10), usage, 0) == pytest.approx(0.001)


def test_one_off_costs():
    assert training_cost(HOSTED, seconds=3600, tokens=1_000_000) == pytest.approx(3.6 + 3.0)
    assert corpus_costs(HOSTED, 2_000_000) == FixedCosts(once_usd=0.04, monthly_usd=12.0)


def test_per_query_per_1000_and_per_month_amortise_one_off_costs():
    fixed = FixedCosts(once_usd=120.0, monthly_usd=5.0)
    # 100 queries/day = 3,000 a month at $0.001 = $3, + $5 monthly + $120/12 months = $18
    assert monthly_total(0.001, fixed, 100, 12) == pytest.approx(18.0)
    cost = level_cost("finetune", 0.001, fixed, 100, 12)
    assert cost.per_month_usd == pytest.approx(18.0)
    assert cost.per_query_usd == pytest.approx(18.0 / 3000)
    assert cost.per_1000_usd == pytest.approx(6.0)
    assert level_cost("prompt", 0.002, FixedCosts(), 100, 12).per_query_usd == pytest.approx(0.002)


def test_break_even_volume_between_levels():
    # prompt: $0.002 a query, nothing fixed; finetune: $0.0005 a query + $90 training over
    # 12 months = $7.5 a month. Equal when 0.0015 * 30 * q = 7.5, i.e. q = 166.7 a day.
    prompt = level_cost("prompt", 0.002, FixedCosts(), 1000, 12)
    finetune = level_cost("finetune", 0.0005, FixedCosts(once_usd=90.0), 1000, 12)
    volume = break_even_queries_per_day(prompt, finetune, 12)
    assert volume == pytest.approx(166.6667, rel=1e-4)
    assert break_even_queries_per_day(finetune, prompt, 12) == pytest.approx(volume)
    below = level_cost("p", 0.002, FixedCosts(), volume * 0.9, 12).per_month_usd
    assert (
        below < level_cost("f", 0.0005, FixedCosts(once_usd=90.0), volume * 0.9, 12).per_month_usd
    )
    # cheaper per query AND no fixed costs: cheaper at every volume, no break-even
    cheap = level_cost("x", 0.0001, FixedCosts(), 1000, 12)
    assert break_even_queries_per_day(cheap, finetune, 12) is None
    assert break_even_queries_per_day(prompt, prompt, 12) is None


def test_the_shipped_pricing_file_loads_and_is_dated(settings):
    profiles = load_profiles(settings.pricing_file)
    assert {"self-hosted-cpu", "hosted-api"} <= set(profiles)
    for profile in profiles.values():
        assert profile.as_of and profile.source
        assert set(profile.levels) == set(level_names())  # every level priced, none guessed
    assert "EDITABLE ASSUMPTIONS" in Path(settings.pricing_file).read_text()


def test_a_bad_pricing_file_names_the_problem(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text('[profiles.x]\ntitle = "x"\nas_of = "d"\nsource = "s"\ncolour = 1\n')
    with pytest.raises(ValueError, match="unknown key.*colour"):
        load_profiles(path)
    path.write_text(
        '[profiles.x]\ntitle = "x"\nas_of = "d"\nsource = "s"\n'
        "[profiles.x.levels.prompt]\ninput_usd_per_mtok = -1\n"
    )
    with pytest.raises(ValueError, match=">= 0"):
        load_profiles(path)
    path.write_text("not = [toml")
    with pytest.raises(ValueError, match="p.toml"):
        load_profiles(path)
