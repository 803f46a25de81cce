"""quickscore's own HTTP/1.1 server: an asyncio protocol on the ``httptools`` (llhttp) parser.

Under uvicorn, one request is an ASGI scope dict, a task, a receive and two send messages: about
40 us of Python per request, more than scoring a record of the benchmark forest. Here the
protocol collects a complete request (request line, headers, body) from the parser's callbacks
and calls the application's handler directly, ``await handler(method, path, query, headers,
body)``, which returns a response object (``status``, ``body``, ``content_type``, ``headers``).
The handler's coroutine is stepped in the protocol's own callback: a request that never waits
(a single record scored inline) is answered without a task or another loop iteration; one that
waits (a batch on the scoring thread) continues as a task. The app stays a standard ASGI app
(``quickscore serve --http uvicorn`` runs it on uvicorn); this layer is only the faster default.

RFC 9112 behaviour implemented here:

* persistent connections (HTTP/1.1 by default, HTTP/1.0 with ``Connection: keep-alive``), closed
  after ``keep_alive`` idle seconds; ``Connection: close`` answered and then closed;
* pipelining: "A server MAY process a sequence of pipelined requests in parallel if they all have
  safe methods, but it MUST send the corresponding responses in the same order that the requests
  were received" - here they are processed one after another, in order;
* chunked request bodies (decoded by llhttp), ``Expect: 100-continue`` (RFC 9110 10.1.1: "A
  server that receives a 100-continue expectation in an HTTP/1.1 request [...] ought to send an
  immediate 100 (Continue) response" - not sent when the body would be refused: 413 instead);
* limits: request line + headers (431), body (413, refused at its Content-Length when declared),
  a slow client that does not finish a request within ``read_timeout`` (408), a malformed request
  (400); after any of these the connection is closed;
* graceful shutdown: stop accepting, close idle connections, let in-flight requests finish
  (answered with ``Connection: close``), then return.
"""

from __future__ import annotations

import asyncio
import http
import logging
import socket
import time
from collections import deque
from email.utils import formatdate
from typing import Any, Awaitable, Callable
from urllib.parse import unquote_to_bytes

import httptools

log = logging.getLogger("quickscore.serve")

MAX_HEADER_BYTES = 64 * 1024
"""Request line plus headers: larger answers 431 (Request Header Fields Too Large)."""
MAX_HEADERS = 100
MAX_PIPELINED = 64
"""Complete requests queued on one connection before the server stops reading from it."""
SWEEP_SECONDS = 0.25
"""How often the server checks its connections' deadlines (idle keep-alive, slow client): one
timer per server instead of a timer set and cancelled on every request."""

Handler = Callable[[str, str, bytes, dict, bytes], Awaitable[Any]]


def _status_line(status: int) -> bytes:
    try:
        phrase = http.HTTPStatus(status).phrase
    except ValueError:
        phrase = ""
    return f"HTTP/1.1 {status} {phrase}\r\n".encode()


_STATUS_LINES = {status.value: _status_line(status.value) for status in http.HTTPStatus}
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


