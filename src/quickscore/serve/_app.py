"""The ASGI application: routing, limits, timeouts, errors, metrics and access logs.

A bare ASGI app (no framework): the route table below is the whole dispatch, and a request
costs one (cached) route match, one JSON parse and one JSON dump around the model's own work.
``App.handle`` answers one request; quickscore's HTTP layer (serve/_http.py) calls it directly,
``App.__call__`` is the ASGI entry for uvicorn or any other ASGI server. Single records of a
model that scores one in microseconds are scored inline on the event loop; batches, and single
records of slower models, go to a scoring thread under the request timeout (see score_one).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Awaitable, Callable
from urllib.parse import parse_qs

import orjson

from quickscore.serve import _metrics
from quickscore.serve._config import ServeConfig
from quickscore.serve._registry import Entry, Registry
from quickscore.serve._shared import SharedGeneration

log = logging.getLogger("quickscore.serve")
access = logging.getLogger("quickscore.serve.access")

METRICS_FLUSH_SECONDS = 1.0
"""Each worker adds its request counts to the shared metrics this often (and before /metrics)."""
JSON = b"application/json"
TEXT = b"text/plain; charset=utf-8"


class HTTPError(Exception):
    """An answer other than 2xx: the status and a message for the protocol's error body."""

    def __init__(self, status: int, message: str, headers: list[tuple[bytes, bytes]] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or []


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[bytes, bytes]
    body: bytes
    params: dict[str, str]
    deadline: float
    """loop.time() by which the answer is due."""


@dataclass
class Response:
    status: int
    body: bytes
    content_type: bytes = JSON
    headers: tuple = ()


def json_response(payload: Any, status: int = 200) -> Response:
    return Response(status, orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY))


# --------------------------------------------------------------------------- routes

V2, OPENSCORING, OPS = "v2", "openscoring", "ops"
_ERROR_KEY = {V2: "error", OPENSCORING: "message", OPS: "error"}
"""Open Inference Protocol errors are {"error": ...}; Openscoring's SimpleResponse is {"message": ...}."""

_V2_MODEL = r"/v2/models/(?P<model>[^/]+)(?:/versions/(?P<version>[^/]+))?"
_OS_MODEL = r"(?:/openscoring)?/model/(?P<model>[^/]+)"

# (method, path pattern, handler, endpoint label for metrics, protocol)
ROUTES: list[tuple[str, str, str, str, str]] = [
    ("GET", r"/v2", "v2_server_metadata", "v2_server_metadata", V2),
    ("GET", r"/v2/health/live", "v2_live", "v2_health_live", V2),
    ("GET", r"/v2/health/ready", "v2_ready", "v2_health_ready", V2),
    ("GET", _V2_MODEL, "v2_model_metadata", "v2_model_metadata", V2),
    ("GET", _V2_MODEL + r"/ready", "v2_model_ready", "v2_model_ready", V2),
    ("POST", _V2_MODEL + r"/infer", "v2_infer", "v2_infer", V2),
    ("GET", r"(?:/openscoring)?/model", "os_list", "os_list", OPENSCORING),
    ("GET", _OS_MODEL, "os_model", "os_model", OPENSCORING),
    ("POST", _OS_MODEL, "os_evaluate", "os_evaluate", OPENSCORING),
    ("PUT", _OS_MODEL, "os_deploy", "os_deploy", OPENSCORING),
    ("DELETE", _OS_MODEL, "os_undeploy", "os_undeploy", OPENSCORING),
    ("POST", _OS_MODEL + r"/batch", "os_batch", "os_batch", OPENSCORING),
    ("POST", _OS_MODEL + r"/csv", "os_csv", "os_csv", OPENSCORING),
    ("GET", _OS_MODEL + r"/pmml", "os_download", "os_download", OPENSCORING),
    ("GET", r"/metrics", "metrics", "metrics", OPS),
    ("GET", r"/openapi\.json", "openapi", "openapi", OPS),
    ("GET", r"/", "root", "root", OPS),
]


