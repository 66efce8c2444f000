"""Accounts (issue 18 part 1): logins with a session cookie, API keys for the REST API and
`/v1`, the login rate limit, the CLI, and the refusal to serve a network without an admin."""

from __future__ import annotations

import logging
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.auth.roles import Role
from app.auth.startup import StartRefused, check_start
from app.db.models import ApiKey, User
from app.main import create_app
from tests.accounts import PASSWORD, accounts

SAME_ORIGIN = {"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"}


@pytest.fixture
def keyed(runtime):
    with accounts(runtime) as made:
        yield made


@pytest.fixture
def browser(echo_runtime):
    with TestClient(create_app(runtime=echo_runtime)) as client:
        yield client


def page_token(client: TestClient, path: str = "/login") -> str:
    html = client.get(path).text
    return re.search(r'<meta name="csrf-token" content="([^"]+)">', html).group(1)


def log_in(client: TestClient, name: str, password: str, next: str = "/"):
    form = {"name": name, "password": password, "next": next, "csrf_token": page_token(client)}
    return client.post("/login", data=form, headers=SAME_ORIGIN, follow_redirects=False)


def test_once_a_user_exists_the_api_needs_a_key(echo_client, keyed):
    response = echo_client.get("/api/v1/scenarios")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert echo_client.get("/api/v1/scenarios", headers=keyed[Role.viewer].bearer).is_success
    assert echo_client.get("/healthz").status_code == 200  # public


def test_a_wrong_key_is_401_and_in_openai_format_on_v1(echo_client, keyed):
    wrong = {"Authorization": "Bearer tt_not-a-key"}
    assert echo_client.get("/api/v1/scenarios", headers=wrong).status_code == 401
    response = echo_client.get("/v1/models", headers=wrong)
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] == "invalid_api_key" and error["type"] == "invalid_request_error"


def test_the_openai_client_works_with_a_key(runtime, keyed):
    import openai

    from app.web.headless import serving

    with serving(create_app(runtime=runtime)) as url:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key=keyed[Role.editor].key, max_retries=0)
        assert any(m.id == "northwind/prompt" for m in client.models.list())
        refused = openai.OpenAI(base_url=f"{url}/v1", api_key="tt_wrong", max_retries=0)
        with pytest.raises(openai.AuthenticationError):
            refused.models.list()


def test_a_viewer_key_cannot_run_a_comparison(echo_client, keyed):
    body = {"query": "hi", "levels": ["prompt"]}
    viewer = echo_client.post("/api/v1/comparisons", json=body, headers=keyed[Role.viewer].bearer)
    assert viewer.status_code == 403 and "editor" in viewer.json()["detail"]
    editor = echo_client.post("/api/v1/comparisons", json=body, headers=keyed[Role.editor].bearer)
    assert editor.status_code == 201


def test_keys_are_stored_hashed_note_their_last_use_and_can_be_revoked(echo_client, keyed, session):
    account = keyed[Role.editor]
    echo_client.get("/api/v1/scenarios", headers=account.bearer)
    key = session.scalar(select(ApiKey).join(User).where(User.name == account.name))
    assert account.key not in (key.token_sha256, key.prefix) and len(key.token_sha256) == 64
    assert key.last_used_at is not None
    admin = keyed[Role.admin].bearer
    assert echo_client.delete(f"/api/v1/keys/{key.id}", headers=admin).status_code == 204
    assert echo_client.get("/api/v1/scenarios", headers=account.bearer).status_code == 401


def test_an_admin_creates_a_key_through_the_api_shown_once(echo_client, keyed):
    admin = keyed[Role.admin].bearer
    body = {"name": "ci", "user": "auth-viewer"}
    created = echo_client.post("/api/v1/keys", json=body, headers=admin)
    assert created.status_code == 201 and created.json()["role"] == "viewer"
    new = {"Authorization": f"Bearer {created.json()['key']}"}
    assert echo_client.get("/api/v1/scenarios", headers=new).is_success
    listed = echo_client.get("/api/v1/keys", headers=admin).json()
    assert all("key" not in item for item in listed)
    too_high = {"name": "x", "user": "auth-viewer", "role": "admin"}
    assert echo_client.post("/api/v1/keys", json=too_high, headers=admin).status_code == 400
    editor = keyed[Role.editor].bearer
    assert echo_client.get("/api/v1/keys", headers=editor).status_code == 403


