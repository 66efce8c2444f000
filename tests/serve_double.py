"""A TriTune server on the echo engine (app/engine/echo.py), for the tests that start, kill
and restart real server processes (tests/servers.py). Settings come from the environment as
for `tritune serve`; `TRITUNE_TEST_TOKEN_DELAY` makes each echoed token take that long.

    python -m tests.serve_double PORT
"""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from fastapi import FastAPI

from app.config import Settings
from app.engine.echo import EchoEngine
from app.main import configure_logging, create_app
from app.runtime import Runtime


def main(port: int) -> None:
    configure_logging()
    settings = Settings()
    delay = float(os.environ.get("TRITUNE_TEST_TOKEN_DELAY", "0"))
    runtime = Runtime(settings, engine=EchoEngine(settings.base_model, token_delay_s=delay))
    runtime.migrate()
    runtime.load_in_background()
    app = create_app(runtime=runtime)
    served = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with served(app):  # its workers; then close the runtime as `tritune serve` does
            yield
        runtime.close()

    app.router.lifespan_context = lifespan
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    main(int(sys.argv[1]))
