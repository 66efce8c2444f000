"""Issue 17 S1, in every mode (here: open, on loopback, no users): Host names, changes sent
by other sites, CSRF tokens of browser forms, frame headers. Scripts without cookies (curl,
the openai client) keep working."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from app.auth.tokens import csrf_token_valid
from app.main import create_app

SAME_ORIGIN = {"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"}
DELETE_FORM = "/scenarios/no-such-scenario/delete"  # a change a hostile page would post


@pytest.fixture
def browser(echo_runtime):
    """A fresh client with its own cookies, like one browser."""
    with TestClient(create_app(runtime=echo_runtime)) as client:
        yield client


def page_token(client: TestClient) -> str:
    html = client.get("/").text
    return re.search(r'<meta name="csrf-token" content="([^"]+)">', html).group(1)


@pytest.mark.parametrize("host", ["evil.example", "attacker.test:8000", "127.0.0.1.nip.io"])
def test_an_unknown_host_name_is_refused_with_400(browser, host):
    response = browser.get("/api/v1/scenarios", headers={"Host": host})
    assert response.status_code == 400
    assert "host" in response.json()["detail"]
    page = browser.get("/", headers={"Host": host})
    assert page.status_code == 400 and "host name" in page.text


@pytest.mark.parametrize("host", ["localhost:8000", "127.0.0.1", "[::1]:8000", "testserver"])
def test_loopback_names_and_configured_hosts_are_served(browser, host):
    assert browser.get("/healthz", headers={"Host": host}).status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://evil.example"},
        {"Origin": "http://testserver:9999"},  # another port is another origin
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site", "Origin": "http://testserver"},
    ],
)
def test_a_change_sent_by_another_site_is_refused_with_403(browser, headers):
    token = page_token(browser)
    response = browser.post(DELETE_FORM, data={"csrf_token": token}, headers=headers)
    assert response.status_code == 403
    assert "cross-site" in response.text


def test_a_browser_form_without_its_csrf_token_is_refused_with_403(browser):
    page_token(browser)  # the cookie is set
    response = browser.post(DELETE_FORM, data={}, headers=SAME_ORIGIN)
    assert response.status_code == 403
    assert "CSRF" in response.text


def test_a_token_that_does_not_match_the_cookie_is_refused(browser, echo_runtime):
    page_token(browser)
    forged = "abc." + "0" * 64
    response = browser.post(DELETE_FORM, data={"csrf_token": forged}, headers=SAME_ORIGIN)
    assert response.status_code == 403


def test_the_pages_own_form_passes_with_the_field_or_the_htmx_header(browser):
    token = page_token(browser)
    as_form = browser.post(DELETE_FORM, data={"csrf_token": token}, headers=SAME_ORIGIN)
    assert as_form.status_code == 404  # past the checks: there is no such scenario
    as_htmx = browser.post(
        DELETE_FORM, headers={**SAME_ORIGIN, "HX-Request": "true", "X-CSRF-Token": token}
    )
    assert as_htmx.status_code == 404


def test_the_token_is_signed_and_the_cookie_http_only_and_strict(browser, echo_runtime):
    from app.auth.guard import csrf_secret

    response = browser.get("/")
    cookie = response.headers["set-cookie"]
    assert "tritune_csrf=" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    token = page_token(browser)
    assert csrf_token_valid(csrf_secret(echo_runtime.settings), token, None)
    assert not csrf_token_valid(csrf_secret(echo_runtime.settings), token, "another-login")


def test_scripts_without_cookies_need_no_token(echo_client):
    """curl and the openai client: no cookies, no Origin; JSON bodies from anywhere need no
    token either (no page can send one cross-site without CORS)."""
    response = echo_client.post("/api/v1/comparisons", json={"query": "hi", "levels": ["prompt"]})
    assert response.status_code == 201
    body = {"model": "northwind/prompt", "messages": [{"role": "user", "content": "hi"}]}
    assert echo_client.post("/v1/chat/completions", json=body).status_code == 200


def test_every_answer_keeps_out_of_frames(echo_client):
    for path in ("/", "/api/v1/scenarios", "/healthz"):
        headers = echo_client.get(path).headers
        assert headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert headers["x-content-type-options"] == "nosniff"


def test_trusted_origins_may_post(echo_runtime):
    from tests.doubles import SharedRuntime

    settings = echo_runtime.settings.model_copy(
        update={"trusted_origins": ["https://tritune.example"]}
    )
    trusted = SharedRuntime(echo_runtime, echo_runtime.engine)
    trusted.settings = settings
    try:
        with TestClient(create_app(runtime=trusted)) as client:
            token = page_token(client)
            headers = {"Origin": "https://tritune.example"}
            response = client.post(DELETE_FORM, data={"csrf_token": token}, headers=headers)
    finally:
        trusted.close()
    assert response.status_code == 404
