"""The server under concurrent clients, and how fast it gets ready, for each engine.

For each engine (`--engines`, default both) it starts `tritune serve` on a free port twice,
each timed from the process start to `/readyz` answering 200:

- `cold`: after dropping from the page cache every file of the virtual environment (Python,
  torch, llama.cpp, the packaged models) and of the data directory (database, adapters, the
  dequantised copy), with `posix_fadvise(DONTNEED)`. Pages another running process has
  mapped stay in memory, so run it with nothing else using the environment.
- `warm`: right after, those files now cached.

Against the warm server, 1, 4 and 16 clients post comparisons over loopback (`--requests`
each, all three levels, `--max-new-tokens`) and the table shows throughput, p50/p95 latency
of the answered requests, 503s (queue full, expected only when more than
TRITUNE_MAX_PENDING_COMPARISONS are in flight) and any other errors. Needs the demo set up
(`make setup`); for the transformers engine its dequantised copy is made first if missing,
so `cold` is a later start, not the very first. Writes benchmarks/results/load.json.

    .venv/bin/python benchmarks/load.py [--engines llamacpp transformers] [--clients 1 4 16]
        [--requests 2] [--max-new-tokens 32]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from app.config import get_settings

ROOT = Path(__file__).resolve().parents[1]
QUERIES = [
    "How many days do I have to return a tent?",
    "My Kestrel 2 tent pole snapped on the first night. I want a refund.",
    "Which jackets use Glacierline?",
    "Do you ship to Canada, and how long does it take?",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def evict(*roots: Path) -> int:
    """Drop every file under `roots` from the page cache; returns how many files."""
    count = 0
    for root in roots:
        for folder, _, names in os.walk(root):
            for name in names:
                try:
                    fd = os.open(os.path.join(folder, name), os.O_RDONLY)
                except OSError:  # a socket, a file gone meanwhile
                    continue
                try:
                    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
                    count += 1
                finally:
                    os.close(fd)
    return count


def start_server(port: int, engine: str) -> tuple[subprocess.Popen, float]:
    """The server process and its seconds from start to /readyz 200."""
    started = time.perf_counter()
    tritune = str(Path(sys.executable).with_name("tritune"))
    process = subprocess.Popen(
        [tritune, "serve", "--port", str(port)],
        cwd=ROOT,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "TRITUNE_ENGINE": engine},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/readyz"
    while time.perf_counter() - started < 600:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return process, time.perf_counter() - started
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    process.kill()
    raise RuntimeError("the server was not ready within 600 s")


def stop_server(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGINT)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()


def client(base: str, requests: int, max_new_tokens: int, offset: int, out: list) -> None:
    with httpx.Client(base_url=base, timeout=600) as http:
        for i in range(requests):
            body = {"query": QUERIES[(offset + i) % len(QUERIES)], "max_new_tokens": max_new_tokens}
            started = time.perf_counter()
            try:
                status = http.post("/api/v1/comparisons", json=body).status_code
            except httpx.TransportError as error:
                status = type(error).__name__
            out.append((status, time.perf_counter() - started))


def run_load(base: str, clients: int, requests: int, max_new_tokens: int) -> dict:
    outcomes: list = []
    threads = [
        threading.Thread(target=client, args=(base, requests, max_new_tokens, n, outcomes))
        for n in range(clients)
    ]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    ok = sorted(seconds for status, seconds in outcomes if status == 201)
    return {
        "clients": clients,
        "requests": len(outcomes),
        "answered": len(ok),
        "busy_503": sum(status == 503 for status, _ in outcomes),
        "errors": sum(status not in (201, 503) for status, _ in outcomes),
        "statuses": sorted({str(status) for status, _ in outcomes}),
        "wall_s": round(wall, 1),
        "comparisons_per_min": round(len(ok) / wall * 60, 2),
        "p50_s": round(statistics.median(ok), 2) if ok else None,
        "p95_s": round(ok[min(len(ok) - 1, int(0.95 * len(ok)))], 2) if ok else None,
    }


def measure(engine: str, args) -> dict:
    settings = get_settings()
    if engine == "transformers":
        from app.engine.transformers import dequantised_copy

        dequantised_copy(Path(settings.base_model), settings.models_cache_dir)
    port = free_port()
    files = evict(Path(sys.prefix), settings.data_dir.resolve())
    cold, ready_cold = start_server(port, engine)
    stop_server(cold)
    server, ready_warm = start_server(port, engine)
    try:
        base = f"http://127.0.0.1:{port}"
        rows = [run_load(base, n, args.requests, args.max_new_tokens) for n in args.clients]
    finally:
        stop_server(server)
    return {
        "ready_s": {"cold": round(ready_cold, 1), "warm": round(ready_warm, 1)},
        "evicted_files": files,
        "load": rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", nargs="+", default=["llamacpp", "transformers"])
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--requests", type=int, default=2, help="per client")
    parser.add_argument("--max-new-tokens", type=int, default=32)
    args = parser.parse_args()
    report = {engine: measure(engine, args) for engine in args.engines}
    for engine, result in report.items():
        ready = result["ready_s"]
        print(f"\n{engine}: time to ready cold {ready['cold']} s, warm {ready['warm']} s")
        print("clients  requests  answered  503  errors  wall s  comparisons/min  p50 s  p95 s")
        for r in result["load"]:
            print(
                f"{r['clients']:>7}  {r['requests']:>8}  {r['answered']:>8}  {r['busy_503']:>3}  "
                f"{r['errors']:>6}  {r['wall_s']:>6}  {r['comparisons_per_min']:>15}  "
                f"{r['p50_s']!s:>5}  {r['p95_s']!s:>5}"
            )
    report["setup"] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.platform()}",
        "requests_per_client": args.requests,
        "max_new_tokens": args.max_new_tokens,
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
    }
    out = ROOT / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    (out / "load.json").write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
