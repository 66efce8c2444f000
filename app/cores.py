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

Training (`app/finetune/train.py`) does not take `CORES`: its steps take seconds and would
stall every comparison behind them; it shares the cores with serving.

OpenMP's wait policy is left at its default (threads spin briefly between parallel regions).
`OMP_WAIT_POLICY=PASSIVE` made llama.cpp 3x slower on a quiet machine (64 tokens of the
packaged model in 2.01 s against 0.62 s, 2 threads): each token is a parallel region, and
sleeping threads wake late. It only helps when other processes fight for the cores.
"""

from __future__ import annotations

import logging
import os

from app.engine.base import FairLock

log = logging.getLogger(__name__)

CORES = FairLock()
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
