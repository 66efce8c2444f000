"""The background-job lifecycle (app/jobs.py) on a job kind of the tests' own, `chore`, in its
own table of the test database (so that no app worker claims its jobs): claiming with
SKIP LOCKED, owners and `interrupted`, progress, cancel, and the worker."""

import threading
import time

import pytest
from sqlalchemy import Integer, delete, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from app import jobs
from app.db.models import JobColumns
from app.errors import NotFound
from app.runtime import Runtime
from tests.job_owners import interrupted_once_gone, live_owner


class ChoreBase(DeclarativeBase):
    pass


class Chore(JobColumns, ChoreBase):
    __tablename__ = "test_chores"

    id: Mapped[int] = mapped_column(primary_key=True)
    done: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer, default=0)
    steps: Mapped[int] = mapped_column(Integer, default=3)
    fail_at: Mapped[int | None] = mapped_column(Integer)


class Gate:
    """Holds a chore after its first step until the test lets it go on."""

    def __init__(self) -> None:
        self.reached, self.proceed = threading.Event(), threading.Event()


GATES: dict[int, Gate] = {}
ENDS: list[tuple[int, int]] = []  # (chore id, steps done) for every chore that ended


def do_chore(runtime, job_id: int) -> None:
    print("do_chore", job_id, flush=True)
    with runtime.session() as session:
        chore = session.get(Chore, job_id)
        for step in range(1, chore.steps + 1):
            if step == chore.fail_at:
                raise RuntimeError(f"step {step} broke")
            jobs.advance(session, chore, step, chore.steps)
            if step == 1 and job_id in GATES:
                GATES[job_id].reached.set()
                GATES[job_id].proceed.wait(10)


CHORES = jobs.JobKind(
    name="chore",
    row=Chore,
    run=do_chore,
    done_status="finished",
    on_end=lambda session, chore: ENDS.append((chore.id, chore.done)),
)


@pytest.fixture(scope="module")
def chore_runtime(settings):
    """A runtime without models, and the chores table (dropped again: the app's tables are
    checked against the migrations)."""
    runtime = Runtime(settings)
    ChoreBase.metadata.create_all(runtime.db)
    yield runtime
    runtime.close()
    ChoreBase.metadata.drop_all(runtime.db)


@pytest.fixture
def session(chore_runtime):
    with chore_runtime.session() as session:
        session.execute(delete(Chore))
        session.commit()
        yield session


def add_chores(session, count: int, **columns) -> list[Chore]:
    chores = [Chore(**columns) for _ in range(count)]
    session.add_all(chores)
    session.commit()
    return chores


def test_two_claimers_get_different_jobs(chore_runtime, session):
    add_chores(session, 2)
    with chore_runtime.session() as first, chore_runtime.session() as second:
        held = jobs.next_queued(first, CHORES)  # locked until `first` ends its transaction
        second.execute(text("SET LOCAL lock_timeout = '2s'"))  # waiting would be a failure
        claimed = jobs.claim(second, CHORES)
        assert claimed is not None and claimed.id != held.id
        assert claimed.status == "running" and claimed.owner == jobs.owner_name()
        assert claimed.started_at is not None
        first.rollback()
        assert jobs.claim(first, CHORES).id == held.id
        assert jobs.claim(first, CHORES) is None


