"""Measure ONE peer on ONE workload, in its own process (so memory figures are isolated).

    python bench/peer_runner.py --peer jpmml --workload W1 --cache bench/.cache \
        --out result.json --mode full --threads 2

Writes a JSON dict with: status, load_s, init_s, rss_mb/peak_mb (after / during load,
this process plus its child processes, e.g. PyPMML's Java gateway), batch rows/s per
thread count (median of repeats), single-row latency p50/p99 (µs, from a Python dict),
max |ΔP(y=1)| vs the training library on 1,000 rows.

With ``--serve`` (the default of bench/run.py: interleaved, paired measurement) it loads
the same way, then waits for one JSON command per stdin line (switch threads, one batch
repetition, a round of single-row calls, finish) and answers each with one JSON line on
stdout, so the orchestrator can measure all peers of a workload in alternating rounds.

Needs only numpy (+ psutil if present): the lleaves peer runs it from another venv.
Thread env vars (OMP_NUM_THREADS, NUMBA_NUM_THREADS, ...) are set by run.py before start.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import time
import traceback
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from peers import PEERS, NotApplicable  # noqa: E402

MB = 1024.0 * 1024.0

# time budgets per mode: (batch reps, seconds one batch rep may take before rows shrink,
#                         latency calls, seconds the latency loop may take)
MODES = {
    # full: batch figures on all 100k rows; one discarded warm-up run (on at most
    # 10k rows), then the median of 5 runs, or of 3 if 5 would take > 2 min; 10,000
    # single-row calls.
    # Pathologically slow peers (one 100k run > 60 s, or 10k calls > 3 min) get fewer rows /
    # calls, noted in the table.
    "full": dict(reps=5, min_reps=3, warmup_rows=10_000, rep_budget=60.0, total_budget=120.0,
                 calls=10_000, lat_budget=180.0, min_calls=2_000),
    # quick: one run may take ~0.75 s (fewer rows otherwise), median of up to 3 runs within
    # ~1.5 s, single-row calls capped at ~1 s (at least 100 calls).
    "quick": dict(reps=3, min_reps=1, warmup_rows=0, rep_budget=0.75, total_budget=1.5,
                  calls=10_000, lat_budget=1.0, min_calls=100),
}


# --------------------------------------------------------------------------- memory
def _status(pid="self") -> dict:
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    k, v = line.split(":", 1)
                    out[k] = int(v.split()[0]) * 1024
    except OSError:
        pass
    return out


def _children() -> list[int]:
    try:
        import psutil

        return [c.pid for c in psutil.Process().children(recursive=True)]
    except Exception:  # noqa: BLE001
        pids = []
        try:
            for tid in os.listdir("/proc/self/task"):
                with open(f"/proc/self/task/{tid}/children") as f:
                    pids += [int(p) for p in f.read().split()]
        except OSError:
            pass
        return pids


def mem() -> dict:
    """RSS / high-water mark of this process and its children, bytes."""
    s = _status()
    rss, hwm = s.get("VmRSS", 0), s.get("VmHWM", 0)
    crss = chwm = 0
    for pid in _children():
        c = _status(pid)
        crss += c.get("VmRSS", 0)
        chwm += c.get("VmHWM", 0)
    return {"rss": rss + crss, "hwm": hwm + chwm, "self_rss": rss, "child_rss": crss}


def reset_peak() -> bool:
    """Reset VmHWM to the current RSS (Linux: write 5 to clear_refs)."""
    ok = True
    for pid in ["self", *map(str, _children())]:
        try:
            with open(f"/proc/{pid}/clear_refs", "w") as f:
                f.write("5")
        except OSError:
            ok = False
    return ok


# --------------------------------------------------------------------------- timing
def time_batch(peer, X, df, cfg: dict):
    """Median rows/s over repeated runs on the first ``rows`` test rows.

    ``rows`` is all 100,000 unless one run would exceed ``cfg['rep_budget']`` (then fewer,
    noted in the table). Full mode discards one warm-up run on the whole batch first (JIT
    warm-up for the JVM peers, page faults, ...)."""
    n = len(X)
    # short warm-up after a thread change (new ORT session, new thread pool, ...),
    # then estimate the cost per row on 2,000 rows (per-call overhead amortised)
    peer.predict_batch(X[:200], None if df is None else df.iloc[:200])
    k = min(2000, n)
    t = time.perf_counter()
    peer.predict_batch(X[:k], None if df is None else df.iloc[:k])
    est = (time.perf_counter() - t) / k * n
    rows = n
    if est > cfg["rep_budget"]:
        rows = max(2000, min(n, int(n * cfg["rep_budget"] / est)))
    Xs = X[:rows]
    dfs = None if df is None else df.iloc[:rows]
    if cfg["warmup_rows"]:
        w = min(rows, cfg["warmup_rows"])
        peer.predict_batch(Xs[:w], None if dfs is None else dfs.iloc[:w])
    times = []
    spent = 0.0
    while len(times) < cfg["reps"] and (spent < cfg["total_budget"] or len(times) < cfg["min_reps"]):
        t = time.perf_counter()
        peer.predict_batch(Xs, dfs)
        times.append(time.perf_counter() - t)
        spent += times[-1]
    med = statistics.median(times)
    return {
        "rows_per_s": rows / med,
        "rows": rows,
        "reps": len(times),
        "median_s": med,
        "min_s": min(times),
        "max_s": max(times),
    }


def time_latency(peer, X, names, calls: int, budget: float, min_calls: int, ref):
    dicts_all = X[: min(len(X), calls)]
    # warm-up + estimate
    warm = [dict(zip(names, map(float, r))) for r in X[:20]]
    t = time.perf_counter()
    for d in warm:
        peer.predict_one(d)
    per = (time.perf_counter() - t) / len(warm)
    if per * calls > budget:
        calls = max(min_calls, int(budget / per))
    rows = [dict(zip(names, map(float, r))) for r in dicts_all[:calls]]
    lat = np.empty(len(rows), dtype=np.int64)
    out = np.empty(len(rows))
    pc = time.perf_counter_ns
    for i, d in enumerate(rows):
        t0 = pc()
        out[i] = peer.predict_one(d)
        lat[i] = pc() - t0
    nref = min(len(ref), len(out))
    return {
        "calls": len(rows),
        "p50_us": float(np.percentile(lat, 50)) / 1e3,
        "p99_us": float(np.percentile(lat, 99)) / 1e3,
        "mean_us": float(lat.mean()) / 1e3,
        "maxdiff_single": float(np.max(np.abs(out[:nref] - ref[:nref]))) if nref else None,
    }


# --------------------------------------------------------------------------- main
def prepare(a, res: dict) -> dict:
    """Set up, load (timed, memory measured) and check accuracy: the part both modes share.
    Returns what the measurements need (peer, X, df, names, ref, cfg)."""
    cache = Path(a.cache)
    meta = json.loads((cache / "meta.json").read_text())
    wmeta = dict(meta["workloads"][a.workload])
    wmeta["feature_names"] = meta["feature_names"]
    d = cache / wmeta["dir"]
    cfg = MODES[a.mode]
    cls = PEERS[a.peer]
    res.update(mode=a.mode, threads=a.threads)
    if cls.workloads is not None and a.workload not in cls.workloads:
        raise NotApplicable(f"{a.peer} does not handle {a.workload}")
    peer = cls(a.workload, wmeta)

    X = np.load(cache / "data" / "X_test.npy")
    ref = np.load(d / "ref_proba.npy")
    names = meta["feature_names"]
    res["mem_start_mb"] = mem()["rss"] / MB

    t = time.perf_counter()
    peer.setup()
    res["init_s"] = time.perf_counter() - t
    res["versions"] = peer.versions()

    df = None
    if peer.wants_df:
        import pandas as pd

        df = pd.DataFrame(X, columns=names)
    gc.collect()
    m0 = mem()
    res["mem_before_load_mb"] = m0["rss"] / MB
    res["peak_reset"] = reset_peak()

    t = time.perf_counter()
    peer.load(d)
    res["load_s"] = time.perf_counter() - t
    m1 = mem()
    res["rss_mb"] = m1["rss"] / MB
    res["peak_mb"] = max(m1["hwm"], m1["rss"]) / MB
    res["child_rss_mb"] = m1["child_rss"] / MB
    res["model_file"] = peer.model_file
    mf = d / peer.model_file
    res["model_file_mb"] = mf.stat().st_size / 1e6 if mf.exists() else None

    # accuracy on the first 1,000 rows (batch path); doubles as the first warm-up
    peer.set_threads(a.threads)
    t = time.perf_counter()
    p = np.asarray(peer.predict_batch(X[: len(ref)], None if df is None else df.iloc[: len(ref)]), dtype=np.float64)
    res["first_batch_s"] = time.perf_counter() - t
    res["maxdiff"] = float(np.max(np.abs(p - ref)))
    res["threaded"] = bool(peer.threaded)
    res["per_call_threads"] = bool(getattr(peer, "per_call_threads", False))
    return dict(peer=peer, X=X, df=df, names=names, ref=ref, cfg=cfg)


def run(a, res: dict) -> None:
    """Sequential mode: this peer alone, batch (all threads, then 1) then latency."""
    c = prepare(a, res)
    peer, X, df, names, ref, cfg = (c[k] for k in ("peer", "X", "df", "names", "ref", "cfg"))

    # batch throughput: all threads, then 1 thread
    res["batch"] = {}
    thread_counts = [1] if a.threads == 1 else [a.threads, 1]
    if not peer.threaded:
        thread_counts = [1]
    for n in thread_counts:
        peer.set_threads(n)
        res["batch"][str(n)] = time_batch(peer, X, df, cfg)

    # single-row latency from a dict, 1 thread
    peer.set_threads(1)
    res["latency"] = time_latency(peer, X, names, cfg["calls"], cfg["lat_budget"], cfg["min_calls"], ref)
    m2 = mem()
    res["rss_end_mb"] = m2["rss"] / MB
    res["notes"] = peer.notes
    res["status"] = "ok"


# --------------------------------------------------------------------------- interleaved mode
class _Served:
    """The commands of ``--serve`` mode, one method each (the orchestrator, bench/run.py,
    measures all peers of a workload in rounds and sends each runner one step at a time)."""

    def __init__(self, c: dict, res: dict):
        self.peer, self.X, self.df = c["peer"], c["X"], c["df"]
        self.names, self.ref, self.cfg = c["names"], c["ref"], c["cfg"]
        self.res = res
        self.lat: list[np.ndarray] = []  # per round, ns
        self.lat_rows: list[np.ndarray] = []  # row index of each call
        self.lat_out: list[np.ndarray] = []

    def _slice(self, rows: int):
        return self.X[:rows], None if self.df is None else self.df.iloc[:rows]

    def cmd_threads(self, n: int, rep_budget: float, warmup_rows: int) -> dict:
        """Switch to n threads, warm up, and pick the rows of one repetition: all 100,000
        unless one repetition would take longer than ``rep_budget`` s (then fewer)."""
        peer = self.peer
        peer.set_threads(n)
        # the same steps as time_batch: short warm-up after a thread change, then the cost
        # per row on 2,000 rows (per-call overhead amortised)
        peer.predict_batch(*self._slice(200))
        k = min(2000, len(self.X))
        t = time.perf_counter()
        peer.predict_batch(*self._slice(k))
        est = (time.perf_counter() - t) / k * len(self.X)
        rows = len(self.X)
        if est > rep_budget:
            rows = max(2000, min(rows, int(rows * rep_budget / est)))
            # the per-call overhead inflates an estimate from 2,000 rows (W2: a 0.04 s batch
            # looks like 0.5 s): check once on the rows picked, which amortise it better
            t = time.perf_counter()
            peer.predict_batch(*self._slice(rows))
            est = (time.perf_counter() - t) / rows * len(self.X)
            rows = max(2000, min(len(self.X), int(len(self.X) * rep_budget / est)))
        if warmup_rows:
            peer.predict_batch(*self._slice(min(rows, warmup_rows)))
        return {"rows": rows, "est_s": est * rows / len(self.X)}

    def cmd_batch(self, rows: int, threads: int | None = None) -> dict:
        """One repetition on the first ``rows`` rows; ``threads``: on that many threads for this
        call only (peers with ``per_call_threads``: the paired thread-scaling repetition)."""
        Xs, dfs = self._slice(rows)
        peer = self.peer
        score = peer.predict_batch if threads is None else (lambda X, df: peer.predict_batch_threads(X, df, threads))
        t = time.perf_counter()
        score(Xs, dfs)
        return {"s": time.perf_counter() - t}

    def cmd_lat_setup(self) -> dict:
        """1 thread, 20 warm-up calls, then 20 timed ones: the estimated seconds per call (the
        first calls of a peer are slower: lazily built record paths, JIT)."""
        self.peer.set_threads(1)
        warm = [dict(zip(self.names, map(float, r))) for r in self.X[:40]]
        for d in warm[:20]:
            self.peer.predict_one(d)
        t = time.perf_counter()
        for d in warm[20:]:
            self.peer.predict_one(d)
        return {"per_call_s": (time.perf_counter() - t) / 20}

    def cmd_latency(self, start: int, calls: int, pool: bool = True) -> dict:
        """``calls`` single-row calls from dicts on rows start.. (dicts built before timing);
        ``pool``: count them in the figures of ``finish`` (False: a probe for a paired ratio)."""
        idx = np.arange(start, min(len(self.X), start + calls))
        rows = [dict(zip(self.names, map(float, r))) for r in self.X[idx]]
        lat = np.empty(len(rows), dtype=np.int64)
        out = np.empty(len(rows))
        pc = time.perf_counter_ns
        predict_one = self.peer.predict_one
        for i, d in enumerate(rows):
            t0 = pc()
            out[i] = predict_one(d)
            lat[i] = pc() - t0
        if pool:
            self.lat.append(lat)
            self.lat_rows.append(idx)
            self.lat_out.append(out)
        return {"calls": len(rows), "p50_us": float(np.percentile(lat, 50)) / 1e3, "p99_us": float(np.percentile(lat, 99)) / 1e3}

    def cmd_finish(self) -> dict:
        """Pooled latency figures (the keys of time_latency), memory at the end, notes."""
        out = {}
        if self.lat:
            lat = np.concatenate(self.lat)
            idx = np.concatenate(self.lat_rows)
            vals = np.concatenate(self.lat_out)
            inref = idx < len(self.ref)
            out["latency"] = {
                "calls": len(lat),
                "p50_us": float(np.percentile(lat, 50)) / 1e3,
                "p99_us": float(np.percentile(lat, 99)) / 1e3,
                "mean_us": float(lat.mean()) / 1e3,
                "maxdiff_single": float(np.max(np.abs(vals[inref] - self.ref[idx[inref]]))) if inref.any() else None,
            }
        out["rss_end_mb"] = mem()["rss"] / MB
        out["notes"] = self.peer.notes
        return out


def serve(a, res: dict, proto) -> None:
    """``--serve``: load as in sequential mode, report {"event": "ready", "res": ...}, then answer
    one JSON command per stdin line ({"cmd": "batch", "rows": R}, ...) with one JSON line on
    ``proto``: {"ok": true, ...} or {"ok": false, "error": ...}. Blocks on stdin between
    commands (an idle runner uses no CPU)."""

    def send(msg: dict) -> None:
        proto.write(json.dumps(msg, default=str) + "\n")
        proto.flush()

    try:
        c = prepare(a, res)
    except NotApplicable as e:
        res.update(status="n/a", reason=str(e))
        send({"event": "done", "res": res})
        return
    except BaseException as e:  # noqa: BLE001 - reported, never raised
        res.update(status="error", stage="load" if "load_s" not in res else "measure", reason=_reason(e),
                   traceback=traceback.format_exc()[-3000:])
        send({"event": "done", "res": res})
        return
    send({"event": "ready", "res": res})
    served = _Served(c, res)
    faults = _faults(a.peer)
    seen: dict[str, int] = {}
    for line in sys.stdin:
        if not line.strip():
            continue
        msg = json.loads(line)
        cmd = msg.pop("cmd")
        if cmd == "quit":
            return
        seen[cmd] = seen.get(cmd, 0) + 1
        try:
            _inject(faults.get((cmd, seen[cmd])))
            reply = getattr(served, f"cmd_{cmd}")(**msg)
            send({"ok": True, **reply})
        except BaseException as e:  # noqa: BLE001
            send({"ok": False, "error": _reason(e), "traceback": traceback.format_exc()[-3000:]})


def _faults(peer: str) -> dict:
    """Test hook (tests/bench): QS_BENCH_FAULT="peer:command:k:action;..." makes this peer's
    k-th ``command`` raise, hang or exit, to check the orchestrator's error handling."""
    out = {}
    for spec in filter(None, os.environ.get("QS_BENCH_FAULT", "").split(";")):
        p, cmd, k, action = spec.split(":")
        if p == peer:
            out[(cmd, int(k))] = action
    return out


