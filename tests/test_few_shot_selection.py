"""The prompt level's example selection (nearest the query, a fixed list, a seeded random
draw) and a scenario's own pricing profiles."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.db.models import Scenario
from app.evals.costing import choose_profile
from tests.scenario_files import unique_slug

API = "/api/v1/scenarios"
OWN_PRICING = """
[profiles.our-gpu]
title = "Our GPU box"
as_of = "2026-11"
source = "our invoice"
training_usd_per_hour = 2.5
[profiles.our-gpu.levels.finetune]
usd_per_hour = 1.2
"""


@pytest.fixture
def scenario(echo_client):
    slug = unique_slug("shots")
    assert echo_client.post(f"{API}/northwind/clone", json={"slug": slug}).status_code == 201
    yield slug
    echo_client.delete(f"{API}/{slug}", params={"confirm": slug})


def shown_lines(client, slug: str, query: str) -> list[int]:
    body = {"query": query, "scenario": slug, "levels": ["prompt"]}
    answer = client.post("/api/v1/comparisons", json=body)
    assert answer.status_code == 201, answer.text
    return [example["line"] for example in answer.json()["results"][0]["examples"]]


def edit(client, slug: str, **fields):
    return client.patch(f"{API}/{slug}", json=fields)


def test_nearest_picks_examples_per_query(echo_client, scenario):
    tent = shown_lines(echo_client, scenario, "My tent pole snapped")
    card = shown_lines(echo_client, scenario, "Where is my refund for the stove?")
    assert len(tent) == len(card) == 3 and tent != card  # the settings' k = 3


def test_a_fixed_list_shows_those_lines_in_order_for_every_query(echo_client, scenario):
    assert edit(
        echo_client, scenario, few_shot_selection="fixed", few_shot_examples=[5, 2]
    ).is_success
    assert shown_lines(echo_client, scenario, "My tent pole snapped") == [5, 2]
    assert shown_lines(echo_client, scenario, "Refund please") == [5, 2]


def test_a_random_draw_is_the_same_for_every_query_and_changes_with_the_seed(echo_client, scenario):
    assert edit(echo_client, scenario, few_shot_selection="random", few_shot_seed=7).is_success
    first = shown_lines(echo_client, scenario, "My tent pole snapped")
    assert len(first) == 3 and first == shown_lines(echo_client, scenario, "Refund please")
    assert edit(echo_client, scenario, few_shot_seed=8).is_success
    assert shown_lines(echo_client, scenario, "My tent pole snapped") != first


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"few_shot_selection": "fixed"}, "few_shot_examples", "fixed selection needs"),
        ({"few_shot_selection": "best"}, "few_shot_selection", "nearest"),
        ({"few_shot_examples": [0]}, "few_shot_examples", "greater than or equal"),
        ({"few_shot_examples": [2, 2]}, "few_shot_examples", "twice"),
        ({"pricing": "[profiles.x]\ntitle = 1"}, "pricing", "missing"),
        ({"pricing": "not toml ["}, "pricing", "pricing"),
    ],
)
def test_bad_selection_or_pricing_is_refused_naming_the_field(
    echo_client, scenario, fields, field, words
):
    before = echo_client.get(f"{API}/{scenario}").json()
    answer = edit(echo_client, scenario, **fields)
    assert answer.status_code == 422, answer.text
    assert field in answer.text and words in answer.text
    assert echo_client.get(f"{API}/{scenario}").json() == before


def test_a_scenarios_own_pricing_profile_prices_its_report(
    echo_client, scenario, session, settings
):
    answer = edit(echo_client, scenario, pricing=OWN_PRICING, pricing_profile="our-gpu")
    assert answer.status_code == 200, answer.text
    own = session.scalar(select(Scenario).where(Scenario.slug == scenario))
    profile = choose_profile(settings, None, own)
    assert profile.name == "our-gpu" and profile.rate("finetune").usd_per_hour == 1.2
    assert choose_profile(settings, "hosted-api", own).name == "hosted-api"  # the file's too
    assert choose_profile(settings, None, None).name == settings.pricing_profile
