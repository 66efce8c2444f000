"""The web application: `create_app()` builds FastAPI with its routers and lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from app import logs
from app.api import (
    bundles,
    comparisons,
    documents,
    drafts,
    evals,
    feedback,
    finetune,
    health,
    metrics,
    scenarios,
    serving,
)
from app.api import keys as api_keys
from app.auth import REQUEST_CHECKS, install
from app.auth.startup import check_start
from app.body_limits import BodyLimits
from app.config import Settings, get_settings
from app.drafts.jobs import resume_drafting
from app.errors import install_handlers
from app.request_metrics import RequestMetrics
from app.runtime import Runtime
from app.tracing import configure_tracing
from app.web import api_docs, compare, history, knowledge, live, login
from app.web import bundles as bundle_pages
from app.web import drafts as draft_pages
from app.web import evals as eval_pages
from app.web import finetune as finetune_pages
from app.web import scenarios as scenario_pages
from app.web.render import STATIC

DESCRIPTION = """
Run one query through a **few-shot prompt**, a **pgvector RAG pipeline** and a
**LoRA-adapted model** side by side; every comparison is stored with outputs, latencies,
token counts and cost.
"""


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> FastAPI:
    """The app. With a `runtime` given, its lifespan neither migrates nor loads models."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own = runtime is None
        app.state.runtime = runtime or Runtime(settings or get_settings())
        if own:
            configure_tracing(app.state.runtime.settings.tracing)
            app.state.runtime.migrate()
            refuse_open_network(app.state.runtime)
            app.state.runtime.load_in_background()
        app.state.runtime.training_worker()
        app.state.runtime.eval_worker()  # claims queued evals once the models are loaded
        resume_drafting(app.state.runtime)
        yield
        if own:
            app.state.runtime.close()

    # `/docs` is app.web.api_docs: Swagger UI from static/vendor, not FastAPI's CDN copy
    app = FastAPI(
        title="TriTune",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        dependencies=REQUEST_CHECKS,  # CSRF, then the route's role (app/auth/rules.py)
    )
    # innermost: a request body over its limit fails in the route's own handlers (413)
    app.add_middleware(
        BodyLimits, settings=lambda: runtime.settings if runtime else settings or get_settings()
    )
    install_handlers(app)
    install(app)  # Host, cross-site and frame checks; the login page for pages
    # the bundle pages before the scenario pages: `/scenarios/import` is no scenario's slug
    pages = (api_docs, compare, live, history, bundle_pages)
    routers = (health, login, api_keys, metrics, bundles, scenarios, comparisons, *pages)
    others = (scenario_pages, documents, knowledge, finetune, finetune_pages, evals, eval_pages)
    others += (drafts, draft_pages, feedback)
    for module in (*routers, *others, serving):  # serving: /v1, OpenAI-compatible
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_middleware(RequestMetrics)
    return app


def refuse_open_network(runtime: Runtime) -> None:
    """Stop before serving a non-loopback interface without an admin (app/auth/startup.py)."""
    try:
        with runtime.session() as session:
            check_start(session, runtime.settings)
    except Exception as error:
        logging.getLogger(__name__).error("%s", error)  # one readable line before the trace
        runtime.close()
        raise


def configure_logging(settings: Settings | None = None) -> None:
    """The server's logs: plain or JSON lines (`TRITUNE_LOG_FORMAT`)."""
    logs.configure_logging((settings or get_settings()).log_format)
