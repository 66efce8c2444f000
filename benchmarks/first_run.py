"""Fresh clone to first comparison: what a new user waits for after `git clone`.

Runs the README's `make run` in a checkout (default: a fresh clone of this repository made
into a temporary folder beside it, so `../shared/data` resolves as in the repository) and
times each stage from the moment `make run` starts:

- `install`: until the Makefile's install step is done (the virtual environment, pip,
  npm); with pip's wheel cache warm, llama-cpp-python is not compiled again;
- `setup`: `tritune setup --no-train` (migrate, load the demo: scenario, dataset, documents);
- `ready`: the server answers `/readyz` with 200;
- `first comparison`: a `POST /api/v1/comparisons` of the API's example query over all
  levels has answered (the `finetune` level says the adapter is training, since
  the demo adapter trains in the background).

Prints one line per stage and writes benchmarks/results/first_run.json (with the load
average at the start and the end). The server is stopped at the end; the clone is kept
with `--keep`.

    .venv/bin/python benchmarks/first_run.py [--checkout DIR] [--port 8944] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import httpx

from app.compare.shapes import QUERY_EXAMPLE

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "first_run.json"
# lines of `make run`'s output that end a stage (the Makefile's last install command, the
# setup command's start, uvicorn's start line)
SETUP_STARTS = "tritune setup"
SERVE_STARTS = "tritune serve"


def fresh_clone() -> Path:
    """A clone of this repository's HEAD beside it (so ../shared/data resolves)."""
    target = Path(tempfile.mkdtemp(prefix="first-run-", dir=ROOT.parent))
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(target)], check=True)
    return target


class Stages:
    """The seconds since start at which each stage's marker line appeared."""

    def __init__(self) -> None:
        self.start = time.monotonic()
        self.seen: dict[str, float] = {}

    def mark(self, name: str) -> None:
        self.seen.setdefault(name, round(time.monotonic() - self.start, 1))

    def watch(self, process: subprocess.Popen[str], log: Path) -> None:
        """Read `make run`'s output into `log`, marking where setup and serve start."""
        with log.open("w") as out:
            for line in process.stdout or []:
                out.write(line)
                if SETUP_STARTS in line:
                    self.mark("install")
                if SERVE_STARTS in line:
                    self.mark("setup")


def wait_ready(port: int, process: subprocess.Popen[str], limit_s: float) -> None:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"make run exited with {process.returncode}; see its log")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"not ready after {limit_s:.0f} s")


def first_comparison(port: int) -> dict[str, str]:
    """The API's example query on the default scenario, all levels: each level's outcome."""
    body = {"query": QUERY_EXAMPLE}
    answer = httpx.post(f"http://127.0.0.1:{port}/api/v1/comparisons", json=body, timeout=600)
    answer.raise_for_status()
    return {r["level"]: r.get("error") or "answered" for r in answer.json()["results"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkout", type=Path, help="an existing checkout (default: clone)")
    parser.add_argument("--port", type=int, default=8944)
    parser.add_argument("--limit-s", type=float, default=3600)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    checkout = args.checkout or fresh_clone()
    load_start = os.getloadavg()
    stages = Stages()
    process = subprocess.Popen(
        ["make", "run", f"PORT={args.port}"],
        cwd=checkout,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    log = checkout / "first_run.log"
    threading.Thread(target=stages.watch, args=(process, log), daemon=True).start()
    try:
        wait_ready(args.port, process, args.limit_s)
        stages.mark("ready")
        levels = first_comparison(args.port)
        stages.mark("first comparison")
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=60)
    report = {
        "checkout": str(checkout),
        "stages_s": stages.seen,
        "after_install_s": round(stages.seen["first comparison"] - stages.seen["install"], 1),
        "levels": levels,
        "load_average": {"start": load_start, "end": os.getloadavg()},
    }
    for name, seconds in stages.seen.items():
        print(f"{name:>17}: {seconds:7.1f} s after `make run` started")
    print(f"install to first comparison: {report['after_install_s']} s; levels: {levels}")
    print(f"load average: {load_start} at the start, {os.getloadavg()} at the end")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    if not args.keep and args.checkout is None:
        shutil.rmtree(checkout, ignore_errors=True)


if __name__ == "__main__":
    main()
