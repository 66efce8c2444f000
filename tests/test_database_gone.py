"""A database that does not answer (D13): clear 503s with Retry-After, never a hang or a
500, and `/readyz` says not ready; the embedded server's list of users holds no dead
processes. (A real Postgres killed under real servers: tests/test_processes.py.)"""

from __future__ import annotations

import json
import os
import subprocess
import time

from fastapi.testclient import TestClient

from app.config import Settings
from app.db.server import prune_dead_handles
from app.main import create_app
from app.runtime import Runtime

NOWHERE = "postgresql://tritune@127.0.0.1:1/tritune"  # nothing listens on port 1


def test_routes_answer_503_and_readyz_says_the_database_is_unavailable(tmp_path):
    settings = Settings(
        data_dir=tmp_path, database_url=NOWHERE, allowed_hosts=["testserver"], _env_file=None
    )
    gone = Runtime(settings)
    try:
        with TestClient(create_app(runtime=gone)) as client:
            started = time.monotonic()
            answer = client.get("/api/v1/scenarios")
            assert answer.status_code == 503 and "database" in answer.json()["detail"]
            assert int(answer.headers["retry-after"]) > 0
            ready = client.get("/readyz")
            assert ready.status_code == 503 and ready.json()["database"] == "unavailable"
            page = client.get("/scenarios")
            assert page.status_code == 503 and "database" in page.text
            assert time.monotonic() - started < 30  # seconds, not a hang
            assert client.get("/healthz").status_code == 200  # the process itself answers
    finally:
        gone.close()


def test_dead_processes_are_pruned_from_the_embedded_servers_users(tmp_path):
    dead = subprocess.Popen(["true"])
    dead.wait()
    handles = tmp_path / ".handle_pids.json"
    handles.write_text(json.dumps([os.getpid(), dead.pid]))
    prune_dead_handles(tmp_path)
    assert json.loads(handles.read_text()) == [os.getpid()]
