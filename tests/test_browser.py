"""The UI in a real browser: Playwright driving Debian's Chromium against the app served by
uvicorn on a free port, on the session's database and models."""

import shutil

import pytest

from app.db.models import Scenario
from app.rag.ingest import ingest_markdown
from app.web.headless import CHROMIUM, launch_chromium, serving

pytestmark = pytest.mark.skipif(
    shutil.which(CHROMIUM) is None, reason=f"{CHROMIUM} missing (make system-deps installs it)"
)
PAYLOAD = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">'


@pytest.fixture(scope="module")
def base_url(runtime):
    from app.main import create_app

    with serving(create_app(runtime=runtime)) as url:
        yield url


@pytest.fixture(scope="module")
def page(base_url):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        page = browser.new_page(viewport={"width": 1400, "height": 900}, base_url=base_url)
        page.set_default_timeout(120_000)  # a comparison runs on the CPU
        yield page
        browser.close()


@pytest.fixture(scope="module")
def hostile_scenario(runtime):
    """A scenario whose only document carries script payloads."""
    with runtime.session() as session:
        scenario = Scenario(slug="hostile", name="Hostile docs", system_prompt="Answer.")
        session.add(scenario)
        session.flush()
        text = f"# Hostile tent guide\n\n## Poles\n\nTent poles bend. {PAYLOAD} Keep spares.\n"
        ingest_markdown(
            session,
            scenario=scenario,
            source="hostile.md",
            text=text,
            embedder=runtime.embedder,
            settings=runtime.settings,
        )
        session.commit()
        yield scenario.slug
        session.delete(scenario)
        session.commit()


# Records, per level, the text of each live column every time the stream adds to it.
WATCH_LIVE_COLUMNS = """() => {
  window.__live = {};
  new MutationObserver((records) => {
    for (const record of records) {
      const output = record.target.closest && record.target.closest(".live-comparison pre.output");
      if (!output) continue;
      const level = output.closest("section").dataset.level;
      (window.__live[level] ||= []).push(output.textContent);
    }
  }).observe(document.body, {subtree: true, childList: true, characterData: true});
}"""


def compare(page, query: str, *, scenario: str = "northwind", levels=("prompt", "rag", "finetune")):
    page.goto("/")
    page.evaluate(WATCH_LIVE_COLUMNS)
    page.select_option("select[name=scenario]", scenario)
    for box in page.locator("input[name=levels]").all():
        box.set_checked(box.get_attribute("value") in levels)
    page.click("details.advanced summary")
    page.fill("input[name=max_new_tokens]", "16")
    page.fill("textarea[name=query]", query)
    page.press("textarea[name=query]", "Enter")  # Enter submits
    page.locator("#result article.comparison").wait_for()


def test_a_comparison_shows_three_columns_with_metrics_and_can_be_found_again(page):
    query = "How many days do I have to return a tent?"
    compare(page, query)
    columns = page.locator("#result section.level")
    assert columns.count() == 3
    for level in ("prompt", "rag", "finetune"):
        column = page.locator(f'#result section[data-level="{level}"]')
        assert column.locator("pre.output").inner_text().strip()
        assert "ms" in column.locator("td.total").inner_text()
    rag = page.locator('#result section[data-level="rag"]')
    rag.locator("details.used > summary").click()
    first_chunk = rag.locator("details.chunk").first
    first_chunk.locator("summary").click()
    assert first_chunk.locator("pre").is_visible()
    assert page.locator("#result svg rect").count() == 6

    live = page.evaluate("window.__live")
    for level in ("prompt", "rag", "finetune"):  # filled piece by piece, then settled
        assert len(live[level]) >= 3, live
        final = page.locator(f'#result section[data-level="{level}"] pre.output').inner_text()
        assert live[level][-1].strip() == final.strip()
    assert page.get_by_role("button", name="Compare").is_enabled()

    page.click("nav >> text=History")
    page.fill("input[name=q]", "return a tent")
    page.press("input[name=q]", "Enter")
    page.wait_for_url("**q=return*")
    page.locator("table.history a", has_text=query).first.click()
    page.wait_for_url("**/comparisons/*")
    assert page.locator("section.level").count() == 3
    assert page.get_by_role("button", name="Run again").is_visible()


def test_a_hostile_query_and_document_show_as_text_and_run_no_script(page, hostile_scenario):
    compare(page, f"Tent poles? {PAYLOAD}", scenario=hostile_scenario, levels=("rag",))
    assert page.locator("#adapter-select option").count() == 1  # none of northwind's
    assert PAYLOAD in page.locator("#result .query-text").inner_text()
    rag = page.locator('#result section[data-level="rag"]')
    rag.locator("details.used > summary").click()
    chunk = rag.locator("details.chunk").first
    chunk.locator("summary").click()
    assert PAYLOAD in chunk.locator("pre").inner_text()
    page.wait_for_timeout(300)  # give an injected onerror handler its chance
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert page.locator("#result img").count() == 0
