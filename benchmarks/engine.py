"""Generation speed of TriTune's engines, all ratios measured in one run on one machine.

1. tokens/s of the `llamacpp` engine through the comparison service (`run_comparison`, one
   level) against raw llama-cpp-python on the same GGUF, prompt, adapter and thread count
   (goal: >= 0.9x), and against the `transformers` engine through the same service;
2. one three-level comparison against the slowest level run alone, for both engines, the
   transformers one in float32 and in bfloat16 (goal: <= 1.5x).

Runs on the configured database with the demo scenario and its adapter in place
(`tritune setup`). Prints a table and writes benchmarks/results/engine.json.

    .venv/bin/python benchmarks/engine.py [--repeats 2] [--max-new-tokens 64]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

from common import timed_comparison

from app.config import get_settings
from app.engine.gguf_lora import gguf_lora_path
from app.levels import level_names
from app.runtime import Runtime

LEVELS = level_names()
TICKET = "My Kestrel 2 tent arrived with a torn rainfly and I leave on Friday. What now?"
QUESTION = "What should I pack for a cold, windy day hike?"


def service_speed(runtime: Runtime, level: str, query: str, args) -> dict:
    """Completion tokens per second of one level through the comparison service: over the
    engine's own time (first token + generation) and over the whole call's wall time."""
    runs = []
    for _ in range(args.repeats):
        wall, results = timed_comparison(runtime, query, [level], args.max_new_tokens)
        result = results[level]
        assert result.error is None, result.error
        engine_s = (result.latency_first_token_ms + result.latency_generation_ms) / 1000
        runs.append((result.completion_tokens, engine_s, wall))
    tokens = runs[0][0]
    return {
        "completion_tokens": tokens,
        "engine_tokens_per_s": round(statistics.median(t / s for t, s, _ in runs), 1),
        "service_tokens_per_s": round(statistics.median(t / w for t, _, w in runs), 1),
    }


def raw_speed(runtime: Runtime, level: str, query: str, args) -> dict:
    """The same prompt (as the level built it) and adapter on a bare `llama_cpp.Llama`."""
    import llama_cpp  # after app.engine.llamacpp, so with the same OpenMP settings

    result = timed_comparison(runtime, query, [level], 1)[1][level]
    messages = prompt_messages(runtime, level, query)
    engine = runtime.engine
    lora = None
    if result.adapter:
        lora = str(gguf_lora_path(adapter_path(runtime, result.adapter), result.adapter_checksum))
    llm = llama_cpp.Llama(
        model_path=runtime.settings.base_model,
        n_ctx=8192,
        n_threads=runtime.settings.inference_threads,
        n_threads_batch=runtime.settings.inference_threads,
        lora_path=lora,
        verbose=False,
    )
    prompt = engine.tokenize(engine.render_chat(messages))
    runs = []
    for repeat in range(args.repeats + 1):  # the first one warms the prompt cache, as
        started = time.perf_counter()  # the comparison service's run above did for TriTune
        out = llm.create_completion(
            prompt, max_tokens=args.max_new_tokens, **engine.sampling_kwargs(0.0)
        )
        if repeat:
            runs.append((out["usage"]["completion_tokens"], time.perf_counter() - started))
    llm.close()
    return {
        "completion_tokens": runs[0][0],
        "tokens_per_s": round(statistics.median(t / s for t, s in runs), 1),
    }


def prompt_messages(runtime: Runtime, level: str, query: str) -> list[dict[str, str]]:
    """The chat messages `level` builds for `query` (what the engine is asked)."""
    from app.db.queries import get_scenario
    from app.levels import LevelInputs, get_level

    with runtime.session() as session:
        inputs = LevelInputs(
            session=session,
            scenario=get_scenario(session, "northwind"),
            query=query,
            query_embedding=runtime.embedder.embed_one(query),
            settings=runtime.settings,
            engine=runtime.engine,
            top_k=runtime.settings.top_k,
            few_shot_k=runtime.settings.few_shot_k,
            adapter=None,
        )
        return get_level(level).plan(inputs).messages


def adapter_path(runtime: Runtime, name: str) -> str:
    from sqlalchemy import select

    from app.db.models import Adapter

    with runtime.session() as session:
        return session.scalar(select(Adapter.path).where(Adapter.name == name))


def three_levels_vs_alone(runtime: Runtime, query: str, args) -> dict:
    together, alone = [], {lv: [] for lv in LEVELS}
    for _ in range(args.repeats):
        together.append(timed_comparison(runtime, query, list(LEVELS), args.max_new_tokens)[0])
        for lv in LEVELS:
            alone[lv].append(timed_comparison(runtime, query, [lv], args.max_new_tokens)[0])
    median_alone = {lv: statistics.median(s) for lv, s in alone.items()}
    slowest = max(median_alone.values())
    return {
        "three_levels_s": round(statistics.median(together), 2),
        "alone_s": {lv: round(s, 2) for lv, s in median_alone.items()},
        "ratio": round(statistics.median(together) / slowest, 2),
    }


def open_runtime(engine: str, dtype: str = "float32") -> Runtime:
    update = {"engine": engine, "transformers_dtype": dtype}
    runtime = Runtime(get_settings().model_copy(update=update))
    runtime.migrate()
    runtime.load(demo=False)
    timed_comparison(runtime, "warm-up", list(LEVELS), 4)  # loads the adapter (and converts it)
    return runtime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    args = parser.parse_args()

    report: dict = {"speed": {}, "three_levels": {}}
    llamacpp = open_runtime("llamacpp")
    for level, query in (("finetune", TICKET), ("prompt", QUESTION)):
        report["speed"][level] = {
            "raw_llama_cpp": raw_speed(llamacpp, level, query, args),
            "llamacpp": service_speed(llamacpp, level, query, args),
        }
    report["three_levels"]["llamacpp"] = three_levels_vs_alone(llamacpp, TICKET, args)
    settings = llamacpp.settings
    llamacpp.close()
    del llamacpp

    for dtype, key in (("float32", "transformers"), ("bfloat16", "transformers_bf16")):
        transformers = open_runtime("transformers", dtype)
        for level, query in (("finetune", TICKET), ("prompt", QUESTION)):
            report["speed"][level][key] = service_speed(transformers, level, query, args)
        report["three_levels"][key] = three_levels_vs_alone(transformers, TICKET, args)
        transformers.close()
        del transformers

    report["setup"] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.platform()}",
        "threads": settings.inference_threads,
        "model": Path(settings.base_model).name,
        "max_new_tokens": args.max_new_tokens,
        "repeats": args.repeats,
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
    }
    print_tables(report)
    out = Path(__file__).resolve().parent / "results"
    out.mkdir(exist_ok=True)
    (out / "engine.json").write_text(json.dumps(report, indent=2))


def print_tables(report: dict) -> None:
    setup = report["setup"]
    print(
        f"\n{setup['model']}, {setup['threads']} threads, greedy, max_new_tokens="
        f"{setup['max_new_tokens']}, medians of {setup['repeats']} (load average at the end: "
        f"{setup['load_average_at_end']})"
    )
    print(
        f"{'level':10}{'tokens':>8}{'raw llama-cpp':>15}{'TriTune llamacpp':>28}"
        f"{'TriTune transformers':>24}{'transformers bf16':>24}{'llamacpp/raw':>14}"
    )
    for level, row in report["speed"].items():
        raw, ours = row["raw_llama_cpp"], row["llamacpp"]
        ref, bf16 = row["transformers"], row["transformers_bf16"]
        print(
            f"{level:10}{ours['completion_tokens']:>8}{raw['tokens_per_s']:>11} t/s"
            f"{ours['engine_tokens_per_s']:>10} t/s ({ours['service_tokens_per_s']} wall)"
            f"{ref['engine_tokens_per_s']:>12} t/s ({ref['service_tokens_per_s']} wall)"
            f"{bf16['engine_tokens_per_s']:>12} t/s ({bf16['service_tokens_per_s']} wall)"
            f"{ours['service_tokens_per_s'] / raw['tokens_per_s']:>13.2f}x"
        )
    print(f"\n{'engine':18}{'3 levels':>10}{'prompt':>9}{'rag':>9}{'finetune':>10}{'ratio':>8}")
    for engine, row in report["three_levels"].items():
        alone = row["alone_s"]
        print(
            f"{engine:18}{row['three_levels_s']:>9}s"
            + "".join(f"{alone[lv]:>8}s" for lv in LEVELS)
            + f"{row['ratio']:>7}x"
        )


if __name__ == "__main__":
    main()
