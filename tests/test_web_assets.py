"""What every page loads from the app itself: Swagger UI at `/docs` (from the npm package
`make install` copies to static/vendor, not a CDN) and the favicon."""

import pytest


@pytest.fixture(scope="module")
def client(echo_client):
    return echo_client


def test_docs_serve_swagger_ui_from_the_apps_own_static_files(client):
    page = client.get("/docs")
    assert page.status_code == 200
    assert "/static/vendor/swagger-ui-bundle.js" in page.text
    assert "/static/vendor/swagger-ui.css" in page.text
    assert "cdn" not in page.text.lower()
    assert client.get("/static/vendor/swagger-ui-bundle.js").status_code == 200
    assert client.get("/static/vendor/swagger-ui.css").status_code == 200
    assert "/docs" not in client.get("/openapi.json").json()["paths"]


def test_every_page_links_a_favicon_and_favicon_ico_answers(client):
    assert '<link rel="icon" href="/static/favicon.svg"' in client.get("/").text
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200
    assert icon.headers["content-type"].startswith("image/svg+xml")
    assert "<svg" in icon.text


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
    "/no-such-page",
]


@pytest.mark.parametrize("path", MAIN_PAGES)
def test_every_page_has_one_h1(client, path):
    page = client.get(path)
    assert page.status_code in (200, 404)
    assert page.text.count("<h1") == 1, path
