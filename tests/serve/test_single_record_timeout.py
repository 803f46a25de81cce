"""Single records and the request timeout: a cheap model is scored inline, a slow one on the
scoring thread under the timeout (504 past it, never a hang); SIGTERM lets in-flight requests finish."""

from __future__ import annotations

import asyncio
import shutil
import signal
import socket
import time
from dataclasses import replace

import orjson
import pytest

from .conftest import DATA, Server

IRIS_RECORD = {"petal_length": 1.4, "petal_width": 0.2}


def _v2_body(record: dict) -> bytes:
    return orjson.dumps({"inputs": [{"name": k, "datatype": "FP64", "shape": [1], "data": [v]} for k, v in record.items()]})


class _Slow:
    """A model made slow on purpose: the real model behind a sleep."""

    def __init__(self, model, seconds: float):
        self.model, self.seconds = model, seconds

    def predict(self, data, **options):
        time.sleep(self.seconds)
        return self.model.predict(data, **options)

    def __getattr__(self, name):
        return getattr(self.model, name)


def _app(tmp_path, **options):
    from quickscore.serve import ServeConfig
    from quickscore.serve._app import App

    shutil.copyfile(DATA / "DecisionTreeIris.pmml", tmp_path / "iris.pmml")
    app = App(ServeConfig(model_dir=tmp_path, **options))
    app.registry.sync()
    app.registry.ready = True
    return app


def _slow_down(app, name: str, seconds: float, measured: float) -> None:
    entry = app.registry.models[name]
    app.registry.models = {**app.registry.models, name: replace(entry, model=_Slow(entry.model, seconds), record_seconds=measured)}


def _post(app, path: str, body: bytes):
    return asyncio.run(app.handle("POST", path, b"", {b"content-type": b"application/json"}, body))


def test_warm_up_measures_one_record():
    import quickscore
    from quickscore.serve._registry import _warm_up

    model = quickscore.load(DATA / "DecisionTreeIris.pmml")
    assert 0 < _warm_up(model) < 0.001  # a small tree: microseconds
    assert _warm_up(_Slow(model, 0.005)) >= 0.005


def test_a_cheap_model_is_scored_inline(tmp_path, monkeypatch):
    app = _app(tmp_path, request_timeout=5)
    assert app.registry.models["iris"].record_seconds < app.config.inline_record_seconds

    async def no_thread(*args):
        raise AssertionError("a cheap single record went to the scoring thread")

    monkeypatch.setattr(app, "in_thread", no_thread)
    response = _post(app, "/v2/models/iris/infer", _v2_body(IRIS_RECORD))
    assert response.status == 200 and orjson.loads(response.body)["outputs"][0]["data"] == ["setosa"]
    response = _post(app, "/model/iris", orjson.dumps({"arguments": IRIS_RECORD}))
    assert response.status == 200 and orjson.loads(response.body)["results"]["species"] == "setosa"


@pytest.mark.parametrize("path, body, key", [
    ("/v2/models/iris/infer", _v2_body(IRIS_RECORD), "error"),
    ("/model/iris", orjson.dumps({"arguments": IRIS_RECORD}), "message"),
])
def test_a_slow_single_record_answers_504_within_the_timeout(tmp_path, path, body, key):
    app = _app(tmp_path, request_timeout=0.2)
    _slow_down(app, "iris", seconds=2.0, measured=2.0)  # measured slow at warm-up: the scoring thread
    started = time.monotonic()
    response = _post(app, path, body)
    assert time.monotonic() - started < 1.5
    assert response.status == 504
    assert orjson.loads(response.body)[key] == "scoring did not finish within the request timeout of 0.2 s"
    app._scorer.shutdown(wait=False, cancel_futures=True)


def test_a_slow_model_within_the_timeout_answers_200(tmp_path):
    app = _app(tmp_path, request_timeout=2.0)
    _slow_down(app, "iris", seconds=0.05, measured=0.05)
    response = _post(app, "/v2/models/iris/infer", _v2_body(IRIS_RECORD))
    assert response.status == 200 and orjson.loads(response.body)["outputs"][0]["data"] == ["setosa"]


def test_a_tiny_timeout_sends_every_single_record_to_the_scoring_thread(tmp_path):
    # The inline budget is at most a tenth of the request timeout.
    app = _app(tmp_path, request_timeout=0.01)
    assert app._inline_limit == pytest.approx(0.001)
    app = _app(tmp_path, request_timeout=0.001 * 5, inline_record_seconds=0.001)
    assert app._inline_limit == pytest.approx(0.0005)


# --------------------------------------------------------------------------- the real server


@pytest.fixture(scope="module")
def threaded_server(model_dir):
    """One worker that scores every single record on the scoring thread (--inline-max-ms 0)."""
    srv = Server(str(model_dir), "--workers", "1", "--inline-max-ms", "0", "--max-batch-rows", "200000")
    try:
        yield srv.wait_ready()
    finally:
        srv.stop()


def test_single_records_on_the_scoring_thread_answer_as_inline(threaded_server, client):
    import httpx

    body = {"arguments": {"petal_length": 1.4, "petal_width": 0.2}}
    threaded = httpx.post(f"{threaded_server.url}/model/DecisionTreeIris", json=body).json()
    assert threaded == client.post("/model/DecisionTreeIris", json=body).json()


def test_sigterm_lets_the_request_in_flight_finish(threaded_server):
    from .conftest import read_csv_records

    records = read_csv_records("RandomForestClassifierWine")
    items = [{"id": str(i), "arguments": records[i % len(records)]} for i in range(60_000)]
    body = orjson.dumps({"requests": items})
    with socket.create_connection(("127.0.0.1", threaded_server.port), timeout=60) as conn:
        conn.sendall(b"POST /model/RandomForestClassifierWine/batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        time.sleep(0.2)  # the worker is parsing and scoring the batch
        threaded_server.proc.send_signal(signal.SIGTERM)
        answer = b""
        while True:
            chunk = conn.recv(1 << 20)
            if not chunk:
                break
            answer += chunk
    head, _, payload = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head[:200]
    assert b"connection: close" in head.lower()
    assert len(orjson.loads(payload)["responses"]) == len(items)
    assert threaded_server.proc.wait(30) == 0
