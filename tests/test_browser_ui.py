"""The compare page and the main pages in a real browser (Playwright driving Debian's
Chromium, the real engine): each column's stage while the engine serves the levels in turn,
cancelling, the prompt sent, editing and re-running a level, "Run again" streaming, the
comparison's own address, the history filter in the URL and its exports, the training time
estimate, Swagger UI offline; no page scrolls sideways at 390 px and an axe-core scan finds
no serious or critical violation on any main page."""

import os
import re
import shutil

import pytest

from app.levels import level_names
from app.web.headless import CHROMIUM, launch_chromium, serving

pytestmark = pytest.mark.skipif(
    shutil.which(CHROMIUM) is None, reason=f"{CHROMIUM} missing (make system-deps installs it)"
)
MAIN_PAGES = [
    "/",
    "/comparisons",
    "/scenarios",
    "/scenarios/northwind",
    "/scenarios/northwind/finetune",
    "/adapters",
    "/scenarios/northwind/documents",
    "/scenarios/northwind/search",
    "/scenarios/northwind/evals",
    "/scenarios/northwind/report",
    "/scenarios/new",
]
# Records each live column's stages, in the order they arrive.
WATCH_STAGES = """() => {
  window.__stages = [];
  new MutationObserver(() => {
    for (const stage of document.querySelectorAll(".live-comparison [data-stage]")) {
      const level = stage.closest("section").dataset.level;
      const last = window.__stages.filter(([l]) => l === level).pop();
      const now = stage.dataset.stage;
      if (!last || last[1] !== now) window.__stages.push([level, now]);
    }
    const clock = document.querySelector(".live-comparison .elapsed");
    if (clock && /\\d+\\.\\d s/.test(clock.textContent)) window.__clock = clock.textContent;
  }).observe(document.body, {subtree: true, childList: true, characterData: true});
}"""


@pytest.fixture(scope="module")
def base_url(runtime):
    from app.main import create_app

    with serving(create_app(runtime=runtime)) as url:
        yield url


@pytest.fixture(scope="module")
def browser(base_url):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def page(browser, base_url):
    page = browser.new_page(viewport={"width": 1400, "height": 900}, base_url=base_url)
    page.set_default_timeout(120_000)  # a comparison runs on the CPU
    yield page
    page.close()


def screenshot(page, name: str) -> None:
    """Kept for a look when TRITUNE_SCREENSHOTS names a directory."""
    if directory := os.environ.get("TRITUNE_SCREENSHOTS"):
        page.screenshot(path=f"{directory}/{name}.png", full_page=True)


def start_comparison(page, *, max_new_tokens: str = "16") -> None:
    page.goto("/")
    page.evaluate(WATCH_STAGES)
    page.click("details.advanced summary")
    page.fill("input[name=max_new_tokens]", max_new_tokens)
    page.get_by_role("button", name="Compare").click()  # the example query is already there
    page.locator(".live-comparison").wait_for()


@pytest.fixture(scope="module")
def comparison_url(page):
    """A comparison run from the compare page as a first visit finds it."""
    start_comparison(page)
    page.locator("#result article.comparison").wait_for()
    page.wait_for_url(re.compile(r".*/comparisons/\d+$"))
    return page.url


def test_columns_wait_queued_and_run_in_turn_then_the_page_has_the_comparisons_address(
    page, comparison_url
):
    stages = page.evaluate("window.__stages")
    for level in ("prompt", "rag", "finetune"):
        seen = [stage for lv, stage in stages if lv == level]
        assert seen[0] == "queued" and seen[-3:] == ["prefill", "generating", "done"], stages
    assert stages.index(["rag", "prefill"]) > stages.index(["prompt", "done"])
    assert stages.index(["finetune", "prefill"]) > stages.index(["rag", "done"])
    assert re.fullmatch(r"\d+\.\d s", page.evaluate("window.__clock"))
    assert re.search(r"/comparisons/\d+$", comparison_url)
    assert page.locator("section.level ul.badges").count() == len(level_names())
    screenshot(page, "compared")


def test_each_column_shows_the_prompt_it_sent(page, comparison_url):
    page.goto(comparison_url)
    prompt = page.locator('section[data-level="prompt"]')
    prompt.locator("details.sent > summary").click()
    assert prompt.locator(".message .meta", has_text="system").first.is_visible()
    assert "How many days" in prompt.locator(".message-user pre").last.inner_text()


def test_a_level_runs_again_with_an_edited_prompt(page, comparison_url):
    page.goto(comparison_url)
    column = page.locator('section[data-level="finetune"]')
    column.locator("details.edit-level > summary").click()
    column.locator("textarea[name=content]").last.fill("My Kestrel 2 tent pole snapped.")
    column.get_by_role("button", name="Run finetune with this prompt").click()
    page.wait_for_url(lambda url: url != comparison_url and "/comparisons/" in url)
    assert page.locator("#result section.level").count() == 1
    sent = page.locator('#result section[data-level="finetune"] details.sent')
    assert "(edited)" in sent.locator("summary").inner_text()
    sent.locator("summary").click()
    assert "Kestrel 2 tent pole snapped" in sent.locator(".message-user pre").inner_text()


