"""CPU per request of the HTTP layers, in-process: quickscore's own (serve/_http.py) and uvicorn's
httptools protocol, on the same App, and App.handle alone.

    python bench/serve_http_cost.py [--models forest,logistic] [--rounds 5] [--requests 2000]

No sockets: each protocol gets a fake transport, the benchmark's one-record V2 request bodies are
fed to it one at a time, and the event loop runs until the answer is written. Figures are
``time.process_time`` per request, best and median of the rounds, the layers interleaved in
every round (ABAB), so that a loaded machine slows both alike. The difference to "App.handle
alone" is the layer's own cost; the socket calls of a real server come on top (see
docs/serving.md, "Where the time goes").
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))


class _Transport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.writes = 0
        self.waiter: asyncio.Future | None = None
        self.closed = False

    def write(self, data) -> None:
        self.writes += 1
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    def get_extra_info(self, name, default=None):
        return default

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def set_write_buffer_limits(self, high=None, low=None) -> None:
        pass

    def get_write_buffer_size(self) -> int:
        return 0


async def _measure(model_dir: Path, bodies: list[str], models: list[str], rounds: int, n: int) -> None:
    import uvicorn
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    from uvicorn.server import ServerState

    from quickscore.serve._app import App
    from quickscore.serve._config import ServeConfig
    from quickscore.serve._http import HttpProtocol, HttpServer

    loop = asyncio.get_running_loop()
    app = App(ServeConfig(model_dir=model_dir))
    app.registry.sync()
    app.registry.ready = True
    server = HttpServer(app.handle, max_body_bytes=1 << 26, read_timeout=30, keep_alive=30, error_body=app.protocol_error)
    server._tick()
    config = uvicorn.Config(app, lifespan="off", access_log=False, server_header=False, log_config=None)
    config.load()
    state = ServerState()
    layers = {"quickscore": lambda: HttpProtocol(server),
              "uvicorn": lambda: HttpToolsProtocol(config=config, server_state=state, app_state={})}
    headers = {b"content-type": b"application/json"}
    for model in models:
        raw = [f"POST /v2/models/{model}/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               f"Content-Length: {len(b)}\r\n\r\n{b}".encode() for b in bodies]
        path = f"/v2/models/{model}/infer"
        results: dict[str, list[float]] = {}
        for _ in range(rounds):
            for name, make in layers.items():
                transport, protocol = _Transport(), make()
                protocol.connection_made(transport)
                start = time.process_time()
                for i in range(n):
                    before = transport.writes
                    protocol.data_received(raw[i % len(raw)])
                    if transport.writes == before:
                        transport.waiter = loop.create_future()
                        await transport.waiter
                results.setdefault(name, []).append((time.process_time() - start) / n * 1e6)
                protocol.connection_lost(None)
            start = time.process_time()
            for i in range(n):
                await app.handle("POST", path, b"", headers, bodies[i % len(bodies)].encode())
            results.setdefault("App.handle alone", []).append((time.process_time() - start) / n * 1e6)
        for name, values in results.items():
            values.sort()
            print(f"{model:9s} {name:17s} best {values[0]:6.1f} us  median {values[len(values) // 2]:6.1f} us per request")
    server._date_timer.cancel()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="logistic,forest")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    import serve_load

    paths = serve_load.ensure_workloads()
    with tempfile.TemporaryDirectory(prefix="qs-http-cost-") as tmp:
        tmp = Path(tmp)
        model_dir = tmp / "models"
        model_dir.mkdir()
        for name, path in paths.items():
            os.symlink(path, model_dir / f"{name}.pmml")
        bodies = serve_load.write_bodies(tmp)["single"].read_text().splitlines()
        try:
            import uvloop

            asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
        except ImportError:
            pass
        asyncio.run(_measure(model_dir, bodies, args.models.split(","), args.rounds, args.requests))


if __name__ == "__main__":
    main()
