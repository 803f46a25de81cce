"""The one place where numba options and the thread count of the kernels are decided.

* ``NJIT``: options of every serial kernel. ``nogil`` so that a kernel can run on several
  Python threads at once; ``cache`` so that a process does not recompile; never
  ``fastmath``: it lets LLVM assume there are no NaNs, and NaN is how a missing value is
  held (``x <= t`` on NaN must stay False, ``x != x`` must stay True).
* ``NJIT_PARALLEL``: the same plus ``parallel=True`` for kernels that spread row blocks over
  numba's own thread pool with ``numba.prange``.
* ``n_threads()`` / ``set_n_threads()``: how many threads the batch kernels use (default:
  every core). ``resolve_threads(n)`` turns a per-call override (None = the default) into a
  count.

How the row blocks are spread (measured on 2 cores, see ``quickscore.kernels.bench``): a
``ThreadPoolExecutor`` whose workers each call a ``nogil`` serial kernel on a contiguous
range of rows. It scales as well as ``prange`` here (the work is embarrassingly parallel),
needs no numba threading layer, keeps the thread count a plain argument instead of numba's
thread-local ``set_num_threads`` state, and skips the parallel-kernel compile. ``prange``
variants are compiled on demand only (``NJIT_PARALLEL``) for comparison.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

NJIT = dict(nogil=True, cache=True, fastmath=False)
NJIT_PARALLEL = dict(nogil=True, cache=True, fastmath=False, parallel=True)

# Each thread gets at least this many rows: below it, starting threads costs more than it saves.
MIN_ROWS_PER_THREAD = 2048


def _cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


_default_threads = _cores()
_pool: ThreadPoolExecutor | None = None
_pool_size = 0
_pool_pid = 0


def n_threads() -> int:
    """The number of threads the batch kernels use when a call does not say."""
    return _default_threads


def set_n_threads(n: int | None) -> None:
    """Set the default thread count (None: every core available to the process)."""
    global _default_threads
    _default_threads = _cores() if n is None else max(1, int(n))


def resolve_threads(n: int | None) -> int:
    return _default_threads if n is None else max(1, int(n))


def pool(n: int) -> ThreadPoolExecutor:
    """A shared executor with at least ``n`` workers (grown on demand, never shrunk; a new one
    after a fork, whose child would inherit an executor without threads)."""
    global _pool, _pool_size, _pool_pid
    pid = os.getpid()
    if _pool is None or _pool_size < n or _pool_pid != pid:
        old = _pool if _pool_pid == pid else None
        _pool = ThreadPoolExecutor(max_workers=n, thread_name_prefix="quickscore-kernel")
        _pool_size = n
        _pool_pid = pid
        if old is not None:
            old.shutdown(wait=False)
    return _pool


def row_ranges(n_rows: int, threads: int, align: int = 64) -> list[tuple[int, int]]:
    """Split ``range(n_rows)`` into at most ``threads`` contiguous chunks (aligned to ``align`` rows)."""
    k = max(1, min(threads, n_rows // MIN_ROWS_PER_THREAD))
    if k == 1:
        return [(0, n_rows)]
    step = -(-n_rows // k)
    step = -(-step // align) * align
    return [(a, min(a + step, n_rows)) for a in range(0, n_rows, step)]
