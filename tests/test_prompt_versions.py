"""Prompt versions: each change of a level's prompt makes a new immutable version; results
and eval runs name the version they ran, a comparison can pin an older one, and the API,
the CLI and the pages list and diff them."""

from __future__ import annotations

import json

import pytest

from tests.scenario_files import create, unique_slug
from tests.test_evals import wait_for

API = "/api/v1/scenarios"
FIRST = "Classify the message. Answer with JSON."
SECOND = "Classify the customer's message.\nAnswer with JSON only."


@pytest.fixture
def scenario(echo_client):
    """A copy of the demo (documents and examples to use) with a prompt of its own."""
    slug = unique_slug("ver")
    assert echo_client.post(f"{API}/northwind/clone", json={"slug": slug}).status_code == 201
    edit = {"system_prompt": FIRST, "note": "our own prompt"}
    assert echo_client.patch(f"{API}/{slug}", json=edit).status_code == 200
    yield slug
    echo_client.delete(f"{API}/{slug}", params={"confirm": slug})


def versions(client, slug: str, level: str | None = None) -> list[dict]:
    params = {"level": level} if level else {}
    answer = client.get(f"{API}/{slug}/prompt-versions", params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()


def compare(client, slug: str, **extra) -> dict:
    body = {"query": "My card was charged twice", "scenario": slug, "levels": ["prompt", "rag"]}
    answer = client.post("/api/v1/comparisons", json={**body, **extra})
    assert answer.status_code == 201, answer.text
    return {r["level"]: r for r in answer.json()["results"]} | {"id": answer.json()["id"]}


def test_a_new_scenario_starts_at_version_1_and_an_edit_versions_only_what_changed(echo_client):
    slug = unique_slug("v1")
    made = create(echo_client, slug)
    assert made["prompt_versions"] == {"prompt": 1, "rag": 1, "finetune": 1, "rag_finetune": 1}
    edit = {"system_prompt": SECOND, "note": "stricter"}
    edited = echo_client.patch(f"{API}/{slug}", json=edit).json()
    assert edited["prompt_versions"] == {"prompt": 2, "rag": 1, "finetune": 1, "rag_finetune": 1}
    newest = versions(echo_client, slug, "prompt")
    assert [(v["number"], v["note"]) for v in newest] == [(2, "stricter"), (1, "created")]
    assert newest[0]["content"]["system_prompt"] == SECOND
    again = echo_client.patch(f"{API}/{slug}", json={"system_prompt": SECOND, "note": "same"})
    assert again.json()["prompt_versions"]["prompt"] == 2  # the same text is no new version
    settings_only = echo_client.patch(f"{API}/{slug}", json={"max_new_tokens": 20}).json()
    assert settings_only["prompt_versions"]["prompt"] == 2  # not a prompt field
    echo_client.delete(f"{API}/{slug}", params={"confirm": slug})


def test_the_diff_of_two_versions_names_the_changed_field(echo_client, scenario):
    echo_client.patch(f"{API}/{scenario}", json={"system_prompt": SECOND})
    diff = echo_client.get(f"{API}/{scenario}/prompt-versions/prompt/2/diff/3").json()
    changed = {c["field"]: c for c in diff["changes"] if c["changed"]}
    assert list(changed) == ["system_prompt"]
    assert f"-{FIRST}" in changed["system_prompt"]["diff"]
    assert "+Answer with JSON only." in changed["system_prompt"]["diff"]
    missing = echo_client.get(f"{API}/{scenario}/prompt-versions/prompt/9")
    assert missing.status_code == 404 and "no version 9" in missing.json()["detail"]


def test_a_result_made_before_an_edit_still_names_and_shows_the_old_version(echo_client, scenario):
    before = compare(echo_client, scenario)
    assert before["prompt"]["prompt_version"] == 2  # v1 cloned, v2 our own prompt
    echo_client.patch(f"{API}/{scenario}", json={"system_prompt": SECOND, "note": "v3"})
    after = compare(echo_client, scenario)
    assert after["prompt"]["prompt_version"] == 3
    assert after["prompt"]["provenance"]["prompts"]["system_prompt"]["text"] == SECOND
    stored = echo_client.get(f"/api/v1/comparisons/{before['id']}").json()
    old = next(r for r in stored["results"] if r["level"] == "prompt")
    assert old["prompt_version"] == 2
    assert old["provenance"]["prompt_version"]["number"] == 2
    assert old["provenance"]["prompts"]["system_prompt"]["text"] == FIRST
    page = echo_client.get(f"/comparisons/{before['id']}").text
    assert "prompt v2" in page and FIRST in page and SECOND not in page


def test_a_comparison_can_pin_an_older_version(echo_client, scenario):
    echo_client.patch(f"{API}/{scenario}", json={"system_prompt": SECOND})
    pinned = compare(echo_client, scenario, prompt_versions={"prompt": 2})
    assert pinned["prompt"]["prompt_version"] == 2
    assert pinned["prompt"]["provenance"]["prompts"]["system_prompt"]["text"] == FIRST
    assert pinned["rag"]["prompt_version"] == 1  # not pinned: the latest
    unknown = echo_client.post(
        "/api/v1/comparisons",
        json={"query": "hi", "scenario": scenario, "prompt_versions": {"prompt": 7}},
    )
    assert unknown.status_code == 422 and "no version 7" in unknown.json()["detail"]


def test_the_compare_form_pins_a_version(echo_client, scenario):
    echo_client.patch(f"{API}/{scenario}", json={"system_prompt": SECOND})
    form = echo_client.get("/compare/adapters", params={"scenario": scenario}).text
    assert 'name="prompt_version_prompt"' in form and "latest (v3)" in form
    page = echo_client.post(
        "/compare",
        data={
            "query": "Where is my refund?",
            "scenario": scenario,
            "levels": ["prompt"],
            "prompt_version_prompt": "2",
        },
    )
    assert page.status_code == 200, page.text
    assert "prompt v2" in page.text and FIRST in page.text


def test_an_eval_run_records_the_versions_it_ran(echo_client, scenario):
    started = echo_client.post(f"{API}/{scenario}/evals", json={"limit": 1, "levels": ["prompt"]})
    assert started.status_code in (200, 201, 202), started.text
    run = started.json()
    assert run["options"]["prompt_versions"] == {
        "prompt": 2,
        "rag": 1,
        "finetune": 1,
        "rag_finetune": 1,
    }
    finished = wait_for(echo_client, run["id"])
    assert finished["status"] == "done", finished
    scores = echo_client.get(f"/api/v1/evals/{run['id']}/export", params={"format": "jsonl"})
    comparison_id = json.loads(scores.text.splitlines()[0])["comparison_id"]
    result = echo_client.get(f"/api/v1/comparisons/{comparison_id}").json()["results"][0]
    assert result["prompt_version"] == 2


def test_the_scenario_page_lists_versions_and_diffs_them(echo_client, scenario):
    echo_client.patch(f"{API}/{scenario}", json={"system_prompt": SECOND, "note": "stricter"})
    page = echo_client.get(f"/scenarios/{scenario}").text
    assert "Prompt versions" in page and "stricter" in page
    assert f"/scenarios/{scenario}/prompts/prompt/diff?old=2&amp;new=3" in page
    diff = echo_client.get(f"/scenarios/{scenario}/prompts/prompt/diff?old=2&new=3")
    assert diff.status_code == 200
    assert "+Answer with JSON only." in diff.text and "unchanged" in diff.text


def test_the_cli_lists_and_diffs_versions(cli_run, echo_client, scenario):
    echo_client.patch(f"{API}/{scenario}", json={"system_prompt": SECOND, "note": "stricter"})
    listed = cli_run(["scenario", "versions", scenario, "--level", "prompt"])
    assert listed.exit_code == 0, listed.output
    assert "v3" in listed.output and "stricter" in listed.output
    diff = cli_run(["scenario", "versions", scenario, "--level", "prompt", "--diff", "2", "3"])
    assert diff.exit_code == 0, diff.output
    assert "+Answer with JSON only." in diff.output
    edited = cli_run(
        ["scenario", "edit", scenario, "--rag-template", "Q: {question}\n{sources}", "--note", "x"]
    )
    assert edited.exit_code == 0, edited.output
    assert "new prompt version(s): rag v2" in edited.output


def test_the_cli_compare_pins_a_version(cli_run, echo_client, scenario):
    echo_client.patch(f"{API}/{scenario}", json={"system_prompt": SECOND})
    args = ["compare", "Where is my refund?", "--scenario", scenario, "--levels", "prompt"]
    pinned = cli_run([*args, "--prompt-version", "prompt=2", "--json"])
    assert pinned.exit_code == 0, pinned.output
    result = json.loads(pinned.output)["results"][0]
    assert result["prompt_version"] == 2
    assert result["provenance"]["prompts"]["system_prompt"]["text"] == FIRST
    bad = cli_run([*args, "--prompt-version", "prompt"])
    assert bad.exit_code == 2 and "LEVEL=NUMBER" in bad.output
