"""`/docs` (Swagger UI) and `/favicon.ico`, served from this app alone.

FastAPI's own `/docs` loads Swagger UI from a CDN, which leaves the page blank offline; here
its script and stylesheet come from `static/vendor/`, where `make install` copies them from
the `swagger-ui-dist` npm package (package.json pins its version).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, RedirectResponse

router = APIRouter(include_in_schema=False)
FAVICON = "/static/favicon.svg"


@router.get("/docs")
def swagger_ui(request: Request) -> HTMLResponse:
    """The API's interactive documentation, for the app's own OpenAPI schema."""
    app = request.app
    page = get_swagger_ui_html(
        openapi_url=app.openapi_url,
        title=f"{app.title} · API",
        swagger_js_url="/static/vendor/swagger-ui-bundle.js",
        swagger_css_url="/static/vendor/swagger-ui.css",
        swagger_favicon_url=FAVICON,
    )
    html = bytes(page.body).decode().replace("<html>", '<html lang="en">', 1)  # for screen readers
    return HTMLResponse(html)


@router.get("/favicon.ico")
def favicon() -> RedirectResponse:
    """Browsers ask for `/favicon.ico` whatever the page links; it is the SVG icon."""
    return RedirectResponse(FAVICON, status_code=301)
