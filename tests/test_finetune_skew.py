"""Training and serving ask the model the same way: an adapter trained on chat examples
that open with a system message (BANKING77's, which lists the intent labels) is served after
that system message, so its answers follow the format training taught. Served with the
query alone, such an adapter answered `{"type": "activate"}` instead of
`{"intent": "activate_my_card"}` (0% field accuracy), which this test would catch.

Real data, real training (minutes on 2 cores): marked slow, run by `make test-all`."""

import json
import time

import pytest

from tests.scenario_files import BANKING77

SLUG = "bank-skew"
CONFIG = {"micro_batch_size": 8, "num_epochs": 2, "max_seq_len": 256, "learning_rate": 2e-3}

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not BANKING77.is_dir(), reason=f"{BANKING77} (shared data) is absent"),
]


def lines(name: str, count: int) -> list[str]:
    return (BANKING77 / name).read_text().splitlines()[:count]


def labels() -> set[str]:
    system = json.loads(lines("train.jsonl", 1)[0])["messages"][0]["content"]
    listed = system.split("from this list: ")[1].split(". Reply")[0]
    return {label.strip() for label in listed.split(",")}


@pytest.fixture
def bank_scenario(client):
    created = client.post(
        "/api/v1/scenarios",
        json={"slug": SLUG, "name": "Bank intents", "system_prompt": "Classify the message."},
    )
    assert created.status_code == 201, created.text
    yield SLUG
    client.delete(f"/api/v1/scenarios/{SLUG}", params={"confirm": SLUG})


def test_the_adapter_is_served_with_the_system_message_it_was_trained_with(client, bank_scenario):
    train = "\n".join(lines("train.jsonl", 96)).encode()
    files = {"file": ("train.jsonl", train, "application/jsonl")}
    stored = client.post(f"/api/v1/scenarios/{SLUG}/datasets", files=files)
    assert stored.status_code == 201, stored.text
    body = {"dataset_id": stored.json()["dataset"]["id"], "config": CONFIG, "activate": True}
    job = client.post(f"/api/v1/scenarios/{SLUG}/trainings", json=body).json()
    deadline = time.monotonic() + 1800
    while job["status"] in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(2)
        job = client.get(f"/api/v1/trainings/{job['id']}").json()
    assert job["status"] == "succeeded", job["error"]

    answers = []
    for line in lines("eval.jsonl", 5):
        query = json.loads(line)["messages"][1]["content"]
        response = client.post(
            "/api/v1/comparisons",
            json={"query": query, "scenario": SLUG, "levels": ["finetune"], "max_new_tokens": 24},
        )
        result = response.json()["results"][0]
        assert result["error"] is None, result["error"]
        assert result["provenance"]["system_prompt_source"] == "training data"
        answers.append(json.loads(result["output"]))
    assert all(set(answer) == {"intent"} for answer in answers), answers
    assert sum(answer["intent"] in labels() for answer in answers) >= 4, answers
