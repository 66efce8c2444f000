"""Scenario pages: the new and edit forms (each bad field's error next to it, nothing
stored), clone, delete with its typed confirmation, the scenario page's prompts per level,
and the scenario the pages remember."""

from __future__ import annotations

import html
import re
import shutil

import pytest
from markupsafe import escape

from app.scenarios.prompts import DEFAULT_RAG_TEMPLATE, DEFAULT_SYSTEM_PROMPT
from app.web.current import COOKIE
from app.web.headless import CHROMIUM, launch_chromium, serving
from tests.scenario_files import LABELS_PROMPT, create, unique_slug

API = "/api/v1/scenarios"
HX = {"HX-Request": "true"}


@pytest.fixture
def client(echo_client):
    """The session's client on the engine's test double, without a remembered scenario
    before or after (the cookie would follow the other test files)."""
    echo_client.cookies.clear()
    yield echo_client
    echo_client.cookies.clear()


def form(slug: str, **fields: str) -> dict[str, str]:
    """The new-scenario form as a browser sends it: every box, blank ones empty."""
    return {
        "slug": slug,
        "name": "Bank intents",
        "description": "Twenty intents of bank customers",
        "system_prompt": LABELS_PROMPT,
        "few_shot_k": "",
        "rag_instruction": "You answer for {scenario} from the sources.",
        "rag_template": "Sources:\r\n{sources}\r\n\r\nQuestion: {question}",
        "finetune_system_prompt": "",
        "output_schema": "",
        "max_new_tokens": "",
        "temperature": "",
        **fields,
    }


def field_error(page: str, name: str) -> str:
    found = re.search(rf'<span class="field-error" id="{name}-error">([^<]*)</span>', page)
    assert found, f"no error next to {name}"
    return html.unescape(found.group(1))


def exists(client, slug: str) -> bool:
    return client.get(f"{API}/{slug}").status_code == 200


def test_the_new_form_is_prefilled_with_the_defaults_and_names_the_placeholders(client):
    page = client.get("/scenarios/new")
    assert page.status_code == 200 and "<html" in page.text
    assert str(escape(DEFAULT_SYSTEM_PROMPT)) in page.text
    assert str(escape(DEFAULT_RAG_TEMPLATE)) in page.text
    for placeholder in ("{sources}", "{question}", "{scenario}"):
        assert f"<code>{placeholder}</code>" in page.text
    fragment = client.get("/scenarios/new", headers=HX).text
    assert "<html" not in fragment and 'name="rag_template"' in fragment


def test_a_scenario_made_with_the_form_shows_its_prompts_on_its_page(client):
    slug = unique_slug("bank")
    schema = '{"type": "object", "properties": {"intent": {"type": "string"}}}'
    answer = client.post(
        "/scenarios/new",
        data=form(slug, few_shot_k="2", output_schema=schema, temperature="0.3"),
        follow_redirects=False,
    )
    assert answer.status_code == 303 and answer.headers["location"] == f"/scenarios/{slug}"
    made = client.get(f"{API}/{slug}").json()
    assert made["system_prompt"] == LABELS_PROMPT and made["few_shot_k"] == 2
    assert made["rag_template"] == "Sources:\n{sources}\n\nQuestion: {question}"  # no CR
    assert made["output_schema"]["properties"] == {"intent": {"type": "string"}}
    assert made["temperature"] == 0.3 and made["max_new_tokens"] is None
    assert made["finetune_system_prompt"] is None  # blank: the training data's

    page = client.get(f"/scenarios/{slug}").text
    assert str(escape(LABELS_PROMPT)) in page
    assert "&#34;intent&#34;: {\n" in page  # the schema, indented
    assert "You answer for {scenario} from the sources." in page
    assert "training data" in page  # the finetune level's default, said in words
    for link in ("edit", "delete"):
        assert f'href="/scenarios/{slug}/{link}"' in page


def test_htmx_gets_a_redirect_header_instead_of_a_303(client):
    slug = unique_slug("hx")
    answer = client.post("/scenarios/new", data=form(slug), headers=HX)
    assert answer.status_code == 200 and answer.headers["HX-Redirect"] == f"/scenarios/{slug}"


