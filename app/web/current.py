"""The scenario the pages are about: the one in the address, else the one the browser last
chose (a cookie, so that any replica serves the next request), else the demo. The nav links
and the compare form's default follow it."""

from __future__ import annotations

import re
from typing import Any

from fastapi import Request, Response

from app.scenarios.requests import SLUG

COOKIE = "tritune_scenario"
DEMO = "northwind"
ONE_YEAR_S = 365 * 24 * 3600


def remembered_scenario(request: Request) -> str | None:
    """The slug the browser last chose, if the cookie holds one (a cookie is user input)."""
    slug = request.cookies.get(COOKIE, "")
    return slug if re.fullmatch(SLUG, slug) else None


def current_scenario(request: Request) -> str:
    """The address's scenario, else the remembered one, else the demo."""
    slug = request.scope.get("path_params", {}).get("slug")
    return slug or remembered_scenario(request) or DEMO


def remember(response: Response, slug: str) -> Response:
    response.set_cookie(COOKIE, slug, max_age=ONE_YEAR_S, httponly=True, samesite="lax")
    return response


def forget(request: Request, response: Response, slug: str) -> Response:
    """Drop the cookie when it names `slug` (a scenario that was deleted)."""
    if remembered_scenario(request) == slug:
        response.delete_cookie(COOKIE)
    return response


def nav_scenario(request: Request) -> dict[str, Any]:
    """Every page's nav links point at the current scenario."""
    return {"nav_scenario": current_scenario(request)}
