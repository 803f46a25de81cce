"""Memory during a load: the cyclic GC paused while a model is built, freed heap memory given
back to the operating system after a big load."""

from __future__ import annotations

import contextlib
import gc
from typing import Any, Iterator

_trim: Any = None

#: Tree nodes beyond which a load calls :func:`release_memory` after building its arrays.
BIG_NODES = 100_000


def release_memory() -> None:
    """Hand the heap memory freed after reading or lowering a big forest back to the OS.

    glibc keeps freed memory for reuse (~20 MB after reading a 90 MB document); its
    ``malloc_trim`` returns it. A no-op where that function does not exist.
    """
    global _trim
    if _trim is None:
        try:
            import ctypes

            _trim = ctypes.CDLL("libc.so.6").malloc_trim
        except (OSError, AttributeError):
            _trim = False
    if _trim:
        _trim(0)


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector (re-enabled on exit, even on error).

    Reading a model allocates many small objects, none of them in a reference cycle; in a
    fresh process that has imported numba and pandas each full collection they trigger walks
    a million objects (~30 ms). A no-op when the GC is already disabled."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
