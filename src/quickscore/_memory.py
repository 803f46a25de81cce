"""Giving freed heap memory back to the operating system after a big load."""

from __future__ import annotations

from typing import Any

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
