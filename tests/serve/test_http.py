"""quickscore's HTTP/1.1 layer (serve/_http.py), in-process, over real loopback sockets.

A test handler (echo, and a slow path that waits) runs on an HttpServer in a background event
loop; the tests speak raw HTTP/1.1 bytes to it, so that every framing rule is checked as sent,
not through a client library that would normalise it.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time

import orjson
import pytest

pytest.importorskip("httptools", reason='the HTTP layer needs the serve extra (pip install "quickscore[serve]")')

from quickscore.serve._http import MAX_HEADER_BYTES, HttpServer  # noqa: E402

MAX_BODY = 1000
READ_TIMEOUT = 0.4
KEEP_ALIVE = 1.0


class _Answer:
    def __init__(self, status: int, payload) -> None:
        self.status, self.body, self.content_type, self.headers = status, orjson.dumps(payload), b"application/json", ()


class _Harness:
    """An HttpServer on a free loopback port, its loop in a thread; what the handler saw."""

    def __init__(self) -> None:
        self.cancelled = 0
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.server = self.call(self._start())

    def call(self, coro, timeout: float = 10):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def _start(self) -> HttpServer:
        server = HttpServer(self.handler, max_body_bytes=MAX_BODY, read_timeout=READ_TIMEOUT, keep_alive=KEEP_ALIVE,
                            error_body=lambda status, message, method, target: (b"application/json",
                                                                                 orjson.dumps({"error": message})))
        await server.start(self.sock, 64)
        return server

    async def handler(self, method: str, path: str, query: bytes, headers: dict, body: bytes) -> _Answer:
        if path == "/slow":
            try:
                await asyncio.sleep(float(query.decode() or "0.3"))
            except asyncio.CancelledError:
                self.cancelled += 1
                raise
        return _Answer(200, {"method": method, "path": path, "query": query.decode(), "body": body.decode(),
                             "expect": headers.get(b"expect", b"").decode()})

    def connect(self) -> socket.socket:
        conn = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn

    def close(self) -> None:
        if not self.server.stopping:
            self.call(self.server.shutdown(1.0))
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.sock.close()


@pytest.fixture
def harness():
    h = _Harness()
    try:
        yield h
    finally:
        h.close()


class _Reader:
    """Reads HTTP responses (status, headers, body by Content-Length) off a socket."""

    def __init__(self, conn: socket.socket) -> None:
        self.conn, self.buffer = conn, b""

    def _fill(self) -> bool:
        chunk = self.conn.recv(65536)
        self.buffer += chunk
        return bool(chunk)

    def response(self) -> tuple[int, dict[str, str], bytes]:
        while b"\r\n\r\n" not in self.buffer:
            if not self._fill():
                raise ConnectionError(f"connection closed before a full response head: {self.buffer!r}")
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
        if status == 100:
            return status, headers, b""
        size = int(headers["content-length"])
        while len(self.buffer) < size:
            if not self._fill():
                raise ConnectionError("connection closed in the middle of a body")
        body, self.buffer = self.buffer[:size], self.buffer[size:]
        return status, headers, body

    def closed(self) -> bool:
        """True when the server closed the connection (EOF) with nothing more to read."""
        try:
            return not self._fill() and not self.buffer
        except ConnectionResetError:
            return True


def _post(path: str, body: bytes, *extra: str, version: str = "1.1") -> bytes:
    head = [f"POST {path} HTTP/{version}", "Host: test", f"Content-Length: {len(body)}", *extra]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def _get(path: str, *extra: str, version: str = "1.1") -> bytes:
    return ("\r\n".join([f"GET {path} HTTP/{version}", "Host: test", *extra]) + "\r\n\r\n").encode()


def test_keep_alive_serves_several_requests_on_one_connection(harness):
    with harness.connect() as conn:
        reader = _Reader(conn)
        for i in range(3):
            conn.sendall(_post(f"/echo/{i}", f"body {i}".encode()))
            status, headers, body = reader.response()
            assert status == 200 and "connection" not in headers and "date" in headers
            assert orjson.loads(body) == {"method": "POST", "path": f"/echo/{i}", "query": "", "body": f"body {i}", "expect": ""}


def test_pipelined_requests_are_answered_in_order(harness):
    # RFC 9112 9.3.2: the server "MUST send the corresponding responses in the same order that the
    # requests were received". The first request waits, the others do not: the order still holds.
    with harness.connect() as conn:
        conn.sendall(_get("/slow?0.1") + _get("/a?x=1") + _post("/b", b"xyz"))
        reader = _Reader(conn)
        answers = [orjson.loads(reader.response()[2]) for _ in range(3)]
    assert [(a["path"], a["query"], a["body"]) for a in answers] == [("/slow", "0.1", ""), ("/a", "x=1", ""), ("/b", "", "xyz")]


def test_chunked_request_body(harness):
    with harness.connect() as conn:
        conn.sendall(b"POST /chunked HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n"
                     b"5\r\nhello\r\n")
        time.sleep(0.05)  # the body arrives in two writes
        conn.sendall(b"6\r\n world\r\n0\r\n\r\n")
        status, _, body = _Reader(conn).response()
    assert status == 200 and orjson.loads(body)["body"] == "hello world"


def test_expect_100_continue(harness):
    with harness.connect() as conn:
        reader = _Reader(conn)
        conn.sendall(b"POST /upload HTTP/1.1\r\nHost: test\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
        assert reader.response()[0] == 100  # before the body is sent
        conn.sendall(b"data")
        status, _, body = reader.response()
    assert status == 200 and orjson.loads(body)["body"] == "data"


def test_expect_100_continue_with_a_body_over_the_limit_is_refused_at_once(harness):
    with harness.connect() as conn:
        conn.sendall(f"POST /upload HTTP/1.1\r\nHost: test\r\nContent-Length: {MAX_BODY + 1}\r\n"
                     f"Expect: 100-continue\r\n\r\n".encode())
        reader = _Reader(conn)
        status, headers, body = reader.response()
        assert status == 413 and headers["connection"] == "close"
        assert f"exceeds the limit of {MAX_BODY} bytes" in orjson.loads(body)["error"]
        assert reader.closed()


def test_oversized_headers_answer_431(harness):
    with harness.connect() as conn:
        conn.sendall(_get("/big", "X-Filler: " + "a" * (MAX_HEADER_BYTES + 10)))
        reader = _Reader(conn)
        status, headers, _ = reader.response()
        assert status == 431 and headers["connection"] == "close"
        assert reader.closed()


def test_oversized_body_answers_413(harness):
    with harness.connect() as conn:  # declared by Content-Length: refused before the body is read
        conn.sendall(_post("/big", b"x" * (MAX_BODY + 1)))
        assert _Reader(conn).response()[0] == 413
    with harness.connect() as conn:  # chunked: refused once the chunks pass the limit
        conn.sendall(b"POST /big HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n"
                     + (b"64\r\n" + b"y" * 100 + b"\r\n") * 11 + b"0\r\n\r\n")
        reader = _Reader(conn)
        assert reader.response()[0] == 413
        assert reader.closed()


def test_slow_client_gets_408_and_is_disconnected(harness):
    with harness.connect() as conn:
        conn.sendall(b"POST /slowly HTTP/1.1\r\nHost: test\r\nContent-Length: 10\r\n\r\nabc")  # 7 bytes never come
        started = time.monotonic()
        reader = _Reader(conn)
        status, headers, body = reader.response()
        waited = time.monotonic() - started
        assert status == 408 and headers["connection"] == "close"
        assert f"within {READ_TIMEOUT:g} s" in orjson.loads(body)["error"]
        assert READ_TIMEOUT * 0.8 < waited < READ_TIMEOUT + 3
        assert reader.closed()


def test_malformed_request_line_answers_400(harness):
    with harness.connect() as conn:
        conn.sendall(b"THIS IS NOT HTTP\r\n\r\n")
        reader = _Reader(conn)
        status, headers, body = reader.response()
        assert status == 400 and headers["connection"] == "close"
        assert "malformed HTTP request" in orjson.loads(body)["error"]
        assert reader.closed()


@pytest.mark.parametrize("second", ["/ok", "/slow?0.05"])
def test_a_malformed_request_after_good_pipelined_ones(harness, second):
    # The good requests before it are answered first, in order (also when they wait), then 400.
    with harness.connect() as conn:
        conn.sendall(_get("/slow?0.05") + _get(second) + b"GARBAGE\r\n\r\n")
        reader = _Reader(conn)
        answers = [reader.response() for _ in range(3)]
        assert [a[0] for a in answers] == [200, 200, 400]
        assert orjson.loads(answers[1][2])["path"] == second.split("?")[0]
        assert reader.closed()


def test_connection_close_is_honoured(harness):
    with harness.connect() as conn:
        conn.sendall(_get("/bye", "Connection: close"))
        reader = _Reader(conn)
        status, headers, _ = reader.response()
        assert status == 200 and headers["connection"] == "close"
        assert reader.closed()


def test_http_1_0(harness):
    with harness.connect() as conn:  # HTTP/1.0 closes after the response unless asked to keep alive
        conn.sendall(_get("/old", version="1.0"))
        reader = _Reader(conn)
        status, headers, _ = reader.response()
        assert status == 200 and headers["connection"] == "close" and reader.closed()
    with harness.connect() as conn:
        reader = _Reader(conn)
        for _ in range(2):
            conn.sendall(_get("/old", "Connection: keep-alive", version="1.0"))
            status, headers, _ = reader.response()
            assert status == 200 and headers["connection"] == "keep-alive"


def test_head_has_no_body(harness):
    with harness.connect() as conn:
        conn.sendall(b"HEAD /x HTTP/1.1\r\nHost: test\r\n\r\n" + _get("/after"))
        reader = _Reader(conn)
        while b"\r\n\r\n" not in reader.buffer:
            reader._fill()
        first, rest = reader.buffer.split(b"\r\n\r\n", 1)
        assert first.startswith(b"HTTP/1.1 200") and int(dict(
            line.split(b": ", 1) for line in first.split(b"\r\n")[1:])[b"content-length"]) > 0
        reader.buffer = rest  # no body bytes: the next response follows at once
        assert orjson.loads(reader.response()[2])["path"] == "/after"


def test_idle_keep_alive_connection_is_closed(harness):
    with harness.connect() as conn:
        conn.sendall(_get("/once"))
        reader = _Reader(conn)
        assert reader.response()[0] == 200
        started = time.monotonic()
        assert reader.closed()
        assert time.monotonic() - started < KEEP_ALIVE + 3


def test_client_that_goes_away_cancels_its_request(harness):
    conn = harness.connect()
    conn.sendall(_get("/slow?5"))
    time.sleep(0.1)
    conn.close()
    deadline = time.monotonic() + 3
    while harness.cancelled == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert harness.cancelled == 1


def test_graceful_shutdown_finishes_in_flight_requests(harness):
    busy, idle = harness.connect(), harness.connect()
    with busy, idle:
        busy.sendall(_get("/slow?0.3"))
        time.sleep(0.1)  # the request is being answered
        harness.call(harness.server.shutdown(5.0))  # returns once the busy connection is done
        status, headers, body = _Reader(busy).response()
        assert status == 200 and headers["connection"] == "close" and orjson.loads(body)["path"] == "/slow"
        assert _Reader(idle).closed()  # the idle one was closed at once
        with pytest.raises(ConnectionRefusedError):  # no longer accepting
            socket.create_connection(("127.0.0.1", harness.port), timeout=1)
