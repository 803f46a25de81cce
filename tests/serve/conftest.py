"""The real server, started as a subprocess on a free loopback port, and a real HTTP client.

``quickscore serve`` is started with ``--port 0``; the supervisor binds a free port and logs it
(``{"message": "listening", "port": N}``), which the fixture reads from the JSON log lines on
stderr. Readiness is polled, never slept for.

The servers run the default HTTP layer (quickscore's own, serve/_http.py). The suite runs
unchanged on uvicorn too, through the option's environment variable:
``QUICKSCORE_HTTP=uvicorn python -m pytest tests/serve``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

httpx = pytest.importorskip("httpx", reason="the serve tests need httpx (pip install -e '.[test]')")
pytest.importorskip("uvicorn", reason='the server needs the serve extra (pip install "quickscore[serve]")')
pytest.importorskip("prometheus_client", reason='the server needs the serve extra (pip install "quickscore[serve]")')

DATA = Path(__file__).resolve().parents[1] / "data"
ADMIN_TOKEN = "test-admin-token"
# The models of the shared server: name -> fixture file.
MODELS = {
    "DecisionTreeIris": "DecisionTreeIris.pmml",
    "LogisticRegressionAuditNA": "LogisticRegressionAuditNA.pmml",
    "RandomForestClassifierWine": "RandomForestClassifierWine.pmml",
    "LogisticRegressionIris": "LogisticRegressionIris.pmml",
}
MAX_BATCH_ROWS = 1000
MAX_BODY_BYTES = 1024 * 1024


def wait_for(predicate, timeout: float, interval: float = 0.05, what: str = "condition"):
    """Poll ``predicate`` until it returns a truthy value (returned) or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


class Server:
    """One ``quickscore serve`` process tree, its port and its JSON log lines."""

    def __init__(self, *args: str, env: dict | None = None):
        cmd = [sys.executable, "-m", "quickscore.serve", *args, "--host", "127.0.0.1", "--port", "0"]
        self.logs: list[dict] = []
        self.raw: list[str] = []
        self._port_found = threading.Event()
        self.port: int | None = None
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                     env={**os.environ, **(env or {})})
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stderr:
            self.raw.append(line)
            try:
                record = json.loads(line)
            except ValueError:
                continue
            self.logs.append(record)
            if record.get("message") == "listening":
                self.port = record["port"]
                self._port_found.set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = 90.0) -> "Server":
        if not self._port_found.wait(timeout):
            self.stop()
            raise AssertionError("server did not start:\n" + "".join(self.raw[-30:]))

        def ready():
            if self.proc.poll() is not None:
                raise AssertionError("server exited:\n" + "".join(self.raw[-30:]))
            try:
                return httpx.get(self.url + "/v2/health/ready", timeout=5).status_code == 200
            except httpx.TransportError:
                return False

        wait_for(ready, timeout, what="readiness")
        return self

    def messages(self, message: str) -> list[dict]:
        return [r for r in list(self.logs) if r.get("message") == message]

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("models")
    for name, file in MODELS.items():
        shutil.copyfile(DATA / file, directory / f"{name}{Path(file).suffix}")
    return directory


@pytest.fixture(scope="session")
def server(model_dir) -> Server:
    """Two workers, an admin token and small limits (so that the limit tests stay small)."""
    srv = Server(
        str(model_dir), "--workers", "2", "--admin-token", ADMIN_TOKEN, "--max-batch-rows", str(MAX_BATCH_ROWS),
        "--max-body-mb", str(MAX_BODY_BYTES / 1024 / 1024), "--timeout", "5", "--reload-interval", "0.1",
        "--access-log",
    )
    try:
        yield srv.wait_ready()
    finally:
        srv.stop()


@pytest.fixture(scope="session")
def client(server) -> httpx.Client:
    with httpx.Client(base_url=server.url, timeout=30) as c:
        yield c


@pytest.fixture(scope="session")
def local_models(model_dir):
    """The same model files loaded in-process: the expected answers."""
    import quickscore

    return {name: quickscore.load(DATA / file) for name, file in MODELS.items()}


def admin(token: str = ADMIN_TOKEN) -> dict:
    return {"Authorization": f"Bearer {token}"}


def read_csv_records(name: str, n: int | None = None) -> list[dict]:
    """Records of ``tests/data/<name>.input.csv``: numbers as floats, empty cells as None."""
    import csv

    with open(DATA / f"{name}.input.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))[:n]
    return [{k: (None if v == "" else _number(v)) for k, v in row.items()} for row in rows]


def _number(text: str):
    try:
        return float(text)
    except ValueError:
        return text