class _Router:
    def __init__(self) -> None:
        self.routes = [(m, re.compile(p + r"/?\Z" if p != "/" else r"/\Z"), h, e, proto) for m, p, h, e, proto in ROUTES]
        self._cache: dict[tuple[str, str], tuple] = {}

    def match(self, method: str, path: str):
        """(handler, endpoint, protocol, params), or raise 404/405. Recent matches are remembered."""
        key = (method, path)
        found = self._cache.get(key)
        if found is not None:
            return found
        found = self._match(method, path)
        if len(self._cache) >= 4096:  # bounded: paths carry client-chosen model names
            self._cache.clear()
        self._cache[key] = found
        return found

    def _match(self, method: str, path: str):
        allowed = []
        for m, pattern, handler, endpoint, protocol in self.routes:
            found = pattern.match(path)
            if found is None:
                continue
            if m == method or (method == "HEAD" and m == "GET"):
                return handler, endpoint, protocol, {k: v for k, v in found.groupdict().items() if v is not None}
            allowed.append(m)
        protocol = V2 if path.startswith("/v2") else OPENSCORING if "/model" in path else OPS
        if allowed:
            raise _Routed(HTTPError(405, f"method {method} is not allowed on {path} (allowed: {', '.join(sorted(set(allowed)))})",
                                    [(b"allow", ", ".join(sorted(set(allowed))).encode())]), protocol)
        raise _Routed(HTTPError(404, f"no such endpoint: {method} {path}"), protocol)


class _Routed(Exception):
    def __init__(self, error: HTTPError, protocol: str):
        self.error = error
        self.protocol = protocol


# --------------------------------------------------------------------------- the app


