#!/usr/bin/env python
"""quickscore benchmark suite: build the workloads, measure every peer, print a table.

    python bench/run.py                 # full run (cold cache: builds data, models, PMML, ONNX, compiled libs)
    python bench/run.py --quick         # < 5 min with a warm cache (fewer reps / calls for slow peers)
    python bench/run.py --peers quickscore,native --workloads W1,W3   # subset; merged into today's results

Each (peer, workload) is measured in its own subprocess (bench/peer_runner.py) so memory
figures are isolated; a peer that fails to install, load or run is reported as such in the
table and never stops the suite. Results: bench/results/<date>[-quick].json and .md (--out).

Default method: interleaved, paired rounds. The runners of one workload are loaded one at a
time, stay loaded, and are measured in rounds (one repetition each, rotating order); the qs×
ratios are medians of per-round ratios (see measure_interleaved, bench/README.md).
--sequential measures one peer after another, each alone (the method before).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results"
# lleaves 1.3.0 breaks with llvmlite 0.50 (which numba 0.68 needs): own venv (PITFALLS.md)
LLEAVES_REQS = ["lleaves==1.3.0", "llvmlite==0.43.0", "numpy", "psutil"]

sys.path.insert(0, str(BENCH))
import affinity  # noqa: E402
from peers import PEERS  # noqa: E402
from workloads import CACHE, WORKLOADS  # noqa: E402

LLEAVES_VENV = CACHE / "venv-lleaves"

PEER_ORDER = [
    "quickscore",
    "quickscore-native",
    "quickscore-qsm",
    "native",
    "onnxruntime",
    "tl2cgen",
    "lleaves",
    "jpmml",
    "pypmml",
    "sklearn-pmml-model",
]
# Left out of --quick unless named in --peers: loading the 90 MB PMML alone takes 30-40 s.
QUICK_SKIP = {("sklearn-pmml-model", "W1"): "skipped in --quick (loading the 90 MB PMML takes 30–40 s)"}
QUICK_BUDGET_S = 285.0
# --quick, interleaved: each workload's rounds stop (after at least one per phase) once its
# share of the budget is used, so that a slow W1 does not leave W2-W4 unmeasured: shares in
# proportion to the workloads' wall times in the sequential full run of 2026-11-24
# (W1 854 s, W2 164 s, W3 623 s, W4 430 s).
QUICK_SHARE = {"W1": 0.41, "W2": 0.08, "W3": 0.30, "W4": 0.21}

PEER_LABEL = {
    "native": "training lib",
    "quickscore": "quickscore (PMML)",
    "quickscore-native": "quickscore (native)",
    "jpmml": "JPMML-Evaluator",
    "pypmml": "PyPMML",
    "sklearn-pmml-model": "sklearn-pmml-model",
    "onnxruntime": "ONNX Runtime",
    "tl2cgen": "treelite+tl2cgen",
    "lleaves": "lleaves",
}


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def _run(cmd, timeout, env=None, cwd=ROOT, capture=True):
    """Run cmd in its own process group; kill the whole group on timeout or when done."""
    p = subprocess.Popen(
        cmd,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE if capture else None,
        stderr=subprocess.STDOUT if capture else None,
        text=True,
        start_new_session=True,
    )
    try:
        out, _ = p.communicate(timeout=timeout)
        rc = p.returncode
    except subprocess.TimeoutExpired:
        _killgroup(p.pid)
        out, _ = p.communicate()
        rc = None
    _killgroup(p.pid)  # leftovers, e.g. a Java gateway the peer started
    return rc, out or ""


def _killgroup(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


# --------------------------------------------------------------------------- preparation
def build_workloads(workloads: list[str], timeout: float) -> None:
    t = time.perf_counter()
    rc, out = _run([sys.executable, str(BENCH / "workloads.py"), *workloads], timeout, capture=False)
    if rc != 0:
        raise SystemExit(f"building the workloads failed (rc={rc}); see the output above")
    log(f"workloads ready ({time.perf_counter() - t:.1f}s)")


def _manifest() -> dict:
    try:
        return json.loads((CACHE / "manifest.json").read_text())
    except Exception:  # noqa: BLE001
        return {"artifacts": {}}


def _manifest_update(key: str, value: dict) -> None:
    m = _manifest()
    m.setdefault("artifacts", {})[key] = value
    tmp = CACHE / "manifest.json.tmp"
    tmp.write_text(json.dumps(m, indent=2, sort_keys=True))
    os.replace(tmp, CACHE / "manifest.json")


def prepare_tl2cgen(workloads, allow_compile_w1: bool, timeout: float) -> dict:
    """Compile missing tl2cgen libraries. Returns {workload: reason} for those not available."""
    missing = {}
    for w in workloads:
        if w not in PEERS["tl2cgen"].workloads:
            continue
        so = CACHE / WORKLOADS[w]["dir"] / "tl2cgen.so"
        if so.exists():
            continue
        if w == "W1" and not allow_compile_w1:
            missing[w] = "skipped in --quick: tl2cgen.so for the 90 MB forest not cached (run once without --quick)"
            continue
        log(f"tl2cgen: compiling {w} (W1 takes ~8 min on 2 cores) ...")
        rc, out = _run([sys.executable, str(BENCH / "workloads.py"), "--compile-tl2cgen", w], timeout)
        (CACHE / f"tl2cgen-{w}.log").write_text(out)
        if rc == 0 and so.exists():
            secs = json.loads(out.strip().splitlines()[-1])["seconds"]
            _manifest_update(f"{w}.tl2cgen", {"seconds": round(secs, 1)})
            log(f"tl2cgen: {w} compiled in {secs:.0f}s")
        else:
            missing[w] = f"compile failed (rc={rc}): " + (out.strip().splitlines() or ["?"])[-1][:200]
            log(f"tl2cgen: {w} {missing[w]}")
    return missing


def compile_bytecode(timeout: float) -> None:
    """Write quickscore's bytecode (``__pycache__``), as ``pip install`` does for a wheel. An
    editable install under PYTHONDONTWRITEBYTECODE=1 (set on some machines) would otherwise
    compile every module from source in every peer process, and the modules a load imports
    lazily (~0.05–0.1 s of compiling) would count as load time."""
    import quickscore

    rc, out = _run([sys.executable, "-m", "compileall", "-q", str(Path(quickscore.__file__).parent)], timeout)
    if rc != 0:
        log(f"compileall failed (rc={rc}): " + (out.strip().splitlines() or ["?"])[-1][:200])


def prepare_qsm(workloads, timeout: float) -> dict:
    """``quickscore compile`` each workload's PMML to model.qsm (every run: a .qsm records the
    format version and the source's checksum, so a stale file would be refused). Returns
    {workload: reason} for those that failed."""
    failed = {}
    for w in workloads:
        d = CACHE / WORKLOADS[w]["dir"]
        t = time.perf_counter()
        rc, out = _run([sys.executable, "-m", "quickscore", "compile", str(d / "model.pmml"), "-o", str(d / "model.qsm")], timeout)
        if rc == 0:
            log(f"quickscore compile: {w} in {time.perf_counter() - t:.1f}s")
        else:
            failed[w] = f"quickscore compile failed (rc={rc}): " + (out.strip().splitlines() or ["?"])[-1][:200]
            log(f"quickscore compile: {w} {failed[w]}")
    return failed


def lleaves_python() -> Path:
    return LLEAVES_VENV / "bin" / "python"


def prepare_lleaves(timeout: float) -> str | None:
    """Create bench/.cache/venv-lleaves and compile W3 with it. Returns a reason if unavailable."""
    marker = LLEAVES_VENV / ".ok"
    py = lleaves_python()
    if not marker.exists():
        log("lleaves: creating bench/.cache/venv-lleaves (llvmlite 0.43) ...")
        shutil.rmtree(LLEAVES_VENV, ignore_errors=True)
        rc, out = _run([sys.executable, "-m", "venv", str(LLEAVES_VENV)], timeout)
        if rc != 0:
            return f"venv creation failed: {out.strip()[-200:]}"
        rc, out = _run([str(py), "-m", "pip", "install", "-q", *LLEAVES_REQS], timeout)
        (CACHE / "venv-lleaves.log").write_text(out)
        if rc != 0:
            return f"pip install {' '.join(LLEAVES_REQS)} failed: {out.strip()[-300:]}"
        marker.write_text(" ".join(LLEAVES_REQS))
    so = CACHE / WORKLOADS["W3"]["dir"] / "lleaves.so"
    if not so.exists():
        from workloads import LLEAVES_COMPILE

        log("lleaves: compiling W3 ...")
        txt = CACHE / WORKLOADS["W3"]["dir"] / "model.txt"
        tmp = so.with_name("lleaves.part.so")
        rc, out = _run([str(py), "-c", LLEAVES_COMPILE, str(txt), str(tmp)], timeout)
        if rc != 0 or not tmp.exists():
            return f"lleaves compile failed (rc={rc}): {out.strip()[-300:]}"
        os.replace(tmp, so)
        secs = float(out.strip().splitlines()[-1])
        _manifest_update("W3.lleaves", {"seconds": round(secs, 1)})
        log(f"lleaves: W3 compiled in {secs:.0f}s")
    return None


# --------------------------------------------------------------------------- measuring
def measure(peer: str, w: str, mode: str, threads: int, timeout: float) -> dict:
    out = CACHE / "runs" / f"{peer}-{w}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.unlink(missing_ok=True)
    env = dict(os.environ)
    for v in ("OMP_NUM_THREADS", "NUMBA_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[v] = str(threads)  # the runner lowers it per library for the 1-thread figures
    env.pop("JAVA_TOOL_OPTIONS", None)
    py = str(lleaves_python()) if peer == "lleaves" else sys.executable
    cmd = [
        py,
        str(BENCH / "peer_runner.py"),
        "--peer", peer,
        "--workload", w,
        "--cache", str(CACHE),
        "--out", str(out),
        "--mode", mode,
        "--threads", str(threads),
    ]  # fmt: skip
    t = time.perf_counter()
    rc, text = _run(cmd, timeout, env=env)
    wall = time.perf_counter() - t
    if out.exists():
        res = json.loads(out.read_text())
    else:
        tail = " ".join(text.strip().splitlines()[-3:])[-300:]
        reason = f"timed out after {timeout:.0f}s" if rc is None else f"runner died (rc={rc}): {tail}"
        res = {"peer": peer, "workload": w, "status": "error", "reason": reason}
    res["wall_s"] = round(wall, 1)
    return res


# --------------------------------------------------------------------------- interleaved, paired measuring
# Why: the machine is shared and bimodal (the same kernel flips between two speeds from one
# second to the next), so peers measured one after another in a "slow" and a "fast" minute
# give ratios off by up to 1.8x. How: every peer of a workload is loaded in its own runner
# process (one at a time, so load time and memory stay isolated), then all of them are
# measured in ROUNDS: each round every peer does one batch repetition (then, in the latency
# rounds, a slice of single-row calls), in an order that rotates from round to round. A
# ratio is the median of the per-round ratios (quickscore's repetition in round r against
# the peer's in round r), which cancels the machine's state when it changes slower than a
# round. With adjacent_ref, quickscore also does one extra repetition (latency slice) right
# before (even rounds) or after (odd rounds) every other peer's, and the peer's ratio in round r
# uses that one: the two measurements are then ~1-4 s apart instead of up to a whole round
# (~12 s on W1), as the machine can flip within a round. The extra ones are not counted in
# quickscore's own figures.
ROUNDS = {
    # full: 9 rounds per thread count; one repetition takes <= ~2 s (slow peers score fewer
    # rows); after each thread change an untimed warm-up on <= 10k rows. Latency: 10 rounds
    # of 1,000 calls (rows 0-9,999, as the sequential mode's 10k calls); a peer whose 1,000
    # calls would take > 3 s makes fewer per round (at least 200).
    "full": dict(batch_rounds=9, rep_budget=2.0, warmup_rows=10_000, lat_rounds=10,
                 calls_per_round=1_000, lat_round_budget=3.0, min_calls_per_round=200,
                 cmd_timeout=300.0, adjacent_ref=True, probe_budget=0.5),
    # quick: 3 rounds, a repetition <= 0.5 s; 5 latency rounds of <= 2,000 calls or ~0.2 s
    # (at least 20 calls), i.e. ~1 s of calls per peer as before.
    "quick": dict(batch_rounds=3, rep_budget=0.5, warmup_rows=0, lat_rounds=5,
                  calls_per_round=2_000, lat_round_budget=0.2, min_calls_per_round=20,
                  cmd_timeout=60.0, adjacent_ref=True, probe_budget=0.25),
}
#: the ratios' reference peer
REF_PEER = "quickscore"
#: Thread scaling, paired: in each all-threads batch round these peers (when their engine takes
#: a thread count per call, ``Model.predict(n_threads=)``) also time one 1-thread repetition
#: on the same rows right before (even rounds) or after (odd rounds) their all-threads one; the
#: scaling is the median of the per-round ratios (thread_scaling), as the qs× columns are.
SCALING_PEERS = ("quickscore", "quickscore-qsm")
#: issue 3's single-row latency targets for quickscore (p50, µs; absolute)
P50_TARGET_US = {"W1": 30.0, "W2": 4.0, "W3": 20.0, "W4": 20.0}


class RunnerFailed(Exception):
    """The runner process timed out, died, or answered a command with an error."""


class _Runner:
    """One peer_runner.py --serve process: JSON commands on its stdin, JSON replies on its
    stdout (read by a thread into a queue, so every wait has a timeout); its stderr (and
    whatever the libraries print) goes to bench/.cache/runs/<peer>-<workload>.log."""

    def __init__(self, peer: str, w: str, mode: str, threads: int):
        self.peer = peer
        runs = CACHE / "runs"
        runs.mkdir(parents=True, exist_ok=True)
        self.log_path = runs / f"{peer}-{w}.log"
        self.logf = open(self.log_path, "w")
        py = str(lleaves_python()) if peer == "lleaves" else sys.executable
        cmd = [
            py, str(BENCH / "peer_runner.py"), "--peer", peer, "--workload", w,
            "--cache", str(CACHE), "--mode", mode, "--threads", str(threads), "--serve",
        ]  # fmt: skip
        self.t_start = time.perf_counter()
        self.busy_s = 0.0
        self.p = subprocess.Popen(
            cmd, cwd=ROOT, env=_runner_env(threads), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=self.logf, text=True, bufsize=1, start_new_session=True,
        )  # fmt: skip
        self.q: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.p.stdout:
            self.q.put(line)
        self.q.put(None)

    def _tail(self) -> str:
        try:
            self.logf.flush()
            return " ".join(self.log_path.read_text(errors="replace").strip().splitlines()[-3:])[-300:]
        except OSError:
            return ""

    def _recv(self, timeout: float, what: str) -> dict:
        end = time.monotonic() + timeout
        while True:
            try:
                line = self.q.get(timeout=max(0.0, end - time.monotonic()))
            except queue.Empty:
                self.close(kill=True)
                raise RunnerFailed(f"timed out after {timeout:.0f}s ({what})") from None
            if line is None:
                rc = self.p.wait()
                self.close(kill=True)
                raise RunnerFailed(f"runner died (rc={rc}) during {what}: {self._tail()}")
            try:
                return json.loads(line)
            except ValueError:
                continue  # not a protocol line

    def wait_ready(self, timeout: float) -> dict:
        msg = self._recv(timeout, "load")
        self.load_wall_s = time.perf_counter() - self.t_start
        return msg

    def call(self, timeout: float, cmd: str, **kw) -> dict:
        t = time.perf_counter()
        try:
            self.p.stdin.write(json.dumps({"cmd": cmd, **kw}) + "\n")
            self.p.stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            msg = self._recv(5.0, cmd)  # usually: EOF -> "runner died"
        else:
            msg = self._recv(timeout, cmd)
        self.busy_s += time.perf_counter() - t
        if not msg.get("ok"):
            raise RunnerFailed(msg.get("error", "?"))
        return msg

    def close(self, kill: bool = False) -> None:
        if self.p.poll() is None and not kill:
            try:
                self.p.stdin.write('{"cmd": "quit"}\n')
                self.p.stdin.flush()
                self.p.wait(timeout=10)
            except Exception:  # noqa: BLE001
                pass
        _killgroup(self.p.pid)  # leftovers, e.g. a Java gateway the peer started
        try:
            self.p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        if not self.logf.closed:
            self.logf.close()


def _runner_env(threads: int) -> dict:
    env = dict(os.environ)
    for v in ("OMP_NUM_THREADS", "NUMBA_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[v] = str(threads)  # the runner lowers it per library for the 1-thread figures
    env.pop("JAVA_TOOL_OPTIONS", None)
    return env


_TICK = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()  # from field 3 (state) on
    except OSError:
        return None


def _group_pids(pgids: list[int]) -> dict[int, list[int]]:
    """The processes of each process group (a runner and e.g. PyPMML's Java gateway)."""
    out: dict[int, list[int]] = {g: [] for g in pgids}
    for d in os.listdir("/proc"):
        if d.isdigit() and (f := _stat_fields(d)) and int(f[2]) in out:  # field 5: pgrp
            out[int(f[2])].append(int(d))
    return out


def _cpu_s(pids: list[int]) -> float:
    """CPU seconds (user + system, all threads) of these processes."""
    tot = 0
    for pid in pids:
        if f := _stat_fields(pid):
            tot += int(f[11]) + int(f[12])  # utime, stime
    return tot / _TICK


def _machine_busy_s() -> float:
    """CPU seconds the whole machine spent busy (all cores), from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (sum(v[:8]) - v[3] - v[4]) / _TICK  # all but idle, iowait (guest is within user)


def _batch_summary(times: list[float], rows: int) -> dict:
    """The keys of peer_runner.time_batch, from the per-round repetition times."""
    import statistics

    med = statistics.median(times)
    return {"rows_per_s": rows / med, "rows": rows, "reps": len(times), "median_s": med,
            "min_s": min(times), "max_s": max(times)}  # fmt: skip


def _ratio_summary(per_round: list) -> dict | None:
    import statistics

    vals = [v for v in per_round if v is not None]
    if not vals:
        return None
    return {"median": statistics.median(vals), "min": min(vals), "max": max(vals), "rounds": len(vals),
            "per_round": per_round}  # fmt: skip


def paired_ratios(res: dict, ref: dict, phases: list[str]) -> dict:
    """quickscore's advantage over ``res``'s peer, round by round: ref rows/s ÷ peer rows/s in
    the same round (per thread count) and peer p50 ÷ ref p50; median, min, max over rounds."""
    out = {}
    for n in phases:
        # quickscore's repetition right next to this peer's when there is one (adjacent_ref),
        # else its own repetition of the same round
        a = (res.get("qs_adjacent_reps") or {}).get(n) or (ref.get("paired_reps") or {}).get(n) or []
        b = (res.get("paired_reps") or {}).get(n) or []
        s = _ratio_summary([x / y if x and y else None for x, y in zip(a, b)])
        if s:
            out[n] = s
    lat = res.get("latency") or {}
    a = lat.get("qs_adjacent_p50_us") or (ref.get("latency") or {}).get("round_p50_us") or []
    b = lat.get("round_p50_us") or []
    s = _ratio_summary([y / x if x and y else None for x, y in zip(a, b)])
    if s:
        out["p50"] = s
    return out


def thread_scaling(res: dict, threads: int) -> dict | None:
    """All threads ÷ 1 thread (rows/s) of one result. Paired: ``pairs`` holds, round by round,
    the all-threads repetition (``paired_reps``) and the 1-thread one timed right next to it on
    the same rows (``scaling.one_thread_reps``), and ``median``/``min``/``max`` summarise their
    per-round ratios (``per_round``; a round missing either has none). ``unpaired``: the ratio
    of the two phases' medians (``batch``), measured minutes apart, as the table's rows/s."""
    nt = str(threads)
    many = (res.get("paired_reps") or {}).get(nt) or []
    one = (res.get("scaling") or {}).get("one_thread_reps") or []
    out: dict = {}
    if one and threads > 1:
        pairs = [[a, b] if a and b else None for a, b in zip(many, one)]
        out["pairs"] = pairs
        out.update(_ratio_summary([p[0] / p[1] if p else None for p in pairs]) or {})
    r1, rn = rate(res, 1), rate(res, threads)
    if r1 and rn and threads > 1:
        out["unpaired"] = rn / r1
    return out or None


def measure_interleaved(w: str, plist: list[str], mode: str, threads: int, timeout: float,
                        budget_left=lambda: True, round_timeout: float | None = None,
                        rounds_left=None) -> list[dict]:  # fmt: skip
    """Measure the peers ``plist`` of workload ``w`` in rounds (see ROUNDS). Returns one result
    dict per peer (the keys of the sequential mode, plus paired_reps / qs_ratio / round
    figures). ``budget_left()`` False stops starting runners, ``rounds_left()`` (default:
    budget_left) False stops starting rounds after the first of each phase (--quick)."""
    rounds_left = rounds_left or budget_left
    cfg = ROUNDS[mode]
    cmd_timeout = round_timeout or cfg["cmd_timeout"]
    results: dict[str, dict] = {}
    live: dict[str, _Runner] = {}  # loaded and still measuring
    runners: dict[str, _Runner] = {}

    def fail(p: str, e: Exception, stage: str) -> None:
        live.pop(p).close(kill=True)
        r = results[p]
        r.update(status="error", stage=stage, reason=str(e))
        log(f"{w} {p}: error during {stage}: {e}")

    # ---- load: one runner at a time (the loaded ones wait, idle, on their stdin)
    for p in plist:
        if not budget_left():
            results[p] = {"peer": p, "workload": w, "status": "error",
                          "reason": f"skipped: --quick time budget ({QUICK_BUDGET_S:.0f}s) used up"}  # fmt: skip
            log(f"{w} {p}: not run: {results[p]['reason']}")
            continue
        log(f"{w} {p}: loading ...")
        runner = runners[p] = _Runner(p, w, mode, threads)
        try:
            msg = runner.wait_ready(timeout)
        except RunnerFailed as e:
            results[p] = {"peer": p, "workload": w, "status": "error", "reason": str(e),
                          "wall_s": round(time.perf_counter() - runner.t_start, 1)}  # fmt: skip
            log(f"{w} {p}: {e}")
            continue
        res = results[p] = msg["res"]
        if msg.get("event") != "ready":  # n/a, or failed to load
            runner.close()
            res["wall_s"] = round(runner.load_wall_s, 1)
            log(f"{w} {p}: {res.get('status')}: {res.get('reason')}")
            continue
        live[p] = runner
        log(f"{w} {p}: loaded in {res['load_s']:.2f}s (RSS {res['rss_mb']:.0f} MB, max|Δp| {_fmt_diff(res.get('maxdiff'))})")

    # ---- idle check: a loaded runner must not burn CPU while the others are measured
    gp = _group_pids([r.p.pid for r in live.values()])
    pids = {p: gp[r.p.pid] for p, r in live.items()}
    c0, t = {p: _cpu_s(v) for p, v in pids.items()}, time.perf_counter()
    time.sleep(1.0)
    dt_ = time.perf_counter() - t
    for p, v in pids.items():
        results[p]["idle_cpu_pct"] = round(100 * (_cpu_s(v) - c0[p]) / dt_, 1)
        if results[p]["idle_cpu_pct"] > 5:
            log(f"{w} {p}: {results[p]['idle_cpu_pct']}% CPU while idle")
    for p in pids:
        results[p]["cpu_while_others_measured_s"] = 0.0
        results[p]["others_measured_s"] = 0.0

    def measured(p: str, cmd: str, **kw) -> tuple[dict, dict]:
        """One command of p's runner, with the CPU it and the whole machine used meanwhile
        (cores busy on average), and the CPU every other live runner used meanwhile (an idle
        runner must stay at ~0: spinning thread pools would slow the measured one down)."""
        others = [q for q in live if q != p]
        o0 = {q: _cpu_s(pids[q]) for q in others}
        own0, m0, t = _cpu_s(pids[p]), _machine_busy_s(), time.perf_counter()
        msg = live[p].call(cmd_timeout, cmd, **kw)
        dt_, own, mach = time.perf_counter() - t, _cpu_s(pids[p]) - own0, _machine_busy_s() - m0
        for q in others:
            if q in live:
                results[q]["cpu_while_others_measured_s"] += _cpu_s(pids[q]) - o0[q]
                results[q]["others_measured_s"] += dt_
        return msg, {"own_cores": own / dt_, "machine_cores": mach / dt_}

    order = list(live)  # PEER_ORDER; rotated by one peer each round
    t_rounds = time.perf_counter()

    def rotation(r: int) -> list[str]:
        ps = [p for p in order if p in live]
        k = r % len(ps) if ps else 0
        return ps[k:] + ps[:k]

    def ref_probe(p: str, r: int, cmd: str, **kw) -> None:
        """One extra repetition (or latency slice) of quickscore right next to p's, so that
        p's ratio in round r compares two measurements at most a few seconds apart (a round
        of W1 takes ~12 s; the machine can flip within one)."""
        if REF_PEER not in live:
            return
        try:
            m, _ = measured(REF_PEER, cmd, **kw)
        except RunnerFailed as e:
            fail(REF_PEER, e, f"measure (round {r + 1}, next to {p})")
            return
        if cmd == "batch":
            results[p].setdefault("qs_adjacent_reps", {}).setdefault(n, [None] * cfg["batch_rounds"])[r] = kw["rows"] / m["s"]
        else:
            results[p]["latency"].setdefault("qs_adjacent_p50_us", [None] * cfg["lat_rounds"])[r] = m["p50_us"]

    def run_rounds(n_rounds: int, cmd: str, phase: str, probing: bool, args, probe_args, record,
                   companion: dict | None = None) -> int:  # fmt: skip
        """The rounds of one phase (the batch rounds of a thread count, or the latency rounds):
        in round r every live peer, in ``rotation(r)``, runs ``cmd`` with ``args(p, r)`` and
        ``record(p, r, m, cpu)`` keeps its figures; with ``probing`` (quickscore is measured in
        this phase) and ``adjacent_ref``, every other peer's command has quickscore's extra one
        (``probe_args(r)``) right before it in even rounds, after it in odd ones (ref_probe).
        ``companion[p](r)``: one more command of p's, outside the probe (first in even rounds,
        last in odd ones): the paired 1-thread repetition of the all-threads rounds. A
        runner that fails is dropped with stage "measure (<phase> round <r + 1>)". Returns the
        rounds done (``rounds_left()`` False stops after the first)."""
        done = 0
        for r in range(n_rounds):
            if r and not rounds_left():
                break
            for p in rotation(r):
                if p not in live:
                    continue
                probe = cfg["adjacent_ref"] and p != REF_PEER and probing
                extra = (companion or {}).get(p)
                if extra and r % 2 == 0:
                    extra(r)
                    if p not in live:
                        continue
                if probe and r % 2 == 0:
                    ref_probe(p, r, cmd, **probe_args(r))
                try:
                    m, cpu = measured(p, cmd, **args(p, r))
                except RunnerFailed as e:
                    fail(p, e, f"measure ({phase} round {r + 1})")
                    continue
                if probe and r % 2 == 1:
                    ref_probe(p, r, cmd, **probe_args(r))
                if extra and r % 2 == 1:
                    extra(r)
                record(p, r, m, cpu)
            done += 1
        return done

    def pin_runners(phase: str) -> None:
        """Every thread of every live runner's processes on one CPU for a 1-thread phase (the
        same CPU for all; a JVM's GC and JIT threads then share its core: bench/affinity.py),
        on every CPU for the all-threads phase. Threads started later inherit it."""
        cpus = affinity.one_cpu() if phase in ("1", "latency") else affinity.cpus()
        groups = _group_pids([r.p.pid for r in live.values()])
        for p, runner in live.items():
            n_set = affinity.pin(groups.get(runner.p.pid, [runner.p.pid]), cpus)
            results[p].setdefault("cpu_affinity", {})[phase] = {"cpus": sorted(cpus), "threads_set": n_set}

    # ---- batch rounds: all threads, then 1 thread
    phases = [str(threads), "1"] if threads > 1 else ["1"]
    rounds_done = {}
    for n in phases:
        pin_runners(n)
        rows, times = {}, {}
        probe_rows = 0  # set with quickscore's warm-up below (probes need it in `rows`)
        for p in list(live):
            # a single-threaded engine takes part in the all-threads rounds with its one thread
            # (quickscore's all-threads figure is compared with it, as in the table)
            nt = int(n) if results[p].get("threaded") else 1
            try:
                m = live[p].call(cmd_timeout, "threads", n=nt, rep_budget=cfg["rep_budget"],
                                 warmup_rows=cfg["warmup_rows"])  # fmt: skip
            except RunnerFailed as e:
                fail(p, e, f"measure ({n}T warm-up)")
                continue
            rows[p] = m["rows"]
            if p == REF_PEER:
                # quickscore's extra repetitions next to the others: at most ~probe_budget s each
                # (W3: 100k rows take ~1.3 s, times 9 peers, 9 rounds); >= 10k rows keep the
                # per-call overhead negligible, and the ratios are in rows/s
                cap = cfg["probe_budget"] / max(m["est_s"], 1e-9)
                probe_rows = rows[p] if cap >= 1 else max(min(rows[p], 10_000), int(rows[p] * cap))
                results[p].setdefault("probe_rows", {})[n] = probe_rows
            times[p] = []
            results[p].setdefault("paired_reps", {})[n] = [None] * cfg["batch_rounds"]
        def record_batch(p: str, r: int, m: dict, cpu: dict) -> None:
            times[p].append(m["s"])
            results[p]["paired_reps"][n][r] = rows[p] / m["s"]
            results[p].setdefault("rep_cpu", {}).setdefault(n, [None] * cfg["batch_rounds"])[r] = {
                k: round(v, 2) for k, v in cpu.items()}  # fmt: skip

        # the paired thread scaling: a 1-thread repetition next to each all-threads one
        pair_peers = [p for p in SCALING_PEERS if n != "1" and p in rows and results[p].get("per_call_threads")]
        for p in pair_peers:
            results[p]["scaling"] = {"threads": int(n), "rows": rows[p], "one_thread_reps": [None] * cfg["batch_rounds"],
                                     "first": [None] * cfg["batch_rounds"], "rep_cpu_1T": [None] * cfg["batch_rounds"]}  # fmt: skip

        def one_thread_rep(p: str, r: int, n: str = n, rows: dict = rows) -> None:
            try:
                m, cpu = measured(p, "batch", rows=rows[p], threads=1)
            except RunnerFailed as e:
                fail(p, e, f"measure ({n}T round {r + 1}, paired 1-thread repetition)")
                return
            sc = results[p]["scaling"]
            sc["one_thread_reps"][r] = rows[p] / m["s"]
            sc["first"][r] = "1T" if r % 2 == 0 else f"{n}T"
            sc["rep_cpu_1T"][r] = {k: round(v, 2) for k, v in cpu.items()}

        rounds_done[n] = run_rounds(cfg["batch_rounds"], "batch", f"{n}T", REF_PEER in rows,
                                    lambda p, r: {"rows": rows[p]}, lambda r: {"rows": probe_rows}, record_batch,
                                    {p: (lambda r, p=p: one_thread_rep(p, r)) for p in pair_peers})  # fmt: skip
        for p, ts in times.items():
            if ts and (results[p].get("threaded") or n == "1"):
                results[p].setdefault("batch", {})[n] = _batch_summary(ts, rows[p])

    # ---- latency rounds: 1 thread, a slice of single-row calls per peer per round
    pin_runners("latency")
    calls = {}
    for p in list(live):
        try:
            per = live[p].call(cmd_timeout, "lat_setup")["per_call_s"]
        except RunnerFailed as e:
            fail(p, e, "measure (latency warm-up)")
            continue
        k = cfg["calls_per_round"]
        if per * k > cfg["lat_round_budget"]:
            k = max(cfg["min_calls_per_round"], int(cfg["lat_round_budget"] / per))
        calls[p] = k
        results[p]["latency"] = {"round_p50_us": [None] * cfg["lat_rounds"], "round_p99_us": [None] * cfg["lat_rounds"],
                                 "calls_per_round": k}  # fmt: skip
    def record_latency(p: str, r: int, m: dict, cpu: dict) -> None:
        results[p]["latency"]["round_p50_us"][r] = m["p50_us"]
        results[p]["latency"]["round_p99_us"][r] = m["p99_us"]

    # round r's slice starts at call r * calls_per_round, for every peer and quickscore's probe;
    # the probe's calls are not pooled into quickscore's p50/p99 (its own slice is)
    done = rounds_done["latency"] = run_rounds(
        cfg["lat_rounds"], "latency", "latency", REF_PEER in calls,
        lambda p, r: {"start": r * cfg["calls_per_round"], "calls": calls[p]},
        lambda r: {"start": r * cfg["calls_per_round"], "calls": calls[REF_PEER], "pool": False}, record_latency)  # fmt: skip

    # ---- pooled figures, end memory; close the runners
    for p in list(live):
        try:
            m = live[p].call(cmd_timeout, "finish")
        except RunnerFailed as e:
            fail(p, e, "measure (finish)")
            continue
        lat = results[p].setdefault("latency", {})
        lat.update(m.get("latency") or {})
        lat["rounds"] = done
        results[p].update(rss_end_mb=m["rss_end_mb"], notes=m["notes"], status="ok")
    for p, runner in list(live.items()):
        runner.close()
    wall = time.perf_counter() - t_rounds
    for p in plist:
        r = results[p]
        r["method"] = "interleaved"
        r["rounds_done"] = rounds_done
        if "wall_s" not in r and p in runners:  # its load + its own commands
            r["wall_s"] = round(getattr(runners[p], "load_wall_s", 0.0) + runners[p].busy_s, 1)
    for p in plist:
        if results[p].get("scaling"):
            results[p]["scaling"].update(thread_scaling(results[p], threads) or {})
    ref = results.get(REF_PEER)
    if ref and ref.get("status") == "ok":
        for p in plist:
            q = paired_ratios(results[p], ref, phases)
            if q:
                results[p]["qs_ratio"] = q
    log(f"{w}: rounds done {rounds_done} in {wall:.0f}s (all peers)")
    return [results[p] for p in plist]


# --------------------------------------------------------------------------- reporting
def _fmt_rate(v):
    if v is None:
        return "—"
    if v >= 1e6:
        return f"{v / 1e6:.2f}M"
    if v >= 1e4:
        return f"{v / 1e3:.0f}k"
    if v >= 1e3:
        return f"{v / 1e3:.1f}k"
    return f"{v:.0f}"


def _fmt_us(v):
    """Microseconds, as 'NN µs' / 'N.N ms'."""
    if v is None:
        return "—"
    if v >= 1e4:
        return f"{v / 1e3:.0f} ms"
    if v >= 1e3:
        return f"{v / 1e3:.1f} ms"
    return f"{v:.1f} µs" if v < 100 else f"{v:.0f} µs"


def _fmt_diff(v):
    if v is None:
        return "—"
    if v == 0:
        return "0"
    return f"{v:.1e}"


def _ratio(a, b):
    if not a or not b:
        return "—"
    r = a / b
    if r >= 10:
        return f"{r:.0f}×"
    return f"{r:.2f}×" if r >= 0.1 else f"{r:.2g}×"


def rate(r, n):
    b = (r.get("batch") or {}).get(str(n))
    return b["rows_per_s"] if b else None


def table(results: list[dict], threads: int) -> str:
    lines = []
    nt = str(threads)
    by = {(r["workload"], r["peer"]): r for r in results}
    for w, wd in WORKLOADS.items():
        rows = [by[(w, p)] for p in PEER_ORDER if (w, p) in by]
        rows = [r for r in rows if r.get("status") != "n/a"]
        if not rows:
            continue
        size = next((r.get("model_file_mb") for r in rows if r.get("model_file") == "model.pmml" and r.get("model_file_mb")), None)
        lines.append("")
        lines.append(f"## {w}: {wd['title']}" + (f" — PMML {size:.1f} MB" if size else ""))
        lines.append("")
        qs = by.get((w, "quickscore"))
        qs = qs if qs and qs.get("status") == "ok" else None
        hdr = [
            "peer", "load s", "RSS MB", "peak MB", "rows/s 1T", f"rows/s {nt}T", "p50", "p99",
            "max|Δp|", "qs× 1T", f"qs× {nt}T", "qs× p50", "notes",
        ]  # fmt: skip
        lines.append("| " + " | ".join(hdr) + " |")
        lines.append("|" + "|".join(["---"] + ["---:"] * (len(hdr) - 2) + ["---"]) + "|")
        for r in rows:
            label = PEER_LABEL.get(r["peer"], r["peer"])
            if r.get("status") != "ok" and "load_s" not in r:
                word = "not available" if r["peer"].startswith("quickscore") else "failed"
                if str(r.get("reason", "")).startswith("skipped"):
                    word = "not run"
                cells = [label] + ["—"] * (len(hdr) - 2) + [f"{word}: {r.get('reason', '?')}"]
                lines.append("| " + " | ".join(cells) + " |")
                continue
            notes = list(r.get("notes") or [])
            for n in (nt, "1"):
                b = (r.get("batch") or {}).get(n)
                if b and b["rows"] < 100_000:
                    notes.append(f"{n}T batch on {b['rows']:,} rows")
            if not r.get("batch", {}).get(nt) and r.get("status") == "ok" and threads > 1:
                notes.append("single-threaded engine")
            lat = r.get("latency") or {}
            if lat and lat.get("calls", 10_000) < 10_000:
                notes.append(f"{lat['calls']:,} single-row calls")
            if r.get("status") != "ok":
                notes.append(f"failed after load: {r.get('reason', '?')}")
            md = r.get("maxdiff")
            ms = lat.get("maxdiff_single")
            if md is not None and ms is not None and ms > max(md * 10, 1e-12):
                notes.append(f"single-row max|Δp| {ms:.1e}")
            r1, rn = rate(r, 1), rate(r, threads) or rate(r, 1)
            cells = [
                label,
                f"{r['load_s']:.2f}" if r.get("load_s") is not None else "—",
                f"{r['rss_mb']:.0f}" if r.get("rss_mb") is not None else "—",
                f"{r['peak_mb']:.0f}" if r.get("peak_mb") is not None else "—",
                _fmt_rate(r1),
                _fmt_rate(rate(r, threads)),
                _fmt_us(lat.get("p50_us")),
                _fmt_us(lat.get("p99_us")),
                _fmt_diff(md),
                _paired(r, "1") or (_ratio(rate(qs, 1), r1) if qs else "—"),
                _paired(r, nt) or (_ratio(rate(qs, threads) or rate(qs, 1), rn) if qs else "—"),
                _paired(r, "p50") or (_ratio(lat.get("p50_us"), qs["latency"]["p50_us"]) if qs and lat else "—"),
                "; ".join(notes),
            ]
            lines.append("| " + " | ".join(cells) + " |")
        lines += _round_notes(w, rows, nt, qs)
        lines += _scaling_notes(rows, nt)
    return "\n".join(lines)


def _paired(r: dict, key: str) -> str | None:
    """The median of the per-round ratios, when this result has them (interleaved run)."""
    q = (r.get("qs_ratio") or {}).get(key)
    return _ratio(q["median"], 1.0) if q else None


def _short(v: float) -> str:
    return _ratio(v, 1.0).rstrip("×")


def _round_notes(w: str, rows: list[dict], nt: str, qs: dict | None) -> list[str]:
    """Under an interleaved workload's table: the spread of the paired ratios (min–max over
    rounds) and in how many latency rounds quickscore met the absolute p50 target."""
    out = []
    spread = []
    for r in rows:
        q = r.get("qs_ratio") or {}
        if r["peer"] == REF_PEER or not q:
            continue
        parts = [f"{k if k == 'p50' else k + 'T'} {_short(q[k]['min'])}–{_short(q[k]['max'])}" for k in ("1", nt, "p50") if k in q]
        spread.append(f"{PEER_LABEL.get(r['peer'], r['peer'])} " + ", ".join(parts))
    if spread:
        done = next((r["rounds_done"] for r in rows if r.get("rounds_done")), None)
        how = (f"{done.get('1', '?')} batch round(s) per thread count, {done.get('latency', '?')} latency round(s)"
               if done else "interleaved rounds")  # fmt: skip
        out += ["", f"qs× = median of the per-round ratios ({how}); range (min–max over rounds): " + "; ".join(spread) + "."]
    lat = (qs or {}).get("latency") or {}
    p50s = [v for v in lat.get("round_p50_us") or [] if v is not None]
    target = P50_TARGET_US.get(w)
    if p50s and target:
        met = sum(v <= target for v in p50s)
        out += ["", (f"quickscore (PMML) single-row p50 per latency round: {min(p50s):.1f}–{max(p50s):.1f} µs; "
                     f"≤ {target:g} µs (target) in {met} of {len(p50s)} rounds.")]  # fmt: skip
    return out


def _scaling_text(s: dict, nt: str) -> str | None:
    """The paired thread scaling of one result and the unpaired ratio beside it, or None."""
    parts = []
    if s.get("median") is not None:
        parts.append(f"{_ratio(s['median'], 1.0)} paired [{_short(s['min'])}–{_short(s['max'])}] over {s['rounds']} round(s)")
    if s.get("unpaired") is not None:
        parts.append(f"{_ratio(s['unpaired'], 1.0)} unpaired")
    return ", ".join(parts) or None


def _scaling_notes(rows: list[dict], nt: str) -> list[str]:
    """Under a workload's table: the thread scaling (all threads ÷ 1 thread, rows/s) of the
    peers measured paired (SCALING_PEERS): the median [min–max] of the per-round ratios, and the
    ratio of the two phases' medians (the table's rows/s columns) for comparison."""
    found = []
    for r in rows:
        text = _scaling_text(r.get("scaling") or {}, nt)
        if text and (r.get("scaling") or {}).get("pairs"):
            found.append(f"{PEER_LABEL.get(r['peer'], r['peer'])} {text}")
    if not found:
        return []
    return ["", (f"Thread scaling ({nt}T ÷ 1T rows/s; paired: the median [min–max] of the per-round ratios of an {nt}T "
                 f"repetition and a 1T one right next to it on the same rows; unpaired: rows/s {nt}T ÷ rows/s 1T above, "
                 "phases minutes apart): " + "; ".join(found) + ".")]  # fmt: skip


LEGEND = """\
load s: seconds to load the model file into a ready-to-score object (runtime start-up such as the JVM excluded).
RSS MB / peak MB: resident memory of the peer's process (+ children, e.g. PyPMML's JVM) after load / its high-water mark during load.
rows/s: batch throughput on the 100,000 test rows (median of repeats), 1 thread and all threads.
p50/p99: single-row latency from a Python dict, 1 thread. max|Δp|: max abs difference of P(y=1) vs the training library on 1,000 rows.
qs×: quickscore's advantage: quickscore rows/s ÷ peer rows/s, and peer p50 ÷ quickscore p50 (>1 = quickscore faster)."""
LEGEND_INTERLEAVED = """\
Interleaved runs (the default): all peers of a workload stay loaded and are measured in rounds (one repetition each, rotating order);
qs× is the median of the per-round ratios (quickscore's extra repetition right next to the peer's, in each round), which cancels the shared machine's slow/fast swings.
Thread scaling (under each table): quickscore times a 1-thread repetition right next to each all-threads one (same rows, order alternating by round); paired = median [min–max] of those per-round ratios."""


