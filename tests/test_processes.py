"""Real server processes, killed and started again (issue 17 part 2) and run as two replicas
on one Postgres (issue 18 part 3). Each server is `tests/serve_double.py` (the echo engine;
the real database, embedding model and training) started by tests/servers.py.

Two replicas, `a` and `b`, share one embedded Postgres: `a` starts it, `b` reaches it with
DATABASE_URL, as a second host would. The tests run in this file's order and leave both
replicas up for the next one. A cold server start takes 15-70 s (imports, models), so the
module takes minutes; the training that is killed is marked `slow`.
"""

from __future__ import annotations

import os
import re
import signal
import threading
import time
from pathlib import Path

import httpx
import psutil
import pytest
from sqlalchemy import create_engine, text

from app.db.server import sqlalchemy_url
from tests.scenario_files import intent_jsonl
from tests.servers import ServerProcess, database_url, handle_pids, postmaster

ROOT = Path(__file__).resolve().parent.parent
SLUG = "replicated"
HX = {"HX-Request": "true"}
SETTINGS = {"TRITUNE_LOAD_DEMO": "false", "TRITUNE_TRAIN_DEMO_ON_START": "false"}
EVAL_ITEMS = b"".join(
    b'{"input": "Say hello number %d.", "keywords": ["hello"], "kind": "general"}\n' % i
    for i in range(12)
)
HALF_WRITTEN = {
    "documents without chunks": "SELECT count(*) FROM documents d WHERE NOT EXISTS "
    "(SELECT 1 FROM chunks c WHERE c.document_id = d.id)",
    "comparisons without results": "SELECT count(*) FROM comparisons c WHERE NOT EXISTS "
    "(SELECT 1 FROM results r WHERE r.comparison_id = c.id)",
}


class Cluster:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        slow_tokens = {**SETTINGS, "TRITUNE_TEST_TOKEN_DELAY": "0.02"}
        self.a = ServerProcess("a", data_dir, env=dict(slow_tokens))
        self.b = ServerProcess("b", data_dir, env=dict(slow_tokens))  # + DATABASE_URL
        self.db = None

    def start(self) -> None:
        self.a.start(ready=False)
        self.a.wait_until(lambda: self.a.get("/healthz").status_code == 200)  # migrated
        url = database_url(self.data_dir, "tritune")
        self.b.env["DATABASE_URL"] = url
        self.b.start(ready=False)
        for server in (self.a, self.b):
            server.wait_until(lambda s=server: s.get("/readyz").status_code == 200)
        self.db = create_engine(sqlalchemy_url(url), pool_pre_ping=True)

    def scalar(self, sql: str, **params):
        with self.db.connect() as connection:
            return connection.execute(text(sql), params).scalar()

    def server_of(self, owner: str) -> ServerProcess:
        pid = int(owner.split(":")[1])
        return next(s for s in (self.a, self.b) if s.pid == pid)

    def restart(self, server: ServerProcess) -> None:
        server.start()

    def half_written(self) -> dict[str, int]:
        return {name: self.scalar(sql) for name, sql in HALF_WRITTEN.items()}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("replicas")
    (data_dir / "models").symlink_to(ROOT / ".tritune-test" / "models")  # the dequantised base
    cluster = Cluster(data_dir)
    try:
        cluster.start()
        scenario = cluster.a.post("/api/v1/scenarios", json={"slug": SLUG, "name": "Replicated"})
        assert scenario.status_code == 201, scenario.text
        document = ("tents.md", b"# Tents\n\nTents may be returned within 60 days.\n")
        assert upload_documents(cluster.b, [document]).status_code == 201
        yield cluster
    finally:
        cluster.b.stop()
        cluster.a.stop()
        if cluster.db is not None:
            cluster.db.dispose()
        stop_postgres(data_dir)


def upload_documents(server: ServerProcess, files: list[tuple[str, bytes]]) -> httpx.Response:
    parts = [("files", (name, body, "text/markdown")) for name, body in files]
    return server.post(f"/api/v1/scenarios/{SLUG}/documents", files=parts)


def stop_postgres(data_dir: Path) -> None:
    info = postmaster(data_dir)
    if info is not None and info.is_running():
        info.process.terminate()


# The echo engine answers with the query's last line, a token at a time: a long query
# makes a level generate for seconds (TRITUNE_TEST_TOKEN_DELAY each token)
LONG_QUERY = "Can I return a tent after " + "many " * 250 + "nights?"


