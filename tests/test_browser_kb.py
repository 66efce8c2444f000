"""The knowledge-base pages in a real browser (Playwright + Debian's Chromium): files dropped
on the upload zone go in with a progress bar and a report; delete; the search playground."""

import shutil

import pytest

from app.web.headless import CHROMIUM, launch_chromium, serving
from tests.kb_files import drop_scenario, new_scenario

pytestmark = pytest.mark.skipif(
    shutil.which(CHROMIUM) is None, reason=f"{CHROMIUM} missing (make system-deps installs it)"
)
SLUG = "kb-browser"
DROP = """([files]) => {
    const transfer = new DataTransfer();
    for (const [name, text] of files) transfer.items.add(new File([text], name));
    const zone = document.getElementById("dropzone");
    zone.dispatchEvent(new DragEvent("drop", {dataTransfer: transfer, bubbles: true}));
}"""


@pytest.fixture(scope="module")
def page(runtime):
    from playwright.sync_api import sync_playwright

    from app.main import create_app

    with runtime.session() as session:
        new_scenario(session, SLUG)
    with serving(create_app(runtime=runtime)) as url, sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        page = browser.new_page(base_url=url)
        page.set_default_timeout(60_000)
        yield page
        browser.close()
    with runtime.session() as session:
        drop_scenario(session, SLUG)


def test_dropped_files_are_uploaded_with_a_report_and_can_be_deleted(page):
    page.goto(f"/scenarios/{SLUG}/documents")
    page.evaluate(
        DROP,
        [
            [
                ["stoves.md", "# Stove care\n\n## Jets\n\nClean the Emberjet jet with the pin."],
                ["blank.md", ""],
            ]
        ],
    )
    page.wait_for_selector("#ingest-report .stored")
    assert "stoves.md — created, 1 chunks" in page.inner_text("#ingest-report")
    assert "blank.md: the file is empty" in page.inner_text("#ingest-report .rejected")
    assert page.eval_on_selector("#upload-progress", "bar => bar.value") == 100
    assert "Stove care" in page.inner_text("#documents")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#documents button.danger")
    page.wait_for_selector("text=No documents yet")


def test_search_playground_shows_both_sides_and_the_fused_score(page):
    page.goto(f"/scenarios/{SLUG}/documents")
    page.evaluate(DROP, [[["jets.md", "# Jets\n\nThe Emberjet jet is cleaned with a pin."]]])
    page.wait_for_selector("#ingest-report .stored")
    page.goto(f"/scenarios/{SLUG}/search")
    page.fill('input[name="q"]', "Emberjet")
    page.click("form.compare button")
    page.wait_for_selector("tr.hit")
    row = page.inner_text("tr.hit")
    assert "Jets" in row and "0.0" in row
    assert "q=Emberjet" in page.url  # the playground's address keeps the query
