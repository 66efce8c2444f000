"""Structured output as a level option: a constrained comparison or eval decodes every level
under the scenario's output JSON schema (llama.cpp: a grammar made from the schema; an
OpenAI-compatible server: its `response_format`), a backend that cannot constrain refuses
clearly, and the column and the report say the run was constrained."""

from __future__ import annotations

import json

import jsonschema
import pytest

from app.engine import GenerationRequest
from app.engine.base import ConstraintUnsupported
from app.engine.echo import EchoEngine
from app.engine.openai_api import OpenAIEngine
from tests.scenario_files import unique_slug
from tests.test_evals import wait_for

API = "/api/v1/scenarios"
INTENT = {
    "type": "object",
    "properties": {"intent": {"type": "string", "enum": ["card_arrival", "change_pin"]}},
    "required": ["intent"],
    "additionalProperties": False,
}
ASK = [{"role": "user", "content": "My card has not arrived. Which intent is this?"}]


def constrained(engine, schema=INTENT) -> str:
    request = GenerationRequest(messages=ASK, max_new_tokens=48, json_schema=schema)
    return engine.generate([request])[0].text


def test_llamacpp_decodes_only_text_valid_under_the_schema(runtime):
    _, engine = runtime.models()
    assert engine.name == "llamacpp"
    jsonschema.validate(json.loads(constrained(engine)), INTENT)


def test_llamacpp_decodes_under_the_demos_schema_leaving_out_its_pattern(runtime, session):
    from app.db.queries import get_scenario
    from app.engine.llamacpp import without_patterns

    schema = get_scenario(session, "northwind").output_schema
    assert "pattern" in schema["properties"]["reply"]  # the one that crashed llama.cpp
    assert "pattern" not in without_patterns(schema)["properties"]["reply"]
    assert without_patterns(schema)["properties"]["reply"]["maxLength"] == 300
    _, engine = runtime.models()
    request = GenerationRequest(messages=ASK, max_new_tokens=128, json_schema=schema)
    answer = json.loads(engine.generate([request])[0].text)
    jsonschema.validate(answer, without_patterns(schema))


def test_an_openai_compatible_server_is_sent_the_schema_and_keeps_to_it(openai_engine):
    jsonschema.validate(json.loads(constrained(openai_engine)), INTENT)


@pytest.mark.parametrize(
    ("schema_format", "expected"),
    [
        (
            "json_schema",
            {
                "type": "json_schema",
                "json_schema": {"name": "output", "schema": INTENT, "strict": True},
            },
        ),
        ("json_object", {"type": "json_object", "schema": INTENT}),
    ],
)
def test_the_schema_goes_in_the_form_the_server_takes(settings, schema_format, expected):
    engine = OpenAIEngine(
        base_url="http://127.0.0.1:9",
        model="m",
        base_model=settings.base_model,
        schema_format=schema_format,
    )
    try:
        body = engine.request_body(GenerationRequest(messages=ASK, json_schema=INTENT))
        assert body["response_format"] == expected
        assert "response_format" not in engine.request_body(GenerationRequest(messages=ASK))
    finally:
        engine.close()


def test_a_backend_that_cannot_constrain_refuses_clearly(settings):
    class Unconstrained(EchoEngine):
        name = "plain"
        constrains_output = False

    engine = Unconstrained(settings.base_model)
    with pytest.raises(ConstraintUnsupported, match="cannot constrain its output"):
        constrained(engine)
    assert engine.generate([GenerationRequest(messages=ASK)])[0].text  # free text still runs
    engine.close()


@pytest.fixture
def bank(echo_client):
    slug = unique_slug("constrained")
    assert echo_client.post(f"{API}/northwind/clone", json={"slug": slug}).status_code == 201
    yield slug
    echo_client.delete(f"{API}/{slug}", params={"confirm": slug})


def test_a_constrained_comparison_sends_the_schema_to_every_level(echo_client, echo_engine, bank):
    body = {"query": "Where is my tent?", "scenario": bank, "levels": ["prompt", "rag"]}
    answer = echo_client.post("/api/v1/comparisons", json={**body, "constrained": True})
    assert answer.status_code == 201, answer.text
    schema = echo_client.get(f"{API}/{bank}").json()["output_schema"]
    assert echo_engine.schemas[-2:] == [schema, schema]
    results = answer.json()["results"]
    assert all(r["provenance"]["constrained"] for r in results)
    assert answer.json()["settings"]["constrained"] is True
    page = echo_client.get(f"/comparisons/{answer.json()['id']}").text
    assert page.count('class="badge constrained"') == 2
    free = echo_client.post("/api/v1/comparisons", json=body).json()
    assert echo_engine.schemas[-1] is None
    assert "constrained" not in free["results"][0]["provenance"]


def test_constraining_a_scenario_without_a_schema_is_refused(echo_client, bank):
    echo_client.patch(f"{API}/{bank}", json={"output_schema": None})
    body = {"query": "hi", "scenario": bank, "constrained": True}
    answer = echo_client.post("/api/v1/comparisons", json=body)
    assert answer.status_code == 422 and "no output JSON schema" in answer.json()["detail"]
    run = echo_client.post(f"{API}/{bank}/evals", json={"limit": 1, "constrained": True})
    assert run.status_code == 422 and "no output JSON schema" in run.json()["detail"]


def test_a_constrained_eval_says_so_in_its_report(echo_client, bank):
    run = echo_client.post(
        f"{API}/{bank}/evals", json={"limit": 3, "levels": ["prompt"], "constrained": True}
    )
    assert run.status_code == 202, run.text
    assert wait_for(echo_client, run.json()["id"])["status"] == "done"
    report = echo_client.get(f"{API}/{bank}/report").json()
    assert report["notes"][0].startswith("Every level decoded under the scenario's output")
