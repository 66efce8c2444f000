"""The fine-tuning workflow over REST: a dataset upload with its report, a training job that
registers an adapter usable at once, cancelling, config validation, and the registry."""

import io
import json
import tarfile
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.db.models import Adapter, Dataset, Training
from app.finetune.adapters import adapter_checksum

DEMO = Path(__file__).resolve().parents[1] / "data" / "demo"
SMALL = {"micro_batch_size": 4, "max_seq_len": 160, "target_modules": ["q_proj", "v_proj"]}


def demo_lines(name: str, count: int) -> bytes:
    return "".join((DEMO / name).read_text().splitlines(keepends=True)[:count]).encode()


def upload(client, train: bytes, eval_file: bytes | None = None, **form):
    files = {"file": ("tickets.jsonl", train, "application/jsonl")}
    if eval_file is not None:
        files["eval_file"] = ("heldout.jsonl", eval_file, "application/jsonl")
    return client.post("/api/v1/scenarios/northwind/datasets", files=files, data=form)


def wait_for(client, job_id: int, done, timeout: float = 600):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/api/v1/trainings/{job_id}").json()
        if done(job):
            return job
        time.sleep(0.5)
    raise AssertionError(f"training {job_id} still {job['status']} after {timeout} s")


def finished(job) -> bool:
    return job["status"] in ("succeeded", "failed", "cancelled", "interrupted")


@pytest.fixture(scope="module")
def dataset_id(client):
    response = upload(client, demo_lines("train.jsonl", 16), demo_lines("eval_split.jsonl", 2))
    assert response.status_code == 201, response.text
    return response.json()["dataset"]["id"]


def test_a_closed_runtime_starts_its_training_worker_again(runtime, echo_engine):
    from app.runtime import Runtime

    # Not the session's runtime: closing that would close the engine the other tests use.
    closed = Runtime(runtime.settings, engine=echo_engine)
    try:
        closed.training_worker()
        closed.close()  # as the CLI does when it ends; the runtime stays usable
        assert closed.training_worker().alive
    finally:
        closed.close()


def test_a_malformed_dataset_is_rejected_with_line_numbers_and_nothing_stored(client, session):
    before = session.scalar(select(func.count(Dataset.id)))
    good = demo_lines("train.jsonl", 2).decode().splitlines()
    bad = [good[0], "{not json", good[1], json.dumps({"messages": [{"role": "user"}]})]
    response = upload(client, "\n".join(bad).encode())
    assert response.status_code == 422
    errors = response.json()["report"]["errors"]
    assert [(e["file"], e["line"]) for e in errors] == [("tickets.jsonl", 2), ("tickets.jsonl", 4)]
    assert session.scalar(select(func.count(Dataset.id))) == before


def test_a_dry_run_reports_without_storing(client, session):
    before = session.scalar(select(func.count(Dataset.id)))
    response = upload(client, demo_lines("train.jsonl", 20), dry_run="true", eval_fraction="0.1")
    assert response.status_code == 200
    report = response.json()["report"]
    assert (report["train_examples"], report["eval_examples"]) == (18, 2)
    assert any("fewer than 100" in w for w in report["warnings"])
    assert report["token_stats"]["max"] > report["token_stats"]["min"] > 0
    assert session.scalar(select(func.count(Dataset.id))) == before


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"lora_rank": 8}, '"lora_rank"'),
        ({"learning_rate": 0}, "learning_rate"),
        ({"lora_r": 1000}, "lora_r"),
        ({"target_modules": ["q_proj", "attn_qkv"]}, "target_modules: attn_qkv not in"),
    ],
)
def test_a_bad_config_is_refused_before_a_job_starts(client, session, dataset_id, config, field):
    before = session.scalar(select(func.count(Training.id)))
    body = {"dataset_id": dataset_id, "config": config}
    response = client.post("/api/v1/scenarios/northwind/trainings", json=body)
    assert response.status_code == 422 and field in response.text
    assert session.scalar(select(func.count(Training.id))) == before


def train_to_success(client, dataset_id: int, adapter_name: str, config: dict) -> dict:
    """A training through the API, waited for; it must succeed."""
    body = {"dataset_id": dataset_id, "adapter_name": adapter_name, "config": config}
    response = client.post("/api/v1/scenarios/northwind/trainings", json=body)
    assert response.status_code == 202, response.text
    job = wait_for(client, response.json()["id"], finished)
    assert job["status"] == "succeeded", job["error"]
    return job


def answer_with(client, adapter: str, level: str, query: str) -> dict:
    """One level's result of a short comparison with `adapter`."""
    body = {"query": query, "levels": [level], "adapter": adapter, "max_new_tokens": 8}
    [result] = client.post("/api/v1/comparisons", json=body).json()["results"]
    return result


def test_a_dataset_trains_through_the_api_to_an_adapter_usable_at_once(client, dataset_id):
    job = train_to_success(client, dataset_id, "api-test-lora", SMALL)
    assert job["step"] == job["total_steps"] == 4 and job["progress"] == 1.0
    assert len(job["loss_history"]) == 4 and job["examples_per_s"] > 0

    adapter = client.get("/api/v1/adapters/api-test-lora").json()
    assert adapter["checksum"] == adapter_checksum(Path(client_adapter_path(client, adapter)))
    assert adapter["active"] is False and adapter["config"]["lora_r"] == 8
    evaluation = adapter["evaluation"]
    assert evaluation["items"] == 2 and set(evaluation["base"]) >= {"json_valid", "field_match"}
    assert evaluation["loss"]["adapter"] < evaluation["loss"]["base"]

    result = answer_with(client, "api-test-lora", "finetune", "My tent pole snapped.")
    assert result["error"] is None and result["adapter"] == "api-test-lora"
    assert result["adapter_checksum"] == adapter["checksum"]


