"""Prometheus metrics, summed over the worker processes.

prometheus_client: "Prometheus client libraries presume a threaded model, where metrics are
shared across workers. [...] the client library can be put in multiprocess mode"; the
``PROMETHEUS_MULTIPROC_DIR`` environment variable names the directory of the per-process files,
and must be set before prometheus_client is imported (the supervisor sets it before forking).
Without it (an app run in one process) the default registry is used.
"""

from __future__ import annotations

import os
from bisect import bisect_left

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import REGISTRY as _DEFAULT_REGISTRY

MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
LOAD_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)

REQUESTS = Counter(
    "quickscore_requests", "HTTP requests answered, by model, endpoint and status code",
    ["model", "endpoint", "status"],
)
LATENCY = Histogram(
    "quickscore_request_duration_seconds", "Time from the start of a request to its response, in seconds",
    ["model", "endpoint"], buckets=LATENCY_BUCKETS,
)
IN_FLIGHT = Gauge(
    "quickscore_requests_in_flight", "Requests being answered now (all workers)", multiprocess_mode="livesum",
)
MODEL_LOAD = Histogram(
    "quickscore_model_load_seconds", "Time to load and compile a model file, in seconds",
    ["model"], buckets=LOAD_BUCKETS,
)
MODEL_LOADS = Counter(
    "quickscore_model_loads", "Model file loads, by result (ok, error)", ["model", "result"],
)
MODELS_LOADED = Gauge(
    "quickscore_models_loaded", "Models loaded and served, per worker process", multiprocess_mode="liveall",
)

# The hot path counts into plain dicts (the event loop is one thread); flush() adds the counts to
# the shared metric files, every second and before /metrics is answered. A prometheus_client
# inc() or observe() in multiprocess mode takes a lock and writes a memory-mapped file: ~20 us per
# request for the three metrics, as much as scoring one record.
_BOUNDS = LATENCY_BUCKETS + (float("inf"),)
_requests: dict[tuple[str, str, int], int] = {}
_latency: dict[tuple[str, str], list] = {}  # per-bucket counts (non-cumulative, as prometheus_client keeps them), then the sum
in_flight = 0


def observe_request(model: str, endpoint: str, status: int, seconds: float) -> None:
    """Count one answered request and its latency."""
    key = (model, endpoint, status)
    _requests[key] = _requests.get(key, 0) + 1
    counts = _latency.get(key[:2])
    if counts is None:
        counts = _latency[key[:2]] = [0] * len(_BOUNDS) + [0.0]
    counts[bisect_left(_BOUNDS, seconds)] += 1  # the first bucket with seconds <= its bound
    counts[-1] += seconds


def flush() -> None:
    """Add the counts of this process since the last flush to the metrics."""
    global _requests, _latency
    requests, latency = _requests, _latency
    _requests, _latency = {}, {}
    for (model, endpoint, status), n in requests.items():
        REQUESTS.labels(model, endpoint, str(status)).inc(n)
    for labels, counts in latency.items():
        child = LATENCY.labels(*labels)
        try:  # prometheus_client keeps one value per bucket (_buckets) and the sum (_sum)
            buckets, total = child._buckets, child._sum
        except AttributeError:  # pragma: no cover - another prometheus_client layout: observe one by one
            for bound, n in zip(_BOUNDS, counts):
                for _ in range(n):
                    child.observe(bound if bound != float("inf") else LATENCY_BUCKETS[-1] * 2)
            continue
        for value, n in zip(buckets, counts):
            if n:
                value.inc(n)
        total.inc(counts[-1])
    IN_FLIGHT.set(in_flight)


def observe_load(model: str, seconds: float | None, ok: bool) -> None:
    MODEL_LOADS.labels(model, "ok" if ok else "error").inc()
    if ok and seconds is not None:
        MODEL_LOAD.labels(model).observe(seconds)


def exposition() -> tuple[bytes, str]:
    """The metrics page and its content type."""
    if MULTIPROCESS:
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = _DEFAULT_REGISTRY
    return generate_latest(registry), CONTENT_TYPE_LATEST


def mark_process_dead(pid: int) -> None:
    """Drop a dead worker's live gauges (called by the supervisor)."""
    if MULTIPROCESS:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)
