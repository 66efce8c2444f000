"""The levels ask with the scenario's own prompts: the prompt level its system prompt and
example pool, the rag level its instruction and template, the fine-tuned level the system
message its adapter was trained with (or the scenario's own), so training and serving
present the model the same prompt."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import select

from app.compare.service import ComparisonOptions
from app.db.models import Adapter, Scenario
from app.finetune.dataset import ChatExample, store_dataset
from app.levels import LevelInputs, get_level
from app.levels.rag import prompt_messages
from app.rag.search import ChunkHit
from app.scenarios.service import delete_scenario
from app.scenarios.versions import resolve_versions, version_content
from tests.scenario_files import LABELS_PROMPT, intent_examples, unique_slug

API = "/api/v1/scenarios"
OWN_SYSTEM = "You are Bankly's intent classifier. Reply with JSON only."
OWN_INSTRUCTION = "You answer for {scenario}, citing the numbered sources."
OWN_TEMPLATE = "Customer: {question}\n\nSources:\n{sources}\n\nReply in one line."


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture
def own_scenario(echo_client):
    """A copy of the demo (documents and examples) with prompts of its own."""
    slug = unique_slug("own")
    assert echo_client.post(f"{API}/northwind/clone", json={"slug": slug}).status_code == 201
    edit = {
        "system_prompt": OWN_SYSTEM,
        "rag_instruction": OWN_INSTRUCTION,
        "rag_template": OWN_TEMPLATE,
        "few_shot_k": 1,
        "max_new_tokens": 40,
    }
    assert echo_client.patch(f"{API}/{slug}", json=edit).status_code == 200
    yield slug
    echo_client.delete(f"{API}/{slug}", params={"confirm": slug})


def test_a_scenarios_prompt_and_rag_levels_ask_with_its_own_prompts(echo_client, own_scenario):
    answer = echo_client.post(
        "/api/v1/comparisons",
        json={
            "query": "Do you price match?",
            "scenario": own_scenario,
            "levels": ["prompt", "rag"],
        },
    )
    assert answer.status_code == 201, answer.text
    comparison = answer.json()
    prompt, rag = comparison["results"]
    used = prompt["provenance"]["prompts"]["system_prompt"]
    assert used == {"text": OWN_SYSTEM, "sha256": sha256(OWN_SYSTEM)}
    assert len(prompt["examples"]) == 1  # the scenario's k
    assert rag["provenance"]["prompts"]["template"]["text"] == OWN_TEMPLATE
    assert rag["provenance"]["prompts"]["instruction"]["sha256"] == sha256(OWN_INSTRUCTION)
    assert rag["output"] == "base heard: Reply in one line."  # the echo of its template's end
    stored = echo_client.get(f"/api/v1/comparisons/{comparison['id']}").json()
    assert stored["results"][0]["provenance"] == prompt["provenance"]


def test_a_comparison_takes_the_scenarios_generation_defaults(session, settings, own_scenario):
    scenario = session.scalar(select(Scenario).where(Scenario.slug == own_scenario))
    versions = resolve_versions(session, scenario)
    run = ComparisonOptions().resolved(settings, scenario, versions)
    assert (run.max_new_tokens, run.few_shot_k) == (40, 1)
    assert run.temperature == settings.temperature  # not set by the scenario
    asked = ComparisonOptions(max_new_tokens=9, few_shot_k=0).resolved(settings, scenario, versions)
    assert (asked.max_new_tokens, asked.few_shot_k) == (9, 0)  # the request's own win


def test_the_default_rag_prompt_is_the_one_the_level_used_before(session):
    demo = session.scalar(select(Scenario).where(Scenario.slug == "northwind"))
    hit = ChunkHit(
        chunk_id=1,
        document_id=1,
        document="returns.md",
        source="returns.md",
        heading="Returns",
        text="60 days.",
        token_count=3,
        score=1.0,
        vector_rank=1,
        vector_score=1.0,
        keyword_rank=1,
        keyword_score=1.0,
    )
    before = (
        f"You are the assistant for {demo.name}. Answer the customer's question in one short "
        "sentence, using only the numbered sources."
    )
    assert prompt_messages(demo, version_content(demo, "rag"), [hit], "How long?") == [
        {"role": "system", "content": before},
        {"role": "user", "content": "Sources:\n[1] Returns\n60 days.\n\nQuestion: How long?"},
    ]


# The fine-tuned level ------------------------------------------------------------------------


@pytest.fixture
def trained_scenario(echo_runtime, session, settings, tmp_path):
    """A scenario whose dataset opens each example with a system message listing the labels,
    and an adapter row said to be trained on it (a directory with a PEFT config only: the
    level plans, nothing generates)."""
    scenario = Scenario(slug=unique_slug("ft"), name="Bank", system_prompt="unused")
    session.add(scenario)
    session.flush()
    examples = [ChatExample(m) for m in intent_examples()]
    embedder = echo_runtime.loaded_embedder()
    dataset = store_dataset(
        session,
        scenario=scenario,
        name="intents",
        sha256=sha256(scenario.slug),
        splits={"train": examples},
        embedder=embedder,
    )
    (tmp_path / "adapter_config.json").write_text("{}")
    adapter = Adapter(
        scenario_id=scenario.id,
        name=f"{scenario.slug}-lora",
        path=str(tmp_path),
        base_model=settings.base_model,
        dataset_sha256=dataset.sha256,
        checksum="0" * 64,
        config={},
        metrics={},
    )
    session.add(adapter)
    session.flush()
    scenario.active_adapter_id = adapter.id
    session.commit()
    yield scenario, examples
    delete_scenario(
        session, scenario=scenario, confirm=scenario.slug, adapters_dir=settings.adapters_dir
    )
    session.commit()


def finetune_plan(runtime, session, scenario: Scenario, query: str):
    embedder, engine = runtime.models()
    inputs = LevelInputs(
        session=session,
        scenario=scenario,
        query=query,
        query_embedding=embedder.embed_one(query),
        settings=runtime.settings,
        engine=engine,
        top_k=3,
        few_shot_k=0,
        versions=resolve_versions(session, scenario),
    )
    return get_level("finetune").plan(inputs)


def test_the_finetuned_level_asks_as_its_adapter_was_trained(
    echo_runtime, session, trained_scenario
):
    scenario, examples = trained_scenario
    trained = examples[0].messages
    plan = finetune_plan(echo_runtime, session, scenario, trained[1]["content"])
    # the prompt the training encoded for this example is the one the level serves
    assert plan.messages == trained[:-1]
    assert plan.messages[0] == {"role": "system", "content": LABELS_PROMPT}
    assert plan.provenance["system_prompt_source"] == "training data"
    assert plan.provenance["prompts"]["system_prompt"]["sha256"] == sha256(LABELS_PROMPT)


def test_the_scenarios_finetune_system_prompt_replaces_the_training_datas(
    echo_runtime, session, trained_scenario
):
    scenario, _ = trained_scenario
    scenario.finetune_system_prompt = "Answer with the intent label."
    session.flush()
    plan = finetune_plan(echo_runtime, session, scenario, "My card has not come")
    assert plan.messages == [
        {"role": "system", "content": "Answer with the intent label."},
        {"role": "user", "content": "My card has not come"},
    ]
    assert plan.provenance["system_prompt_source"] == "scenario"


def test_an_adapter_trained_without_a_system_message_gets_the_query_alone(echo_runtime, session):
    demo = session.scalar(select(Scenario).where(Scenario.slug == "northwind"))
    plan = finetune_plan(echo_runtime, session, demo, "Where is my order?")
    assert plan.messages == [{"role": "user", "content": "Where is my order?"}]
    assert plan.provenance["system_prompt_source"] == "none"
    assert plan.provenance["prompts"] == {}