class App:
    """One worker's ASGI application."""

    def __init__(self, config: ServeConfig, *, generation: SharedGeneration | None = None, model_dir: Path | None = None):
        from quickscore.serve import _openscoring, _v2

        self.config = config
        directory = model_dir or config.model_dir
        if directory is None:
            raise ValueError("the app needs a model directory (the supervisor provides one for the bundled example)")
        self.registry = Registry(
            Path(directory), generation=generation or SharedGeneration(shared=False),
            reload_interval=config.reload_interval, n_threads=config.kernel_threads(), alias=config.model_name,
        )
        self.router = _Router()
        self._scorer = ThreadPoolExecutor(max_workers=max(1, config.score_threads), thread_name_prefix="quickscore-score")
        self._handlers: dict[str, Callable[..., Awaitable[Response]]] = {}
        for module in (_v2, _openscoring):
            for name in dir(module):
                if name.startswith(("v2_", "os_")):
                    self._handlers[name] = getattr(module, name)
        self._handlers.update(metrics=_ops_metrics, openapi=_ops_openapi, root=_ops_root)
        self._token = config.admin_token.encode() if config.admin_token else None
        self._inline_limit = min(config.inline_record_seconds, config.request_timeout / 10)
        self._flusher: asyncio.Task | None = None

    async def _flush_metrics(self) -> None:
        while True:
            await asyncio.sleep(METRICS_FLUSH_SECONDS)
            _metrics.flush()

    # --- ASGI -----------------------------------------------------------------------------------

    async def __call__(self, scope, receive, send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive, send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.startup()
                except Exception as exc:  # pragma: no cover - defensive
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def startup(self) -> None:
        """Start watching the model directory and flushing metrics (ASGI lifespan startup)."""
        await self.registry.start()
        self._flusher = asyncio.get_running_loop().create_task(self._flush_metrics(), name="quickscore-metrics")

    async def shutdown(self) -> None:
        if self._flusher is not None:
            self._flusher.cancel()
        _metrics.flush()
        await self.registry.stop()
        self._scorer.shutdown(wait=False, cancel_futures=True)

    async def _http(self, scope, receive, send) -> None:
        method = scope["method"]
        response = await self.handle(method, scope["path"], scope["query_string"], dict(scope["headers"]), receive)
        await send({
            "type": "http.response.start",
            "status": response.status,
            "headers": [(b"content-type", response.content_type), (b"content-length", str(len(response.body)).encode()),
                        *response.headers],
        })
        await send({"type": "http.response.body", "body": b"" if method == "HEAD" else response.body})

    async def handle(self, method: str, path: str, query: bytes, headers: dict[bytes, bytes],
                     body: bytes | Callable[[], Awaitable[dict]]) -> Response:
        """Answer one request; never raises. ``headers`` has lower-case names; ``body`` is the whole
        body (quickscore's HTTP layer, which enforced the body limits) or an ASGI ``receive``."""
        start = time.perf_counter()
        route = ["unmatched", OPS, ""]  # endpoint, protocol, model label: filled in as they are known
        response: Response | None = None
        _metrics.in_flight += 1
        try:
            try:
                response = await self._respond(method, path, query, headers, body, route)
            except HTTPError as exc:
                response = Response(exc.status, orjson.dumps({_ERROR_KEY[route[1]]: exc.message}), JSON, tuple(exc.headers))
            except Exception as exc:  # a defect: answer 500 and log it, never hang
                log.exception("internal error", extra={"path": path, "method": method})
                response = Response(500, orjson.dumps({_ERROR_KEY[route[1]]: f"internal error: {type(exc).__name__}: {exc}"}))
            return response
        finally:  # also when the request is cancelled (the client went away)
            _metrics.in_flight -= 1
            if response is not None:
                self._observe(method, path, route, response.status, time.perf_counter() - start)

    def _observe(self, method: str, path: str, route: list, status: int, seconds: float) -> None:
        endpoint, _, model_label = route
        if endpoint != "metrics":
            _metrics.observe_request(model_label, endpoint, status, seconds)
        if self.config.access_log:
            access.info("request", extra={"method": method, "path": path, "status": status,
                                          "model": model_label or None, "ms": round(seconds * 1000, 3)})

    def protocol_error(self, status: int, message: str, method: str, target: bytes) -> tuple[bytes, bytes]:
        """The body of an error quickscore's HTTP layer answers itself (malformed request, limits,
        slow client), in the error format of the protocol the path belongs to; counted and logged."""
        path = target.partition(b"?")[0].decode("latin-1")[:200]
        protocol = V2 if path.startswith("/v2") else OPENSCORING if "/model" in path else OPS
        self._observe(method, path, ["unmatched", protocol, ""], status, 0.0)
        return JSON, orjson.dumps({_ERROR_KEY[protocol]: message})

    async def _respond(self, method: str, path: str, query: bytes, headers: dict[bytes, bytes], body, route: list) -> Response:
        try:
            handler, route[0], route[1], params = self.router.match(method, path)
        except _Routed as routed:
            route[1] = routed.protocol
            raise routed.error from None
        deadline = asyncio.get_running_loop().time() + self.config.request_timeout
        if type(body) is not bytes:  # ASGI: read it now, within the limits
            body = await self._body(headers, body, deadline) if method in ("POST", "PUT") else b""
        request = Request(method, path, parse_qs(query.decode("latin-1")) if query else {}, headers, body, params, deadline)
        name = params.get("model")
        if name is None:
            return await self._handlers[handler](self, request, None)
        entry = await self._entry(name, handler)
        if entry is not None:
            route[2] = name
        return await self._handlers[handler](self, request, entry)

    async def _body(self, headers: dict[bytes, bytes], receive, deadline: float) -> bytes:
        """The request body, refused past max_body_bytes (413) or when it arrives too slowly (408)."""
        limit = self.config.max_body_bytes
        declared = headers.get(b"content-length")
        if declared is not None:
            try:
                if int(declared) > limit:
                    raise HTTPError(413, f"request body of {int(declared)} bytes exceeds the limit of {limit} bytes")
            except ValueError:
                raise HTTPError(400, f"Content-Length is not a number: {declared[:40]!r}") from None
        message = await receive()
        body = message.get("body", b"")
        if not message.get("more_body"):
            return body
        parts, size = [body], len(body)
        loop = asyncio.get_running_loop()
        while message.get("more_body"):
            remaining = deadline - loop.time()
            try:
                message = await asyncio.wait_for(receive(), max(remaining, 0.001))
            except asyncio.TimeoutError:
                raise HTTPError(408, f"request body not received within {self.config.request_timeout:g} s") from None
            if message["type"] == "http.disconnect":
                raise HTTPError(400, "client disconnected while sending the body")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise HTTPError(413, f"request body exceeds the limit of {limit} bytes")
            parts.append(chunk)
        return b"".join(parts)

    async def _entry(self, name: str, handler: str) -> Entry | None:
        """The served model ``name`` (None for deploy, which may create it); 404/503 otherwise."""
        registry = self.registry
        if registry.ready and registry.stale():  # while the first scan runs, answer at once (503 below)
            await registry.catch_up(min(10.0, self.config.request_timeout))
        entry = registry.models.get(name)
        if entry is None and handler not in ("os_deploy",):
            if not registry.ready:
                raise HTTPError(503, f"model '{name}' is not available yet: the server is still loading its models")
            why = registry.failures.get(name)
            raise HTTPError(404, f"model '{name}' not found" + (f" (its file did not load: {why})" if why else ""))
        return entry

    # --- helpers for handlers -------------------------------------------------------------------

    async def score_one(self, request: Request, entry: Entry, record: dict) -> dict:
        """One record's outputs. A model that scored its warm-up record within the inline budget
        (``ServeConfig.inline_record_seconds``, at most a tenth of the request timeout) is scored
        here, on the event loop: a thread hand-off costs more than such a record. Any other goes
        to the scoring thread under the request timeout (504 past it), like a batch."""
        if entry.record_seconds <= self._inline_limit:
            return entry.model.predict(record)
        return await self.in_thread(request, entry.model.predict, record)

    async def in_thread(self, request: Request, fn: Callable, *args) -> Any:
        """Run ``fn(*args)`` on the scoring thread, answering 504 past the request's deadline."""
        loop = asyncio.get_running_loop()
        remaining = request.deadline - loop.time()
        try:
            return await asyncio.wait_for(loop.run_in_executor(self._scorer, fn, *args), max(remaining, 0.001))
        except asyncio.TimeoutError:
            raise HTTPError(504, f"scoring did not finish within the request timeout of {self.config.request_timeout:g} s") from None

    def check_rows(self, n: int) -> None:
        if n > self.config.max_batch_rows:
            raise HTTPError(413, f"batch of {n} records exceeds the limit of {self.config.max_batch_rows} records")

    def require_admin(self, request: Request) -> None:
        """Deploy, undeploy and download need the admin token (Authorization: Bearer, or X-Admin-Token)."""
        if self._token is None:
            raise HTTPError(403, "model management is disabled: start the server with an admin token "
                                 "(--admin-token or QUICKSCORE_ADMIN_TOKEN)")
        given = request.headers.get(b"x-admin-token")
        auth = request.headers.get(b"authorization", b"")
        if given is None and auth[:7].lower() == b"bearer ":
            given = auth[7:].strip()
        if given is None or not hmac.compare_digest(given, self._token):
            raise HTTPError(403, "admin token missing or wrong (send Authorization: Bearer <token>)")


def parse_json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        # Clients that serialise numpy (tritonclient's JSON mode) write NaN for a missing number:
        # not JSON, but Python's json module reads it.
        try:
            return json.loads(body)
        except ValueError:
            raise HTTPError(400, f"malformed JSON: {exc}") from None


# --------------------------------------------------------------------------- operations endpoints


async def _ops_metrics(app: App, request: Request, entry: None) -> Response:
    _metrics.flush()  # this worker's counts are current; the others' are at most a second old
    body, content_type = _metrics.exposition()
    return Response(200, body, content_type.encode())


async def _ops_openapi(app: App, request: Request, entry: None) -> Response:
    from quickscore.serve._openapi import openapi

    return Response(200, openapi())


async def _ops_root(app: App, request: Request, entry: None) -> Response:
    import quickscore

    return json_response({
        "name": "quickscore", "version": quickscore.__version__, "openapi": "/openapi.json",
        "protocols": {"open_inference_v2": "/v2", "openscoring": "/model"}, "metrics": "/metrics",
    })
