"""Issue 17 S1 in a real browser: a page of another origin that auto-submits a form to the
app is refused (403) and changes nothing, while the app's own forms, plain and htmx, work."""

from __future__ import annotations

import shutil

import pytest
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route

from app.main import create_app
from app.web.headless import CHROMIUM, launch_chromium, serving
from tests.scenario_files import create, unique_slug

pytestmark = pytest.mark.skipif(
    shutil.which(CHROMIUM) is None, reason=f"{CHROMIUM} missing (make system-deps installs it)"
)


def hostile_site(target: str, slug: str) -> Starlette:
    """Another web site: its page posts the app's delete form as soon as it loads."""
    page = f"""<!doctype html><title>Win a tent</title>
<form method="post" action="{target}/scenarios/{slug}/delete">
  <input name="confirm" value="{slug}">
</form>
<script>document.forms[0].submit()</script>"""
    return Starlette(routes=[Route("/", lambda request: HTMLResponse(page))])


@pytest.fixture(scope="module")
def app_url(echo_runtime):
    with serving(create_app(runtime=echo_runtime)) as url:
        yield url


@pytest.fixture(scope="module")
def page(app_url):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        page = browser.new_page(base_url=app_url)
        page.set_default_timeout(60_000)
        yield page
        browser.close()


def test_a_cross_site_form_post_is_refused_and_changes_nothing(page, app_url, echo_client):
    slug = unique_slug("csrf")
    create(echo_client, slug)
    page.goto("/")  # the browser holds the app's CSRF cookie, as a user's would
    with serving(hostile_site(app_url, slug)) as hostile:
        other_origin = hostile.replace("127.0.0.1", "localhost")
        with page.expect_response(lambda r: r.url.endswith(f"/{slug}/delete")) as answer:
            page.goto(other_origin)
        assert answer.value.status == 403
    assert echo_client.get(f"/api/v1/scenarios/{slug}").status_code == 200


def test_the_apps_own_plain_form_works(page, echo_client):
    slug = unique_slug("csrf")
    create(echo_client, slug)
    page.goto(f"/scenarios/{slug}/delete")
    page.fill("input[name=confirm]", slug)
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.click("form.delete button[type=submit]")
    assert answer.value.status == 303
    assert echo_client.get(f"/api/v1/scenarios/{slug}").status_code == 404


def test_the_apps_htmx_form_works(page):
    page.goto("/")
    page.fill("textarea[name=query]", "How long is the return window?")
    with page.expect_response(lambda r: r.url.endswith("/compare")) as answer:
        page.click("form.compare button[type=submit]")
    assert answer.value.status == 200
    assert answer.value.request.headers.get("x-csrf-token")
