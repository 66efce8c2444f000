"""llama.cpp beside another busy process: tokens/s of a bare `llama_cpp.Llama` on the
configured GGUF at 1 and at all usable threads, and of TriTune's `llamacpp` engine (threads
fitted per generation to the cores other processes leave free), on a quiet machine and while
a second process keeps two torch threads busy (as a training in another process does).

Issue 17 saw the server's llama.cpp engine run at 0.34-0.64x of a bare Llama while another
process trained; the bare rows separate the thread count from everything else the server
does, the engine row shows what the server gets now. Same prompt tokens (the chat template
applied) and greedy decoding in every row.
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
from collections.abc import Callable

from app.config import get_settings
from app.cores import usable_cores

PROMPT = "Write about mountains and rivers."


def keep_busy(until: float) -> None:
    """Two torch threads of matrix products until `until` (a training's kind of load)."""
    import torch

    torch.set_num_threads(2)
    a, b = torch.randn(768, 768), torch.randn(768, 768)
    while time.time() < until:
        (a @ b).sum()


def tokens_per_s(generate: Callable[[], int], repeats: int) -> float:
    """Median over `repeats` of completion tokens per second of wall time (prefill included)."""
    rates = []
    for _ in range(repeats):
        started = time.perf_counter()
        tokens = generate()
        rates.append(tokens / (time.perf_counter() - started))
    return round(statistics.median(rates), 1)


def quiet_and_busy(generate: Callable[[], int], repeats: int) -> dict[str, float]:
    quiet = tokens_per_s(generate, repeats)
    spawn = multiprocessing.get_context("spawn")
    other = spawn.Process(target=keep_busy, args=(time.time() + 120,))
    other.start()
    time.sleep(3)  # its threads are running (and the engine's watcher has seen them)
    busy = tokens_per_s(generate, repeats)
    other.terminate()
    other.join()
    return {"quiet": quiet, "beside_busy_process": busy, "ratio": round(busy / quiet, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    from llama_cpp import Llama

    from app.engine.base import GenerationRequest
    from app.engine.llamacpp import LlamaCppEngine

    base_model = get_settings().base_model
    engine = LlamaCppEngine(base_model)  # threads 0: fitted per generation, as the server runs
    messages = [{"role": "user", "content": PROMPT}]
    prompt = engine.tokenize(engine.render_chat(messages))  # the same tokens for the bare runs

    def served() -> int:
        request = GenerationRequest(messages=messages, max_new_tokens=args.tokens)
        return engine.generate_one(request).completion_tokens

    results = {}
    for threads in sorted({1, usable_cores()}):
        llm = Llama(
            model_path=base_model,
            n_threads=threads,
            n_threads_batch=threads,
            n_ctx=512,
            verbose=False,
        )

        def bare(llm: Llama = llm) -> int:
            answer = llm.create_completion(prompt, max_tokens=args.tokens, temperature=0)
            return answer["usage"]["completion_tokens"]

        results[f"bare_{threads}_threads"] = quiet_and_busy(bare, args.repeats)
        del llm
    results["engine_fitted_threads"] = quiet_and_busy(served, args.repeats)
    print(json.dumps({"load_before": load_before, **results}))


if __name__ == "__main__":
    main()