def test_concurrent_claimers_take_every_job_once(chore_runtime, session):
    chores = add_chores(session, 12)
    claimed: list[int] = []
    start = threading.Barrier(4)

    def claimer() -> None:
        start.wait()
        with chore_runtime.session() as own:
            while job := jobs.claim(own, CHORES):
                claimed.append(job.id)

    threads = [threading.Thread(target=claimer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(claimed) == [chore.id for chore in chores]


def test_running_jobs_whose_owner_is_gone_are_marked_interrupted(chore_runtime, session):
    before_owners, ghost, elsewhere = add_chores(session, 3, status="running")
    ghost.owner = "old-container:1:0badc0de"  # nobody holds its lock: the process is gone
    elsewhere.owner = "replica-2:7:5eed5eed"  # another host's live process
    session.commit()
    (ours,) = add_chores(session, 1)
    jobs.claim(session, CHORES, ours.id)
    with live_owner(chore_runtime.db, elsewhere.owner):
        assert jobs.mark_interrupted(session, CHORES) == 2
        for chore in (before_owners, ghost):
            session.refresh(chore)
            assert chore.status == "interrupted" and chore.finished_at is not None
            assert chore.error == "the process running this chore stopped"
        for chore in (elsewhere, ours):
            session.refresh(chore)
            assert chore.status == "running"
    assert interrupted_once_gone(session, CHORES) == 1
    session.refresh(elsewhere)
    assert elsewhere.status == "interrupted" and (elsewhere.id, 0) in ENDS


def test_a_queued_job_is_cancelled_at_once(session):
    (chore,) = add_chores(session, 1)
    jobs.cancel(session, CHORES, chore.id)
    session.commit()
    assert chore.status == "cancelled" and chore.cancel_requested and chore.finished_at
    assert jobs.claim(session, CHORES) is None
    with pytest.raises(jobs.JobConflict, match="already cancelled"):
        jobs.cancel(session, CHORES, chore.id)
    with pytest.raises(NotFound, match="chore 999999 not found"):
        jobs.cancel(session, CHORES, 999999)


def test_a_running_job_stops_at_its_next_step_keeping_its_progress(chore_runtime, session):
    (chore,) = add_chores(session, 1)
    jobs.claim(session, CHORES, chore.id)
    jobs.cancel(session, CHORES, chore.id)
    session.commit()
    assert chore.status == "running" and chore.cancel_requested
    with pytest.raises(jobs.JobConflict, match="already being cancelled"):
        jobs.cancel(session, CHORES, chore.id)
    session.rollback()  # as a request's session ends: the cancel had locked the row
    jobs.run_job(chore_runtime, CHORES, chore.id)
    session.refresh(chore)
    assert chore.status == "cancelled" and chore.done == 1 and chore.total == 3
    assert (chore.id, 1) in ENDS
    with pytest.raises(jobs.JobConflict, match="already cancelled"):
        jobs.cancel(session, CHORES, chore.id)


def test_a_job_ends_done_under_its_kinds_name_or_failed(chore_runtime, session):
    fine, broken = add_chores(session, 2)
    broken.fail_at = 2
    session.commit()
    with pytest.raises(jobs.JobConflict, match="is queued, not claimed by this process"):
        jobs.run_job(chore_runtime, CHORES, fine.id)
    for chore in (fine, broken):
        jobs.claim(session, CHORES, chore.id)
        jobs.run_job(chore_runtime, CHORES, chore.id)
        session.refresh(chore)
    assert fine.status == "finished" and fine.done == fine.total == 3 and fine.error is None
    assert broken.status == "failed" and broken.done == 1
    assert broken.error == "RuntimeError: step 2 broke"
    assert CHORES.finished == ("finished", "failed", "cancelled", "interrupted")


def test_the_worker_runs_queued_jobs_and_stops_a_cancelled_one(chore_runtime, session):
    held, after = add_chores(session, 2)
    GATES[held.id] = Gate()
    worker = chore_runtime.worker(CHORES)
    try:
        worker.notify()
        assert GATES[held.id].reached.wait(10), "the worker did not run the chore"
        jobs.cancel(session, CHORES, held.id)
        session.commit()
        GATES[held.id].proceed.set()
        for chore in (held, after):
            wait_until_finished(session, chore)
    finally:
        worker.stop()
    assert held.status == "cancelled" and held.done == 2  # its next step, kept
    assert after.status == "finished" and after.owner == jobs.owner_name()


def wait_until_finished(session, chore: Chore, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        session.refresh(chore)
        if chore.status in CHORES.finished:
            return
        time.sleep(0.05)
    raise AssertionError(f"chore {chore.id} still {chore.status}")


def test_one_at_a_time_makes_other_processes_wait(chore_runtime):
    with chore_runtime.session() as first, chore_runtime.session() as second:
        jobs.one_at_a_time(first, CHORES)
        second.execute(text("SET LOCAL lock_timeout = '200ms'"))
        with pytest.raises(OperationalError, match="lock timeout"):
            jobs.one_at_a_time(second, CHORES)
        second.rollback()
        first.commit()
        jobs.one_at_a_time(second, CHORES)