class _Rejected(Exception):
    """A request refused by the protocol itself (limits): answered, then the connection closes."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


class _Step:
    """Continues a coroutine, first stepped by hand, as a task's awaitable.

    ``coro.send(None)`` ran it up to its first suspension, which yielded ``first`` (a future):
    the task that awaits this object waits on that future, then resumes the coroutine, and
    forwards anything thrown in (cancellation) to it."""

    __slots__ = ("coro", "first")

    def __init__(self, coro, first):
        self.coro, self.first = coro, first

    def __await__(self):
        coro, pending = self.coro, self.first
        while True:
            try:
                value = yield pending
            except BaseException as exc:  # noqa: BLE001 - forwarded to the coroutine (CancelledError)
                try:
                    pending = coro.throw(exc)
                except StopIteration as stop:
                    return stop.value
                continue
            try:
                pending = coro.send(value)
            except StopIteration as stop:
                return stop.value


async def _await(step: _Step):
    return await step


class HttpServer:
    """The listening server of one worker process: its connections, date header and shutdown."""

    def __init__(self, handler: Handler, *, max_body_bytes: int, read_timeout: float, keep_alive: float,
                 error_body: Callable[[int, str, str, bytes], tuple[bytes, bytes]]):
        self.handler = handler
        self.max_body_bytes = max_body_bytes
        self.read_timeout = read_timeout
        self.keep_alive = keep_alive
        self.error_body = error_body
        """(status, message, method, request target) -> (content type, body) of an answer the
        protocol gives itself (the app also counts and logs it)."""
        self.connections: set[HttpProtocol] = set()
        self.stopping = False
        self.date = b""
        self._second = -1
        self._server: asyncio.base_events.Server | None = None
        self._date_timer: asyncio.TimerHandle | None = None

    def _tick(self) -> None:
        """Every SWEEP_SECONDS: the Date header (RFC 9110 6.6.1: an origin server with a clock
        "MUST generate a Date header field" in 2xx-4xx responses) and the connections' deadlines."""
        loop = asyncio.get_running_loop()
        second = int(time.time())
        if second != self._second:
            self._second = second
            self.date = b"date: " + formatdate(second, usegmt=True).encode() + b"\r\n"
        now = loop.time()
        for connection in [c for c in self.connections if c.on_deadline is not None and c.deadline <= now]:
            callback, connection.on_deadline = connection.on_deadline, None
            callback()
        self._date_timer = loop.call_later(SWEEP_SECONDS, self._tick)

    async def start(self, sock: socket.socket, backlog: int) -> None:
        self._tick()
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: HttpProtocol(self), sock=sock, backlog=backlog)

    async def shutdown(self, grace: float) -> None:
        """Stop accepting; close idle connections; wait (at most ``grace`` s) for in-flight requests."""
        self.stopping = True
        if self._server is not None:
            self._server.close()
        for connection in list(self.connections):
            connection.shutdown()
        deadline = time.monotonic() + grace
        while self.connections and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        for connection in list(self.connections):
            connection.abort()
        if self._date_timer is not None:
            self._date_timer.cancel()


