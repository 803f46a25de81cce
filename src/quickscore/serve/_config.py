"""Server settings: one frozen object, filled from the command line or the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


def usable_cores() -> int:
    """Cores this process may use: its CPU affinity, capped by a cgroup CPU quota (a container's
    CPU limit), so that a pod limited to 2 CPUs on a 64-core node starts 2 workers, not 64."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cores = os.cpu_count() or 1
    quota = _cgroup_cpu_quota()
    return max(1, min(cores, quota)) if quota else cores


def _cgroup_cpu_quota(root: Path = Path("/sys/fs/cgroup")) -> int | None:
    """ceil(quota / period) from cgroup v2 ``cpu.max`` ("max 100000" = no limit) or cgroup v1."""
    import math

    try:
        quota, period = (root / "cpu.max").read_text().split()[:2]
        return None if quota == "max" else math.ceil(int(quota) / int(period))
    except (OSError, ValueError):
        pass
    try:
        quota = int((root / "cpu" / "cpu.cfs_quota_us").read_text())
        period = int((root / "cpu" / "cpu.cfs_period_us").read_text())
        return None if quota <= 0 else math.ceil(quota / period)
    except (OSError, ValueError):
        return None


def default_workers() -> int:
    """Several workers by default: one per usable core, at least two."""
    return max(2, usable_cores())


@dataclass(frozen=True)
class ServeConfig:
    model_dir: Path | None = None
    """The directory whose model files are served; None serves the bundled example model."""
    model_name: str | None = None
    """Also serve a directory's only model under this name (KServe passes the InferenceService name)."""
    host: str = "0.0.0.0"
    port: int = 8080
    """0 picks a free port (logged as ``{"message": "listening", "port": N}``)."""
    workers: int = 2
    admin_token: str | None = None
    """Bearer token for PUT/DELETE (and PMML download); None disables model management."""
    max_body_bytes: int = 64 * 1024 * 1024
    max_batch_rows: int = 100_000
    request_timeout: float = 30.0
    """Seconds for reading a request body and for scoring a batch."""
    reload_interval: float = 2.0
    """Seconds between scans of the model directory."""
    keep_alive: float = 30.0
    score_threads: int = 1
    """Threads per worker that score batches (and single records of slow models)."""
    inline_record_seconds: float = 0.001
    """Single records of a model that scored one within this at warm-up (and within a tenth of the
    request timeout) are scored inline on the event loop; others on the scoring thread, under the
    request timeout."""
    model_threads: int | None = None
    """Kernel threads of one batch (``quickscore.load(n_threads=)``); None: cores / workers."""
    access_log: bool = False
    log_level: str = "info"
    backlog: int = 2048
    http: str = "quickscore"
    """The HTTP layer: "quickscore" (serve/_http.py, the faster) or "uvicorn" (the app as a plain ASGI app)."""

    def kernel_threads(self) -> int:
        if self.model_threads is not None:
            return self.model_threads
        return max(1, usable_cores() // max(1, self.workers))
