"""Cost at scale: utilisation of machines billed per hour, each level's month from 10^2 to
10^7 queries with the break-evens, the log-log chart, and the report's page and API."""

from pathlib import Path

import pytest

from app.costs import LevelRate, ScenarioFixedInputs, Usage, load_profiles, variable_cost
from app.evals.costing import cost_at_scale, estimate_costs
from app.web.scale_chart import scale_chart, usd_tick
from tests.eval_runs import store_finished_run

PROFILES = load_profiles(Path(__file__).resolve().parent.parent / "data" / "pricing.toml")
SELF_HOSTED = PROFILES["self-hosted-cpu"]  # $0.08925 an hour for answers and training
HOUR = 0.08925
# prompt: 2 s a query, nothing once; finetune: 0.5 s a query and an hour's training, once.
STATS = {
    "prompt": {"prompt_tokens": 400.0, "completion_tokens": 40.0, "seconds": 2.0},
    "finetune": {"prompt_tokens": 60.0, "completion_tokens": 40.0, "seconds": 0.5},
}
INPUTS = ScenarioFixedInputs(corpus_tokens=0, training_seconds=3600, training_tokens=0)


def test_a_machine_busy_a_tenth_of_the_time_costs_ten_times_per_query():
    usage = Usage(prompt_tokens=1000, completion_tokens=0, seconds=36)
    hourly = LevelRate(usd_per_hour=0.10)
    assert variable_cost(hourly, usage, 0) == pytest.approx(0.001)
    assert variable_cost(hourly, usage, 0, utilisation=0.1) == pytest.approx(0.01)
    per_token = LevelRate(input_usd_per_mtok=1.0)
    assert variable_cost(per_token, usage, 0, utilisation=0.1) == pytest.approx(0.001)
    for bad in (0, 1.5):
        with pytest.raises(ValueError, match="utilisation must be in"):
            variable_cost(hourly, usage, 0, utilisation=bad)


def test_each_levels_month_from_a_hundred_to_ten_million_queries_with_the_break_even():
    estimate = estimate_costs(STATS, SELF_HOSTED, INPUTS, queries_per_day=1000)
    scale = cost_at_scale(STATS, INPUTS, estimate)
    assert scale.volumes == [1e2, 1e3, 1e4, 1e5, 1e6, 1e7] and scale.utilisation == 1.0
    prompt, finetune = 2 * HOUR / 3600, 0.5 * HOUR / 3600  # per query
    assert scale.monthly_usd["prompt"][0] == pytest.approx(100 * prompt)
    assert scale.monthly_usd["finetune"][-1] == pytest.approx(1e7 * finetune + HOUR / 12)
    (even,) = scale.break_evens
    assert (even.cheaper_below, even.cheaper_above) == ("prompt", "finetune")
    assert even.queries_per_month == pytest.approx(HOUR / 12 / (prompt - finetune))
    assert even.monthly_usd == pytest.approx(even.queries_per_month * prompt)
    assert scale.hourly == ["prompt", "finetune"] and scale.utilisations == [1, 0.5, 0.25, 0.1]
    assert scale.per_1000_at["prompt"] == pytest.approx(
        [1000 * prompt / u for u in scale.utilisations]
    )


def test_idle_machines_move_the_break_even_and_hosted_prices_do_not_care():
    busy = estimate_costs(STATS, SELF_HOSTED, INPUTS, queries_per_day=1000)
    idle = estimate_costs(STATS, SELF_HOSTED, INPUTS, queries_per_day=1000, utilisation=0.1)
    assert idle.utilisation == 0.1
    # Ten times the cost per query: the one-off training repays itself ten times sooner.
    assert idle.break_evens[0].queries_per_day == pytest.approx(
        busy.break_evens[0].queries_per_day / 10
    )
    hosted = cost_at_scale(STATS, INPUTS, estimate_costs(STATS, PROFILES["hosted-api"], INPUTS, 1))
    assert hosted.hourly == [] and hosted.per_1000_at == {}


