"""Every route against every role: each change (non-GET route) has a rule in
app/auth/rules.py, and a viewer, an editor and an admin get exactly what their role allows.
A route added without a rule fails here."""

from __future__ import annotations

import re

import pytest
from fastapi.routing import APIRoute, iter_route_contexts

from app.auth.roles import Role
from app.auth.rules import CHANGES, PUBLIC, SAFE_METHODS, required_role
from app.main import create_app
from tests.accounts import accounts


def routes() -> list[tuple[str, str]]:
    """(method, path template) of every route the app serves."""
    found = set()
    for context in iter_route_contexts(create_app().routes):
        route = context.original_route
        if isinstance(route, APIRoute):
            found |= {(method, route.path) for method in route.methods}
    return sorted(found)


CHANGING = [(method, path) for method, path in routes() if method not in SAFE_METHODS]


def test_every_change_has_a_rule_and_every_rule_a_route():
    missing = [route for route in CHANGING if route not in CHANGES]
    assert not missing, f"add these routes to app/auth/rules.py CHANGES: {missing}"
    stale = set(CHANGES) - set(CHANGING)
    assert not stale, f"rules for routes that do not exist: {stale}"


def test_reading_needs_a_viewer_except_the_public_pages():
    assert required_role("GET", "/api/v1/comparisons") is Role.viewer
    assert required_role("GET", "/healthz") is PUBLIC
    assert required_role("POST", "/a/route/nobody/listed") is Role.admin  # fails closed


def concrete(path: str) -> str:
    """The template with values that pass validation: the rule runs before the route."""
    values = {"slug": "no-such-scenario", "name": "no-such-adapter", "level": "prompt"}
    return re.sub(r"{(\w+)(:\w+)?}", lambda m: values.get(m.group(1), "2147483000"), path)


@pytest.fixture(scope="module")
def keyed(runtime):
    with accounts(runtime) as made:
        yield made


@pytest.mark.parametrize(("method", "path"), CHANGING)
def test_each_role_gets_what_its_rule_allows(echo_client, keyed, method, path):
    needed = required_role(method, path)
    url = concrete(path)
    anonymous = echo_client.request(method, url, json={})
    if needed is PUBLIC:  # the login's own 401 (no password) is no refusal by a rule
        assert anonymous.status_code != 403
        return
    assert anonymous.status_code in (401, 303), anonymous.text
    for role, account in keyed.items():
        response = echo_client.request(method, url, json={}, headers=account.bearer)
        if role < needed:
            assert response.status_code == 403, (role, response.text)
        else:  # past the rule: whatever the route says of this empty request
            assert response.status_code not in (401, 403), (role, response.text)
