"""Peak memory of the server under large uploads (issue 17: bounded resources).

Starts `tritune serve` on a free port with a fresh data directory (no demo), creates a
scenario, then for each case resets the server process's peak RSS (`/proc/<pid>/clear_refs`,
5), sends the upload and reads the peak back (`VmHWM` in `/proc/<pid>/status`):

- a 50 MB document upload with its `Content-Length` (refused with 413 before it is read),
- the same 50 MB streamed without a length (chunked: refused once the limit is passed),
- a 50 MB dataset upload (refused: over twice `TRITUNE_MAX_UPLOAD_BYTES`),
- a 1,000,000-line JSONL dataset of `{}` lines (3 MB; every line an error: 422 with the
  first 100 errors and the count).

Linux only (it reads /proc). Prints a table and writes benchmarks/results/upload_memory.json.

    .venv/bin/python benchmarks/upload_memory.py
"""

from __future__ import annotations

import json
import os
import platform
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
from load import free_port, start_server, stop_server  # run as a script, as the others

ROOT = Path(__file__).resolve().parents[1]
MB = 1_000_000
SLUG = "uploads"


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident set (VmHWM) since the last reset, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024 / MB
    raise RuntimeError("no VmHWM in /proc status")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024 / MB
    raise RuntimeError("no VmRSS in /proc status")


def reset_peak(pid: int) -> None:
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def multipart_stream(field: str, name: str, size: int) -> Iterator[bytes]:
    head = f'Content-Disposition: form-data; name="{field}"; filename="{name}"'
    yield f"--B\r\n{head}\r\n\r\n".encode()
    chunk = b"word " * 13_107  # 65,535 bytes
    for _ in range(size // len(chunk)):
        yield chunk
    yield b"\r\n--B--\r\n"


def measure(pid: int, label: str, send: Callable[[], httpx.Response]) -> dict:
    reset_peak(pid)
    before = rss_mb(pid)
    started = time.perf_counter()
    response = send()
    seconds = time.perf_counter() - started
    return {
        "case": label,
        "status": response.status_code,
        "response_bytes": len(response.content),
        "seconds": round(seconds, 2),
        "rss_before_mb": round(before, 1),
        "peak_rss_mb": round(peak_rss_mb(pid), 1),
    }


def cases(http: httpx.Client) -> list[tuple[str, Callable[[], httpx.Response]]]:
    big = b"word " * (50 * MB // 5)
    ones = b"{}\n" * 1_000_000
    base = f"/api/v1/scenarios/{SLUG}"
    streamed = {"Content-Type": "multipart/form-data; boundary=B"}
    return [
        (
            "50 MB document, Content-Length",
            lambda: http.post(f"{base}/documents", files={"files": ("big.md", big)}),
        ),
        (
            "50 MB document, chunked",
            lambda: http.post(
                f"{base}/documents",
                content=multipart_stream("files", "big.md", 50 * MB),
                headers=streamed,
            ),
        ),
        (
            "50 MB dataset",
            lambda: http.post(f"{base}/datasets", files={"file": ("big.jsonl", big)}),
        ),
        (
            "1,000,000-line JSONL dataset",
            lambda: http.post(f"{base}/datasets", files={"file": ("ones.jsonl", ones)}),
        ),
    ]


def main() -> None:
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="tritune-upload-bench-") as data_dir:
        os.environ.update(
            TRITUNE_DATA_DIR=data_dir, TRITUNE_LOAD_DEMO="false", TRITUNE_TRAIN_DEMO_ON_START="0"
        )
        server, ready_s = start_server(port, "llamacpp")
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=600) as http:
                http.post("/api/v1/scenarios", json={"slug": SLUG, "name": "Uploads"})
                idle = rss_mb(server.pid)
                rows = [measure(server.pid, label, send) for label, send in cases(http)]
        finally:
            stop_server(server)
    print(f"server ready in {ready_s:.1f} s; RSS when idle {idle:.1f} MB")
    print(f"{'case':<34} {'status':>6} {'body B':>8} {'s':>6} {'RSS MB':>7} {'peak MB':>8}")
    for r in rows:
        print(
            f"{r['case']:<34} {r['status']:>6} {r['response_bytes']:>8} {r['seconds']:>6} "
            f"{r['rss_before_mb']:>7} {r['peak_rss_mb']:>8}"
        )
    out = ROOT / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    report = {
        "idle_rss_mb": round(idle, 1),
        "cases": rows,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.platform()}",
    }
    (out / "upload_memory.json").write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
