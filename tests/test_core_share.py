"""Training takes turns on the cores with serving (app/cores.py `CoreShare`): alone it steps
without pause; beside busy serving, each gets a share of the time."""

import threading
import time

import pytest

from app.cores import CoreShare
from app.engine.base import FairLock


def steps(share: CoreShare, count: int, seconds: float) -> float:
    """Wall seconds for `count` steps of `seconds` each, taken as turns."""
    started = time.monotonic()
    for _ in range(count):
        with share.turn():
            time.sleep(seconds)
    return time.monotonic() - started


def test_alone_the_steps_follow_each_other_without_pause():
    share = CoreShare(FairLock())
    assert steps(share, 5, 0.05) < 0.25 + 0.1


def test_beside_busy_serving_each_side_gets_its_share():
    lock = FairLock()
    share = CoreShare(lock, other_share=0.5)
    stop = threading.Event()
    served: list[float] = []

    def serve() -> None:  # back-to-back requests, each holding the cores 20 ms
        while not stop.is_set():
            with lock:
                time.sleep(0.02)
                served.append(0.02)

    server = threading.Thread(target=serve)
    server.start()
    try:
        wall = steps(share, 5, 0.1)
    finally:
        stop.set()
        server.join()
    # 0.5 s of steps and about as long again for serving (a loaded machine sleeps longer)
    assert 0.8 <= wall < 3.0
    assert sum(served) >= 0.3


def test_the_share_is_checked():
    with pytest.raises(ValueError, match="other_share"):
        CoreShare(FairLock(), other_share=1.0)