def start_live(server: ServerProcess, max_new_tokens: int = 16, query: str = "Tents?") -> str:
    """The stream address of a comparison the compare page validated through `server`."""
    form = {"query": query, "scenario": SLUG, "levels": ["prompt", "rag"]}
    answer = server.post(
        "/compare", data={**form, "max_new_tokens": str(max_new_tokens)}, headers=HX
    )
    assert answer.status_code == 200, answer.text
    return re.search(r'sse-connect="([^"]+)"', answer.text).group(1)


def stream_text(server: ServerProcess, address: str) -> str:
    with httpx.Client(base_url=server.url, timeout=120) as client:
        return client.get(address).text


def test_a_comparison_started_through_one_replica_streams_through_the_other(cluster):
    address = start_live(cluster.a)
    streamed = stream_text(cluster.b, address)
    assert "event: token-prompt" in streamed and "event: done" in streamed
    assert 'id="comparison-' in streamed  # the stored comparison
    again = stream_text(cluster.a, address)  # a token is used once, whichever replica
    assert "This live view has ended" in again


def test_a_live_comparison_is_cancelled_through_the_other_replica(cluster):
    address = start_live(cluster.a, max_new_tokens=400, query=LONG_QUERY)  # ~5 s a level
    streamed: list[str] = []
    reader = threading.Thread(target=lambda: streamed.append(stream_text(cluster.b, address)))
    reader.start()
    time.sleep(2)
    assert cluster.a.post(f"{address}/cancel", headers=HX).status_code == 200
    reader.join(120)
    assert "Cancelled before it started" in streamed[0]  # the rag level, not started yet
    assert cluster.a.post(f"{address}/cancel", headers=HX).status_code == 410  # ended


def wait_for_eval(server: ServerProcess, eval_id: int, check, timeout: float = 180) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = server.get(f"/api/v1/evals/{eval_id}").json()
        if check(run):
            return run
        time.sleep(0.5)
    raise TimeoutError(f"eval {eval_id}: {run}")


def test_one_eval_at_a_time_across_replicas_and_each_job_runs_once(cluster):
    eval_set = cluster.a.post(
        f"/api/v1/scenarios/{SLUG}/eval-sets", files={"file": ("e.jsonl", EVAL_ITEMS)}
    )
    assert eval_set.status_code == 201, eval_set.text
    body = {"levels": ["prompt"], "limit": 4, "max_new_tokens": 4}
    started = cluster.a.post(f"/api/v1/scenarios/{SLUG}/evals", json=body)
    assert started.status_code == 202, started.text
    assert cluster.b.post(f"/api/v1/scenarios/{SLUG}/evals", json=body).status_code == 409
    eval_id = started.json()["id"]
    run = wait_for_eval(cluster.b, eval_id, lambda r: r["status"] not in ("queued", "running"))
    assert run["status"] == "done", run
    scores = cluster.scalar("SELECT count(*) FROM eval_scores WHERE eval_run_id = :i", i=eval_id)
    assert scores == 4  # every item once: no second worker ran it too


def test_a_replica_killed_mid_eval_leaves_it_interrupted_and_the_other_reports_it(cluster):
    body = {"levels": ["prompt"], "max_new_tokens": 200}  # 12 items, ~4 s each
    eval_id = cluster.b.post(f"/api/v1/scenarios/{SLUG}/evals", json=body).json()["id"]
    wait_for_eval(cluster.a, eval_id, lambda r: r["status"] == "running")
    owner = cluster.scalar("SELECT owner FROM eval_runs WHERE id = :i", i=eval_id)
    killed = cluster.server_of(owner)
    other = cluster.a if killed is cluster.b else cluster.b
    killed.kill(signal.SIGKILL)
    # the other replica sees the owner gone before it starts an eval, and reports it
    again = other.post(f"/api/v1/scenarios/{SLUG}/evals", json={"levels": ["prompt"], "limit": 1})
    assert again.status_code == 202, again.text
    run = other.get(f"/api/v1/evals/{eval_id}").json()
    assert run["status"] == "interrupted" and "stopped" in run["error"]
    wait_for_eval(other, again.json()["id"], lambda r: r["status"] == "done")
    cluster.restart(killed)
    assert dead_handles(cluster.data_dir) == []


def dead_handles(data_dir: Path) -> list[int]:
    return [pid for pid in handle_pids(data_dir) if not psutil.pid_exists(pid)]


