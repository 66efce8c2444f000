"""The server under concurrent clients, and how fast it gets ready.

Starts `tritune serve` on a free port twice: the first start after the set-up (`first`) and
one right after it (`again`, the model files now in the page cache), each timed from the
process start to `/readyz` answering 200. Against the second server, 1, 4 and 16 clients
post comparisons over loopback (`--requests` each, all three levels, `--max-new-tokens`)
and the table shows throughput, p50/p95 latency of the answered requests, 503s (queue
full, expected only when more than TRITUNE_MAX_PENDING_COMPARISONS are in flight) and any
other errors. Needs the demo set up (`make setup`). Writes benchmarks/results/load.json.

    .venv/bin/python benchmarks/load.py [--clients 1 4 16] [--requests 2] [--max-new-tokens 32]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

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


def start_server(port: int) -> tuple[subprocess.Popen, float]:
    """The server process and its seconds from start to /readyz 200."""
    started = time.perf_counter()
    tritune = str(Path(sys.executable).with_name("tritune"))
    process = subprocess.Popen(
        [tritune, "serve", "--port", str(port)],
        cwd=ROOT,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--requests", type=int, default=2, help="per client")
    parser.add_argument("--max-new-tokens", type=int, default=32)
    args = parser.parse_args()
    port = free_port()
    first, ready_first = start_server(port)
    stop_server(first)
    server, ready_again = start_server(port)
    try:
        base = f"http://127.0.0.1:{port}"
        rows = [run_load(base, n, args.requests, args.max_new_tokens) for n in args.clients]
    finally:
        stop_server(server)
    print(f"time to ready: first start {ready_first:.1f} s, again {ready_again:.1f} s")
    print("clients  requests  answered  503  errors  wall s  comparisons/min  p50 s  p95 s")
    for r in rows:
        print(
            f"{r['clients']:>7}  {r['requests']:>8}  {r['answered']:>8}  {r['busy_503']:>3}  "
            f"{r['errors']:>6}  {r['wall_s']:>6}  {r['comparisons_per_min']:>15}  "
            f"{r['p50_s']!s:>5}  {r['p95_s']!s:>5}"
        )
    out = ROOT / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    report = {"ready_s": {"first": ready_first, "again": ready_again}, "load": rows}
    (out / "load.json").write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
