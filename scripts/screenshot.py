"""Screenshot of the compare page after a run, for the README (docs/compare.png).

Serves the app on a free port with the configured settings (set up the demo first:
`make setup`), drives Debian's Chromium with Playwright through one comparison and saves
the page.

    .venv/bin/python scripts/screenshot.py [--query "..."] [--out docs/compare.png]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from playwright.sync_api import sync_playwright

from app.config import get_settings
from app.main import create_app
from app.runtime import Runtime
from app.web.headless import launch_chromium, serving

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--query", default="How many days do I have to return a tent?")
    parser.add_argument("--max-new-tokens", default="64")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "compare.png")
    args = parser.parse_args()
    runtime = Runtime(get_settings())
    runtime.migrate()
    runtime.load(demo=False)
    with serving(create_app(runtime=runtime)) as url, sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        page = browser.new_page(viewport={"width": 1440, "height": 1000}, base_url=url)
        page.goto("/")
        page.click("details.advanced summary")
        page.fill("input[name=max_new_tokens]", args.max_new_tokens)
        page.fill("textarea[name=query]", args.query)
        page.press("textarea[name=query]", "Enter")
        page.locator("#result article.comparison").wait_for(timeout=300_000)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(args.out), full_page=True)
        browser.close()
    runtime.close()
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