def test_run_again_streams_into_the_page_and_takes_the_new_address(page, comparison_url):
    page.goto(comparison_url)
    page.get_by_role("button", name="Run again").click()
    page.locator(".live-comparison [data-stage]").first.wait_for()  # it streams
    page.wait_for_url(lambda url: url != comparison_url and "/comparisons/" in url)
    new_id = page.url.rsplit("/", 1)[1]
    assert page.locator("h1").inner_text() == f"Comparison #{new_id}"  # the new one's page
    assert page.locator("#result section.level").count() == len(level_names())


def test_cancel_skips_the_levels_not_started(page):
    start_comparison(page, max_new_tokens="48")
    page.get_by_role("button", name="Cancel pending levels").click()
    page.locator("#result article.comparison").wait_for()
    cancelled = page.locator("#result section.level p.cancelled")
    assert cancelled.count() >= 1
    assert page.locator('#result section[data-level="finetune"] p.cancelled').is_visible()


def test_an_example_query_goes_into_the_box_with_one_click(page):
    page.goto("/")
    example = page.locator("button.example-query").nth(2)
    example.click()
    assert page.input_value("textarea[name=query]") == example.get_attribute("data-query")


def test_the_history_filter_is_in_the_url_and_the_exports_follow_it(page, comparison_url):
    page.goto("/comparisons")
    page.select_option("select[name=scenario]", "northwind")
    page.wait_for_url("**scenario=northwind*")
    page.fill("input[name=q]", "return a tent")
    page.wait_for_url("**q=return%20a%20tent*")
    csv = page.locator(".exports a", has_text="CSV").get_attribute("href")
    assert "scenario=northwind" in csv and "q=return%20a%20tent" in csv
    assert page.locator(".answer-preview").count() >= 3
    page.fill("input[name=q]", "zz no such query")
    page.locator("text=No comparisons match this filter").wait_for()


def test_the_training_estimate_follows_the_epochs(page):
    page.goto("/scenarios/northwind/finetune")
    estimate = page.locator("#training-estimate .estimate-text")
    one = estimate.inner_text()
    page.fill("input[name=cfg_num_epochs]", "3")
    assert estimate.inner_text() != one and "× 3 epochs" in estimate.inner_text()


def test_swagger_ui_renders_from_the_apps_own_files(browser, base_url):
    page = browser.new_page(base_url=base_url)
    outside = []
    page.on("request", lambda request: outside.append(request.url))
    page.goto("/docs")
    assert "TriTune" in page.locator(".swagger-ui .info .title").inner_text(timeout=30_000)
    assert page.locator(".opblock").count() > 10
    assert [url for url in outside if not url.startswith(base_url)] == []
    assert page.goto("/favicon.ico").status == 200
    page.close()


def contrast(first: str, second: str) -> float:
    def luminance(css: str) -> float:
        channels = [int(c) / 255 for c in re.findall(r"\d+", css)[:3]]
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    light, dark = sorted((luminance(first), luminance(second)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_the_focus_ring_on_the_dark_nav_stands_out(page):
    page.goto("/scenarios")  # no field takes the focus on load
    page.keyboard.press("Tab")  # the brand link, the first in the nav bar
    ring = page.evaluate("getComputedStyle(document.activeElement).outlineColor")
    bar = page.evaluate("getComputedStyle(document.querySelector('header.top')).backgroundColor")
    assert page.evaluate("document.activeElement.closest('header.top') !== null")
    assert contrast(ring, bar) >= 3


def test_no_main_page_scrolls_sideways_at_390_px(browser, base_url, comparison_url):
    page = browser.new_page(viewport={"width": 390, "height": 844}, base_url=base_url)
    for path in [*MAIN_PAGES, comparison_url.removeprefix(base_url)]:
        page.goto(path)
        page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= page.evaluate("innerWidth"), f"{path} is {width} px wide"
    page.close()


@pytest.fixture(scope="module")
def script_errors(page) -> list[str]:
    """Uncaught errors of the page's scripts (a script that does not parse breaks every page)."""
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


@pytest.mark.parametrize("path", [*MAIN_PAGES, "comparison"])
def test_axe_finds_no_serious_or_critical_violation(page, comparison_url, path, script_errors):
    script_errors.clear()
    page.goto(comparison_url if path == "comparison" else path)
    assert script_errors == [], path
    page.add_script_tag(url="/static/vendor/axe.min.js")
    violations = page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ["violations"]})).violations
             .filter(v => ["serious", "critical"].includes(v.impact))
             .map(v => `${v.id}: ${v.nodes.map(n => n.target.join(" ")).slice(0, 3)}`)"""
    )
    assert violations == [], path