def machine_info() -> dict:
    cpu = "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "nproc": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "loadavg_start": os.getloadavg(),
    }


def _log_result(r: dict, threads: int) -> None:
    w, p = r["workload"], r["peer"]
    if r.get("status") == "ok":
        lat = r.get("latency", {})
        log(
            f"{w} {p}: load {r['load_s']:.2f}s  1T {_fmt_rate(rate(r, 1))} rows/s  "
            f"{threads}T {_fmt_rate(rate(r, threads))}  p50 {_fmt_us(lat.get('p50_us'))}  "
            f"max|Δp| {_fmt_diff(r.get('maxdiff'))}  ({r.get('wall_s')}s)"
        )
        scaling = _scaling_text(r.get("scaling") or {}, str(threads)) if (r.get("scaling") or {}).get("pairs") else None
        if scaling:
            log(f"{w} {p}: thread scaling {threads}T/1T {scaling}")
    elif "skipped" not in str(r.get("reason", "")):
        log(f"{w} {p}: {r.get('status')}: {r.get('reason')}")


# --------------------------------------------------------------------------- main
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer repeats/calls for slow peers; skip the W1 tl2cgen compile if not cached")
    ap.add_argument("--peers", help="comma list of: " + ",".join(PEER_ORDER))
    ap.add_argument("--workloads", help="comma list of: " + ",".join(WORKLOADS))
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="'all threads' figure (default: nproc)")
    ap.add_argument("--compile-w1", action="store_true", help="in --quick, still compile the W1 tl2cgen lib (~20 min) if missing")
    ap.add_argument("--timeout", type=float, help="per peer/workload subprocess timeout, s (default 120 quick / 3600 full)")
    ap.add_argument("--no-merge", action="store_true", help="don't merge a subset run into today's results file")
    ap.add_argument("--sequential", action="store_true",
                    help="the old method: one peer after another, each measured alone (default: interleaved rounds)")
    ap.add_argument("--round-timeout", type=float,
                    help="interleaved: per command of a runner (a warm-up, one repetition, one latency round), s "
                         "(default 60 quick / 300 full; --timeout bounds the load)")
    ap.add_argument("--out", help="results JSON path (the .md goes next to it; default bench/results/<date>[-quick].json)")
    a = ap.parse_args(argv)

    t0 = time.perf_counter()
    machine_start = machine_info()
    mode = "quick" if a.quick else "full"
    peers = a.peers.split(",") if a.peers else list(PEER_ORDER)
    workloads = a.workloads.split(",") if a.workloads else list(WORKLOADS)
    for p in peers:
        if p not in PEERS:
            ap.error(f"unknown peer {p!r}; choose from {','.join(PEER_ORDER)}")
    for w in workloads:
        if w not in WORKLOADS:
            ap.error(f"unknown workload {w!r}")
    timeout = a.timeout or (120.0 if a.quick else 3600.0)

    build_workloads(workloads, timeout=3600)
    compile_bytecode(timeout=600)
    t_build = time.perf_counter() - t0

    unavailable: dict[tuple[str, str], str] = {}
    if "tl2cgen" in peers:
        for w, why in prepare_tl2cgen(workloads, allow_compile_w1=not a.quick or a.compile_w1, timeout=5400).items():
            unavailable[("tl2cgen", w)] = why
    if "quickscore-qsm" in peers:
        for w, why in prepare_qsm(workloads, timeout=600).items():
            unavailable[("quickscore-qsm", w)] = why
    if "lleaves" in peers and "W3" in workloads:
        why = prepare_lleaves(timeout=1800)
        if why:
            unavailable[("lleaves", "W3")] = why
    t_prep = time.perf_counter() - t0 - t_build

    results = []
    for w in workloads if not a.sequential else []:
        plist = []
        for p in PEER_ORDER:
            pw = PEERS[p].workloads
            if p not in peers or (pw is not None and w not in pw):
                continue
            if a.quick and not a.peers and (p, w) in QUICK_SKIP:
                unavailable[(p, w)] = QUICK_SKIP[(p, w)]
            if (p, w) in unavailable:
                results.append({"peer": p, "workload": w, "status": "error", "reason": unavailable[(p, w)]})
                log(f"{w} {p}: not run: {unavailable[(p, w)]}")
                continue
            plist.append(p)
        budget_left = (lambda: time.perf_counter() - t0 <= QUICK_BUDGET_S) if a.quick else (lambda: True)
        rounds_left = budget_left
        if a.quick:
            share = sum(QUICK_SHARE.get(x, 0.25) for x in workloads[: workloads.index(w) + 1])
            end = t0 + QUICK_BUDGET_S * share / sum(QUICK_SHARE.get(x, 0.25) for x in workloads)
            rounds_left = lambda end=end: time.perf_counter() <= end
        for r in measure_interleaved(w, plist, mode, a.threads, timeout, budget_left, a.round_timeout, rounds_left):
            results.append(r)
            _log_result(r, a.threads)
    for w in workloads if a.sequential else []:
        for p in PEER_ORDER:
            if p not in peers:
                continue
            pw = PEERS[p].workloads
            if pw is not None and w not in pw:
                continue
            if a.quick and not a.peers and (p, w) in QUICK_SKIP:
                unavailable[(p, w)] = QUICK_SKIP[(p, w)]
            elif a.quick and time.perf_counter() - t0 > QUICK_BUDGET_S:
                unavailable[(p, w)] = f"skipped: --quick time budget ({QUICK_BUDGET_S:.0f}s) used up"
            if (p, w) in unavailable:
                results.append({"peer": p, "workload": w, "status": "error", "reason": unavailable[(p, w)]})
                log(f"{w} {p}: not run: {unavailable[(p, w)]}")
                continue
            log(f"{w} {p} ...")
            r = measure(p, w, mode, a.threads, timeout)
            r["method"] = "sequential"
            results.append(r)
            _log_result(r, a.threads)

    # ------------------------------------------------------------ write results
    RESULTS.mkdir(parents=True, exist_ok=True)
    stem = dt.date.today().isoformat() + ("-quick" if a.quick else "")
    path = Path(a.out).resolve() if a.out else RESULTS / f"{stem}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    subset = bool(a.peers or a.workloads)
    if subset and not a.no_merge and path.exists():
        old = json.loads(path.read_text())
        keep = {(r["workload"], r["peer"]) for r in results}
        results = [r for r in old.get("results", []) if (r["workload"], r["peer"]) not in keep] + results
        log(f"merged into existing {path.name}")
    total = time.perf_counter() - t0
    versions = {}
    for r in results:
        versions.update(r.get("versions") or {})
    doc = {
        "date": dt.datetime.now().isoformat(timespec="seconds"),
        "mode": mode,
        "method": "sequential" if a.sequential else "interleaved",
        "rounds": None if a.sequential else ROUNDS[mode],
        "threads": a.threads,
        "machine": {**machine_start, "loadavg_end": os.getloadavg()},
        "versions": versions,
        "timings_s": {"build": round(t_build, 1), "prepare": round(t_prep, 1), "total": round(total, 1)},
        "build": _manifest().get("artifacts", {}),
        "build_errors": _manifest().get("errors", {}),
        "results": results,
    }
    path.write_text(json.dumps(doc, indent=1, default=str))
    md = table(results, a.threads)
    vers = ", ".join(f"{k} {v}" for k, v in sorted(versions.items()))
    text = (
        f"# quickscore benchmark ({mode}, {doc['date']}, {machine_info()['cpu']}, {a.threads} threads)\n"
        f"{md}\n\n{LEGEND}\n{'' if a.sequential else LEGEND_INTERLEAVED + chr(10)}\nVersions: {vers}\n"
        f"Load average at start / end: {machine_start['loadavg_start'][0]:.1f} / {os.getloadavg()[0]:.1f} "
        f"on {os.cpu_count()} cores (other jobs on a shared machine inflate and scatter the timings).\n"
        f"Total {total:.0f}s (build {t_build:.0f}s, compile/prepare {t_prep:.0f}s).\n"
    )
    path.with_suffix(".md").write_text(text)
    print(text)
    log(f"wrote {path} and .md in {total:.0f}s total")
    return 0


if __name__ == "__main__":
    sys.exit(main())