BAD_FORMS = [
    ({"slug": "Bank Intents"}, 422, "slug", "lower-case letters"),
    ({"slug": "northwind"}, 409, "slug", "exists already"),
    ({"name": "  "}, 422, "name", "must not be empty"),
    ({"output_schema": '{"type": "strin"'}, 422, "output_schema", "not valid JSON"),
    ({"output_schema": '{"type": "strin"}'}, 422, "output_schema", "at $.type"),
    ({"output_schema": "[1, 2]"}, 422, "output_schema", "must be a JSON object"),
    ({"rag_template": "{sources} {foo}"}, 422, "rag_template", "unknown placeholder(s) {foo}"),
    ({"rag_template": "Sources: {sources}"}, 422, "rag_template", "{question}"),
    ({"few_shot_k": "two"}, 422, "few_shot_k", "must be a whole number"),
    ({"few_shot_k": "11"}, 422, "few_shot_k", "must be at most 10"),
    ({"temperature": "-1"}, 422, "temperature", "must be at least 0"),
]


@pytest.mark.parametrize(("fields", "status", "name", "says"), BAD_FORMS)
def test_a_bad_form_comes_back_with_the_fields_error_and_stores_nothing(
    client, fields, status, name, says
):
    slug = fields.get("slug") or unique_slug("bad")
    typed = {**form(slug), **fields}
    answer = client.post("/scenarios/new", data=typed)
    assert answer.status_code == status, answer.text
    assert says in field_error(answer.text, name)
    assert "pydantic" not in answer.text and "Input should" not in answer.text
    assert str(escape(typed["system_prompt"])) in answer.text  # what was typed is kept
    if name != "slug" or status != 409:
        assert not exists(client, slug)
    assert client.get(f"{API}/northwind").json()["name"] != "Bank intents"


def test_every_bad_field_is_named_at_once(client):
    slug = unique_slug("many")
    typed = form(slug, name="", output_schema="{", max_new_tokens="0")
    answer = client.post("/scenarios/new", data=typed, headers=HX)
    assert answer.status_code == 422 and "<html" not in answer.text
    for name in ("name", "output_schema", "max_new_tokens"):
        field_error(answer.text, name)
    assert not exists(client, slug)


