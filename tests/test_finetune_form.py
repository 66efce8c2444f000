"""The fine-tune page's training config as a form (field help, the raw YAML beside it, the
estimated time), its adapters, and loss charts with axes and the held-out loss."""

import pytest
from sqlalchemy import select

from app.db.models import Adapter, Scenario
from app.finetune.config import TrainingConfig
from app.finetune.estimate import Speed, training_seconds
from app.web.loss_chart import loss_chart
from app.web.training_form import config_fields, estimate_text

HX = {"HX-Request": "true"}
PAGE = "/scenarios/northwind/finetune"


@pytest.fixture(scope="module")
def client(echo_client):
    return echo_client


def test_every_config_field_is_an_input_with_its_description_as_help(client):
    page = client.get(PAGE).text
    for name, info in TrainingConfig.model_fields.items():
        assert f'name="cfg_{name}"' in page
        assert info.description and info.description.replace("'", "&#39;") in page
    assert 'name="cfg_lora_r" value="8"' in page
    assert 'name="config_yaml"' in page and "Or the config as YAML" in page


def test_the_form_is_read_field_by_field_and_a_bad_field_is_named(client):
    form = {"cfg_lora_r": "0", "config_yaml": "lora_r: 8\n", "source": "form"}
    response = client.post("/scenarios/northwind/trainings", data=form, headers=HX)
    assert response.status_code == 422 and "lora_r" in response.text
    yaml_form = {"cfg_lora_r": "8", "config_yaml": "lora_r: 0\n", "source": "yaml"}
    response = client.post("/scenarios/northwind/trainings", data=yaml_form, headers=HX)
    assert response.status_code == 422 and "lora_r" in response.text
    modules = {"cfg_target_modules": "q_proj, nope_proj", "source": "form"}
    response = client.post("/scenarios/northwind/trainings", data=modules, headers=HX)
    assert response.status_code == 422 and "nope_proj" in response.text


def test_the_page_estimates_the_time_from_the_speed_an_adapter_measured(client):
    page = client.get(PAGE).text
    assert "Estimated time:" in page and "examples/s, as northwind-demo-" in page
    assert "data-train-examples=" in page


def test_the_demo_adapter_is_listed_although_no_run_trained_it_here(client):
    page = client.get(PAGE).text
    assert "Adapters of northwind" in page and "northwind-demo-" in page
    assert "trained outside a training run here" in page


def test_an_estimate_is_examples_times_epochs_over_the_measured_speed():
    speed = Speed(2.0, "demo")
    assert training_seconds(600, 2, speed) == 600
    assert training_seconds(600, 1, None) is None
    assert estimate_text(600, 1, speed).startswith("about 5 min (600 examples × 1 epoch at 2")
    assert estimate_text(600, 1, None).startswith("no measurement yet")


def test_config_fields_leave_defaults_blank_only_where_the_config_does():
    fields = {f.name: f for f in config_fields(TrainingConfig(), "/models/base.gguf")}
    assert fields["base_model"].value == "" and "base.gguf" in fields["base_model"].placeholder
    assert fields["target_modules"].value.startswith("q_proj, k_proj")
    assert fields["lora_r"].kind == "number" and fields["target_modules"].kind == "text"


def test_a_loss_chart_has_axes_from_step_0_to_n_and_the_held_out_loss_at_both_ends():
    chart = loss_chart("Loss", [3.0, 2.0, 1.0, 1.5], eval_before=3.5, eval_after=1.2)
    assert [t.label for t in chart.x_ticks] == ["0", "2", "4"]
    assert chart.y_ticks[0].label == "1" and chart.y_ticks[-1].label == "3.5"
    first_x, first_y = map(float, chart.points.split()[0].split(","))
    assert first_x > chart.left  # step 1; step 0 is before training
    before, after = chart.held_out
    assert before.x == chart.left and after.x == chart.right
    assert before.y == chart.top  # the highest value
    assert chart.y_ticks[0].at == chart.bottom  # the lowest tick on the x axis


def test_a_loss_chart_of_one_value_or_none_still_draws():
    assert loss_chart("Loss", [1.0]).count == 1
    empty = loss_chart("Loss", [])
    assert empty.points == "" and empty.held_out == []


def test_the_adapter_page_draws_the_loss_with_axes_and_held_out_loss(client, session):
    scenario = session.scalar(select(Scenario).where(Scenario.slug == "northwind"))
    adapter = Adapter(
        scenario_id=scenario.id,
        name="loss-chart-test",
        path="/nowhere",
        base_model="base.gguf",
        dataset_sha256="0" * 64,
        checksum="1" * 64,
        config={},
        metrics={"loss_history": [2.5, 1.5, 1.0], "eval_loss_base": 2.8, "eval_loss": 1.3},
    )
    session.add(adapter)
    session.commit()
    try:
        page = client.get("/adapters/loss-chart-test").text
    finally:
        session.delete(adapter)
        session.commit()
    assert 'class="axis-title">step<' in page and 'class="training-loss"' in page
    assert page.count('class="held-out"') == 2
    assert "held-out loss before: 2.800" in page and "held-out loss after: 1.300" in page