def test_pages_send_a_visitor_to_the_login_and_back(browser, keyed):
    response = browser.get("/scenarios", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Fscenarios"
    logged_in = log_in(browser, "auth-editor", PASSWORD, next="/scenarios")
    assert logged_in.status_code == 303 and logged_in.headers["location"] == "/scenarios"
    cookie = logged_in.headers["set-cookie"]
    assert (
        "tritune_session=" in cookie and "HttpOnly" in cookie and "samesite=lax" in cookie.lower()
    )
    page = browser.get("/scenarios")
    assert page.status_code == 200 and "auth-editor" in page.text


def test_a_wrong_password_and_an_unknown_user_get_the_same_401(browser, keyed):
    wrong_password = log_in(browser, "auth-admin", "not the password")
    unknown_user = log_in(browser, "nobody-at-all", PASSWORD)
    assert wrong_password.status_code == unknown_user.status_code == 401
    assert "Wrong user name or password." in wrong_password.text
    message = re.compile(r'<p class="error"[^>]*>(.*?)</p>')
    assert message.findall(wrong_password.text) == message.findall(unknown_user.text)


def test_a_login_needs_its_csrf_token(browser, keyed):
    page_token(browser)
    form = {"name": "auth-admin", "password": PASSWORD}
    assert browser.post("/login", data=form, headers=SAME_ORIGIN).status_code == 403


def test_logins_are_rate_limited_and_passwords_never_logged(browser, keyed, runtime, caplog):
    caplog.set_level(logging.DEBUG)
    limit = runtime.settings.login_max_failures
    for attempt in range(limit):
        assert log_in(browser, "auth-viewer", f"guess-{attempt}-secret").status_code == 401
    blocked = log_in(browser, "auth-viewer", PASSWORD)  # even the right one, for a while
    assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) > 0
    assert not any(
        "guess-0-secret" in r.getMessage() or PASSWORD in r.getMessage() for r in caplog.records
    )


def test_logout_ends_the_session(browser, keyed):
    log_in(browser, "auth-viewer", PASSWORD)
    token = page_token(browser, "/scenarios")
    out = browser.post(
        "/logout", data={"csrf_token": token}, headers=SAME_ORIGIN, follow_redirects=False
    )
    assert out.status_code == 303
    assert browser.get("/scenarios", follow_redirects=False).status_code == 303


def test_a_viewer_logged_in_cannot_delete_and_an_admin_can_reach_the_route(browser, keyed):
    log_in(browser, "auth-viewer", PASSWORD)
    token = page_token(browser, "/scenarios")
    form = {"csrf_token": token}
    delete = "/scenarios/no-such-scenario/delete"
    assert browser.post(delete, data=form, headers=SAME_ORIGIN).status_code == 403
    browser.cookies.clear()
    log_in(browser, "auth-admin", PASSWORD)
    form = {"csrf_token": page_token(browser, "/scenarios")}
    assert browser.post(delete, data=form, headers=SAME_ORIGIN).status_code == 404


def test_a_session_cookie_without_csrf_token_is_refused_even_without_origin(browser, keyed):
    log_in(browser, "auth-admin", PASSWORD)
    response = browser.post("/scenarios/no-such-scenario/delete", data={})
    assert response.status_code == 403


def test_the_cli_adds_users_and_creates_lists_and_revokes_keys(cli_run, session, monkeypatch):
    monkeypatch.setenv("TRITUNE_USER_PASSWORD", "a long enough password")
    try:
        added = cli_run(["user", "add", "cli-admin", "--role", "admin"])
        assert added.exit_code == 0, added.output
        assert "a long enough password" not in added.output
        created = cli_run(["key", "create", "--user", "cli-admin", "--role", "editor"])
        assert created.exit_code == 0, created.output
        token = created.output.strip().splitlines()[-1]
        assert token.startswith("tt_")
        listed = cli_run(["key", "list"])
        assert token[:10] in listed.output and token not in listed.output
        key_id = session.scalar(select(ApiKey.id).order_by(ApiKey.id.desc()))
        assert cli_run(["key", "revoke", str(key_id)]).exit_code == 0
        assert cli_run(["user", "add", "x", "--role", "boss"]).exit_code != 0
        monkeypatch.setenv("TRITUNE_USER_PASSWORD", "short")
        assert cli_run(["user", "add", "y"]).exit_code != 0
        last = cli_run(["user", "remove", "cli-admin"])
        assert last.exit_code == 1 and "last admin" in last.output
    finally:
        session.execute(User.__table__.delete())
        session.commit()


def test_without_an_admin_a_network_interface_is_refused_naming_both_ways(
    session, settings, caplog
):
    public = settings.model_copy(update={"host": "0.0.0.0"})
    with pytest.raises(StartRefused) as refused:
        check_start(session, public)
    assert "tritune user add" in str(refused.value)
    assert "TRITUNE_OPEN_ACCESS=true" in str(refused.value)
    check_start(session, settings)  # loopback: open
    with caplog.at_level(logging.WARNING):
        check_start(session, public.model_copy(update={"open_access": True}))
    assert "OPEN ACCESS" in caplog.text


def test_with_an_admin_a_network_interface_is_served(session, settings, keyed):
    check_start(session, settings.model_copy(update={"host": "0.0.0.0"}))


def test_open_mode_ends_when_users_are_gone_on_a_network_interface(echo_runtime, runtime):
    """Started with an admin, then every user removed: not open, unless chosen."""
    from tests.doubles import SharedRuntime

    public = SharedRuntime(echo_runtime, echo_runtime.engine)
    public.settings = echo_runtime.settings.model_copy(update={"host": "0.0.0.0"})
    try:
        with TestClient(create_app(runtime=public)) as client:
            assert client.get("/api/v1/scenarios").status_code == 401
    finally:
        public.close()


def test_the_app_refuses_to_start_on_a_network_interface_without_an_admin(settings):
    public = settings.model_copy(update={"host": "0.0.0.0", "load_demo": False})
    with pytest.raises(StartRefused, match="tritune user add"), TestClient(create_app(public)):
        pass


def test_role_names_are_checked():
    assert Role.named("editor") is Role.editor
    with pytest.raises(ValueError, match="viewer, editor or admin"):
        Role.named("root")