def test_killed_during_ingest_and_a_live_comparison_nothing_is_half_written(cluster):
    address = start_live(cluster.b, max_new_tokens=300, query=LONG_QUERY)
    reader = threading.Thread(target=stream_text, args=(cluster.b, address), daemon=True)
    reader.start()
    files = [
        (f"page-{i}.md", f"# Page {i}\n\n".encode() + b"Words of a page. " * 400) for i in range(40)
    ]
    uploader = threading.Thread(target=upload_documents, args=(cluster.b, files), daemon=True)
    uploader.start()
    time.sleep(3)
    cluster.b.kill(signal.SIGKILL)
    assert cluster.half_written() == {name: 0 for name in HALF_WRITTEN}
    cluster.restart(cluster.b)
    assert cluster.half_written() == {name: 0 for name in HALF_WRITTEN}
    assert upload_documents(cluster.b, files[:2]).status_code == 201  # and it can run again


def test_postgres_killed_gives_clear_503s_then_the_embedded_server_comes_back(cluster):
    info = postmaster(cluster.data_dir)
    address = start_live(cluster.b, max_new_tokens=300, query=LONG_QUERY)  # `b` busy
    threading.Thread(target=stream_text, args=(cluster.b, address), daemon=True).start()
    time.sleep(1)
    os.kill(info.pid, signal.SIGKILL)
    started = time.monotonic()
    ready = cluster.a.get("/readyz")
    if ready.status_code == 503:  # unless `a` brought it back already
        assert ready.json()["ready"] is False and ready.json()["database"] == "unavailable"
    answer = cluster.b.get(f"/api/v1/scenarios/{SLUG}")
    assert answer.status_code in (200, 503) and time.monotonic() - started < 20  # no hang
    if answer.status_code == 503:
        assert "database" in answer.json()["detail"] and "retry-after" in answer.headers
    for server in (cluster.a, cluster.b):
        server.wait_until(lambda s=server: s.get("/readyz").status_code == 200, timeout=90)
        assert server.get(f"/api/v1/scenarios/{SLUG}").status_code == 200
    assert postmaster(cluster.data_dir).pid != info.pid  # `a` started it again


def wait_for_training(server: ServerProcess, job_id: int, check, timeout: float = 600) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = server.get(f"/api/v1/trainings/{job_id}").json()
        if check(job):
            return job
        time.sleep(1)
    raise TimeoutError(f"training {job_id}: {job}")


@pytest.mark.slow
def test_a_server_killed_mid_training_leaves_it_interrupted_and_no_adapter_half_written(cluster):
    dataset = cluster.a.post(
        f"/api/v1/scenarios/{SLUG}/datasets", files={"file": ("d.jsonl", intent_jsonl())}
    )
    assert dataset.status_code == 201, dataset.text
    config = {"num_epochs": 1, "max_examples": 4, "max_seq_len": 128}
    body = {"adapter_name": "killed-lora", "config": config}
    job_id = cluster.a.post(f"/api/v1/scenarios/{SLUG}/trainings", json=body).json()["id"]
    wait_for_training(cluster.b, job_id, lambda j: j["status"] == "running")
    owner = cluster.scalar("SELECT owner FROM trainings WHERE id = :i", i=job_id)
    killed = cluster.server_of(owner)
    killed.kill(signal.SIGKILL)
    cluster.restart(killed)
    job = cluster.a.get(f"/api/v1/trainings/{job_id}").json()
    assert job["status"] == "interrupted" and "stopped" in job["error"]
    adapters_dir = cluster.data_dir / "adapters"
    rows = {a["name"] for a in cluster.a.get("/api/v1/adapters").json()}
    on_disk = {p.name for p in adapters_dir.iterdir()} if adapters_dir.exists() else set()
    assert "killed-lora" not in rows and not {n for n in on_disk if "killed-lora" in n}
    again = cluster.b.post(f"/api/v1/scenarios/{SLUG}/trainings", json=body)  # re-run it
    assert again.status_code == 202, again.text
    cluster.b.post(f"/api/v1/trainings/{again.json()['id']}/cancel")


def test_sigterm_stops_the_embedded_postgres_and_leaves_no_dead_pids(cluster):
    cluster.b.kill(signal.SIGTERM)  # reaches Postgres by URL: holds no handle on it
    assert cluster.a.kill(signal.SIGTERM) in (0, -signal.SIGTERM)
    info = postmaster(cluster.data_dir)
    assert info is None or not info.is_running()
    assert handle_pids(cluster.data_dir) == []