class HttpProtocol(asyncio.Protocol):
    """One client connection."""

    def __init__(self, server: HttpServer):
        self.server = server
        self.handler = server.handler
        self.parser = httptools.HttpRequestParser(self)
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.queue: deque = deque()  # complete requests not yet answered, in arrival order
        self.task: asyncio.Task | None = None  # the request being answered, when it waits
        self.reading = False  # a request has begun and is not complete
        self.closing = False  # no more requests: close once the queued ones are answered
        self.paused = False  # writing is paused (the client reads slowly)
        self.queue_full = False  # reading is paused: MAX_PIPELINED requests wait
        self.deadline = 0.0  # loop.time() at which on_deadline is called (checked by the server's sweep)
        self.on_deadline: Callable[[], None] | None = None
        self.continue_pending = False
        self.final: bytes | None = None  # an error answer to write (and close) after the queued ones
        self._reset()

    def _reset(self) -> None:
        self.url = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.header_bytes = 0
        self.body: list[bytes] = []
        self.body_bytes = 0
        self.expect_continue = False

    # --- connection events ----------------------------------------------------------------------

    def connection_made(self, transport) -> None:
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:  # pragma: no cover - not TCP
                pass
        self.server.connections.add(self)
        if self.server.stopping:
            transport.close()
            return
        self._set_timer(self.server.keep_alive, self._idle_timeout)

    def connection_lost(self, exc) -> None:
        self.server.connections.discard(self)
        self._cancel_timer()
        self.closing = True
        self.queue.clear()
        if self.task is not None and not self.task.done():
            self.task.cancel()  # the client went away: stop waiting for its answer

    def data_received(self, data: bytes) -> None:
        if self.closing:
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            pass  # "Upgrade" is not supported: the request is answered as an ordinary one
        except httptools.HttpParserCallbackError as exc:
            rejected = exc.__context__
            if isinstance(rejected, _Rejected):
                self._reject(rejected.status, rejected.message)
            else:  # pragma: no cover - a defect in a callback
                log.exception("HTTP protocol error")
                self._reject(500, "internal error in the HTTP layer")
        except httptools.HttpParserError as exc:
            self._reject(400, f"malformed HTTP request: {exc}")

    def pause_writing(self) -> None:  # the client reads its answers slower than they are written
        if not self.paused:
            self.paused = True
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.paused:
            self.paused = False
            if not self.queue_full:
                self.transport.resume_reading()

    # --- parser callbacks -----------------------------------------------------------------------

    def on_message_begin(self) -> None:
        self.reading = True
        self._reset()
        if self.task is None and not self.queue:
            self._set_timer(self.server.read_timeout, self._read_timeout)

    def on_url(self, url: bytes) -> None:
        self.url += url
        self.header_bytes += len(url)
        if self.header_bytes > MAX_HEADER_BYTES:
            raise _Rejected(431, f"request line and headers exceed {MAX_HEADER_BYTES} bytes")

    def on_header(self, name: bytes, value: bytes) -> None:
        self.header_bytes += len(name) + len(value) + 4
        if self.header_bytes > MAX_HEADER_BYTES:
            raise _Rejected(431, f"request line and headers exceed {MAX_HEADER_BYTES} bytes")
        if len(self.headers) >= MAX_HEADERS:
            raise _Rejected(431, f"more than {MAX_HEADERS} request headers")
        self.headers.append((name.lower(), value))

    def on_headers_complete(self) -> None:
        limit = self.server.max_body_bytes
        for name, value in self.headers:
            if name == b"content-length":
                # RFC 9110 15.5.14: 413 Content Too Large. Refused before the body is read.
                if value.isdigit() and int(value) > limit:
                    raise _Rejected(413, f"request body of {int(value)} bytes exceeds the limit of {limit} bytes")
            elif name == b"expect" and value.lower() == b"100-continue" and self.parser.get_http_version() == "1.1":
                self.expect_continue = True
        if self.expect_continue:
            if self.task is None and not self.queue:
                self.transport.write(_CONTINUE)
            else:  # answers to earlier requests come first
                self.continue_pending = True

    def on_body(self, body: bytes) -> None:
        self.body_bytes += len(body)
        if self.body_bytes > self.server.max_body_bytes:
            raise _Rejected(413, f"request body exceeds the limit of {self.server.max_body_bytes} bytes")
        self.body.append(body)

    def on_message_complete(self) -> None:
        self.reading = False
        parser = self.parser
        body = self.body[0] if len(self.body) == 1 else b"".join(self.body)
        request = (parser.get_method().decode("ascii"), self.url, dict(self.headers), body,
                   parser.should_keep_alive(), parser.get_http_version())
        self.queue.append(request)
        if len(self.queue) >= MAX_PIPELINED and not self.queue_full:
            self.queue_full = True
            self.transport.pause_reading()
        if self.task is None:
            self._cancel_timer()
            self._next()

    # --- answering ------------------------------------------------------------------------------

    def _next(self) -> None:
        """Answer the queued requests in order, as long as their handlers do not wait; then the
        protocol's own error answer, if any; then wait for the next request."""
        while self.queue and self.task is None:
            request = self.queue.popleft()
            method, url, headers, body, keep_alive, version = request
            path, query = _split(url)
            if path is None:  # the requests after it are not answered
                self.queue.clear()
                self._reject(400, f"malformed request target: {url[:100]!r}")
                return
            coro = self.handler(method, path, query, headers, body)
            try:
                pending = coro.send(None)
            except StopIteration as done:
                self._respond(request, done.value)
                continue
            except BaseException:  # noqa: BLE001 - the handler answers its own errors; this is a defect
                log.exception("HTTP handler failed")
                self._respond(request, None)
                continue
            task = self.loop.create_task(_await(_Step(coro, pending)))
            self.task = task
            task.add_done_callback(lambda t, r=request: self._done(t, r))
            return
        if self.final is not None and not self.queue and self.task is None:
            if not self.transport.is_closing():
                self.transport.write(self.final)
                self.transport.close()
            self.final = None
        elif not self.queue and not self.closing:
            if self.continue_pending:  # a request whose body waits for 100 Continue
                self.continue_pending = False
                self.transport.write(_CONTINUE)
            if self.queue_full and not self.paused and not self.transport.is_closing():
                self.queue_full = False
                self.transport.resume_reading()
            if self.reading:
                self._set_timer(self.server.read_timeout, self._read_timeout)
            else:
                self._set_timer(self.server.keep_alive, self._idle_timeout)

    def _done(self, task: asyncio.Task, request: tuple) -> None:
        self.task = None
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            log.error("HTTP handler failed", exc_info=exc)
        self._respond(request, None if exc is not None else task.result())
        self._next()

    def _respond(self, request: tuple, response: Any) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        method, _, _, _, keep_alive, version = request
        if response is None:
            content_type, body = self.server.error_body(500, "internal error", method, request[1])
            status, extra = 500, ()
        else:
            status, body, content_type, extra = response.status, response.body, response.content_type, response.headers
        close = not keep_alive or self.server.stopping
        parts = [_STATUS_LINES.get(status) or _status_line(status), self.server.date,
                 b"content-type: ", content_type, b"\r\ncontent-length: ", str(len(body)).encode(), b"\r\n"]
        for name, value in extra:
            parts += (name, b": ", value, b"\r\n")
        if close:
            parts.append(b"connection: close\r\n\r\n")
        elif version == "1.0":
            parts.append(b"connection: keep-alive\r\n\r\n")
        else:
            parts.append(b"\r\n")
        if method != "HEAD":
            parts.append(body)
        self.transport.write(b"".join(parts))
        if close:
            self.closing = True
            self.queue.clear()
            self.transport.close()

    def _reject(self, status: int, message: str) -> None:
        """Answer an error the protocol found itself, after the answers to the requests before it,
        and close the connection."""
        self.closing = True
        self._cancel_timer()
        try:
            method = self.parser.get_method().decode("ascii", "replace")
        except Exception:  # noqa: BLE001 - no method parsed yet
            method = ""
        content_type, body = self.server.error_body(status, message, method, self.url)
        self.final = b"".join([_STATUS_LINES.get(status) or _status_line(status), self.server.date, b"content-type: ",
                               content_type, b"\r\ncontent-length: ", str(len(body)).encode(),
                               b"\r\nconnection: close\r\n\r\n", body])
        if self.task is None:
            self._next()

    # --- timers and shutdown --------------------------------------------------------------------

    def _set_timer(self, seconds: float, callback) -> None:
        self.deadline = self.loop.time() + seconds
        self.on_deadline = callback

    def _cancel_timer(self) -> None:
        self.on_deadline = None

    def _idle_timeout(self) -> None:
        if self.task is None and not self.queue and not self.reading:
            self.closing = True
            self.transport.close()

    def _read_timeout(self) -> None:
        """A client that began a request and did not finish it within read_timeout: 408, closed."""
        if self.reading and self.task is None and not self.queue:
            self._reject(408, f"request not received within {self.server.read_timeout:g} s")

    def shutdown(self) -> None:
        """Graceful stop: an idle connection closes now; a busy one after its current answer."""
        if self.task is None and not self.queue and not self.reading:
            self.closing = True
            self._cancel_timer()
            self.transport.close()
        # else: _respond sees server.stopping, answers with Connection: close and closes

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()


def _split(url: bytes) -> tuple[str | None, bytes]:
    """Request target -> (percent-decoded path, raw query). Origin form ("/a/b?x=1") is the usual
    case; absolute form ("http://host/a") is accepted too (RFC 9112 3.2.2)."""
    if url[:1] != b"/":
        if url == b"*":
            return "*", b""
        try:
            parsed = httptools.parse_url(url)
        except httptools.HttpParserInvalidURLError:
            return None, b""
        path, query = parsed.path or b"/", parsed.query or b""
    else:
        path, _, query = url.partition(b"?")
        path = path.partition(b"#")[0]
    if b"%" in path:
        path = unquote_to_bytes(path)
    try:
        return path.decode("utf-8"), query
    except UnicodeDecodeError:
        return path.decode("latin-1"), query
