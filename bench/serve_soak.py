"""Soak test of ``quickscore serve``: 10 minutes of single-record load with a hot reload every 10 s.

    python bench/serve_soak.py                 # 600 s, 2 workers
    python bench/serve_soak.py --minutes 2     # shorter
    python bench/serve_soak.py --http uvicorn  # on uvicorn (default: the server's default layer)

Two wrk processes (forest: 12 connections, logistic regression: 4) send single-record V2
requests on loopback for the whole run; every 20th request of each is malformed JSON (5%), which
must get 400. Every 10 seconds one model file is rewritten atomically with new content (the
forest and the logistic regression in turn, so each reloads every 20 s), which every worker must
load and swap in without failing a request. Every 5 s the workers' resident memory is sampled.

Pass criteria (printed, and in bench/results/serve-soak-<date>.json): zero failed well-formed
requests (no 5xx, no socket error or timeout, no 400 beyond the malformed ones), every reload
taken by every worker, and the workers' RSS over the last minute within 10% of the first minute
after warm-up (the workers only: not the short-lived processes that compile a big file for them).

Where the slow requests are: besides wrk, two probe connections per model (one thread each, a
well-formed request every 5 ms on a keep-alive connection) time every request with the soak's own
clock. The summary's "probe" part gives their latency percentiles within 3 s after a reload was
written and elsewhere, and the share of slow requests (> 50 ms) in each; the timeline itself (time,
model, latency, status), the reload moments and the server's load log lines go to
bench/results/serve-soak-<date>[-<tag>]-probe.json. With QUICKSCORE_LOOP_LAG_MS=25 in the
environment the workers also log every event-loop lag of 25 ms or more ("event loop lag", with
the loop thread's CPU time over the gap and the full collections in it), kept in that file too.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from serve_load import LUA, QuickscoreServer, ensure_workloads, write_bodies  # noqa: E402


def workers_rss_mb(pid: int) -> float:
    """Resident memory of the supervisor's direct children, the workers (MB). Not their own
    children: the processes that compile a big model file for a reload (serve/_compile_child)
    live for a few seconds each and are not the workers' memory."""
    import psutil

    return round(sum(c.memory_info().rss for c in psutil.Process(pid).children(recursive=False)) / 2**20, 1)


def _rewrite(source: Path, target: Path, tick: int) -> None:
    """New content (a trailing comment with the tick), written under a temporary name, then renamed."""
    partial = target.with_name("." + target.name + ".part")
    shutil.copyfile(source, partial)
    with open(partial, "a") as handle:
        handle.write(f"\n<!-- reload {tick} -->\n")
    os.replace(partial, target)


PROBE_PAUSE = 0.005
PROBE_WINDOW = 3.0
"""Seconds after a reload is written that count as "at a reload" in the probe's summary."""
SLOW = 0.050


def _probe(port: int, model: str, body: bytes, t0: float, stop: threading.Event, out: list) -> None:
    """Well-formed requests one at a time on one keep-alive connection: (t, model, seconds, status)."""
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    path = f"/v2/models/{model}/infer"
    while not stop.is_set():
        start = time.monotonic()
        try:
            conn.request("POST", path, body, {"Content-Type": "application/json"})
            response = conn.getresponse()
            response.read()
            status = response.status
        except OSError:
            status = 0
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        end = time.monotonic()
        out.append((round(start - t0, 4), model, round(end - start, 5), status))
        stop.wait(PROBE_PAUSE)
    conn.close()


