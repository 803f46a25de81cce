"""The ``quickscore serve`` command. Importable without the serving stack (it says what to install)."""

from __future__ import annotations

from pathlib import Path

import click

from quickscore.serve._config import ServeConfig, default_workers


@click.command("serve")
@click.argument("model_dir", required=False, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--model-name", envvar="QUICKSCORE_MODEL_NAME", default=None,
              help="Also serve the directory's only model under this name (as KServe expects: the InferenceService name).")
@click.option("--host", default="0.0.0.0", show_default=True, envvar="QUICKSCORE_HOST", help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True, envvar="QUICKSCORE_PORT",
              help="Port to listen on (0: any free port, logged at start).")
@click.option("--workers", type=click.IntRange(min=1), default=None, envvar="QUICKSCORE_WORKERS",
              help="Worker processes (default: one per core, at least 2).")
@click.option("--admin-token", envvar="QUICKSCORE_ADMIN_TOKEN", default=None,
              help="Token for PUT/DELETE /model/{id} (Authorization: Bearer <token>). Unset: management disabled.")
@click.option("--max-body-mb", type=click.FloatRange(min=0.001), default=64.0, show_default=True,
              envvar="QUICKSCORE_MAX_BODY_MB", help="Largest request body, in MiB (413 beyond).")
@click.option("--max-batch-rows", type=click.IntRange(min=1), default=100_000, show_default=True,
              envvar="QUICKSCORE_MAX_BATCH_ROWS", help="Most records in one request (413 beyond).")
@click.option("--timeout", type=click.FloatRange(min=0.01), default=30.0, show_default=True, envvar="QUICKSCORE_TIMEOUT",
              help="Seconds to receive a request (408 beyond) and to score it (504 beyond; see --inline-max-ms).")
@click.option("--inline-max-ms", type=click.FloatRange(min=0), default=1.0, show_default=True,
              envvar="QUICKSCORE_INLINE_MAX_MS",
              help="Score a model's single records inline when one took at most this at warm-up (else on the "
                   "scoring thread, under --timeout).")
@click.option("--reload-interval", type=click.FloatRange(min=0.05), default=2.0, show_default=True,
              envvar="QUICKSCORE_RELOAD_INTERVAL", help="Seconds between scans of MODEL_DIR for changed files.")
@click.option("--keep-alive", type=click.FloatRange(min=1), default=30.0, show_default=True,
              help="Seconds an idle keep-alive connection stays open.")
@click.option("--threads", "model_threads", type=click.IntRange(min=1), default=None, envvar="QUICKSCORE_THREADS",
              help="Kernel threads for one batch (default: cores / workers).")
@click.option("--access-log/--no-access-log", default=False, show_default=True, envvar="QUICKSCORE_ACCESS_LOG",
              help="Log every request as a JSON line.")
@click.option("--http", "http_layer", type=click.Choice(["quickscore", "uvicorn"]), default="quickscore", show_default=True,
              envvar="QUICKSCORE_HTTP", help="HTTP layer: quickscore's own (httptools, the faster) or uvicorn (the app as ASGI).")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]), default="info", show_default=True)
def serve(model_dir: Path | None, model_name: str | None, host: str, port: int, workers: int | None, admin_token: str | None, max_body_mb: float,
          max_batch_rows: int, timeout: float, inline_max_ms: float, reload_interval: float, keep_alive: float, model_threads: int | None,
          access_log: bool, http_layer: str, log_level: str) -> None:
    """Serve every model file of MODEL_DIR over HTTP, under its file stem.

    Without MODEL_DIR, serves the bundled example model. Protocols: Open Inference Protocol
    (KServe V2) under /v2, Openscoring-compatible REST under /model; /metrics for Prometheus,
    /openapi.json. Changed files are reloaded without dropping requests. See docs/serving.md.
    """
    from quickscore.serve import require_stack, run

    try:
        require_stack()
    except ImportError as exc:
        raise click.ClickException(str(exc)) from None
    config = ServeConfig(
        model_dir=model_dir, model_name=model_name, host=host, port=port, workers=workers or default_workers(),
        admin_token=admin_token or None, max_body_bytes=int(max_body_mb * 1024 * 1024), max_batch_rows=max_batch_rows,
        request_timeout=timeout, inline_record_seconds=inline_max_ms / 1000, reload_interval=reload_interval, keep_alive=keep_alive, model_threads=model_threads,
        access_log=access_log, log_level=log_level, http=http_layer,
    )
    run(config)
