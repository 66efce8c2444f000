"""Scenarios over REST: create, edit, clone and delete, with every bad input answered by a
4xx that names the field and stores nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.db.models import (
    Adapter,
    Chunk,
    Comparison,
    Dataset,
    Document,
    EvalItem,
    EvalSet,
    Example,
    Scenario,
)
from app.scenarios.prompts import DEFAULT_RAG_INSTRUCTION, DEFAULT_RAG_TEMPLATE
from tests.scenario_files import LABELS_PROMPT, create, unique_slug

API = "/api/v1/scenarios"


def slugs(client) -> set[str]:
    return {s["slug"] for s in client.get(API).json()}


def test_a_scenario_is_created_with_its_prompts_and_read_back(echo_client):
    slug = unique_slug("bank")
    schema = {"type": "object", "properties": {"intent": {"type": "string"}}}
    made = create(
        echo_client,
        slug,
        system_prompt=LABELS_PROMPT,
        few_shot_k=2,
        output_schema=schema,
        max_new_tokens=48,
    )
    assert made["system_prompt"] == LABELS_PROMPT and made["few_shot_k"] == 2
    assert made["output_schema"] == schema and made["max_new_tokens"] == 48
    assert made["rag_instruction"] == DEFAULT_RAG_INSTRUCTION
    assert made["rag_template"] == DEFAULT_RAG_TEMPLATE
    assert made["finetune_system_prompt"] is None and made["temperature"] is None
    assert made["documents"] == made["examples"] == 0 and made["active_adapter"] is None
    assert echo_client.get(f"{API}/{slug}").json() == made
    assert slug in slugs(echo_client)


def test_existing_scenarios_keep_their_fields_and_gain_the_new_ones(echo_client):
    demo = echo_client.get(f"{API}/northwind").json()
    assert demo["rag_instruction"] == DEFAULT_RAG_INSTRUCTION
    assert demo["rag_template"] == DEFAULT_RAG_TEMPLATE
    for name in ("few_shot_k", "few_shot_dataset_id", "finetune_system_prompt"):
        assert demo[name] is None


BAD_CREATES = [
    ({"slug": "Bank Intents"}, 422, "slug"),
    ({"slug": "-bank"}, 422, "slug"),
    ({"slug": "b" * 64}, 422, "slug"),
    ({"slug": "new"}, 422, "reserved"),
    ({"name": ""}, 422, "name"),
    ({"output_schema": {"type": "strin"}}, 422, "$.type"),
    ({"output_schema": {"properties": {"a": {"minLength": -1}}}}, 422, "$.properties.a"),
    ({"rag_template": "{sources}\n{question} {foo}"}, 422, "{foo}"),
    ({"rag_template": "Sources: {sources}"}, 422, "{question}"),
    ({"rag_instruction": "Answer {question}"}, 422, "rag_instruction"),
    ({"system_prompt": "  "}, 422, "system_prompt"),
    ({"finetune_system_prompt": ""}, 422, "finetune_system_prompt"),
    ({"few_shot_k": 11}, 422, "few_shot_k"),
    ({"temperature": 3}, 422, "temperature"),
    ({"few_shot_dataset_id": 1}, 422, "few_shot_dataset_id"),
    ({"system_prompt": "a\x00b"}, 422, "system_prompt"),
    ({"pricing": "cheap"}, 422, "pricing"),
]


@pytest.mark.parametrize(("fields", "status", "named"), BAD_CREATES)
def test_a_bad_create_names_the_field_and_stores_nothing(echo_client, fields, status, named):
    body = {"slug": unique_slug("bad"), "name": "Bad", **fields}
    answer = echo_client.post(API, json=body)
    assert answer.status_code == status, answer.text
    assert named in answer.text
    assert body["slug"] not in slugs(echo_client)


def test_a_taken_slug_is_a_conflict(echo_client):
    answer = echo_client.post(API, json={"slug": "northwind", "name": "Another"})
    assert answer.status_code == 409 and "slug" in answer.json()["detail"]
    assert echo_client.get(f"{API}/northwind").json()["name"] != "Another"


def test_an_edit_changes_only_what_it_sends(echo_client):
    slug = unique_slug("edit")
    create(echo_client, slug, few_shot_k=2, temperature=0.5)
    template = "Question: {question}\nSources:\n{sources}"
    edited = echo_client.patch(
        f"{API}/{slug}", json={"rag_template": template, "few_shot_k": None, "name": "Renamed"}
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["rag_template"] == template and edited.json()["name"] == "Renamed"
    assert edited.json()["few_shot_k"] is None  # back to the setting's default
    assert edited.json()["temperature"] == 0.5  # not sent: unchanged


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"name": None}, "name"),
        ({"rag_template": None}, "rag_template"),
        ({"rag_template": "{question} only"}, "{sources}"),
        ({"output_schema": {"type": 5}}, "$.type"),
        ({"slug": "renamed"}, "slug"),
    ],
)
def test_a_bad_edit_names_the_field_and_changes_nothing(echo_client, fields, named):
    slug = unique_slug("badedit")
    before = create(echo_client, slug)
    answer = echo_client.patch(f"{API}/{slug}", json=fields)
    assert answer.status_code == 422 and named in answer.text
    assert echo_client.get(f"{API}/{slug}").json() == before


def test_the_example_pool_must_be_a_dataset_of_the_scenario(echo_client, session):
    slug = unique_slug("pool")
    create(echo_client, slug)
    demo = session.scalar(select(Scenario).where(Scenario.slug == "northwind"))
    other = session.scalar(select(Dataset.id).where(Dataset.scenario_id == demo.id))
    answer = echo_client.patch(f"{API}/{slug}", json={"few_shot_dataset_id": other})
    assert answer.status_code == 422 and "few_shot_dataset_id" in answer.json()["detail"]
    assert echo_client.patch(f"{API}/nowhere", json={"name": "x"}).status_code == 404


def test_a_scenario_is_not_edited_or_deleted_while_its_training_runs(
    echo_client, session, running_training
):
    slug, training = running_training
    edit = echo_client.patch(f"{API}/{slug}", json={"system_prompt": "new"})
    assert edit.status_code == 409 and f"training {training.id}" in edit.json()["detail"]
    gone = echo_client.delete(f"{API}/{slug}", params={"confirm": slug})
    assert gone.status_code == 409
    assert echo_client.get(f"{API}/{slug}").json()["system_prompt"] != "new"
    # a training left `running` by a process that stopped holds nothing up
    training.owner = "elsewhere:1:gone"
    session.commit()
    assert echo_client.patch(f"{API}/{slug}", json={"system_prompt": "new"}).status_code == 200


def count(session, row, scenario_id: int, *joined) -> int:
    statement = select(func.count()).select_from(row)
    for other in joined:
        statement = statement.join(other)
    owner = joined[-1] if joined else row
    return session.scalar(statement.where(owner.scenario_id == scenario_id))


def test_a_clone_copies_prompts_documents_datasets_and_eval_sets_not_adapters(echo_client, session):
    slug = unique_slug("northwind-copy")
    answer = echo_client.post(f"{API}/northwind/clone", json={"slug": slug})
    assert answer.status_code == 201, answer.text
    copy, demo = answer.json(), echo_client.get(f"{API}/northwind").json()
    assert copy["name"] == f"{demo['name']} (copy)" and copy["active_adapter"] is None
    for name in ("system_prompt", "rag_instruction", "rag_template", "output_schema"):
        assert copy[name] == demo[name]
    for name in ("documents", "chunks", "examples"):
        assert copy[name] == demo[name] > 0
    source, target = (
        session.scalar(select(Scenario.id).where(Scenario.slug == s)) for s in ("northwind", slug)
    )
    for row, *joined in ((Dataset,), (EvalSet,), (EvalItem, EvalSet), (Example, Dataset)):
        assert count(session, row, target, *joined) == count(session, row, source, *joined)
    assert count(session, Adapter, target) == 0
    for mode in ("vector", "keyword"):  # the copied vectors, the generated full-text column
        found = echo_client.get(f"{API}/{slug}/search", params={"q": "return a tent", "mode": mode})
        assert found.json()["hits"], mode
    assert echo_client.post(f"{API}/northwind/clone", json={"slug": slug}).status_code == 409
    assert echo_client.post(f"{API}/northwind/clone", json={"slug": "No"}).status_code == 422
    echo_client.delete(f"{API}/{slug}", params={"confirm": slug})


def test_a_delete_needs_the_confirmation_then_removes_everything(echo_client, session, settings):
    slug = unique_slug("doomed")
    echo_client.post(f"{API}/northwind/clone", json={"slug": slug})
    ran = echo_client.post(
        "/api/v1/comparisons",
        json={"query": "Do you price match?", "scenario": slug, "levels": ["prompt", "rag"]},
    )
    assert ran.status_code == 201
    scenario_id = session.scalar(select(Scenario.id).where(Scenario.slug == slug))
    adapter_dir = fake_adapter(session, settings.adapters_dir, scenario_id, f"{slug}-lora")
    converted = adapter_dir.parent / f"{adapter_dir.name}.0123456789abcdef.lora.gguf"
    converted.write_bytes(b"gguf")

    assert echo_client.delete(f"{API}/{slug}").status_code == 422
    wrong = echo_client.delete(f"{API}/{slug}", params={"confirm": "northwind"})
    assert wrong.status_code == 422 and "confirm" in wrong.json()["detail"]
    assert echo_client.get(f"{API}/{slug}").status_code == 200 and adapter_dir.is_dir()

    answer = echo_client.delete(f"{API}/{slug}", params={"confirm": slug})
    assert answer.status_code == 200, answer.text
    removed = answer.json()["removed"]
    assert removed["documents"] > 0 and removed["comparisons"] == 1 and removed["adapters"] == 1
    assert echo_client.get(f"{API}/{slug}").status_code == 404
    session.expire_all()
    for row in (Document, Chunk, Dataset, EvalSet, Adapter, Comparison):
        assert count(session, row, scenario_id) == 0
    assert not adapter_dir.exists() and not converted.exists()
    assert echo_client.get(f"{API}/northwind").json()["documents"] > 0  # the source stays


def fake_adapter(session, adapters_dir: Path, scenario_id: int, name: str) -> Path:
    """An adapter row with a directory in the adapters folder (no weights: only deleted)."""
    path = adapters_dir / name
    path.mkdir(parents=True)
    (path / "adapter_config.json").write_text("{}")
    session.add(
        Adapter(
            scenario_id=scenario_id,
            name=name,
            path=str(path),
            base_model="none",
            dataset_sha256="0" * 64,
            checksum="0" * 64,
            config={},
            metrics={},
        )
    )
    session.commit()
    return path
