"""Fine-tuning pages (server side): the upload report, the config form's errors, a training
job's self-polling progress partial, and the adapters list."""

from pathlib import Path

from sqlalchemy import select

from app.db.models import Dataset, Scenario, Training

HX = {"HX-Request": "true"}


def test_the_finetune_page_offers_upload_and_the_default_config(client, runtime):
    page = client.get("/scenarios/northwind/finetune")
    assert page.status_code == 200
    assert 'name="file"' in page.text and "lora_r: 8" in page.text
    assert Path(runtime.settings.base_model).name in page.text  # by name, not its path
    assert runtime.settings.base_model not in page.text


def test_an_upload_with_bad_lines_shows_each_line_and_stores_nothing(client, session):
    before = session.scalars(select(Dataset.id)).all()
    files = {"file": ("bad.jsonl", b'{"prompt": "q", "completion": "a"}\n{oops\n', "text/plain")}
    response = client.post("/scenarios/northwind/datasets", files=files, headers=HX)
    assert response.status_code == 422 and "<html" not in response.text
    assert "Rejected" in response.text and "<td>2</td>" in response.text
    assert session.scalars(select(Dataset.id)).all() == before


def test_a_bad_config_is_shown_next_to_the_form(client):
    form = {"config_yaml": "lora_r: 8\nwarmup: 3\n"}
    response = client.post("/scenarios/northwind/trainings", data=form, headers=HX)
    assert response.status_code == 422 and "warmup: unknown field" in response.text


def test_a_running_job_polls_itself_and_a_finished_one_stops(client, session):
    scenario = session.scalar(select(Scenario).where(Scenario.slug == "northwind"))
    dataset_id = session.scalar(select(Dataset.id).where(Dataset.scenario_id == scenario.id))
    job = Training(
        scenario_id=scenario.id,
        dataset_id=dataset_id,
        adapter_name="page-test",
        status="failed",
        config={"lora_r": 8},
        activate=False,
        step=2,
        total_steps=4,
        examples_per_s=1.5,
        loss_history=[3.1, 2.2],
        cancel_requested=False,
        error="RuntimeError: out of patience",
    )
    session.add(job)
    session.commit()
    page = client.get(f"/trainings/{job.id}")
    assert "out of patience" in page.text and "hx-trigger" not in page.text.split("<main>")[1]
    assert "<polyline" in page.text
    job.status, job.error = "running", None
    session.commit()
    fragment = client.get(f"/trainings/{job.id}", headers=HX).text
    assert 'hx-trigger="load delay:1s"' in fragment and 'value="0.5"' in fragment
    assert "Cancel" in fragment
    job.status = "interrupted"
    session.commit()


def test_the_adapters_page_lists_the_demo_adapter_as_active(client):
    page = client.get("/adapters")
    assert page.status_code == 200 and "northwind-demo-" in page.text
    assert "<strong>active</strong>" in page.text