def test_the_edit_form_is_prefilled_and_saves_the_changes(client):
    slug = unique_slug("edit")
    create(client, slug, few_shot_k=3, output_schema={"type": "object"}, temperature=0.5)
    page = client.get(f"/scenarios/{slug}/edit").text
    assert 'name="few_shot_k" value="3"' in page and "&#34;type&#34;: &#34;object&#34;" in page
    typed = form(slug, name="Renamed", few_shot_k="", output_schema="", temperature="0.5")
    typed["finetune_system_prompt"] = "You label bank messages."
    answer = client.post(f"/scenarios/{slug}/edit", data=typed, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    edited = client.get(f"{API}/{slug}").json()
    assert edited["name"] == "Renamed" and edited["few_shot_k"] is None  # blank: default
    assert edited["output_schema"] is None and edited["temperature"] == 0.5
    assert edited["finetune_system_prompt"] == "You label bank messages."
    assert "You label bank messages." in client.get(f"/scenarios/{slug}").text


def test_a_bad_edit_changes_nothing(client):
    slug = unique_slug("badedit")
    before = create(client, slug)
    answer = client.post(f"/scenarios/{slug}/edit", data=form(slug, rag_template="{question}"))
    assert answer.status_code == 422 and "{sources}" in field_error(answer.text, "rag_template")
    assert client.get(f"{API}/{slug}").json() == before


def test_an_edit_while_a_training_runs_is_refused(client, running_training):
    slug, training = running_training
    answer = client.post(f"/scenarios/{slug}/edit", data=form(slug, system_prompt="new"))
    assert answer.status_code == 409 and f"training {training.id}" in answer.text
    assert client.get(f"{API}/{slug}").json()["system_prompt"] != "new"
    assert f"training {training.id}" in client.get(f"/scenarios/{slug}/edit").text
    refused = client.post(f"/scenarios/{slug}/delete", data={"confirm": slug})
    assert refused.status_code == 409 and "Nothing was deleted" in refused.text
    assert exists(client, slug)


def test_a_clone_from_the_scenario_page(client):
    source, slug = unique_slug("src"), unique_slug("copy")
    create(client, source, system_prompt=LABELS_PROMPT)
    answer = client.post(
        f"/scenarios/{source}/clone", data={"slug": slug, "name": ""}, follow_redirects=False
    )
    assert answer.status_code == 303 and answer.headers["location"] == f"/scenarios/{slug}"
    copy = client.get(f"{API}/{slug}").json()
    assert copy["system_prompt"] == LABELS_PROMPT and copy["name"] == f"{source.title()} (copy)"

    taken = client.post(f"/scenarios/{source}/clone", data={"slug": slug, "name": "x"})
    assert taken.status_code == 409 and "exists already" in field_error(taken.text, "clone-slug")
    bad = client.post(f"/scenarios/{source}/clone", data={"slug": "No!", "name": "x"})
    assert bad.status_code == 422 and "lower-case" in field_error(bad.text, "clone-slug")
    assert 'value="No!"' in bad.text


def test_a_delete_needs_the_slug_typed(client):
    slug = unique_slug("doomed")
    create(client, slug)
    page = client.get(f"/scenarios/{slug}/delete")
    assert page.status_code == 200 and "documents" in page.text
    for typed in ("", "northwind", slug.upper()):
        wrong = client.post(f"/scenarios/{slug}/delete", data={"confirm": typed})
        assert wrong.status_code == 422 and "Nothing was deleted" in wrong.text
        assert exists(client, slug)
    client.get(f"/scenarios/{slug}")  # remembered: deleting it forgets it
    assert client.cookies.get(COOKIE) == slug
    gone = client.post(f"/scenarios/{slug}/delete", data={"confirm": slug}, follow_redirects=False)
    assert gone.status_code == 303 and gone.headers["location"] == f"/scenarios?deleted={slug}"
    assert not exists(client, slug) and client.cookies.get(COOKIE) is None
    listing = client.get(gone.headers["location"]).text
    assert (
        f"<strong>{slug}</strong> was deleted" in listing
        and f'href="/scenarios/{slug}"' not in listing
    )


def test_the_list_offers_a_new_scenario(client):
    page = client.get("/scenarios").text
    assert 'href="/scenarios/new"' in page and 'href="/scenarios/northwind"' in page


def selected_scenario(page: str) -> str:
    return re.search(r'<option value="([^"]+)" selected>', page).group(1)


def test_the_compare_page_and_the_nav_follow_the_remembered_scenario(client):
    slug = unique_slug("remember")
    create(client, slug)
    assert selected_scenario(client.get("/").text) == "northwind"  # nothing remembered
    client.get("/compare/adapters", params={"scenario": slug})  # chosen in the select
    page = client.get("/").text
    assert selected_scenario(page) == slug
    assert (
        f'href="/scenarios/{slug}/evals"' in page and f'href="/scenarios/{slug}/finetune"' in page
    )
    assert (
        'href="/scenarios/northwind/documents"' in client.get("/scenarios/northwind/documents").text
    )
    assert selected_scenario(client.get("/").text) == slug  # a sub-page does not choose
    client.get("/scenarios/northwind")  # its page does
    assert selected_scenario(client.get("/").text) == "northwind"


def test_a_remembered_scenario_that_is_gone_or_malformed_falls_back_to_the_demo(client):
    for value in ("gone-away-123", '"><script>x</script>'):
        client.cookies.set(COOKIE, value)
        page = client.get("/").text
        assert selected_scenario(page) == "northwind" and "<script>x" not in page


def test_the_form_autoescapes_what_was_typed(client):
    payload = "</textarea><script>window.__pwned=1</script>"
    slug = unique_slug("xss")
    answer = client.post(
        "/scenarios/new", data=form(slug, name=payload, system_prompt=payload, few_shot_k="x")
    )
    assert answer.status_code == 422 and "<script>window" not in answer.text
    client.post("/scenarios/new", data=form(slug, name=payload, system_prompt=payload))
    assert "<script>window" not in client.get(f"/scenarios/{slug}").text


@pytest.mark.skipif(
    shutil.which(CHROMIUM) is None, reason=f"{CHROMIUM} missing (make system-deps installs it)"
)
def test_a_scenario_is_created_in_the_browser(echo_runtime):
    from playwright.sync_api import sync_playwright

    from app.main import create_app

    slug = unique_slug("browser")
    with serving(create_app(runtime=echo_runtime)) as url, sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        page = browser.new_page(base_url=url)
        page.goto("/scenarios")
        page.click("text=New scenario")
        page.fill("input[name=slug]", "Not A Slug")
        page.fill("input[name=name]", "Bank intents")
        page.fill("textarea[name=system_prompt]", LABELS_PROMPT)
        page.click("button[type=submit]")
        assert "lower-case" in page.locator("#slug-error").inner_text()
        assert page.locator("textarea[name=system_prompt]").input_value() == LABELS_PROMPT
        page.fill("input[name=slug]", slug)
        page.click("button[type=submit]")
        page.wait_for_url(f"**/scenarios/{slug}")
        shown = page.locator('section[data-level="prompt"] pre.system-prompt').inner_text()
        assert shown == LABELS_PROMPT
        assert page.locator(f'nav a[href="/scenarios/{slug}/evals"]').count() == 1
        browser.close()
