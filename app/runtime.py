"""What a running TriTune holds: settings, the database, and the models once loaded.

The web app, the CLI and the tests all build one `Runtime`; models load in a background
thread so that the server answers `/healthz` (and `/readyz`: not yet) while they load.
A runtime closes the engine it loaded; an engine given to it (`Runtime(settings,
engine=...)`) belongs to whoever made it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from sqlalchemy import text
from sqlalchemy.orm import Session

from app.config import Settings
from app.cores import configure_threads
from app.db.server import release_embedded, restart_embedded
from app.db.session import make_engine, make_sessionmaker, migrate
from app.engine import Engine, load_engine
from app.errors import Busy, NotReady
from app.jobs import JobKind, JobWorker
from app.rag.embedding import Embedder

log = logging.getLogger(__name__)


class Runtime:
    def __init__(self, settings: Settings, *, engine: Engine | None = None) -> None:
        """`engine`: use this engine instead of loading one (it is not closed by `close`)."""
        self.settings = settings
        self.db = make_engine(settings)
        self.sessions = make_sessionmaker(self.db)
        self.embedder: Embedder | None = None
        self.engine: Engine | None = engine
        self._loaded_engine: Engine | None = None  # the engine `load` made, which we close
        self.stage = "starting"
        self.load_error: str | None = None
        self._ready = threading.Event()
        self._slots = threading.BoundedSemaphore(settings.max_pending_comparisons)
        self._workers: dict[str, JobWorker] = {}
        self._worker_lock = threading.Lock()
        self._restarting = threading.Lock()
        self._holds_server = not settings.database_url  # an embedded server, until `close`

    def migrate(self) -> None:
        migrate(self.db)

    def database_ok(self) -> bool:
        """Whether the database answers now; if not, bring it back (`database_lost`)."""
        try:
            with self.db.connect() as connection:
                connection.execute(text("SELECT 1"))
        except Exception as error:
            log.warning("the database does not answer: %s", error)
            self.database_lost()
            return False
        return True

    def database_lost(self) -> None:
        """A request or a worker found the database gone: drop the pooled connections (they
        are all broken) and, for the embedded server, start it again, in the background and
        one try at a time (a server whose old processes are still exiting refuses to start:
        the next lost request tries again)."""
        self.db.dispose()
        if self.settings.database_url or not self._restarting.acquire(blocking=False):
            return

        def restart() -> None:
            try:
                if restart_embedded(self.settings.data_dir):
                    log.info("the embedded postgres answers again")
            finally:
                self._restarting.release()

        threading.Thread(target=restart, name="tritune-db-restart", daemon=True).start()

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self.sessions() as session:
            yield session

    def load_embedder(self) -> Embedder:
        if self.embedder is None:
            configure_threads(self.settings.inference_threads)
            self.stage = "loading the embedding model"
            self.embedder = Embedder(self.settings.embedding_model)
            self.adopt_former_model_name(self.embedder)
        return self.embedder

    def adopt_former_model_name(self, embedder: Embedder) -> None:
        """Chunks stored under the model's former name (app/rag/model_names.py) get its name."""
        from app.rag.model_names import adopt_former_name

        try:
            with self.session() as session:
                renamed = adopt_former_name(session, embedder)
                session.commit()
        except Exception:  # e.g. a database not migrated yet: nothing stored to rename
            log.warning("could not check chunks for the embedding model's former name")
            return
        if renamed:
            log.info("%d chunks renamed to the embedding model %s", renamed, embedder.name)

    def load(self, *, demo: bool | None = None, train_demo: bool = False) -> None:
        """Load the embedding model, the demo scenario (if enabled) and the generation engine;
        with `train_demo`, queue the demo adapter's training once the demo is loaded, before
        the server says it is ready (so that a first comparison finds the job)."""
        try:
            embedder = self.load_embedder()
            if self.settings.load_demo if demo is None else demo:
                from app.demo import load_demo

                self.stage = "loading the demo scenario"
                with self.session() as session:
                    load_demo(session, embedder, self.settings)
                    session.commit()
                if train_demo:
                    self.queue_demo_training()
            self.stage = "loading the generation model"
            if self.engine is None:
                self.engine = self._loaded_engine = load_engine(self.settings)
            self.stage = "ready"
            self._ready.set()
        except Exception as error:
            log.exception("loading failed")
            self.stage = "failed"
            self.load_error = f"{type(error).__name__}: {error}"
            raise

    def load_in_background(self) -> threading.Thread:
        """Load as `load` does, in a thread (a server answers meanwhile), queueing the demo
        adapter's training when it is missing (`train_demo_on_start`)."""

        def target() -> None:
            with suppress(Exception):  # recorded in load_error, shown by /readyz
                self.load(train_demo=self.settings.load_demo and self.settings.train_demo_on_start)

        thread = threading.Thread(target=target, name="tritune-load", daemon=True)
        thread.start()
        return thread

    def queue_demo_training(self) -> None:
        from app.demo import queue_demo_training

        try:
            with self.session() as session:
                job = queue_demo_training(session, self.settings)
                session.commit()
        except Exception:  # the server serves without it; the log says why
            log.exception("queueing the demo adapter's training failed")
            return
        if job is not None:
            self.training_worker().notify()  # look for it now, not at the next poll

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    def wait_ready(self, timeout: float | None = None) -> bool:
        return self._ready.wait(timeout)

    def loaded_embedder(self) -> Embedder:
        """The embedding model, or NotReady (HTTP 503) while it is still loading."""
        if self.embedder is None:
            raise NotReady(f"the embedding model is loading ({self.stage}); retry shortly")
        return self.embedder

    def models(self) -> tuple[Embedder, Engine]:
        """The loaded models, or NotReady (HTTP 503) while they are still loading."""
        if not self.ready or self.embedder is None or self.engine is None:
            detail = self.load_error or f"models are loading ({self.stage}); retry shortly"
            raise NotReady(detail)
        return self.embedder, self.engine

    @contextmanager
    def admission(self) -> Iterator[None]:
        """A place among the comparisons running or waiting for the engine; Busy (HTTP 503)
        when all `max_pending_comparisons` are taken, rather than an ever-growing queue."""
        if not self._slots.acquire(blocking=False):
            raise Busy(
                f"{self.settings.max_pending_comparisons} comparisons are already running or "
                "waiting; retry shortly"
            )
        try:
            yield
        finally:
            self._slots.release()

    def push_adapter(self, name: str, path: str, checksum: str) -> None:
        """Hand a newly activated adapter to an engine that serves adapters from another
        server (vLLM with `TRITUNE_OPENAI_PUSH_ADAPTERS`) now, not at its first comparison.
        A failure is logged: that comparison tries again and reports it."""
        engine = self.engine
        if engine is None or not getattr(engine, "push_adapters", False):
            return
        try:
            engine.load_adapter(name, path, checksum)
        except Exception:
            log.exception("pushing adapter %s to the server failed", name)

    def worker(self, kind: JobKind) -> JobWorker:
        """The one background worker that runs this runtime's jobs of `kind` (started on first
        use, and again if it was stopped; each start marks the kind's jobs whose process
        stopped as interrupted)."""
        with self._worker_lock:
            worker = self._workers.get(kind.name)
            if worker is None or not worker.alive:
                worker = self._workers[kind.name] = JobWorker(self, kind)
                worker.start()
        return worker

    def training_worker(self) -> JobWorker:
        from app.finetune.jobs import TRAINING

        return self.worker(TRAINING)

    def eval_worker(self) -> JobWorker:
        from app.evals.runner import EVAL_RUNS

        return self.worker(EVAL_RUNS)

    def close(self) -> None:
        """Stop the job workers, close the engine `load` loaded (its threads, clients and
        model) and release database connections. The runtime stays usable: a later
        `worker()` starts a new worker, and `load()` loads the engine again (until then
        `models()` answers NotReady and a job that needs the models waits for it). An engine
        given to the runtime is left open."""
        with self._worker_lock:
            for worker in self._workers.values():
                worker.stop()
        self.close_engine()
        self.db.dispose()
        if self._holds_server:  # the last runtime of a process stops the embedded server,
            self._holds_server = False  # if no other process uses it
            release_embedded(self.settings.data_dir)

    def close_engine(self) -> None:
        if self._loaded_engine is None:
            return
        self._ready.clear()
        self.stage = "closed"
        if self.engine is self._loaded_engine:
            self.engine = None
        self._loaded_engine.close()
        self._loaded_engine = None
