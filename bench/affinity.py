"""One core for the 1-thread figures: CPU affinity of every thread of a peer's processes.

A "1 thread" figure asks for one thread of scoring, but a peer's process may run other
threads meanwhile: a JVM's garbage collector and JIT compiler run beside the one evaluating
thread. In the session-5 run, JPMML-Evaluator's 1-thread W1 rounds used 1.09-1.69 cores
(``rep_cpu``), while every Python peer used 1.00. Pinned to one CPU, a peer's helper
threads share that core with its scoring thread, so each peer's 1-thread figure is what one
core does (measured on W1, JPMML alternately pinned and not, 6,000 rows a call, 16 calls:
~2.5k against ~3.3k rows/s at 1.14-1.48 cores).

Linux only (``/proc/<pid>/task``); elsewhere ``pin`` does nothing and says so. A thread
started later inherits the affinity of the thread that starts it.
"""

from __future__ import annotations

import os


def cpus() -> set[int]:
    """The CPUs this process may run on."""
    try:
        return set(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return set(range(os.cpu_count() or 1))


def one_cpu() -> set[int]:
    """The CPU the 1-thread phases run on: the lowest one allowed (the same for every peer)."""
    return {min(cpus())}


def pin(pids: list[int], allowed: set[int]) -> int:
    """Restrict every thread of these processes to ``allowed``; returns the threads set.
    Threads or processes that end meanwhile are passed over."""
    if not hasattr(os, "sched_setaffinity"):
        return 0
    done = 0
    for pid in pids:
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tids:
            try:
                os.sched_setaffinity(int(tid), allowed)
                done += 1
            except OSError:  # the thread ended
                pass
    return done