def _inject(action: str | None) -> None:
    if action == "raise":
        raise RuntimeError("injected failure (QS_BENCH_FAULT)")
    if action == "hang":
        time.sleep(3600)
    if action == "exit":
        os._exit(3)


def _reason(e: BaseException) -> str:
    return f"{type(e).__name__}: {e}".strip().replace("\n", " ")[:400]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--peer", required=True, choices=sorted(PEERS))
    ap.add_argument("--workload", required=True)
    ap.add_argument("--cache", required=True)
    ap.add_argument("--out", help="result JSON (sequential mode; required without --serve)")
    ap.add_argument("--mode", default="full", choices=sorted(MODES))
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--serve", action="store_true",
                    help="interleaved mode: load, then take commands on stdin (bench/run.py drives it)")
    a = ap.parse_args()
    warnings.simplefilter("ignore")
    res: dict = {"peer": a.peer, "workload": a.workload}
    if a.serve:
        # the protocol gets the original stdout; whatever the libraries print (a JVM, ...) goes
        # to stderr instead, so it cannot break a reply line
        proto = os.fdopen(os.dup(1), "w")
        os.dup2(2, 1)
        try:
            serve(a, res, proto)
        except BaseException:  # noqa: BLE001 - a broken protocol: the orchestrator sees EOF
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            os._exit(0)  # don't wait for JVM / gateway shutdown hooks
    if not a.out:
        ap.error("--out is required without --serve")
    stage = lambda: "load" if "load_s" not in res else "measure"  # noqa: E731
    try:
        run(a, res)
    except NotApplicable as e:
        res.update(status="n/a", reason=str(e))
    except BaseException as e:  # noqa: BLE001 - every failure is reported, never raised
        # keep whatever was measured before the failure
        res.update(
            status="error",
            stage=stage(),
            reason=_reason(e),
            traceback=traceback.format_exc()[-3000:],
        )
    Path(a.out).write_text(json.dumps(res, indent=1, default=str))
    sys.stdout.flush()
    os._exit(0)  # don't wait for JVM / gateway shutdown hooks


if __name__ == "__main__":
    main()
