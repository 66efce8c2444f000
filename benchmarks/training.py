"""LoRA training speed: TriTune's trainer against a plain PEFT + transformers loop.

Both train the same LoRA (the demo recipe's config: rank, targets, learning rate, micro-batch,
bf16 autocast where the CPU has it) on the same first N demo tickets, one after the other in
this process with the same torch threads. What differs is only the loop:

- TriTune (`app.finetune.train.train_lora`): batches of similar length (little padding), the
  vocabulary projection only on the answer tokens;
- plain: shuffled batches padded to their longest row, `model(**batch, labels=...).loss`
  (the projection on every token), the usual AdamW + linear warm-up schedule.

Reports examples/s of each, their ratio (goal >= 1.0) and the 1-minute load average before
and after each run: the machine may be shared, so the ratio side by side is the figure that
counts. Trains into a temporary directory (the registry is not touched). Writes
benchmarks/results/training.json.

    .venv/bin/python benchmarks/training.py [--limit 160] [--order tritune,plain]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from peft import LoraConfig, get_peft_model
from transformers import get_linear_schedule_with_warmup

from app.config import get_settings
from app.cores import usable_cores
from app.demo import demo_config
from app.engine.transformers import load_base
from app.finetune.dataset import ChatExample, read_chat_jsonl
from app.finetune.train import TrainConfig, collate, encode_example, train_lora, use_bf16


def load_average() -> float:
    return round(os.getloadavg()[0], 2)


def tritune_run(base_model: str, examples: list[ChatExample], config: TrainConfig) -> float:
    """Seconds TriTune's trainer spent in its steps (model loading excluded)."""
    with tempfile.TemporaryDirectory() as scratch:
        result = train_lora(
            base_model=base_model,
            examples=examples,
            config=config,
            output_dir=Path(scratch) / "adapter",
        )
    return result.seconds


def plain_run(base_model: str, examples: list[ChatExample], config: TrainConfig) -> float:
    """Seconds of the textbook PEFT loop over the same examples and config."""
    torch.manual_seed(config.seed)
    base, tokenizer = load_base(base_model)
    lora = LoraConfig(
        r=config.lora_r,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=config.target_modules,
        task_type="CAUSAL_LM",
    )
    model = get_peft_model(base, lora)
    rows = [encode_example(tokenizer, e, config.max_seq_len) for e in examples]
    random.Random(config.seed).shuffle(rows)
    size = config.micro_batch_size
    batches = [rows[i : i + size] for i in range(0, len(rows), size)] * config.num_epochs
    optimizer = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad], lr=config.learning_rate
    )
    schedule = get_linear_schedule_with_warmup(
        optimizer, max(1, int(len(batches) * config.warmup_ratio)), len(batches)
    )
    model.train()
    started = time.perf_counter()
    for batch in batches:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=use_bf16(config)):
            loss = model(**collate(batch, tokenizer.pad_token_id)).loss
        loss.backward()
        optimizer.step()
        schedule.step()
        optimizer.zero_grad()
    return time.perf_counter() - started


LOOPS: dict[str, Callable[[str, list[ChatExample], TrainConfig], float]] = {
    "tritune": tritune_run,
    "plain": plain_run,
}


def measure(name: str, base_model: str, examples: list[ChatExample], config: TrainConfig) -> dict:
    before = load_average()
    seconds = LOOPS[name](base_model, examples, config)
    passes = len(examples) * config.num_epochs
    return {
        "loop": name,
        "examples": passes,
        "seconds": round(seconds, 1),
        "examples_per_s": round(passes / seconds, 3),
        "load_before": before,
        "load_after": load_average(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=160, help="first N tickets; 0 = all 600")
    parser.add_argument("--epochs", type=int, default=1, help="passes (the demo recipe: 3)")
    parser.add_argument("--order", default="tritune,plain", help="which loop runs first")
    args = parser.parse_args()
    settings = get_settings()
    train = read_chat_jsonl(settings.demo_dir / "train.jsonl")
    train = train[: args.limit] if args.limit else train
    recipe = demo_config()
    config = replace(recipe, num_epochs=args.epochs)
    runs = [measure(name, settings.base_model, train, config) for name in args.order.split(",")]
    by_loop = {run["loop"]: run for run in runs}
    report: dict[str, Any] = {
        "machine": f"{platform.machine()}, {usable_cores()} usable cores, torch threads "
        f"{torch.get_num_threads()}, bf16 autocast {'on' if use_bf16(config) else 'off'}",
        "runs": runs,
        "ratio_tritune_to_plain": round(
            by_loop["tritune"]["examples_per_s"] / by_loop["plain"]["examples_per_s"], 2
        ),
        "demo_recipe_examples_per_s": by_loop["tritune"]["examples_per_s"],
        "demo_recipe_minutes_estimate": round(
            600 * recipe.num_epochs / by_loop["tritune"]["examples_per_s"] / 60, 1
        ),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }
    print(f"{'loop':<8} {'examples':>8} {'seconds':>8} {'ex/s':>7}  load avg before/after")
    for run in runs:
        print(
            f"{run['loop']:<8} {run['examples']:>8} {run['seconds']:>8} "
            f"{run['examples_per_s']:>7}  {run['load_before']} / {run['load_after']}"
        )
    for key in ("ratio_tritune_to_plain", "demo_recipe_examples_per_s", "machine"):
        print(f"{key}: {report[key]}")
    out = Path(__file__).resolve().parent / "results"
    out.mkdir(exist_ok=True)
    (out / "training.json").write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
