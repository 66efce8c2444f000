"""A team's own use case from the browser alone (Playwright + Debian's Chromium, no API
calls): create a bank-intent scenario, upload a few uv documentation pages and a BANKING77
subset, train a small adapter, run a comparison, and find the scenario's own prompts in each
level's "What was used". Real parts throughout: embedded Postgres, the packaged model, LoRA
training and llama.cpp generation (about two minutes on 2 cores)."""

from __future__ import annotations

import re
import shutil

import pytest

from app.web.headless import CHROMIUM, launch_chromium, serving
from tests.scenario_files import (
    UV_DOCS,
    UV_PAGES,
    banking77_subset,
    banking77_system_prompt,
    needs_shared_data,
    unique_slug,
)

pytestmark = [
    pytest.mark.skipif(
        shutil.which(CHROMIUM) is None, reason=f"{CHROMIUM} missing (make system-deps installs it)"
    ),
    needs_shared_data,
]
INSTRUCTION = "You answer for {scenario}. Use only the numbered sources; say so if they do not."
# 40 examples, 1 epoch of 5 steps: an adapter in under a minute (not a good one).
TRAIN_EXAMPLES = 40


@pytest.fixture(scope="module")
def page(runtime):
    from playwright.sync_api import sync_playwright

    from app.main import create_app

    with serving(create_app(runtime=runtime)) as url, sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        page = browser.new_page(viewport={"width": 1400, "height": 900}, base_url=url)
        page.set_default_timeout(120_000)
        yield page
        browser.close()


@pytest.fixture(scope="module")
def slug(client):
    slug = unique_slug("bank-e2e")
    yield slug
    client.delete(f"/api/v1/scenarios/{slug}", params={"confirm": slug})  # cleanup only


def test_a_new_use_case_goes_from_an_empty_form_to_a_comparison(page, slug, tmp_path):
    system_prompt = banking77_system_prompt()
    page.goto("/scenarios/new")
    page.fill("input[name=slug]", slug)
    page.fill("input[name=name]", "Bank intents (e2e)")
    page.fill("textarea[name=system_prompt]", system_prompt)
    page.fill("textarea[name=rag_instruction]", INSTRUCTION)
    page.fill("input[name=note]", "first version")
    page.get_by_role("button", name="Create scenario").click()
    page.wait_for_url(f"**/scenarios/{slug}")
    assert page.locator("h1").inner_text().startswith("Bank intents (e2e)")

    page.goto(f"/scenarios/{slug}/documents")
    page.set_input_files("input[name=files]", [str(UV_DOCS / p) for p in UV_PAGES])
    page.get_by_role("button", name="Upload").click()
    for name in UV_PAGES:
        page.locator("#documents").get_by_text(name.split("/")[-1]).first.wait_for()

    page.goto(f"/scenarios/{slug}/finetune")
    subset = banking77_subset(tmp_path / "bank-train.jsonl", TRAIN_EXAMPLES)
    page.set_input_files("input[name=file]", str(subset))
    page.get_by_role("button", name="Upload").click()
    page.locator("#dataset-report").get_by_text("Stored").wait_for()
    page.goto(f"/scenarios/{slug}/finetune")
    page.check("input[name=activate]")
    page.get_by_role("button", name="Start training").click()
    page.wait_for_url(re.compile(r".*/trainings/\d+$"))
    page.locator(".training .status-succeeded").wait_for(timeout=600_000)

    page.goto("/")
    page.select_option("select[name=scenario]", slug)
    page.fill("textarea[name=query]", "I still have not received my new card")
    page.press("textarea[name=query]", "Enter")
    page.locator("#result article.comparison").wait_for()
    for level in ("prompt", "rag", "finetune"):
        column = page.locator(f'#result section[data-level="{level}"]')
        assert column.locator(".level-error").count() == 0, column.inner_text()
    prompt = page.locator('#result section[data-level="prompt"]')
    prompt.locator("details.used > summary").click()
    used = prompt.locator('.prompt-text[data-prompt="system_prompt"] pre')
    assert used.inner_text() == system_prompt
    assert "prompt v1" in prompt.locator("details.used > summary").inner_text()
    rag = page.locator('#result section[data-level="rag"]')
    rag.locator("details.used > summary").click()
    assert rag.locator('.prompt-text[data-prompt="instruction"] pre').inner_text() == INSTRUCTION
    assert rag.locator("details.chunk").count() >= 1  # from the uv pages
