"""Drafting in a real browser (Playwright driving Debian's Chromium), with the teacher
double as the engine so the drafts are known: draft two eval items from a scenario's
documents, read each one's source chunk, accept both, and find them in the eval set."""

import shutil

import pytest
from fastapi.testclient import TestClient

from app.web.headless import CHROMIUM, launch_chromium, serving
from tests.drafting import DOCUMENTS, knowledge_scenario, teacher_runtime
from tests.scenario_files import unique_slug

pytestmark = pytest.mark.skipif(
    shutil.which(CHROMIUM) is None, reason=f"{CHROMIUM} missing (make system-deps installs it)"
)


@pytest.fixture(scope="module")
def app_url(runtime, settings):
    from app.main import create_app

    with teacher_runtime(runtime, settings) as drafting:
        app = create_app(runtime=drafting)
        with serving(app) as url:
            yield url


@pytest.fixture(scope="module")
def slug(runtime, settings, app_url):
    from app.main import create_app

    slug = unique_slug("browser-drafts")
    with teacher_runtime(runtime, settings) as other, TestClient(create_app(runtime=other)) as c:
        knowledge_scenario(c, slug)
    return slug


@pytest.fixture(scope="module")
def page(app_url):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        page = browser.new_page(viewport={"width": 1300, "height": 900}, base_url=app_url)
        page.set_default_timeout(30_000)
        yield page
        browser.close()


def test_two_drafted_items_are_accepted_into_the_eval_set(page, slug):
    page.goto(f"/scenarios/{slug}/drafts")
    assert page.locator("article.draft").count() == 0
    page.uncheck("input[name=kinds][value=chat_example]")
    page.fill("input[name=count]", "2")
    page.get_by_role("button", name="Draft").click()
    page.locator(".draft-run[data-status=done]").wait_for()
    drafts = page.locator(".draft-run article.draft")
    assert drafts.count() == 2
    first = drafts.first
    first.locator("details.chunk summary").click()
    chunk = first.locator("details.chunk pre").inner_text()
    document = first.locator("header strong").first.inner_text()
    assert document in DOCUMENTS and chunk in DOCUMENTS[document].decode()
    assert first.locator("input[name=question]").input_value().startswith("What does ")
    first.locator("textarea[name=answer]").fill("Within 45 days, with the receipt.")
    for index in range(2):
        card = page.locator(".draft-run article.draft").nth(index)
        card.get_by_role("button", name="Accept").click()
        page.locator(".draft-run article.draft").nth(index).locator(".verdict").wait_for()
    verdicts = page.locator(".draft-run article.draft .verdict").all_inner_texts()
    assert verdicts == ["accepted", "accepted"]

    page.goto(f"/scenarios/{slug}/evals")
    assert "2 eval items in the current set" in page.inner_text("form.compare")
    assert f"source: {document}" in page.content()
    page.goto(f"/scenarios/{slug}/drafts")
    assert "No drafts wait for a verdict." in page.inner_text("div.drafts")
