"""Server settings: one frozen object, filled from the command line or the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


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
    """Threads per worker that score batches (single records are scored inline)."""
    model_threads: int | None = None
    """Kernel threads of one batch (``quickscore.load(n_threads=)``); None: cores / workers."""
    access_log: bool = False
    log_level: str = "info"
    backlog: int = 2048

    def kernel_threads(self) -> int:
        if self.model_threads is not None:
            return self.model_threads
        return max(1, usable_cores() // max(1, self.workers))
