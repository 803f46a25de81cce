"""Serve models over HTTP: ``quickscore serve [MODEL_DIR]`` (see docs/serving.md).

Two protocols on one port, for every model file of a directory (served under its file stem):

* the Open Inference Protocol (KServe V2) REST API under ``/v2``;
* an Openscoring-compatible REST API under ``/model`` (and ``/openscoring/model``).

Plus Prometheus ``/metrics``, an OpenAPI description at ``/openapi.json``, hot reload of
changed files and token-guarded deploy/undeploy. The server needs the ``serve`` extra.
"""

from __future__ import annotations

from importlib.util import find_spec

from quickscore.serve._config import ServeConfig

__all__ = ["ServeConfig", "create_app", "run", "require_stack"]

_STACK = ("orjson", "prometheus_client", "uvicorn")


def require_stack() -> None:
    """Raise ImportError naming the extra to install when the serving stack is missing.

    The packages are found, not imported: prometheus_client must be imported only after the
    supervisor has set PROMETHEUS_MULTIPROC_DIR (it picks where metric values live at import).
    This module itself imports without the extra, so ``quickscore --help`` always works.
    """
    missing = [name for name in _STACK if find_spec(name) is None]
    if missing:
        raise ImportError(f"quickscore serve needs the serving stack ({', '.join(missing)} missing): "
                          'pip install "quickscore[serve]"')


def create_app(config: ServeConfig):
    """The ASGI application for ``config`` (one worker's view: its own models and metrics)."""
    require_stack()
    from quickscore.serve._app import App

    return App(config)


def run(config: ServeConfig) -> None:
    """Run the server: a supervisor process and ``config.workers`` worker processes."""
    require_stack()
    from quickscore.serve._server import run as _run

    _run(config)
