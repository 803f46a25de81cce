"""Load test of ``quickscore serve`` on loopback, against a JPMML-per-request server, same run.

    apt-get install wrk                  # the load generator (Debian's package)
    pip install -e ".[serve,bench]"
    python bench/serve_load.py           # ~12 min: both workloads, 1 and 2 workers, JPMML and KServe comparison
    python bench/serve_load.py --models logistic --workers 1 --kinds single --jpmml-backends kserve --duration 5
                                         # ~1 min: quickscore vs KServe's PMML server on the logistic regression
    python bench/serve_load.py --quick   # shorter runs (3 s each)

The server runs as its own process tree; wrk (one thread, C, event-driven) drives it from a
separate process on the same machine, so the load generator shares the cores with the server,
as the targets assume. Every run is bounded in time (``--duration``) and in request count
(``--max-requests`` per wrk thread).

Workloads (bench/workloads.py, built on first use): W1, the 100-tree random forest (~90 MB
PMML), served as ``forest``; W2, the logistic regression, served as ``logistic``. Requests:

* single record: Open Inference Protocol ``POST /v2/models/{m}/infer``, one FP64 tensor per
  feature, shape [1]; 1,000 distinct records from the benchmark's test rows, in turn;
* batch: V2 infer with 1,000 rows, and Openscoring ``POST /model/{m}/batch`` with 1,000 records.

The comparison servers (bench/jpmml_server.py) answer the same single-record V2 bodies with
JPMML-Evaluator called per record through the ``jpmml_evaluator`` package, on the same HTTP stack
(``--http``: quickscore's own HTTP layer by default, or uvicorn), with the same worker counts:
with its py4j backend, as KServe's own pmmlserver does, and with its JPype backend (the JVM
in-process, the harder baseline).

``kserve-pmmlserver`` (bench/kserve_pmml_server.py, in its own virtualenv bench/.cache/venv-kserve,
built on first use by ``prepare_kserve``) is KServe's PMML server itself: ``kserve.ModelServer``
(FastAPI on uvicorn, as shipped) with a model class equivalent to KServe's pmmlserver. Its
``predict`` reads only the first V2 input tensor, so its single-record body is the same record as
one FP64 tensor of shape [1, n_features] at the same ``/v2/models/{m}/infer`` path.

Writes bench/results/serve-<date>.json and .md and prints the table.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
KSERVE_VENV = BENCH / ".cache" / "venv-kserve"
# kserve 0.21.0: the newest on PyPI, installs and runs on Python 3.11 here. jpmml_evaluator: the
# main environment's version (the one bench/jpmml_server.py uses), pinned in prepare_kserve.
KSERVE_VERSION = "0.21.0"
LUA = BENCH / "serve_load.lua"
sys.path.insert(0, str(BENCH))

MODELS = {"forest": "W1", "logistic": "W2"}
N_RECORDS = 1000
BATCH_ROWS = 1000


# --------------------------------------------------------------------------- servers


class QuickscoreServer:
    """``python -m quickscore.serve DIR --port 0``; the port comes from its JSON "listening" log line."""

    def __init__(self, model_dir: Path, workers: int, *extra: str, http: str | None = None, env: dict | None = None):
        self.started = time.perf_counter()
        self.workers = workers
        cmd = [sys.executable, "-m", "quickscore.serve", str(model_dir), "--host", "127.0.0.1", "--port", "0",
               "--workers", str(workers), "--max-batch-rows", "100000", "--timeout", "60",
               *(["--http", http] if http else []), *extra]  # no --http: the server's default (or QUICKSCORE_HTTP)
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
        self.port: int | None = None
        self.logs: list[dict] = []
        self._found = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stderr:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            self.logs.append(record)
            if record.get("message") == "listening":
                self.port = record["port"]
                self._found.set()

    def wait_ready(self, timeout: float) -> float:
        """Ready when every worker has loaded its models: /v2/health/ready answers 200 as soon as
        the worker that takes the probe's connection is ready, while another may still be loading
        (and answering 503 for the models it has not loaded yet)."""
        if not self._found.wait(60):
            raise RuntimeError("quickscore serve did not start")
        _wait_ready(f"http://127.0.0.1:{self.port}", self.proc, timeout, self.started)
        deadline = time.monotonic() + timeout
        while len({r.get("pid") for r in list(self.logs) if r.get("message") == "models loaded"}) < self.workers:
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError("not every worker loaded its models")
            time.sleep(0.1)
        return time.perf_counter() - self.started

    def stop(self) -> None:
        _stop(self.proc)


class JpmmlServer:
    def __init__(self, model_dir: Path, workers: int, backend: str, http: str = "quickscore"):
        self.started = time.perf_counter()
        self.port = _free_port()
        self.proc = subprocess.Popen([sys.executable, str(BENCH / "jpmml_server.py"), str(model_dir), "--port",
                                      str(self.port), "--workers", str(workers), "--backend", backend, "--http", http],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                                     env={"JPMML_XMX": "4g", **os.environ})  # the 90 MB forest needs more than 2 GB

    def wait_ready(self, timeout: float) -> float:
        return _wait_ready(f"http://127.0.0.1:{self.port}", self.proc, timeout, self.started)

    def stop(self) -> None:
        _stop(self.proc, group=True)


class KServeServer:
    """bench/kserve_pmml_server.py in bench/.cache/venv-kserve: KServe's own model server and PMML
    model class, with KServe's own ``--workers``."""

    def __init__(self, model_dir: Path, workers: int, n_models: int, tmp: Path):
        self.started = time.perf_counter()
        self.port = _free_port()
        self.loaded_log = tmp / f"kserve-loaded-{self.port}.log"
        # One worker: the server process loads and serves. More: it loads, then KServe spawns the
        # workers, each loading again (a py4j gateway per process; see kserve_pmml_server.py).
        self.expected_loads = n_models * (1 if workers == 1 else workers + 1)
        self.proc = subprocess.Popen([str(kserve_python()), str(BENCH / "kserve_pmml_server.py"), str(model_dir),
                                      "--http_port", str(self.port), "--workers", str(workers)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                                     env={**os.environ, "JPMML_XMX": "4g", "KSERVE_PMML_LOADED_LOG": str(self.loaded_log)})

    def wait_ready(self, timeout: float) -> float:
        """Ready when /v2/health/ready answers 200 and every process has loaded every model (a
        spawned worker still loading does not accept connections, but would leave the load to the
        other in the first seconds)."""
        _wait_ready(f"http://127.0.0.1:{self.port}", self.proc, timeout, self.started)
        deadline = time.monotonic() + timeout
        while (len(self.loaded_log.read_text().splitlines()) if self.loaded_log.exists() else 0) < self.expected_loads:
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError("not every KServe worker loaded its models")
            time.sleep(0.2)
        return time.perf_counter() - self.started

    def stop(self) -> None:
        _stop(self.proc, group=True)


def kserve_python() -> Path:
    return KSERVE_VENV / "bin" / "python"


def prepare_kserve(timeout: float = 900) -> str | None:
    """Create bench/.cache/venv-kserve with kserve and the main environment's jpmml_evaluator
    (never in the main environment: kserve pins its own FastAPI, pandas, numpy ...). Returns why
    it is unavailable, or None."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        reqs = [f"kserve=={KSERVE_VERSION}", f"jpmml_evaluator=={version('jpmml_evaluator')}"]
    except PackageNotFoundError:
        return "jpmml_evaluator is not installed in the main environment (its version is the one to pin)"
    marker = KSERVE_VENV / ".ok"
    if marker.exists() and marker.read_text() == " ".join(reqs):
        return None
    print(f"kserve: creating bench/.cache/venv-kserve ({' '.join(reqs)}) ...", file=sys.stderr, flush=True)
    shutil.rmtree(KSERVE_VENV, ignore_errors=True)
    steps = {"python -m venv bench/.cache/venv-kserve": [sys.executable, "-m", "venv", str(KSERVE_VENV)],
             f"pip install {' '.join(reqs)}": [str(kserve_python()), "-m", "pip", "install", "-q", *reqs],
             "import kserve, jpmml_evaluator.py4j": [str(kserve_python()), "-c", "import kserve, jpmml_evaluator.py4j, pandas"]}
    for step, cmd in steps.items():
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"{step} failed: {exc}"
        with (BENCH / ".cache" / "venv-kserve.log").open("a") as log:
            log.write(out.stdout + out.stderr)
        if out.returncode != 0:
            return f"{step} failed (rc={out.returncode}): {(out.stdout + out.stderr).strip()[-300:]}"
    marker.write_text(" ".join(reqs))
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_ready(url: str, proc: subprocess.Popen, timeout: float, started: float) -> float:
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with status {proc.returncode}")
        try:
            with urllib.request.urlopen(url + "/v2/health/ready", timeout=5) as r:
                if r.status == 200:
                    return time.perf_counter() - started
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    raise RuntimeError(f"not ready after {timeout} s")


def _stop(proc: subprocess.Popen, group: bool = False) -> None:
    if proc.poll() is None:
        if group:
            os.killpg(proc.pid, signal.SIGTERM)
        else:
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            if group:
                os.killpg(proc.pid, signal.SIGKILL)
            else:
                proc.kill()
            proc.wait()


def tree_rss_mb(pid: int) -> dict:
    """Resident memory of a process and its children (MB): total and per child."""
    import psutil

    parent = psutil.Process(pid)
    children = parent.children(recursive=True)
    per_child = [c.memory_info().rss / 2**20 for c in children]
    return {"total_mb": round(parent.memory_info().rss / 2**20 + sum(per_child), 1),
            "workers_mb": [round(x, 1) for x in per_child]}


# --------------------------------------------------------------------------- load generation


def run_wrk(port: int, path: str, bodies: Path, *, connections: int, duration: float, max_requests: int,
            malformed_every: int = 0, timeout: float = 10.0) -> dict:
    env = {**os.environ, "QS_PATH": path, "QS_BODIES": str(bodies), "QS_MAX_REQUESTS": str(max_requests),
           "QS_MALFORMED_EVERY": str(malformed_every)}
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{duration:g}s", f"--timeout={timeout:g}s", "-s", str(LUA),
           f"http://127.0.0.1:{port}{path}"]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=duration + 120)
    line = next((x for x in out.stdout.splitlines() if x.startswith("QS_RESULT ")), None)
    if line is None:
        raise RuntimeError(f"wrk failed: {out.stdout[-500:]} {out.stderr[-500:]}")
    r = json.loads(line.removeprefix("QS_RESULT "))
    seconds = r["duration_us"] / 1e6
    r.update(req_per_s=round(r["requests"] / seconds, 1), p50_ms=r["p50_us"] / 1000, p99_ms=r["p99_us"] / 1000,
             seconds=round(seconds, 2), connections=connections)
    return r


def write_bodies(directory: Path) -> dict[str, Path]:
    """The request bodies (one JSON document per line) for every workload."""
    import workloads

    X = np.load(workloads.DATA / "X_test.npy")[:N_RECORDS]
    names = workloads.FEATURE_NAMES
    files = {}

    def dump(name: str, documents: list) -> None:
        path = directory / f"{name}.jsonl"
        path.write_text("".join(json.dumps(d, separators=(",", ":")) + "\n" for d in documents))
        files[name] = path

    dump("single", [{"inputs": [{"name": n, "datatype": "FP64", "shape": [1], "data": [float(v)]} for n, v in zip(names, row)]}
                    for row in X])
    # KServe's pmmlserver: the same record as one [1, n_features] tensor (its predict reads only
    # the first input; the values in the order of the PMML's input fields, which is names' order).
    dump("single_kserve", [{"inputs": [{"name": "input-0", "datatype": "FP64", "shape": [1, len(names)],
                                        "data": [float(v) for v in row]}]} for row in X])
    batch = X[:BATCH_ROWS]
    dump("batch_v2", [{"inputs": [{"name": n, "datatype": "FP64", "shape": [len(batch)], "data": batch[:, j].tolist()}
                                  for j, n in enumerate(names)]}])
    dump("batch_os", [{"requests": [{"id": str(i), "arguments": dict(zip(names, map(float, row)))} for i, row in enumerate(batch)]}])
    return files


def ensure_workloads() -> dict[str, Path]:
    import workloads

    paths = {name: workloads.wdir(w) / "model.pmml" for name, w in MODELS.items()}
    if not all(p.exists() for p in paths.values()) or not (workloads.DATA / "X_test.npy").exists():
        print("building the W1/W2 workloads (bench/workloads.py) ...", file=sys.stderr)
        workloads.build_all(sorted(set(MODELS.values())))
    return paths


def check_answers(port_a: int, port_b: int, bodies: Path, model: str, bodies_b: Path | None = None) -> float:
    """Max |difference| of probability(1) between the two servers over 20 records (``bodies_b``:
    the same records in server b's request form, if it differs)."""
    import urllib.request

    lines = bodies.read_text().splitlines()[:20]
    lines_b = bodies_b.read_text().splitlines()[:20] if bodies_b else lines
    worst = 0.0
    for line, line_b in zip(lines, lines_b):
        answers = []
        for port, body in ((port_a, line), (port_b, line_b)):
            req = urllib.request.Request(f"http://127.0.0.1:{port}/v2/models/{model}/infer", data=body.encode(),
                                         headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(req, timeout=30) as r:
                out = {o["name"]: o["data"][0] for o in json.load(r)["outputs"]}
            answers.append(float(out["probability(1)"]))
        worst = max(worst, abs(answers[0] - answers[1]))
    return worst


# --------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description="Load test of quickscore serve (see the module docstring).")
    parser.add_argument("--workers", default="1,2", help="worker counts to measure (default 1,2)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per measurement (default 10)")
    parser.add_argument("--connections", type=int, default=16, help="concurrent connections, single records (default 16)")
    parser.add_argument("--batch-connections", type=int, default=2, help="concurrent connections, batches (default 2)")
    parser.add_argument("--max-requests", type=int, default=500_000, help="per wrk thread and run (default 500000)")
    parser.add_argument("--no-jpmml", action="store_true", help="leave out the JPMML comparison server")
    parser.add_argument("--jpmml-backends", default="py4j,jpype,kserve",
                        help="JPMML servers to compare with: py4j (as KServe's pmmlserver), jpype (in-process JVM), "
                             "both on quickscore's HTTP layer; kserve (KServe's own pmmlserver design on kserve.ModelServer, "
                             "bench/kserve_pmml_server.py in bench/.cache/venv-kserve) (default all three)")
    parser.add_argument("--http", choices=["quickscore", "uvicorn"], default="quickscore",
                        help="HTTP layer of both the quickscore and the py4j/jpype JPMML servers (default: quickscore's own; "
                             "the kserve server always runs on KServe's FastAPI/uvicorn)")
    parser.add_argument("--quick", action="store_true", help="3 s per measurement")
    parser.add_argument("--models", default="forest,logistic",
                        help="models to serve and measure: forest (W1), logistic (W2) (default both; batches use the forest "
                             "if selected)")
    parser.add_argument("--kinds", default="single,batch_v2,batch_os",
                        help="requests to measure: single, batch_v2, batch_os (default all; JPMML runs with single)")
    parser.add_argument("--ready-timeout", type=float, default=900.0,
                        help="seconds a comparison server may take to become ready before it is reported as not measured (default 900)")
    parser.add_argument("--out", type=Path, default=None, help="results JSON (default bench/results/serve-<date>.json)")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("serve_load: wrk not found (apt-get install wrk)")
    duration = 3.0 if args.quick else args.duration
    worker_counts = [int(w) for w in args.workers.split(",")]
    kinds = args.kinds.split(",")
    if not set(kinds) <= {"single", "batch_v2", "batch_os"}:
        sys.exit(f"serve_load: unknown --kinds {args.kinds!r} (single, batch_v2, batch_os)")
    models = args.models.split(",")
    if not set(models) <= set(MODELS):
        sys.exit(f"serve_load: unknown --models {args.models!r} ({', '.join(MODELS)})")
    paths = {name: path for name, path in ensure_workloads().items() if name in models}
    backends = [] if args.no_jpmml or "single" not in kinds else args.jpmml_backends.split(",")
    if not set(backends) <= {"py4j", "jpype", "kserve"}:
        sys.exit(f"serve_load: unknown --jpmml-backends {args.jpmml_backends!r} (py4j, jpype, kserve)")
    skipped = {}
    if "kserve" in backends:
        why = prepare_kserve()
        if why:
            print(f"serve_load: kserve-pmmlserver skipped: {why}", file=sys.stderr, flush=True)
            skipped["kserve-pmmlserver"] = why
            backends.remove("kserve")
    today = dt.date.today().isoformat()
    results: dict = {"date": today, "started": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                     "machine": {"cores": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
                     "settings": {"duration_s": duration, "connections": args.connections, "batch_connections": args.batch_connections,
                                  "max_requests": args.max_requests, "batch_rows": BATCH_ROWS, "wrk_threads": 1,
                                  "http": args.http},
                     "runs": []}
    if skipped:
        results["skipped"] = skipped
    if "kserve" in backends:
        results["settings"]["kserve"] = {
            "version": KSERVE_VERSION, "request": "V2 /v2/models/{m}/infer, one FP64 tensor of shape [1, n_features]",
            "workers": "KServe's --workers; >1: spawned uvicorn workers, each with its own py4j gateway JVM"}
    with tempfile.TemporaryDirectory(prefix="qs-serve-load-") as tmp:
        tmp = Path(tmp)
        model_dir = tmp / "models"
        model_dir.mkdir()
        for name, path in paths.items():
            os.symlink(path, model_dir / f"{name}.pmml")
        bodies = write_bodies(tmp)

        def measure(server: str, workers: int, port: int, model: str, kind: str, pid: int, body: str | None = None) -> None:
            path = f"/v2/models/{model}/infer" if kind != "batch_os" else f"/model/{model}/batch"
            conns = args.connections if kind == "single" else args.batch_connections
            # Warm-up, not recorded: the JVM's JIT compiles the evaluator's hot paths (quickscore's
            # workers compile their kernels before they report ready).
            warm = min(5.0, duration) if server != "quickscore" else min(2.0, duration)
            run_wrk(port, path, bodies[body or kind], connections=conns, duration=warm, max_requests=20_000)
            r = run_wrk(port, path, bodies[body or kind], connections=conns, duration=duration, max_requests=args.max_requests)
            rows = 1 if kind == "single" else BATCH_ROWS
            r.update(server=server, workers=workers, model=model, kind=kind, rows_per_s=round(r["req_per_s"] * rows, 1),
                     rss=tree_rss_mb(pid), load_average_1m=os.getloadavg()[0])
            results["runs"].append(r)
            print(f"{server:17s} w={workers} {model:8s} {kind:8s} {r['req_per_s']:9.1f} req/s  {r['rows_per_s']:10.1f} rows/s  "
                  f"p50 {r['p50_ms']:7.2f} ms  p99 {r['p99_ms']:7.2f} ms  ok {r['ok']}/{r['responses']}  "
                  f"errors {r['socket_errors'] + r['timeouts'] + r['other']}", file=sys.stderr, flush=True)

        for workers in worker_counts:
            qs = QuickscoreServer(model_dir, workers, http=args.http)
            try:
                ready = qs.wait_ready(900)
                results.setdefault("startup_s", {})[f"quickscore_w{workers}"] = round(ready, 1)
                for model in models if "single" in kinds else ():
                    measure("quickscore", workers, qs.port, model, "single", qs.proc.pid)
                for kind in ("batch_v2", "batch_os"):
                    if kind in kinds:
                        measure("quickscore", workers, qs.port, "forest" if "forest" in models else models[0], kind,
                                qs.proc.pid)
                for backend in backends:
                    if backend == "kserve":
                        jp, label, body, diffs = (KServeServer(model_dir, workers, len(models), tmp), "kserve-pmmlserver",
                                                  "single_kserve", "max_abs_diff_probability_kserve")
                    else:
                        jp, label, body, diffs = (JpmmlServer(model_dir, workers, backend, http=args.http), f"jpmml-{backend}",
                                                  "single", "max_abs_diff_probability")
                    try:
                        ready = jp.wait_ready(args.ready_timeout)
                        results["startup_s"][f"{label}_w{workers}"] = round(ready, 1)
                        results.setdefault(diffs, {})
                        for model in models:
                            results[diffs][model] = check_answers(qs.port, jp.port, bodies["single"], model, bodies[body])
                        for model in models:
                            measure(label, workers, jp.port, model, "single", jp.proc.pid, body)
                    except Exception as exc:  # noqa: BLE001 - a comparison server that fails is reported, the run goes on
                        why = f"{type(exc).__name__}: {exc}"[:300]
                        results.setdefault("skipped", {})[f"{label}_w{workers}"] = why
                        print(f"{label} w={workers}: not measured: {why}", file=sys.stderr)
                    finally:
                        jp.stop()
            finally:
                qs.stop()
    results["finished"] = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    table = render(results)
    print(table)
    out = args.out or BENCH / "results" / f"serve-{today}{'-quick' if args.quick else ''}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    out.with_suffix(".md").write_text(table + "\n")
    print(f"wrote {out}", file=sys.stderr)


def render(results: dict) -> str:
    runs = results["runs"]
    lines = [f"#### quickscore serve under load, {results['date']} ({results['machine']['cores']} cores, wrk on the same machine, "
             f"{results['settings']['duration_s']:g} s per run)", "",
             "| server | workers | model | request | req/s | rows/s | p50 ms | p99 ms | failed | RSS MB (workers) | load avg |",
             "|---|---:|---|---|---:|---:|---:|---:|---:|---|---:|"]
    labels = {"single": "1 record, V2", "batch_v2": f"{BATCH_ROWS} rows, V2", "batch_os": f"{BATCH_ROWS} rows, /batch"}
    for r in runs:
        failed = r["socket_errors"] + r["timeouts"] + r["other"] + r["bad_request"]
        lines.append(f"| {r['server']} | {r['workers']} | {r['model']} | {labels[r['kind']]} | {r['req_per_s']:,.0f} | "
                     f"{r['rows_per_s']:,.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {failed} | "
                     f"{r['rss']['total_mb']:,.0f} ({', '.join(f'{x:,.0f}' for x in r['rss']['workers_mb'])}) | "
                     f"{r.get('load_average_1m', float('nan')):.1f} |")
    ratios = []
    for r in runs:
        if r["server"] != "quickscore" or r["kind"] != "single":
            continue
        for peer in runs:
            if peer["server"] != "quickscore" and peer["workers"] == r["workers"] and peer["model"] == r["model"]:
                ratios.append(f"{r['model']} ×{r['req_per_s'] / peer['req_per_s']:.1f} vs {peer['server']} "
                              f"at {r['workers']} worker(s)")
    if ratios:
        lines += ["", "quickscore ÷ JPMML-per-request throughput: " + "; ".join(ratios) + "."]
    if results.get("startup_s"):
        lines += ["", "Time to ready (s): " + ", ".join(f"{k} {v}" for k, v in results["startup_s"].items()) + "."]
    if results.get("max_abs_diff_probability"):
        lines += ["", "max |Δ probability(1)| quickscore vs JPMML over 20 records: "
                  + ", ".join(f"{k} {v:.1e}" for k, v in results["max_abs_diff_probability"].items()) + "."]
    if results.get("max_abs_diff_probability_kserve"):
        lines += ["", "max |Δ probability(1)| quickscore vs kserve-pmmlserver over 20 records: "
                  + ", ".join(f"{k} {v:.1e}" for k, v in results["max_abs_diff_probability_kserve"].items()) + "."]
    if results.get("settings", {}).get("kserve"):
        lines += ["", f"kserve-pmmlserver: KServe {results['settings']['kserve']['version']} (kserve.ModelServer, FastAPI/uvicorn) "
                  "with KServe's pmmlserver model class (jpmml_evaluator, py4j, one evaluate call per record), "
                  "bench/kserve_pmml_server.py; request: " + results["settings"]["kserve"]["request"] + "."]
    for label, why in results.get("skipped", {}).items():
        lines += ["", f"{label} skipped: {why}."]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
