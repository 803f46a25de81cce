"""The process model: a supervisor binds the port, forks the workers and restarts any that die.

Each worker serves the app on the socket the supervisor bound, so the kernel spreads connections
over the workers: with quickscore's own HTTP layer (serve/_http.py: httptools on uvloop, the
default) or with uvicorn (``--http uvicorn``: the app as a plain ASGI app). Forking (rather than
spawning) lets the workers share the imported libraries' pages and a generation counter in
shared memory (see _registry). Metrics are written per process into one directory
(prometheus_client's multiprocess mode) and summed by whichever worker answers /metrics.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
from importlib import resources
from pathlib import Path

from quickscore.serve import _logging
from quickscore.serve._config import ServeConfig

log = logging.getLogger("quickscore.serve")

EXAMPLE = "DecisionTreeIris.pmml"
COMPILE_DIR_ENV = "QUICKSCORE_COMPILE_DIR"
"""_registry.COMPILE_DIR_ENV (not imported from there: the supervisor must not import the
metrics module, which _registry imports)."""
SHUTDOWN_GRACE = 20.0
"""Seconds the workers get to finish in-flight requests after SIGTERM before they are killed."""


def run(config: ServeConfig) -> None:
    _logging.configure(config.log_level)
    metrics_dir = tempfile.mkdtemp(prefix="quickscore-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir  # before prometheus_client is imported
    compile_dir = tempfile.mkdtemp(prefix="quickscore-compiled-")
    os.environ[COMPILE_DIR_ENV] = compile_dir  # big model files compiled once for all the workers
    temporary_models = None
    model_dir = config.model_dir
    if model_dir is None:  # the bundled example model, in a directory of its own (PUT can add more)
        temporary_models = Path(tempfile.mkdtemp(prefix="quickscore-models-"))
        with resources.as_file(resources.files("quickscore") / "examples" / EXAMPLE) as example:
            shutil.copyfile(example, temporary_models / EXAMPLE)
        model_dir = temporary_models
    try:
        sock = _bind(config.host, config.port, config.backlog)
        # Imported before forking, so that the workers share these pages. Not the metrics module:
        # its gauges would count the supervisor as one more live process.
        import uvicorn  # noqa: F401

        import quickscore.models  # noqa: F401
        import quickscore.serve._http  # noqa: F401
        from quickscore.serve._shared import SharedGeneration

        generation = SharedGeneration(shared=True)
        _Supervisor(config, sock, Path(model_dir), generation).run()
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)
        shutil.rmtree(compile_dir, ignore_errors=True)
        if temporary_models is not None:
            shutil.rmtree(temporary_models, ignore_errors=True)


def _bind(host: str, port: int, backlog: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(backlog)
    sock.set_inheritable(True)
    return sock


class _Supervisor:
    def __init__(self, config: ServeConfig, sock: socket.socket, model_dir: Path, generation) -> None:
        self.config = config
        self.sock = sock
        self.model_dir = model_dir
        self.generation = generation
        self.workers: dict[int, int] = {}  # pid -> worker index
        self.stopping = False

    def run(self) -> None:
        host, port = self.sock.getsockname()[:2]
        log.info("listening", extra={"host": host, "port": port, "url": f"http://{host}:{port}",
                                     "workers": self.config.workers, "model_dir": str(self.model_dir)})
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        signal.signal(signal.SIGALRM, self._kill)
        for index in range(self.config.workers):
            self._spawn(index)
        from prometheus_client.multiprocess import mark_process_dead

        while self.workers:
            try:
                pid, status = os.wait()
            except ChildProcessError:
                break
            index = self.workers.pop(pid, None)
            mark_process_dead(pid)
            if index is None or self.stopping:
                continue
            log.error("worker died: starting another", extra={"worker_pid": pid, "status": status})
            time.sleep(0.5)  # no tight crash loop
            self._spawn(index)
        log.info("stopped")

    def _spawn(self, index: int) -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                _worker(self.config, self.sock, self.model_dir, self.generation)
            except BaseException:  # noqa: BLE001 - a worker must never return into the supervisor's loop
                log.exception("worker failed")
                code = 1
            finally:
                logging.shutdown()
                os._exit(code)
        self.workers[pid] = index

    def _stop(self, signum, frame) -> None:
        if self.stopping:
            return
        self.stopping = True
        log.info("stopping", extra={"signal": signal.Signals(signum).name})
        for pid in list(self.workers):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        signal.alarm(int(SHUTDOWN_GRACE))

    def _kill(self, signum, frame) -> None:
        for pid in list(self.workers):
            log.warning("worker did not stop in time: killing it", extra={"worker_pid": pid})
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def _worker(config: ServeConfig, sock: socket.socket, model_dir: Path, generation) -> None:
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGALRM):
        signal.signal(sig, signal.SIG_DFL)  # the HTTP layer installs its own graceful handlers
    from quickscore.serve._app import App

    app = App(config, generation=generation, model_dir=model_dir)
    if config.http == "uvicorn":
        _run_uvicorn(app, config, sock)
    else:
        _run_quickscore_http(app, config, sock)


LOOP_LAG_ENV = "QUICKSCORE_LOOP_LAG_MS"
"""Diagnostics: when set (milliseconds), every worker logs "event loop lag" whenever its event
loop answers a 5 ms timer that much late, with the loop thread's CPU time over the gap (about
the gap: the loop itself was busy; about zero: it waited for the GIL or for a CPU) and the
full collections (gc.callbacks) that ran in the gap."""


async def _watch_loop_lag(threshold: float) -> None:
    import gc

    collections: list[tuple[float, float, int]] = []  # (start, seconds, generation)
    started: list[float] = []

    def on_gc(phase: str, info: dict) -> None:
        if info.get("generation") != 2:
            return
        if phase == "start":
            started.append(time.perf_counter())
        elif started:
            begin = started.pop()
            collections.append((begin, time.perf_counter() - begin, info.get("collected", 0)))

    gc.callbacks.append(on_gc)
    period = 0.005
    while True:
        wall, cpu = time.perf_counter(), time.thread_time()
        await asyncio.sleep(period)
        late = time.perf_counter() - wall - period
        if late >= threshold:
            in_gap = [c for c in collections if c[0] >= wall]
            log.warning("event loop lag", extra={
                "lag_ms": round(late * 1000, 1), "loop_cpu_ms": round((time.thread_time() - cpu) * 1000, 1),
                "full_collections_ms": [round(c[1] * 1000, 1) for c in in_gap]})
        del collections[:-20]


def _lag_threshold() -> float | None:
    value = os.environ.get(LOOP_LAG_ENV)
    return float(value) / 1000 if value else None


def _run_uvicorn(app, config: ServeConfig, sock: socket.socket) -> None:
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(
        app,
        lifespan="on",
        log_config=None,
        access_log=False,
        server_header=False,
        timeout_keep_alive=int(config.keep_alive),
        timeout_graceful_shutdown=int(SHUTDOWN_GRACE) - 2,
        backlog=config.backlog,
    ))
    threshold = _lag_threshold()
    if threshold is None:
        server.run(sockets=[sock])
        return

    async def main() -> None:
        asyncio.get_running_loop().create_task(_watch_loop_lag(threshold))
        await server.serve(sockets=[sock])

    run_loop(main())


def _run_quickscore_http(app, config: ServeConfig, sock: socket.socket) -> None:
    """The app's ``handle`` on quickscore's HTTP layer; SIGTERM/SIGINT stop it gracefully."""
    from quickscore.serve._http import HttpServer

    async def main() -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await app.startup()
        server = HttpServer(app.handle, max_body_bytes=config.max_body_bytes, read_timeout=config.request_timeout,
                            keep_alive=config.keep_alive, error_body=app.protocol_error)
        await server.start(sock, config.backlog)
        threshold = _lag_threshold()
        if threshold is not None:
            loop.create_task(_watch_loop_lag(threshold))
        await stop.wait()
        await server.shutdown(SHUTDOWN_GRACE - 2)
        await app.shutdown()

    run_loop(main())


def run_loop(main) -> None:
    """Run a coroutine on uvloop when installed (as uvicorn does), else on asyncio's loop."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is part of the serve extra
        asyncio.run(main)
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    asyncio.run(main)