def _probe_summary(samples: list, reloads: list) -> dict:
    import numpy as np

    moments = np.array([t for t, _ in reloads]) if reloads else np.zeros(0)
    summary = {}
    for model in sorted({m for _, m, _, _ in samples}):
        rows = [(t, s) for t, m, s, _ in samples if m == model]
        t = np.array([r[0] for r in rows])
        lat = np.array([r[1] for r in rows]) * 1000
        since = np.full(len(t), np.inf)
        for r in moments:
            d = t - r
            since = np.where((d >= 0) & (d < since), d, since)
        near = since < PROBE_WINDOW
        part = {}
        for label, mask in (("at_reload", near), ("elsewhere", ~near), ("all", np.ones(len(t), bool))):
            x = lat[mask]
            part[label] = {"n": int(len(x))} | ({
                "p50_ms": round(float(np.percentile(x, 50)), 2), "p99_ms": round(float(np.percentile(x, 99)), 2),
                "max_ms": round(float(x.max()), 1), "slow": int((x > SLOW * 1000).sum())} if len(x) else {})
        summary[model] = part
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description="Soak test of quickscore serve (see the module docstring).")
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--reload-every", type=float, default=10.0)
    parser.add_argument("--malformed-every", type=int, default=20, help="1 in N requests is malformed (default 20: 5%%)")
    parser.add_argument("--http", choices=("quickscore", "uvicorn"), default=None,
                        help="the server's HTTP layer (default: the server's default)")
    parser.add_argument("--tag", default=None, help="results file suffix (default: the --http layer, if given)")
    parser.add_argument("--probes", type=int, default=2, help="probe connections per model (0: none)")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("serve_soak: wrk not found (apt-get install wrk)")
    seconds = args.minutes * 60
    sources = ensure_workloads()
    started = dt.datetime.now(dt.timezone.utc)
    with tempfile.TemporaryDirectory(prefix="qs-serve-soak-") as tmp:
        tmp = Path(tmp)
        model_dir = tmp / "models"
        model_dir.mkdir()
        for name, path in sources.items():
            shutil.copyfile(path, model_dir / f"{name}.pmml")
        bodies = write_bodies(tmp)
        server = QuickscoreServer(model_dir, args.workers, "--reload-interval", "1", http=args.http)
        try:
            ready = server.wait_ready(900)
            print(f"ready after {ready:.1f} s", file=sys.stderr)
            wrks = {}
            for model, connections in (("forest", 12), ("logistic", 4)):
                env = {**os.environ, "QS_PATH": f"/v2/models/{model}/infer", "QS_BODIES": str(bodies["single"]),
                       "QS_MAX_REQUESTS": "50000000", "QS_MALFORMED_EVERY": str(args.malformed_every)}
                wrks[model] = subprocess.Popen(
                    ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--timeout=10s", "-s", str(LUA),
                     f"http://127.0.0.1:{server.port}/v2/models/{model}/infer"],
                    env=env, stdout=subprocess.PIPE, text=True)
            memory: list[tuple[float, float]] = []
            reloads: list[tuple[float, str]] = []
            t0 = time.monotonic()
            t0_wall = time.time()
            stop = threading.Event()

            def sample() -> None:
                while not stop.is_set():
                    memory.append((time.monotonic() - t0, workers_rss_mb(server.proc.pid)))
                    stop.wait(5)

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            probe_body = bodies["single"].read_text().splitlines()[0].encode()
            samples: list = []
            probes = [threading.Thread(target=_probe, args=(server.port, model, probe_body, t0, stop, samples), daemon=True)
                      for model in ("forest", "logistic") for _ in range(args.probes)]
            for p in probes:
                p.start()
            tick = 0
            while time.monotonic() - t0 < seconds - args.reload_every:
                time.sleep(args.reload_every)
                tick += 1
                model = "logistic" if tick % 2 else "forest"
                _rewrite(sources[model], model_dir / f"{model}.pmml", tick)
                reloads.append((time.monotonic() - t0, model))
            outputs = {model: proc.communicate(timeout=seconds + 120)[0] for model, proc in wrks.items()}
            stop.set()
            sampler.join()
            for p in probes:
                p.join()
            time.sleep(3 * args.reload_every)  # let the last reloads finish before counting them
        finally:
            server.stop()
    results = {model: json.loads(next(x for x in out.splitlines() if x.startswith("QS_RESULT ")).removeprefix("QS_RESULT "))
               for model, out in outputs.items()}
    failed = sum(r["other"] + r["socket_errors"] + r["timeouts"] + max(0, r["bad_request"] - r["malformed"])
                 for r in results.values())
    malformed_answered = sum(min(r["bad_request"], r["malformed"]) for r in results.values())
    taken = [r for r in server.logs if r.get("message") in ("model reloaded",)]
    early = [m for t, m in memory if 60 <= t < 120] or [m for _, m in memory[:12]]
    late = [m for t, m in memory if t >= memory[-1][0] - 60]
    drift = statistics.median(late) / statistics.median(early) - 1
    summary = {
        "date": started.date().isoformat(), "started": started.isoformat(timespec="seconds"), "seconds": seconds,
        "workers": args.workers, "requests": {m: r["requests"] for m, r in results.items()},
        "req_per_s": round(sum(r["requests"] for r in results.values()) / seconds, 1),
        "p99_ms": {m: r["p99_us"] / 1000 for m, r in results.items()},
        "malformed_sent": sum(r["malformed"] for r in results.values()), "malformed_answered_400": malformed_answered,
        "failed_well_formed": failed, "reloads_written": len(reloads), "reloads_taken_by_workers": len(taken),
        "rss_workers_mb_first_minute": round(statistics.median(early), 1), "rss_workers_mb_last_minute": round(statistics.median(late), 1),
        "rss_drift": round(drift, 4), "http": args.http or "default", "probe": _probe_summary(samples, reloads),
        "raw": results, "memory": memory,
        "server_errors": [r for r in server.logs if r.get("level") in ("error", "critical")][:50],
    }
    summary["pass"] = failed == 0 and abs(drift) <= 0.10 and len(taken) >= len(reloads) * args.workers
    tag = args.tag or args.http
    out = BENCH / "results" / f"serve-soak-{summary['date']}{'-' + tag if tag else ''}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(summary, indent=2))
    loads = [r for r in server.logs if r.get("message") in ("model reloaded", "model loaded", "model not loaded", "event loop lag")]
    out.with_name(out.stem + "-probe.json").write_text(json.dumps(
        {"started": summary["started"], "t0_wall": t0_wall, "reloads": reloads, "loads": loads, "samples": samples}))
    print(json.dumps({k: v for k, v in summary.items() if k not in ("raw", "memory")}, indent=2))
    print(f"wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
