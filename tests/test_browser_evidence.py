"""The evidence in a real browser (Playwright driving Debian's Chromium): the report's
significance sentence, the link from its pair table to the items each level won, that table
with both answers side by side, and its filters."""

import os
import re
import shutil

import pytest

from app.web.headless import CHROMIUM, launch_chromium, serving
from tests.eval_runs import store_finished_run

pytestmark = pytest.mark.skipif(
    shutil.which(CHROMIUM) is None, reason=f"{CHROMIUM} missing (make system-deps installs it)"
)
SLUG = "browser-evidence"
# knowledge, 12 items: RAG passes 0-9, the prompt 0-1 (RAG ahead on 8 of them, p = 0.008);
# triage, 10 items: both pass 0-4.
PASSES = {
    ("knowledge", "prompt"): range(0, 2),
    ("knowledge", "rag"): range(0, 10),
    ("triage", "prompt"): range(0, 5),
    ("triage", "rag"): range(0, 5),
}


@pytest.fixture(scope="module")
def run_id(runtime):
    with runtime.session() as session:
        return store_finished_run(
            session,
            SLUG,
            {"knowledge": 12, "triage": 10},
            ["prompt", "rag"],
            lambda kind, level, index: index in PASSES[(kind, level)],
        )


@pytest.fixture(scope="module")
def page(runtime, run_id):
    from playwright.sync_api import sync_playwright

    from app.main import create_app

    with serving(create_app(runtime=runtime)) as url, sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        page = browser.new_page(viewport={"width": 1400, "height": 900}, base_url=url)
        page.set_default_timeout(30_000)
        yield page
        browser.close()


def screenshot(page, name: str) -> None:
    """Kept for a look when TRITUNE_SCREENSHOTS names a directory."""
    if directory := os.environ.get("TRITUNE_SCREENSHOTS"):
        page.screenshot(path=f"{directory}/{name}.png", full_page=True)


def test_the_report_says_which_difference_is_significant_and_links_to_the_items(page, run_id):
    page.goto(f"/scenarios/{SLUG}/report")
    knowledge = page.locator("table.history tbody tr", has_text="knowledge").first
    why = knowledge.locator("td").nth(4).inner_text()
    assert why.startswith("RAG beats the few-shot prompt on quality by +67 points (95% CI +")
    assert "McNemar, n = 12)" in why
    assert "Cost at scale" in page.inner_text("article.report")
    screenshot(page, "report")
    page.locator("h3:text-is('knowledge') + table a.wins-link").click()
    page.wait_for_url(
        re.compile(rf"/evals/{run_id}/wins\?a=prompt&b=rag&metric=quality&kind=knowledge$")
    )
    assert page.inner_text("dd[data-count=a_won]") == "0"
    assert page.inner_text("dd[data-count=b_won]") == "8"
    sentence = page.inner_text("p.significance")
    assert sentence.startswith("RAG beats the few-shot prompt on quality by +67 points")
    rows = page.locator("table.wins-table tbody tr")
    assert rows.count() == 8
    first = rows.first.locator("td")
    assert first.nth(2).inner_text() == "knowledge 2" and first.nth(4).inner_text() == "rag"
    assert "prompt answer knowledge 2" in first.nth(5).inner_text()
    assert "rag answer knowledge 2" in first.nth(6).inner_text()
    screenshot(page, "wins")


def test_the_per_item_table_filters_by_direction_and_kind(page, run_id):
    page.goto(f"/evals/{run_id}/wins?a=rag&b=prompt&kind=knowledge")
    assert page.locator("table.wins-table tbody tr").count() == 8
    page.select_option("select[name=direction]", "b")
    page.click("form.wins-filter button[type=submit]")
    page.wait_for_url(re.compile(r"direction=b"))
    assert page.inner_text("table.wins-table tbody") == (
        "No item where prompt scored higher on quality among the knowledge items."
    )
    page.select_option("select[name=kind]", "triage")
    page.select_option("select[name=direction]", "both")
    page.click("form.wins-filter button[type=submit]")
    page.wait_for_url(re.compile(r"kind=triage"))
    assert page.inner_text("dd[data-count=same]") == "10"
    assert page.inner_text("p.significance") == (
        "RAG and the few-shot prompt score the same on all 10 items."
    )
    assert page.locator("table.wins-table tbody tr").count() == 1  # the empty row
