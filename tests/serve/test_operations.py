"""Operations: metrics, limits, timeouts, readiness, logs, OpenAPI, the default model, worker restarts."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import time

import httpx
import pytest

from .conftest import DATA, MAX_BODY_BYTES, Server, wait_for

IRIS = "DecisionTreeIris"


def _sample(text: str, name: str, **labels) -> float:
    """The value of one sample of the Prometheus text exposition (0 when absent)."""
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            found = dict(re.findall(r'(\w+)="([^"]*)"', line.split("}")[0])) if "{" in line else {}
            if all(found.get(k) == v for k, v in labels.items()):
                return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_metrics_move_as_requests_arrive(client):
    before = client.get("/metrics")
    assert before.status_code == 200 and before.headers["content-type"].startswith("text/plain")
    labels = {"model": IRIS, "endpoint": "os_evaluate"}
    n = 12
    for _ in range(n):  # new connections, so that both workers answer some
        assert httpx.post(f"{client.base_url}/model/{IRIS}", json={"arguments": {"petal_length": 1, "petal_width": 1}},
                          headers={"Connection": "close"}).status_code == 200
    assert client.post(f"/model/{IRIS}", content=b"{").status_code == 400
    old = before.text

    def counted():  # each worker adds its counts to the shared metrics at least once a second
        text = client.get("/metrics").text
        done = (_sample(text, "quickscore_request_duration_seconds_count", **labels)
                == _sample(old, "quickscore_request_duration_seconds_count", **labels) + n + 1)
        return text if done else None

    after = wait_for(counted, 10, what="the metrics of both workers")
    assert _sample(after, "quickscore_requests_total", status="200", **labels) == _sample(old, "quickscore_requests_total", status="200", **labels) + n
    assert _sample(after, "quickscore_requests_total", status="400", **labels) == _sample(old, "quickscore_requests_total", status="400", **labels) + 1
    assert (_sample(after, "quickscore_request_duration_seconds_count", **labels)
            == _sample(old, "quickscore_request_duration_seconds_count", **labels) + n + 1)
    assert _sample(after, "quickscore_request_duration_seconds_bucket", le="+Inf", **labels) >= n + 1
    assert _sample(after, "quickscore_request_duration_seconds_sum", **labels) > 0
    assert "quickscore_requests_in_flight" in after
    assert _sample(after, "quickscore_model_load_seconds_count", model=IRIS) >= 2  # one load per worker
    assert _sample(after, "quickscore_model_loads_total", model=IRIS, result="ok") >= 2
    loaded = [float(v) for v in re.findall(r"^quickscore_models_loaded\{[^}]*\} (\S+)$", after, re.M)]
    assert len(loaded) == 2 and min(loaded) >= 4  # per worker


def test_oversized_body_is_413_before_it_is_read(client):
    big = b"x" * (MAX_BODY_BYTES + 1)
    response = client.post(f"/v2/models/{IRIS}/infer", content=big)
    assert response.status_code == 413 and "exceeds the limit" in response.json()["error"]
    response = client.post(f"/model/{IRIS}/batch", content=big)
    assert response.status_code == 413 and "exceeds the limit" in response.json()["message"]

    def chunks():  # no Content-Length: the limit is enforced while reading
        for _ in range(40):
            yield b"y" * 65536

    response = client.post(f"/model/{IRIS}/csv", content=chunks())
    assert response.status_code == 413 and "exceeds the limit" in response.json()["message"]


def test_openapi_describes_every_route(client):
    document = client.get("/openapi.json").json()
    assert document["openapi"].startswith("3.")
    for path in ("/v2", "/v2/health/live", "/v2/health/ready", "/v2/models/{model}", "/v2/models/{model}/ready",
                 "/v2/models/{model}/infer", "/v2/models/{model}/versions/{version}/infer", "/model", "/model/{model}",
                 "/model/{model}/batch", "/model/{model}/csv", "/metrics"):
        assert path in document["paths"], path
    assert set(document["paths"]["/model/{model}"]) == {"get", "post", "put", "delete"}
    validator = pytest.importorskip("openapi_spec_validator", reason="openapi-spec-validator is in the test extra")
    validator.validate(document)


def test_logs_are_json_lines_with_access_records(server, client):
    client.get("/v2/health/live")
    wait_for(lambda: any(r.get("path") == "/v2/health/live" for r in server.messages("request")), 10, what="access log")
    assert server.raw and all(json.loads(line)["message"] is not None for line in list(server.raw))
    record = next(r for r in server.messages("request") if r.get("path") == "/v2/health/live")
    assert {"ts", "level", "pid", "method", "status", "ms"} <= set(record)


def test_a_killed_worker_is_replaced(server, client):
    pids = {r["pid"] for r in server.messages("models loaded")}
    assert len(pids) >= 2
    victim = sorted(pids)[0]
    os.kill(victim, signal.SIGKILL)
    wait_for(lambda: server.messages("worker died: starting another"), 20, what="the supervisor to notice")
    wait_for(lambda: len({r["pid"] for r in server.messages("models loaded")} - pids) >= 1, 60, what="a new worker")
    for _ in range(6):
        assert httpx.get(f"{client.base_url}/v2/health/ready", headers={"Connection": "close"}).status_code == 200


@pytest.fixture(scope="module")
def default_server():
    """No model directory: the bundled example; no admin token; one worker; a short timeout."""
    srv = Server("--workers", "1", "--timeout", "1", "--model-name", "iris")
    try:
        yield srv.wait_ready()
    finally:
        assert srv.stop() == 0


def test_default_server_serves_the_bundled_example(default_server):
    with httpx.Client(base_url=default_server.url) as c:
        assert [m["id"] for m in c.get("/model").json()["responses"]] == ["DecisionTreeIris", "iris"]
        # --model-name: the only model also under the name KServe gives it.
        assert c.get("/v2/models/iris").json()["inputs"] == c.get("/v2/models/DecisionTreeIris").json()["inputs"]
        body = c.post("/model/DecisionTreeIris", json={"arguments": {"petal_length": 1.4, "petal_width": 0.2}}).json()
        assert body["results"]["species"] == "setosa"
        # Management is disabled without a token.
        response = c.put("/model/Other", content=(DATA / "DecisionTreeIris.pmml").read_bytes(),
                         headers={"Authorization": "Bearer anything"})
        assert response.status_code == 403 and "disabled" in response.json()["message"]


def test_a_slow_body_gets_408_not_a_hang(default_server):
    with socket.create_connection(("127.0.0.1", default_server.port), timeout=10) as sock:
        sock.sendall(b"POST /model/DecisionTreeIris HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 100\r\n\r\n{\"arguments\":")
        start = time.monotonic()
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
        assert time.monotonic() - start < 8
    assert answer.startswith(b"HTTP/1.1 408"), answer
    assert b"not received within 1 s" in answer


# --------------------------------------------------------------------------- in-process checks


def _app(tmp_path, **options):
    from quickscore.serve import ServeConfig, create_app

    return create_app(ServeConfig(model_dir=tmp_path, **options))


def test_not_ready_until_models_have_loaded(tmp_path):
    """Before its first scan has finished (here: before startup), a worker answers 'not ready'."""
    (tmp_path / "m.pmml").write_bytes((DATA / "DecisionTreeIris.pmml").read_bytes())
    app = _app(tmp_path)

    async def main():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://app") as c:
            ready = await c.get("/v2/health/ready")
            infer = await c.post("/v2/models/m/infer", json={"inputs": []})
            live = await c.get("/v2/health/live")
            return ready, infer, live

    ready, infer, live = asyncio.run(main())
    assert ready.status_code == 503 and ready.json() == {"ready": False}
    assert infer.status_code == 503 and "still loading" in infer.json()["error"]
    assert live.status_code == 200


def test_scoring_past_the_deadline_is_504(tmp_path):
    from quickscore.serve._app import HTTPError, Request

    app = _app(tmp_path, request_timeout=0.05)

    async def main():
        loop = asyncio.get_running_loop()
        request = Request("POST", "/x", {}, {}, b"", {}, loop.time() + 0.05)
        return await app.in_thread(request, time.sleep, 1.0)

    with pytest.raises(HTTPError) as raised:
        asyncio.run(main())
    assert raised.value.status == 504 and "0.05 s" in raised.value.message


def test_cli_registers_serve():
    from click.testing import CliRunner

    from quickscore.cli import cli

    result = CliRunner().invoke(cli, ["serve", "--help"])
    assert result.exit_code == 0 and "MODEL_DIR" in result.output and "--workers" in result.output


@pytest.mark.parametrize("files, expected", [
    ({"cpu.max": "max 100000\n"}, None),
    ({"cpu.max": "250000 100000\n"}, 3),
    ({"cpu/cpu.cfs_quota_us": "200000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 2),
    ({"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, None),
    ({}, None),
])
def test_default_workers_follow_the_container_cpu_limit(tmp_path, files, expected):
    from quickscore.serve._config import _cgroup_cpu_quota

    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert _cgroup_cpu_quota(tmp_path) == expected
