"""Serving and training on the same cores: comparisons/min and training examples/s, each
alone and both at once, as a server runs them (training in a thread of the serving process).

Three phases on the configured database and models (the demo set up: `make setup`):
comparisons alone for `--seconds`; training alone on the first `--limit` demo tickets; then
the same training again while comparisons run back to back. Reports each rate with both
running as a share of its rate alone (goal: each >= 0.4 on 2 cores), with the 1-minute load
average at the start and end of each phase: on a shared machine the ratios side by side are
the figures that count. Writes benchmarks/results/shared_cores.json.

    .venv/bin/python benchmarks/shared_cores.py [--seconds 90] [--limit 48]
        [--levels prompt,rag,finetune] [--max-new-tokens 48]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from common import timed_comparison

from app.config import get_settings
from app.cores import usable_cores
from app.demo import demo_config
from app.finetune.dataset import read_chat_jsonl
from app.finetune.train import train_lora
from app.runtime import Runtime

QUERIES = [
    "How many days do I have to return a tent?",
    "My Kestrel 2 tent arrived with a torn rainfly and I leave on Friday. What now?",
    "What should I pack for a cold, windy day hike?",
]


def load_average() -> float:
    return round(os.getloadavg()[0], 2)


def serve(runtime: Runtime, levels: list[str], tokens: int, stop: threading.Event) -> int:
    """Comparisons back to back until `stop`; how many finished."""
    done = 0
    while not stop.is_set():
        timed_comparison(runtime, QUERIES[done % len(QUERIES)], levels, tokens)
        done += 1
    return done


def serving_rate(runtime: Runtime, levels: list[str], tokens: int, seconds: float) -> dict:
    stop = threading.Event()
    threading.Timer(seconds, stop.set).start()
    before, started = load_average(), time.perf_counter()
    done = serve(runtime, levels, tokens, stop)
    wall = time.perf_counter() - started
    return comparisons_per_min(done, wall, before)


def comparisons_per_min(done: int, wall: float, load_before: float) -> dict:
    per_min = round(done / wall * 60, 2)
    return {"comparisons": done, "seconds": round(wall, 1), "per_min": per_min,
            "load_before": load_before, "load_after": load_average()}  # fmt: skip


def training_rate(base_model: str, limit: int) -> dict:
    examples = read_chat_jsonl(get_settings().demo_dir / "train.jsonl")[:limit]
    before = load_average()
    with tempfile.TemporaryDirectory() as scratch:
        config = replace(demo_config(), num_epochs=1)
        result = train_lora(
            base_model=base_model,
            examples=examples,
            config=config,
            output_dir=Path(scratch) / "adapter",
        )
    return {"examples": result.examples, "seconds": round(result.seconds, 1),
            "examples_per_s": round(result.examples / result.seconds, 3),
            "load_before": before, "load_after": load_average()}  # fmt: skip


def both(runtime: Runtime, levels: list[str], tokens: int, limit: int) -> dict[str, Any]:
    """Training in a thread while comparisons run; serving is counted while training runs."""
    stop = threading.Event()
    training: dict[str, Any] = {}

    def train() -> None:
        training.update(training_rate(runtime.settings.base_model, limit))
        stop.set()

    trainer = threading.Thread(target=train)
    before, started = load_average(), time.perf_counter()
    trainer.start()
    done = serve(runtime, levels, tokens, stop)
    wall = time.perf_counter() - started
    trainer.join()
    return {"serving": comparisons_per_min(done, wall, before), "training": training}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=90, help="serving alone, seconds")
    parser.add_argument("--limit", type=int, default=48, help="tickets trained per phase")
    parser.add_argument("--levels", default="prompt,rag,finetune")
    parser.add_argument("--max-new-tokens", type=int, default=48)
    args = parser.parse_args()
    levels, tokens = args.levels.split(","), args.max_new_tokens
    runtime = Runtime(get_settings())
    runtime.migrate()
    runtime.load(demo=False)
    timed_comparison(runtime, "warm-up", levels, 4)
    serving_alone = serving_rate(runtime, levels, tokens, args.seconds)
    training_alone = training_rate(runtime.settings.base_model, args.limit)
    together = both(runtime, levels, tokens, args.limit)
    report = {
        "machine": f"{platform.machine()}, {usable_cores()} usable cores, "
        f"engine {runtime.settings.engine}",
        "serving_alone": serving_alone,
        "training_alone": training_alone,
        "together": together,
        "serving_ratio": round(together["serving"]["per_min"] / serving_alone["per_min"], 2),
        "training_ratio": round(
            together["training"]["examples_per_s"] / training_alone["examples_per_s"], 2
        ),
    }
    print(json.dumps(report, indent=2))
    out = Path(__file__).resolve().parent / "results"
    out.mkdir(exist_ok=True)
    (out / "shared_cores.json").write_text(json.dumps(report, indent=2))
    runtime.close()


if __name__ == "__main__":
    main()
