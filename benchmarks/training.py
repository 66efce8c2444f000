"""LoRA training speed and memory on this machine: the demo dataset with the default config.

Trains into a temporary directory (the registry is not touched) and reports examples/s,
minutes, steps, the loss before/after on the held-out split, and the process's peak resident
memory. Writes benchmarks/results/training.json.

    .venv/bin/python benchmarks/training.py [--limit N] [--epochs 1]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import tempfile
import time
from pathlib import Path

from app.config import get_settings
from app.finetune.dataset import read_chat_jsonl
from app.finetune.train import TrainConfig, train_lora, use_bf16


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=0, help="first N examples; 0 = all")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--eval-items", type=int, default=20)
    args = parser.parse_args()
    settings = get_settings()
    train = read_chat_jsonl(settings.demo_dir / "train.jsonl")
    train = train[: args.limit] if args.limit else train
    held_out = read_chat_jsonl(settings.demo_dir / "eval_split.jsonl")[: args.eval_items]
    config = TrainConfig(num_epochs=args.epochs)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:
        result = train_lora(
            base_model=settings.base_model,
            examples=train,
            config=config,
            output_dir=Path(scratch) / "adapter",
            eval_examples=held_out,
        )
    wall = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    report = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, bf16 autocast "
        f"{'on' if use_bf16(config) else 'off'}",
        "examples": result.examples,
        "steps": result.steps,
        "training_s": round(result.seconds, 1),
        "wall_s_incl_model_load": round(wall, 1),
        "examples_per_s": round(result.examples / result.seconds, 3),
        "minutes": round(result.seconds / 60, 2),
        "loss_first_step": result.loss_history[0],
        "loss_last_step": result.loss_history[-1],
        "eval_loss_base": result.eval_loss_base,
        "eval_loss_adapter": result.eval_loss,
        "peak_rss_mb": round(peak_mb),
    }
    width = max(len(k) for k in report)
    for key, value in report.items():
        print(f"{key:<{width}}  {value}")
    out = Path(__file__).resolve().parent / "results"
    out.mkdir(exist_ok=True)
    (out / "training.json").write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