def test_a_raft_training_runs_to_an_adapter_the_rag_finetune_level_serves(client, dataset_id):
    """The RAFT option end to end: examples get the demo documents' chunks as context, the
    job reports which, and the adapter answers in the `rag_finetune` level."""
    raft = {"context_k": 2, "distractors": 1}
    config = {**SMALL, "max_seq_len": 768, "max_examples": 8, "raft": raft}
    job = train_to_success(client, dataset_id, "raft-test-lora", config)
    report = job["data_report"]
    assert report["split"] == "train" and report["examples"] == 8
    assert report["with_context"] + report["distractors_only"] == 8 and report["documents"]
    assert report["options"]["context_k"] == 2

    query = "How many days do I have to return a tent?"
    result = answer_with(client, "raft-test-lora", "rag_finetune", query)
    assert result["error"] is None and result["adapter"] == "raft-test-lora"
    assert result["context"], "the level retrieved sources for its prompt"
    assert client.delete("/api/v1/adapters/raft-test-lora").status_code == 204


def client_adapter_path(client, adapter) -> str:
    runtime = client.app.state.runtime
    with runtime.session() as session:
        return session.scalar(select(Adapter.path).where(Adapter.name == adapter["name"]))


def test_a_cancelled_job_stops_and_leaves_no_adapter(client, session, dataset_id):
    config = {**SMALL, "micro_batch_size": 1, "num_epochs": 3}
    body = {"dataset_id": dataset_id, "adapter_name": "cancelled-lora", "config": config}
    job_id = client.post("/api/v1/scenarios/northwind/trainings", json=body).json()["id"]
    wait_for(client, job_id, lambda job: job["step"] >= 1 or finished(job))
    response = client.post(f"/api/v1/trainings/{job_id}/cancel")
    assert response.status_code == 200 and response.json()["cancel_requested"]
    assert client.post(f"/api/v1/trainings/{job_id}/cancel").status_code == 409
    job = wait_for(client, job_id, finished)
    assert job["status"] == "cancelled" and job["step"] < job["total_steps"] == 48
    assert session.scalar(select(Adapter).where(Adapter.name == "cancelled-lora")) is None
    adapters_dir = client.app.state.runtime.settings.adapters_dir
    assert not any(
        p.name.startswith(("cancelled-lora", ".cancelled-lora")) for p in adapters_dir.iterdir()
    )
    assert client.post(f"/api/v1/trainings/{job_id}/cancel").status_code == 409
    assert client.post("/api/v1/trainings/999999/cancel").status_code == 404


def test_a_job_left_running_by_a_stopped_server_is_marked_interrupted(runtime, session, dataset_id):
    job = Training(
        scenario_id=session.scalar(select(Dataset.scenario_id).where(Dataset.id == dataset_id)),
        dataset_id=dataset_id,
        adapter_name="ghost",
        status="running",
        config={},
        activate=False,
        step=3,
        total_steps=10,
        examples_per_s=1.0,
        loss_history=[],
        cancel_requested=False,
    )
    session.add(job)
    session.commit()
    runtime.training_worker().mark_interrupted()
    session.refresh(job)
    assert job.status == "interrupted" and "stopped" in job.error


def test_the_registry_activates_exports_and_deletes(client):
    name = "api-test-lora"
    active = client.get("/api/v1/scenarios/northwind").json()["active_adapter"]
    assert client.delete(f"/api/v1/adapters/{active}").status_code == 409
    archive = client.get(f"/api/v1/adapters/{name}/export")
    assert archive.status_code == 200
    with tarfile.open(fileobj=io.BytesIO(archive.content)) as tar:
        assert f"{name}/adapter_config.json" in tar.getnames()
    assert client.post(f"/api/v1/adapters/{name}/activate").json()["active"] is True
    assert client.post(f"/api/v1/adapters/{active}/activate").json()["active"] is True
    path = Path(client_adapter_path(client, {"name": name}))
    assert client.delete(f"/api/v1/adapters/{name}").status_code == 204
    assert client.get(f"/api/v1/adapters/{name}").status_code == 404 and not path.exists()
    names = [a["name"] for a in client.get("/api/v1/adapters").json()]
    assert active in names and name not in names


def test_a_dataset_without_an_eval_split_holds_out_a_tenth_for_the_report(client):
    response = upload(client, demo_lines("train.jsonl", 20))
    assert response.status_code == 201, response.text
    dataset = response.json()["dataset"]
    assert dataset["eval_examples"] == 0
    body = {"dataset_id": dataset["id"], "adapter_name": "api-holdout-lora", "config": SMALL}
    job = wait_for(
        client,
        client.post("/api/v1/scenarios/northwind/trainings", json=body).json()["id"],
        finished,
    )
    assert job["status"] == "succeeded", job["error"]
    evaluation = client.get("/api/v1/adapters/api-holdout-lora").json()["evaluation"]
    assert evaluation["items"] == 2 and set(evaluation["base"]) >= {"json_valid", "field_match"}
    assert "no eval split: 2 of its 20 training examples" in evaluation["held_out"]
    page = client.get("/adapters/api-holdout-lora")
    assert "were held out for this report and not trained on" in page.text
    assert client.delete("/api/v1/adapters/api-holdout-lora").status_code in (200, 204)
