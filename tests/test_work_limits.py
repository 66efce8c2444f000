"""Bounded work (issue 17, D11): capped error reports, eval and training sizes, the queue of
trainings, and generation that stops at its deadline instead of running on."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from app.db.models import Dataset, Scenario, Training
from app.demo import DATASET
from app.engine import GenerationRequest
from app.engine.echo import EchoEngine
from app.errors import Busy
from app.finetune.config import TrainingConfig
from app.finetune.jobs import check_queue_room, pick_dataset

CHAT = [{"role": "user", "content": "Write a long story about a mountain trail."}]


def with_settings(monkeypatch, runtime, **changes) -> None:
    monkeypatch.setattr(runtime, "settings", runtime.settings.model_copy(update=changes))


def test_a_dataset_of_many_bad_lines_reports_a_hundred_and_the_count(echo_client):
    """D11: a million `{}` lines answered with 94 MB of errors."""
    files = {"file": ("bad.jsonl", b"{}\n" * 1500)}
    response = echo_client.post("/api/v1/scenarios/northwind/datasets", files=files)
    assert response.status_code == 422
    report = response.json()["report"]
    assert len(report["errors"]) == 100
    assert report["errors_total"] == 1500
    assert report["errors_not_shown"] == 1400
    assert "1500 error(s)" in response.json()["detail"]
    assert len(response.content) < 20_000


def test_the_dataset_page_says_how_many_errors_it_does_not_list(echo_client):
    files = {"file": ("bad.jsonl", b"{}\n" * 150)}
    page = echo_client.post(
        "/scenarios/northwind/datasets", files=files, headers={"HX-Request": "true"}
    )
    assert page.status_code == 422
    assert "150 error(s)" in page.text
    assert "50 more are not shown" in page.text


def test_eval_repeats_past_the_limit_are_refused(echo_client):
    response = echo_client.post(
        "/api/v1/scenarios/northwind/evals", json={"repeats": 6, "temperature": 0.7}
    )
    assert response.status_code == 422
    assert "TRITUNE_MAX_EVAL_REPEATS" in response.json()["detail"]


def test_an_eval_of_more_items_than_allowed_is_refused(echo_client, echo_runtime, monkeypatch):
    with_settings(monkeypatch, echo_runtime, max_eval_items=5)
    response = echo_client.post("/api/v1/scenarios/northwind/evals", json={})
    assert response.status_code == 422
    assert "TRITUNE_MAX_EVAL_ITEMS" in response.json()["detail"]


def test_a_training_of_too_many_epochs_is_refused(echo_client):
    body = {"config": {"num_epochs": 50}}
    response = echo_client.post("/api/v1/scenarios/northwind/trainings", json=body)
    assert response.status_code == 422
    assert "TRITUNE_MAX_TRAINING_EPOCHS" in response.json()["detail"]


def test_a_training_of_too_many_steps_is_refused(echo_client, echo_runtime, monkeypatch, session):
    """On the demo's tickets by name: other tests make their own small uploads current."""
    with_settings(monkeypatch, echo_runtime, max_training_steps=10)
    tickets = session.scalar(select(Dataset.id).where(Dataset.name == DATASET))
    body = {"dataset_id": tickets, "config": {"num_epochs": 2}}
    response = echo_client.post("/api/v1/scenarios/northwind/trainings", json=body)
    assert response.status_code == 422
    assert "TRITUNE_MAX_TRAINING_STEPS" in response.json()["detail"]


def test_a_full_queue_of_trainings_answers_busy(session, settings):
    """Checked on rows this transaction adds (never committed: no worker may run them)."""
    scenario = session.query(Scenario).filter_by(slug="northwind").one()
    dataset = pick_dataset(session, scenario, None)
    for n in range(2):
        session.add(
            Training(
                scenario_id=scenario.id,
                dataset_id=dataset.id,
                adapter_name=f"queued-{n}",
                status="queued",
                config=TrainingConfig().model_dump(),
                step=0,
                total_steps=0,
                examples_per_s=0.0,
                loss_history=[],
            )
        )
    session.flush()
    full = settings.model_copy(update={"max_queued_trainings": 2})
    with pytest.raises(Busy) as refused:
        check_queue_room(session, scenario, full)
    assert refused.value.headers["Retry-After"]
    session.rollback()


def test_the_echo_engine_stops_at_the_deadline(settings):
    engine = EchoEngine(settings.base_model, token_delay_s=0.05)
    try:
        request = GenerationRequest(CHAT, max_new_tokens=200, deadline=time.monotonic() + 0.2)
        [result] = engine.generate([request])
    finally:
        engine.close()
    assert result.timed_out
    assert 1 <= result.completion_tokens < 10


def test_the_llamacpp_engine_stops_at_the_deadline(llamacpp_engine):
    started = time.monotonic()
    request = GenerationRequest(CHAT, max_new_tokens=1024, deadline=started + 0.3)
    [result] = llamacpp_engine.generate([request])
    assert result.timed_out
    assert result.completion_tokens < 1024
    assert time.monotonic() - started < 60  # seconds on a quiet machine; a busy one waits


def test_a_request_past_its_deadline_before_it_starts_generates_nothing(llamacpp_engine):
    request = GenerationRequest(CHAT, max_new_tokens=64, deadline=time.monotonic() - 1)
    [result] = llamacpp_engine.generate([request])
    assert result.timed_out and result.text == "" and result.completion_tokens == 0


def test_a_comparison_reports_a_level_that_timed_out(
    echo_client, echo_runtime, echo_engine, monkeypatch
):
    """A level still generating at `generation_timeout_s` is reported as timed out, with the
    output it had; the comparison does not wait for it."""
    with_settings(monkeypatch, echo_runtime, generation_timeout_s=0.3)
    monkeypatch.setattr(echo_engine, "token_delay_s", 0.05)
    body = {"query": "Where is my order? " * 10, "levels": ["prompt"], "max_new_tokens": 200}
    started = time.monotonic()
    response = echo_client.post("/api/v1/comparisons", json=body)
    assert time.monotonic() - started < 10
    assert response.status_code == 201, response.text
    [result] = response.json()["results"]
    assert "timed out" in result["error"]
    assert "TRITUNE_GENERATION_TIMEOUT_S" in result["error"]
    assert result["completion_tokens"] < 200
