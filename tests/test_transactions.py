"""No transaction stays open while slow work runs (D14): a comparison's reads commit before
the engine generates, and `tritune setup` commits before it trains."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text

import app.demo
from app.compare.service import ComparisonOptions, run_comparison
from app.engine.base import GenerationRequest, GenerationResult
from app.engine.echo import EchoEngine
from app.levels import level_names
from tests.doubles import SharedRuntime

IDLE_IN_TRANSACTION = text(
    "SELECT count(*) FROM pg_stat_activity "
    "WHERE datname = current_database() AND state = 'idle in transaction'"
)


def idle_in_transaction(db: Engine) -> int:
    with db.connect() as connection:
        return connection.scalar(IDLE_IN_TRANSACTION)


class WatchingEngine(EchoEngine):
    """The echo engine, counting the sessions left idle in a transaction while it generates."""

    def __init__(self, base_model: str, db: Engine) -> None:
        super().__init__(base_model)
        self.db = db
        self.seen: list[int] = []

    def run(self, requests: list[GenerationRequest]) -> list[GenerationResult]:
        self.seen.append(idle_in_transaction(self.db))
        return super().run(requests)


@pytest.fixture
def watching_runtime(runtime, settings):
    engine = WatchingEngine(settings.base_model, runtime.db)
    watching = SharedRuntime(runtime, engine)
    watching.load(demo=False)
    yield watching
    watching.close()
    engine.close()


def test_no_transaction_is_open_while_a_comparison_generates(watching_runtime):
    before = idle_in_transaction(watching_runtime.db)
    with watching_runtime.session() as session:
        comparison = run_comparison(
            session=session,
            runtime=watching_runtime,
            scenario="northwind",
            query="How long is the return window for boots?",
            options=ComparisonOptions(max_new_tokens=4),
        )
    assert [r.error for r in comparison.results] == [None] * len(level_names())
    assert watching_runtime.engine.seen and max(watching_runtime.engine.seen) <= before


class Stop(Exception):
    pass


def test_setup_commits_before_it_trains(runtime, settings, monkeypatch):
    seen: list[int] = []

    def train_lora(**_: object) -> None:
        seen.append(idle_in_transaction(runtime.db))
        raise Stop

    before = idle_in_transaction(runtime.db)
    monkeypatch.setattr(app.demo, "train_lora", train_lora)
    with runtime.session() as session, pytest.raises(Stop):
        app.demo.ensure_demo_adapter(session, settings, force=True)
    assert seen and seen[0] <= before
