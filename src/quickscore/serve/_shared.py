"""State shared by the forked worker processes."""

from __future__ import annotations

import threading


class SharedGeneration:
    """A counter in memory shared by the forked workers (or a plain one in a single process)."""

    def __init__(self, shared: bool = True):
        if shared:
            import multiprocessing

            ctx = multiprocessing.get_context("fork")
            self._value = ctx.RawValue("Q", 0)
            self._lock = ctx.Lock()
        else:
            self._value = _Box()
            self._lock = threading.Lock()

    @property
    def value(self) -> int:
        return self._value.value

    def bump(self) -> int:
        with self._lock:
            self._value.value += 1
            return self._value.value


class _Box:
    value = 0