def test_the_chart_draws_a_line_per_level_on_log_axes_and_marks_the_break_even():
    estimate = estimate_costs(STATS, SELF_HOSTED, INPUTS, queries_per_day=1000)
    chart = scale_chart(cost_at_scale(STATS, INPUTS, estimate), estimate)
    assert [line.level for line in chart.lines] == ["prompt", "finetune"]
    assert [label for _, label in chart.x_ticks] == ["100", "1k", "10k", "100k", "1M", "10M"]
    assert [x for x, _ in chart.x_ticks] == sorted(x for x, _ in chart.x_ticks)
    # Prompt: $0.005 (100 queries) to $496 (10M): the y axis spans $0.001 to $1k.
    assert chart.y_ticks[0][1] == "$0.001" and chart.y_ticks[-1][1] == "$1k"
    assert chart.y_ticks[0][0] == chart.bottom and chart.y_ticks[-1][0] == chart.top
    (marker,) = chart.markers  # at 200 queries a month: between the 100 and 1k ticks
    assert chart.x_ticks[0][0] < marker.x < chart.x_ticks[1][0]
    assert "finetune cheaper than prompt above 200 queries a month" in marker.text
    first, last = chart.lines[0].points.split()[0], chart.lines[0].points.split()[-1]
    assert float(first.split(",")[0]) == chart.left and float(last.split(",")[0]) == chart.right
    assert usd_tick(0.01) == "$0.01" and usd_tick(10_000) == "$10k"


def test_nothing_to_draw_when_nothing_costs_anything():
    free = {lv: dict(stats, seconds=0.0) for lv, stats in STATS.items()}
    no_training = ScenarioFixedInputs(corpus_tokens=0, training_seconds=0, training_tokens=0)
    estimate = estimate_costs(free, SELF_HOSTED, no_training, queries_per_day=1000)
    assert scale_chart(cost_at_scale(free, no_training, estimate), estimate) is None


@pytest.fixture(scope="module")
def priced_run(runtime):
    with runtime.session() as session:
        return store_finished_run(
            session, "priced", {"general": 8}, ["prompt", "rag"], lambda *_: True
        )


def test_the_reports_api_returns_the_costs_at_scale(client, priced_run):
    report = client.get("/api/v1/scenarios/priced/report").json()
    scale = report["cost_at_scale"]
    assert scale["volumes"] == [100, 1000, 10_000, 100_000, 1_000_000, 10_000_000]
    assert scale["utilisation"] == 1.0 and scale["hourly"] == ["prompt", "rag"]
    rag = scale["monthly_usd"]["rag"]  # 2 s a query at $0.08925 an hour, nothing once
    assert rag[-1] == pytest.approx(1e7 * 2 * HOUR / 3600)
    idle = client.get("/api/v1/scenarios/priced/report?utilisation_pct=10").json()
    assert idle["cost_at_scale"]["monthly_usd"]["rag"][-1] == pytest.approx(10 * rag[-1])
    per_1000 = idle["pricing"]["levels"]["rag"]["per_1000_usd"]
    assert per_1000 == pytest.approx(10 * report["pricing"]["levels"]["rag"]["per_1000_usd"])
    for bad in ("0", "101", "busy"):
        response = client.get(f"/api/v1/scenarios/priced/report?utilisation_pct={bad}")
        assert response.status_code == 422


def test_the_report_page_shows_the_chart_the_table_and_the_utilisation(client, priced_run):
    page = client.get("/scenarios/priced/report?utilisation_pct=25").text
    assert "Cost at scale" in page and 'class="chart scale-chart"' in page
    assert page.count("<polyline") == 2 and "<th>10,000,000</th>" in page
    assert 'name="utilisation_pct" min="1" max="100" step="any" value="25"' in page
    assert "busy 25% of the time" in page and "<th>10% busy</th>" in page
    assert "No break-even: the same level is cheapest at every volume." in page


def test_the_level_names_at_the_lines_ends_do_not_overlap():
    from app.web.scale_chart import LABEL_GAP, apart

    placed = apart({"rag": 30.0, "prompt": 36.0, "finetune": 70.0})
    assert placed == {"rag": 30.0, "prompt": 30.0 + LABEL_GAP, "finetune": 70.0}
