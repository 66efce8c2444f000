"""llama.cpp beside another busy process: tokens/s of a bare `llama_cpp.Llama` on the
configured GGUF at 1 and at all usable threads, on a quiet machine and while a second
process keeps two torch threads busy (as a training in another process does).

Issue 17 saw the server's llama.cpp engine run at 0.34-0.64x of a bare Llama while another
process trained; this separates the thread count from everything else the server does.
Prints one JSON line; run it with nothing else busy (the load average is printed).

    .venv/bin/python benchmarks/contention.py [--tokens 64] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import time

from app.config import get_settings
from app.cores import usable_cores

PROMPT = "Write about mountains and rivers:"


def keep_busy(until: float) -> None:
    """Two torch threads of matrix products until `until` (a training's kind of load)."""
    import torch

    torch.set_num_threads(2)
    a, b = torch.randn(768, 768), torch.randn(768, 768)
    while time.time() < until:
        (a @ b).sum()


def tokens_per_s(llm, tokens: int, repeats: int) -> float:
    rates = []
    for _ in range(repeats):
        started = time.perf_counter()
        answer = llm.create_completion(PROMPT, max_tokens=tokens, temperature=0)
        rates.append(answer["usage"]["completion_tokens"] / (time.perf_counter() - started))
    return round(statistics.median(rates), 1)


def measure(threads: int, args: argparse.Namespace) -> dict[str, float]:
    from llama_cpp import Llama

    llm = Llama(
        model_path=get_settings().base_model,
        n_threads=threads,
        n_threads_batch=threads,
        n_ctx=512,
        verbose=False,
    )
    quiet = tokens_per_s(llm, args.tokens, args.repeats)
    spawn = multiprocessing.get_context("spawn")
    other = spawn.Process(target=keep_busy, args=(time.time() + 120,))
    other.start()
    time.sleep(3)  # its threads are running
    busy = tokens_per_s(llm, args.tokens, args.repeats)
    other.terminate()
    other.join()
    return {"quiet": quiet, "beside_busy_process": busy, "ratio": round(busy / quiet, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    results = {f"{n}_threads": measure(n, args) for n in sorted({1, usable_cores()})}
    print(json.dumps({"load_before": load_before, **results}))


if __name__ == "__main__":
    main()
