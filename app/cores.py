"""The CPU cores, shared by every model in the process.

Two thread pools compute here: torch's (the transformers engine, the embedding model) and
llama.cpp's. Each sizes itself to the machine, so when both run at once (a query embedded
while another comparison generates) there are twice as many busy threads as cores, and on a
small machine both slow down by more than they gain. So:

- `usable_cores()` counts the cores this process may run on (its CPU affinity, which
  `taskset`, cpusets and `docker --cpuset-cpus` restrict), not the host's `os.cpu_count()`;
- `configure_threads(n)` gives torch `n` threads for one operation and one for running
  operations side by side, and tells OpenMP/MKL libraries loaded later the same;
- `CORES` is held for each piece of model work: an embedding batch, a transformers forward
  pass, a llama.cpp generation. The pools take turns on all the cores, in arrival order,
  instead of sharing them at once.

Training (`app/finetune/train.py`) takes `CORES` too, one step at a time, through
`TRAINING_SHARE`: while it held no turn, torch's and llama.cpp's pools ran at once on the
same cores and a training job beside a serving server trained at 0.10 examples/s against
0.71 alone. A step takes seconds, so taking turns in arrival order alone would put a step
before every level of a comparison; after each step, while other work uses the cores,
training leaves them to it for two thirds as long (`CoreShare`). Alone, it steps without pause.

Other processes are outside `CORES`: a training started with `tritune train`, a second server.
llama.cpp's threads meet at a barrier after every operation, so when another process holds
one of its cores the thread left waiting spins, and 2 threads beside a busy process ran at
0.23 of their quiet speed where 1 thread kept 0.73 (docs/measured.md). `FREE_CORES` watches
how much of this process's cores other processes use, and the llama.cpp engine sizes its
threads to what they leave free, per generation (unless `TRITUNE_THREADS` fixes a number).

OpenMP's wait policy is left at its default (threads spin briefly between parallel regions).
`OMP_WAIT_POLICY=PASSIVE` made llama.cpp 3x slower on a quiet machine (64 tokens of the
packaged model in 2.01 s against 0.62 s, 2 threads): each token is a parallel region, and
sleeping threads wake late. It only helps when other processes fight for the cores.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import psutil

from app.engine.base import FairLock

log = logging.getLogger(__name__)

CORES = FairLock()


class CoreShare:
    """Turns on `lock` for long work made of steps (a training run): each step holds the lock;
    after it, while others use the lock (holding it, waiting, or released less than
    `idle_after` seconds ago), the work waits up to `other_share / (1 - other_share)` times the
    step's duration before queueing for the next. So busy serving gets `other_share` of the
    cores and the steps the rest; with nobody else, steps follow each other at once."""

    def __init__(self, lock: FairLock, other_share: float = 0.5, idle_after: float = 0.5) -> None:
        if not 0 <= other_share < 1:
            raise ValueError(f"other_share must be in [0, 1), got {other_share}")
        self.lock = lock
        self.other_share = other_share
        self.idle_after = idle_after

    @contextmanager
    def turn(self) -> Iterator[None]:
        """Hold the lock for one step, then leave the others their share."""
        with self.lock:
            started = time.monotonic()
            yield
            held = time.monotonic() - started
        self.leave_share(time.monotonic(), held)

    def leave_share(self, released: float, held: float) -> None:
        deadline = released + held * self.other_share / (1 - self.other_share)
        while time.monotonic() < deadline and self.others_active(released):
            time.sleep(0.02)

    def others_active(self, released: float) -> bool:
        if self.lock.waiting:
            return True
        others_released = self.lock.released_at > released
        return others_released and time.monotonic() - self.lock.released_at < self.idle_after


# Serving's share is under half: training queues behind a whole generation after its pause,
# so at 0.5 it got 0.32 of its solo rate to serving's 0.49 (docs/measured.md); at 0.4 both 0.45.
TRAINING_SHARE = CoreShare(CORES, other_share=0.4)
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def configure_threads(threads: int) -> None:
    """Size torch's pools (and OpenMP/MKL ones loaded after this) to `threads`."""
    for variable in THREAD_VARIABLES:
        os.environ.setdefault(variable, str(threads))
    import torch

    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # only possible before torch's first parallel work; keep its pool
        log.debug("torch's inter-op pool is already running; left as it is")


class FreeCores:
    """Cores of this process's affinity set that other processes leave free.

    A daemon thread samples, every `interval` seconds, the busy time of those cores (psutil's
    per-CPU times: all but idle and I/O wait) and this process's own CPU time; busy time less
    own time over the last interval is what other processes used, in cores. Started on the
    first `count()`; where per-CPU times cannot be read (not Linux, a restricted /proc) every
    core counts as free."""

    def __init__(self, interval: float = 0.5) -> None:
        self.interval = interval
        self.cores = usable_cores()
        self.others = 0.0  # cores other processes kept busy over the last interval
        self._started = False
        self._start_lock = threading.Lock()
        self._stop = threading.Event()

    def count(self) -> int:
        """How many threads fit beside the other processes: a core counts as free when they
        used less than half of it. At least 1, at most `usable_cores()`."""
        self.start()
        free = self.cores - self.others
        return max(1, min(self.cores, int(free + 0.5)))

    def start(self) -> None:
        with self._start_lock:
            if self._started:
                return
            self._started = True
        threading.Thread(target=self._watch, name="free-cores", daemon=True).start()

    def stop(self) -> None:
        """End the watching thread (the process-wide one watches until exit)."""
        self._stop.set()

    def _watch(self) -> None:
        try:
            cpus = sorted(os.sched_getaffinity(0))
        except AttributeError:  # not Linux
            cpus = list(range(self.cores))
        me = psutil.Process()
        try:
            previous = busy_seconds(cpus), own_seconds(me), time.monotonic()
        except (OSError, IndexError, psutil.Error) as error:
            log.info("cannot read per-CPU times (%s); every core counts as free", error)
            return
        while not self._stop.wait(self.interval):
            current = busy_seconds(cpus), own_seconds(me), time.monotonic()
            elapsed = current[2] - previous[2]
            used = (current[0] - previous[0]) - (current[1] - previous[1])
            self.others = max(0.0, used / elapsed)
            previous = current


def busy_seconds(cpus: list[int]) -> float:
    """CPU seconds the given cores spent on anything but idling since boot (a hypervisor's
    steal counts as busy: the core was not ours)."""
    times = psutil.cpu_times(percpu=True)
    idle = ("idle", "iowait", "guest", "guest_nice")  # Linux counts guest time in user too
    return sum(
        sum(times[cpu]) - sum(getattr(times[cpu], field, 0.0) for field in idle) for cpu in cpus
    )


def own_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


FREE_CORES = FreeCores()
