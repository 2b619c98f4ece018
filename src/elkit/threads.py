"""How many CPU threads elkit's work uses: one place that sets torch's thread pool.

Torch starts as many threads as the machine has cores in every process. Two such processes on the same cores (a
training run beside another job, or the workers of ``pipe(n_process=N)``) spin against each other and run an
order of magnitude slower. `worker_threads` splits the cores between worker processes; `set_threads` is what the
``--threads`` option of ``elkit train``, ``apply``, ``link`` and ``evaluate`` calls.
"""

from __future__ import annotations

import os

__all__ = ["available_cores", "set_threads", "worker_threads"]


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity where the system tells it, else the CPU count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def worker_threads(n_process: int) -> int:
    """Threads for each of `n_process` worker processes so that together they use each core once."""
    return max(1, available_cores() // max(1, n_process))


def set_threads(threads: int | None) -> int:
    """Use `threads` threads for torch in this process (None: one per available core).

    Sets ``OMP_NUM_THREADS`` and ``MKL_NUM_THREADS`` too, for libraries loaded later.

    Raises:
        ValueError: `threads` is below 1.

    Returns:
        The number of threads now in use.
    """
    if threads is not None and threads < 1:
        raise ValueError(f"threads must be at least 1, got {threads}")
    count = threads if threads is not None else available_cores()
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = str(count)
    import torch

    if torch.get_num_threads() != count:
        torch.set_num_threads(count)
    return count
