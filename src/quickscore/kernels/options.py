"""The one place where numba options and the thread count of the kernels are decided.

* ``NJIT``: options of every serial kernel. ``nogil`` so that a kernel can run on several
  Python threads at once; ``cache`` so that a process does not recompile; never
  ``fastmath``: it lets LLVM assume there are no NaNs, and NaN is how a missing value is
  held (``x <= t`` on NaN must stay False, ``x != x`` must stay True).
* ``NJIT_PARALLEL``: the same plus ``parallel=True``, for the ``prange`` variant kept for
  comparison (``tree_kernels.leaves_prange``).
* ``n_threads()`` / ``set_n_threads()``: how many threads the batch kernels use (default:
  every core available to the process); every batch entry point also takes ``n_threads=``.

How the rows are spread: ``row_ranges`` cuts a batch into chunks of at least
``MIN_ROWS_PER_THREAD`` rows (up to ``CHUNKS_PER_THREAD`` per thread); the calling thread and
``threads - 1`` workers of a shared ``ThreadPoolExecutor`` take chunks from a queue, each
chunk one call of a ``nogil`` serial kernel. Against numba's ``prange`` (OpenMP layer) this
measured the same on 1 and 2 cores, and it needs no threading layer, keeps the thread count
a plain argument (numba's ``set_num_threads`` is thread-local state), balances chunks when
the machine's other work slows one core down, and survives ``fork`` (a new pool in the
child). See ``quickscore.kernels.bench``.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import numba

NJIT = dict(nogil=True, cache=True, fastmath=False)
NJIT_PARALLEL = dict(nogil=True, cache=True, fastmath=False, parallel=True)

_slp_lock = threading.Lock()


@contextmanager
def slp_vectorize():
    """Compile the kernels defined (with explicit signatures, so eagerly) inside this block
    with LLVM's SLP vectorizer on. numba turns it off by default (``NUMBA_SLP_VECTORIZE=0``);
    the bitvector walk (``bits_walk``) unrolls 32 rows into scalars for it to pack into SIMD
    registers. Exact: SLP only packs the same operations side by side (no reassociation
    without fastmath). The setting is numba's global one, restored on exit."""
    with _slp_lock:
        old = numba.config.SLP_VECTORIZE
        numba.config.SLP_VECTORIZE = 1
        try:
            yield
        finally:
            numba.config.SLP_VECTORIZE = old


# Each chunk of rows handed to a thread has at least this many rows: below it, the hand-off
# costs more than it saves.
MIN_ROWS_PER_THREAD = 2048
CHUNKS_PER_THREAD = 4


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
    """Split ``range(n_rows)`` into contiguous chunks (aligned to ``align`` rows) for ``threads``
    threads: one chunk when single-threaded or small, else up to ``CHUNKS_PER_THREAD`` chunks
    per thread, so that a thread slowed down (by the machine's other work) gets fewer."""
    if threads <= 1 or n_rows < 2 * MIN_ROWS_PER_THREAD:
        return [(0, n_rows)]
    k = max(2, min(threads * CHUNKS_PER_THREAD, n_rows // MIN_ROWS_PER_THREAD))
    step = -(-n_rows // k)
    step = -(-step // align) * align
    return [(a, min(a + step, n_rows)) for a in range(0, n_rows, step)]


def run_chunks(kernel, n: int, n_threads: int | None, args: tuple, block: int, fresh: tuple = ()) -> None:
    """kernel(*args, r0, r1, block) over chunks of [0, n) (``row_ranges``): the calling thread
    and ``threads - 1`` pool workers take chunks from a shared queue until none is left. The
    batch kernels (``ensemble``) and the input matrix fill (``TreeArrays.encode``) run on it.

    ``fresh``: newly allocated output arrays, written in full here first when several threads
    run: page faults taken by several threads at once serialise in the kernel (measured: 2
    threads on a fresh 40 MB leaf-index array scaled x1.5, x1.9 when touched first).
    """
    threads = resolve_threads(n_threads)
    ranges = row_ranges(n, threads)
    if len(ranges) == 1:
        kernel(*args, 0, n, block)
        return
    for a in fresh:
        a.fill(0)
    todo = iter(ranges)
    lock = threading.Lock()

    def work() -> None:
        while True:
            with lock:
                chunk = next(todo, None)
            if chunk is None:
                return
            kernel(*args, chunk[0], chunk[1], block)

    helpers = min(threads, len(ranges)) - 1
    ex = pool(helpers)
    futures = [ex.submit(work) for _ in range(helpers)]
    try:
        work()
    finally:
        for f in futures:
            f.result()
