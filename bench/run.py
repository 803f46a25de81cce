#!/usr/bin/env python
"""quickscore benchmark suite: build the workloads, measure every peer, print a table.

    python bench/run.py                 # full run (cold cache: builds data, models, PMML, ONNX, compiled libs)
    python bench/run.py --quick         # < 5 min with a warm cache (fewer reps / calls for slow peers)
    python bench/run.py --peers quickscore,native --workloads W1,W3   # subset; merged into today's results

Each (peer, workload) is measured in its own subprocess (bench/peer_runner.py) so memory
figures are isolated; a peer that fails to install, load or run is reported as such in the
table and never stops the suite. Results: bench/results/<date>[-quick].json and .md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results"
# lleaves 1.3.0 breaks with llvmlite 0.50 (which numba 0.68 needs): own venv (PITFALLS.md)
LLEAVES_REQS = ["lleaves==1.3.0", "llvmlite==0.43.0", "numpy", "psutil"]

sys.path.insert(0, str(BENCH))
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
                _ratio(rate(qs, 1), r1) if qs else "—",
                _ratio(rate(qs, threads) or rate(qs, 1), rn) if qs else "—",
                _ratio(lat.get("p50_us"), qs["latency"]["p50_us"]) if qs and lat else "—",
                "; ".join(notes),
            ]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


LEGEND = """\
load s: seconds to load the model file into a ready-to-score object (runtime start-up such as the JVM excluded).
RSS MB / peak MB: resident memory of the peer's process (+ children, e.g. PyPMML's JVM) after load / its high-water mark during load.
rows/s: batch throughput on the 100,000 test rows (median of repeats), 1 thread and all threads.
p50/p99: single-row latency from a Python dict, 1 thread. max|Δp|: max abs difference of P(y=1) vs the training library on 1,000 rows.
qs×: quickscore's advantage: quickscore rows/s ÷ peer rows/s, and peer p50 ÷ quickscore p50 (>1 = quickscore faster)."""


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
    for w in workloads:
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
            results.append(r)
            if r.get("status") == "ok":
                lat = r.get("latency", {})
                log(
                    f"{w} {p}: load {r['load_s']:.2f}s  1T {_fmt_rate(rate(r, 1))} rows/s  "
                    f"{a.threads}T {_fmt_rate(rate(r, a.threads))}  p50 {_fmt_us(lat.get('p50_us'))}  "
                    f"max|Δp| {_fmt_diff(r.get('maxdiff'))}  ({r['wall_s']}s)"
                )
            else:
                log(f"{w} {p}: {r.get('status')}: {r.get('reason')}")

    # ------------------------------------------------------------ write results
    RESULTS.mkdir(parents=True, exist_ok=True)
    stem = dt.date.today().isoformat() + ("-quick" if a.quick else "")
    path = RESULTS / f"{stem}.json"
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
        f"{md}\n\n{LEGEND}\n\nVersions: {vers}\n"
        f"Load average at start / end: {machine_start['loadavg_start'][0]:.1f} / {os.getloadavg()[0]:.1f} "
        f"on {os.cpu_count()} cores (other jobs on a shared machine inflate and scatter the timings).\n"
        f"Total {total:.0f}s (build {t_build:.0f}s, compile/prepare {t_prep:.0f}s).\n"
    )
    path.with_suffix(".md").write_text(text)
    print(text)
    log(f"wrote {path.relative_to(ROOT)} and .md in {total:.0f}s total")
    return 0


if __name__ == "__main__":
    sys.exit(main())
