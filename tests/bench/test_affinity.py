"""bench/affinity.py: the 1-thread phases pin every thread of a peer's processes to one CPU."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"

pytestmark = pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="CPU affinity is Linux-only")


def _affinity_module():
    spec = importlib.util.spec_from_file_location("bench_affinity_under_test", BENCH / "affinity.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# a process with three threads besides its main one (as a JVM has GC and JIT threads)
CHILD = """
import threading, time, sys
ev = threading.Event()
ts = [threading.Thread(target=ev.wait) for _ in range(3)]
for t in ts: t.start()
print("ready", flush=True)
sys.stdin.readline()
ev.set()
"""


def _thread_affinities(pid: int) -> list[set[int]]:
    return [set(os.sched_getaffinity(int(tid))) for tid in os.listdir(f"/proc/{pid}/task")]


def test_pin_sets_every_thread_then_releases():
    aff = _affinity_module()
    allowed = aff.cpus()
    one = aff.one_cpu()
    assert len(one) == 1 and one <= allowed
    p = subprocess.Popen([sys.executable, "-c", CHILD], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "ready"
        assert aff.pin([p.pid], one) == 4
        assert _thread_affinities(p.pid) == [one] * 4
        assert aff.pin([p.pid], allowed) == 4
        assert _thread_affinities(p.pid) == [allowed] * 4
    finally:
        p.stdin.write("\n")
        p.stdin.flush()
        p.wait(timeout=10)


def test_pin_passes_over_a_process_that_has_ended():
    aff = _affinity_module()
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait(timeout=10)
    time.sleep(0.05)
    assert aff.pin([p.pid], aff.one_cpu()) == 0
