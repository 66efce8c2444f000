"""The cores are shared: thread pools sized to the process's CPU affinity, and model work
taking turns on them (app/cores.py)."""

import os
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
