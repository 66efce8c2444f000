"""The cores are shared: thread pools sized to the process's CPU affinity, and model work
taking turns on them (app/cores.py)."""

import os
import subprocess
import sys
import threading
import time

from app.config import Settings
from app.cores import CORES, usable_cores


def test_threads_default_to_the_cores_this_process_may_use():
    assert usable_cores() == len(os.sched_getaffinity(0))
    assert Settings(_env_file=None).inference_threads == usable_cores()
    assert Settings(threads=1, _env_file=None).inference_threads == 1


def test_torch_uses_the_configured_threads(runtime):
    import torch

    assert torch.get_num_threads() == runtime.settings.inference_threads


def test_embedding_waits_while_another_model_holds_the_cores(runtime):
    embedder = runtime.embedder
    done = threading.Event()
    thread = threading.Thread(target=lambda: (embedder.embed_one("a tent"), done.set()))
    with CORES:
        thread.start()
        time.sleep(0.5)
        assert not done.is_set()  # queued behind the holder, not running beside it
    thread.join(30)
    assert done.is_set()


def take_cores(acquired: threading.Event) -> None:
    with CORES:
        acquired.set()


def take_cores_while_streaming(engine) -> bool:
    """Start taking the cores at the first streamed token and wait 0.3 s: did we get them
    while the generation was still going? (Once it has ended, the taker must get them.)"""
    from app.engine import GenerationRequest

    acquired, taker, seen = threading.Event(), [], []

    def on_token(_text):
        if not taker:
            taker.append(threading.Thread(target=take_cores, args=(acquired,)))
            taker[0].start()
            seen.append(acquired.wait(0.3))

    messages = [{"role": "user", "content": "Say hello."}]
    engine.generate([GenerationRequest(messages, max_new_tokens=3, on_token=on_token)])
    taker[0].join(10)
    assert acquired.is_set()
    return seen[0]


def test_llamacpp_holds_the_cores_for_a_whole_generation(llamacpp_engine):
    assert take_cores_while_streaming(llamacpp_engine) is False


def test_transformers_holds_the_cores_for_one_forward_pass_at_a_time(transformers_engine):
    assert take_cores_while_streaming(transformers_engine) is True


def spin(until: float) -> None:
    while time.monotonic() < until:
        pass


def others_after(watch, seconds: float) -> float:
    time.sleep(seconds)
    return watch.others


def test_free_cores_sees_another_process_and_not_this_one():
    """The watcher counts the busy time of other processes, not this process's own."""
    from app.cores import FreeCores

    watch = FreeCores(interval=0.25)
    watch.start()
    quiet = others_after(watch, 1.0)
    own = threading.Thread(target=spin, args=(time.monotonic() + 1.5,))
    own.start()
    while_self_busy = others_after(watch, 1.0)
    own.join()
    busy_loop = "import time\nend = time.monotonic() + 3\nwhile time.monotonic() < end: pass"
    other = subprocess.Popen([sys.executable, "-c", busy_loop])
    try:
        while_other_busy = others_after(watch, 2.0)
        free_then = watch.count()
    finally:
        other.wait()
        watch.stop()
    assert while_other_busy >= quiet + 0.7  # one core's worth, give or take the sampling
    assert while_self_busy < quiet + 0.5
    assert free_then <= max(1, usable_cores() - 1)  # the busy process's core is not free


def test_llamacpp_fits_its_threads_to_the_free_cores(llamacpp_engine, monkeypatch):
    """Threads follow the free cores from one generation to the next (TRITUNE_THREADS unset);
    a fixed TRITUNE_THREADS is kept whatever the others do. Read from llama.cpp's context."""
    import llama_cpp

    from app.cores import FREE_CORES
    from app.engine import GenerationRequest

    engine = llamacpp_engine
    request = [GenerationRequest([{"role": "user", "content": "Hi"}], None, 4)]

    def context_threads() -> tuple[int, int]:
        return (
            llama_cpp.llama_n_threads(engine.llm.ctx),
            llama_cpp.llama_n_threads_batch(engine.llm.ctx),
        )

    assert engine.fixed_threads == 0
    monkeypatch.setattr(FREE_CORES, "count", lambda: 1)
    assert engine.generate(request)[0].completion_tokens > 0
    assert context_threads() == (1, 1)
    monkeypatch.setattr(FREE_CORES, "count", usable_cores)
    engine.generate(request)
    assert context_threads() == (usable_cores(), usable_cores())
    monkeypatch.setattr(engine, "fixed_threads", 1)
    engine.generate(request)
    assert context_threads() == (1, 1)
    monkeypatch.setattr(FREE_CORES, "count", lambda: 2)
    engine.generate(request)
    assert context_threads() == (1, 1)
