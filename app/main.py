"""The web application: `create_app()` builds FastAPI with its routers and lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from app.api import (
    bundles,
    comparisons,
    documents,
    drafts,
    evals,
    feedback,
    finetune,
    health,
    scenarios,
    serving,
)
from app.config import Settings, get_settings
from app.drafts.jobs import resume_drafting
from app.errors import install_handlers
from app.runtime import Runtime
from app.web import bundles as bundle_pages
from app.web import compare, history, knowledge
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
            app.state.runtime.migrate()
            app.state.runtime.load_in_background()
        app.state.runtime.training_worker()
        app.state.runtime.eval_worker()  # claims queued evals once the models are loaded
        resume_drafting(app.state.runtime)
        yield
        if own:
            app.state.runtime.close()

    app = FastAPI(title="TriTune", version="0.1.0", description=DESCRIPTION, lifespan=lifespan)
    install_handlers(app)
    # the bundle pages before the scenario pages: `/scenarios/import` is no scenario's slug
    routers = (health, bundles, scenarios, comparisons, compare, history, bundle_pages)
    others = (scenario_pages, documents, knowledge, finetune, finetune_pages, evals, eval_pages)
    others += (drafts, draft_pages, feedback)
    for module in (*routers, *others, serving):  # serving: /v1, OpenAI-compatible
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


def configure_logging() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
