"""A comparison server: JPMML-Evaluator called once per record through the ``jpmml_evaluator``
Python package, which is how KServe's own PMML server (kserve/pmmlserver) scores: it loads the
PMML with ``jpmml_evaluator.make_evaluator`` and calls ``evaluator.evaluate(dict)`` for each
record of the request.

It answers ``POST /v2/models/{name}/infer`` (the same V2 JSON bodies bench/serve_load.py sends to
quickscore) and ``GET /v2/health/ready``, on the same HTTP stack as quickscore, so that the
comparison measures the scorer, not the web framework: by default quickscore's own HTTP layer
(quickscore.serve._http: httptools on uvloop, forked workers sharing one listening socket, orjson),
the fastest stack measured for both servers; ``--http uvicorn`` runs the same code as an ASGI app on
uvicorn (uvloop + httptools) instead.
``--backend py4j`` (the default) is what KServe's pmmlserver uses (``jpmml_evaluator.py4j``: a
gateway JVM per worker, one socket round trip per call); ``--backend jpype`` runs the JVM
in-process, the fastest of the package's backends. Heap capped with ``JPMML_XMX`` (default 2g).

    python bench/jpmml_server.py MODEL_DIR --port 9000 --workers 2 [--backend jpype] [--http uvicorn]
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

import orjson

log = logging.getLogger("jpmml_server")
_MODELS: dict = {}
_READY = False


def _backend():
    """KServe's pmmlserver: ``jpmml_evaluator.py4j`` (a gateway JVM, one socket round trip per
    call). JPype runs the JVM in-process: the faster of the two, so the harder baseline."""
    import jpmml_evaluator

    heap = f"-Xmx{os.environ.get('JPMML_XMX', '2g')}"
    if os.environ.get("JPMML_SERVER_BACKEND", "py4j") == "py4j":
        from jpmml_evaluator.py4j import JavaGateway, Py4JBackend

        gateway = JavaGateway.launch_gateway(classpath=os.pathsep.join(jpmml_evaluator._classpath([])), javaopts=[heap],
                                             die_on_exit=True)
        return Py4JBackend(gateway)
    import jpype

    if not jpype.isJVMStarted():
        jpype.startJVM(heap, classpath=jpmml_evaluator._classpath([]))
    return jpmml_evaluator.make_backend("jpype")


def _load(model_dir: Path) -> None:
    global _READY
    import jpmml_evaluator

    backend = _backend()
    for path in sorted(model_dir.glob("*.pmml")):
        evaluator = jpmml_evaluator.make_evaluator(str(path), backend=backend, lax=True)
        _MODELS[path.stem] = evaluator
    _READY = True


class _Response:
    __slots__ = ("status", "body", "content_type", "headers")

    def __init__(self, status: int, payload) -> None:
        self.status, self.body, self.content_type, self.headers = status, orjson.dumps(payload), b"application/json", ()


async def handle(method: str, path: str, query: bytes, headers: dict, body: bytes) -> _Response:
    """One request (quickscore's HTTP layer calls this directly; ``app`` wraps it for ASGI)."""
    if path == "/v2/health/ready":
        return _Response(200 if _READY else 503, {"ready": _READY})
    parts = path.strip("/").split("/")
    if method != "POST" or len(parts) != 4 or parts[:2] != ["v2", "models"] or parts[3] != "infer":
        return _Response(404, {"error": "not found"})
    evaluator = _MODELS.get(parts[2])
    if evaluator is None:
        return _Response(404, {"error": f"model {parts[2]} not found"})
    try:
        request = orjson.loads(body)
        inputs = request["inputs"]
        n = inputs[0]["shape"][0]
        columns = {t["name"]: t["data"] for t in inputs}
        results = [evaluator.evaluate({name: values[i] for name, values in columns.items()}) for i in range(n)]
    except Exception as exc:  # noqa: BLE001 - a comparison server: report and go on
        return _Response(400, {"error": f"{type(exc).__name__}: {exc}"})
    names = list(results[0]) if results else []
    outputs = [{"name": name, "datatype": "BYTES" if isinstance(results[0][name], str) else "FP64", "shape": [n],
                "data": [r[name] for r in results]} for name in names]
    return _Response(200, {"model_name": parts[2], "outputs": outputs})


async def app(scope, receive, send) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                _load(Path(os.environ["JPMML_SERVER_MODELS"]))
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    response = await handle(scope["method"], scope["path"], scope["query_string"], dict(scope["headers"]), b"".join(chunks))
    await send({"type": "http.response.start", "status": response.status,
                "headers": [(b"content-type", response.content_type), (b"content-length", str(len(response.body)).encode())]})
    await send({"type": "http.response.body", "body": response.body})


def _serve_quickscore_http(host: str, port: int, workers: int) -> None:
    """Forked workers on one listening socket, each running ``handle`` on quickscore's HTTP layer."""
    import asyncio
    import signal
    import socket

    from quickscore.serve._http import HttpServer
    from quickscore.serve._server import run_loop

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)

    async def worker() -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        _load(Path(os.environ["JPMML_SERVER_MODELS"]))
        server = HttpServer(handle, max_body_bytes=64 << 20, read_timeout=60, keep_alive=30,
                            error_body=lambda status, message, method, target: (b"application/json", orjson.dumps({"error": message})))
        await server.start(sock, 2048)
        await stop.wait()
        await server.shutdown(5)

    children = []
    for _ in range(workers):
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                run_loop(worker())
            except BaseException:  # noqa: BLE001 - never return into the parent's loop
                log.exception("worker failed")
                code = 1
            finally:
                os._exit(code)
        children.append(pid)

    def stop(signum, frame) -> None:
        for pid in children:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for pid in children:
        while True:
            try:
                os.waitpid(pid, 0)
                break
            except InterruptedError:
                continue
            except ChildProcessError:
                break


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model_dir", type=Path)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--backend", choices=["py4j", "jpype"], default="py4j",
                        help="py4j: as KServe's pmmlserver (default); jpype: the JVM in-process")
    parser.add_argument("--http", choices=["quickscore", "uvicorn"], default="quickscore",
                        help="HTTP layer: quickscore's own (default, the faster), or uvicorn (ASGI)")
    args = parser.parse_args()
    os.environ["JPMML_SERVER_MODELS"] = str(args.model_dir.resolve())
    os.environ["JPMML_SERVER_BACKEND"] = args.backend
    if args.http == "quickscore":
        _serve_quickscore_http(args.host, args.port, args.workers)
        return
    import uvicorn

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    uvicorn.run("jpmml_server:app", host=args.host, port=args.port, workers=args.workers, log_level="warning",
                access_log=False, lifespan="on")


if __name__ == "__main__":
    main()
