"""The benchmark suite's interleaved, paired measurement (bench/run.py, bench/peer_runner.py).

The end-to-end test runs the real orchestrator on the cheapest configuration (W2, quick
mode, three peers) against the cached workloads, with failures injected into two runners
(QS_BENCH_FAULT): one peer's command raises, another's hangs past --round-timeout. It checks
that the others go on, that every ratio column is the median of the per-round ratios, and
that the failed peers are reported with their error. Skipped when bench/.cache is absent
(CI: the cache is built by ``python bench/workloads.py``, minutes of training).
"""

from __future__ import annotations

import importlib.util
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BENCH = REPO / "bench"
CACHE = Path(os.environ.get("QS_BENCH_CACHE") or BENCH / ".cache")


def _load_run_module():
    spec = importlib.util.spec_from_file_location("bench_run_under_test", BENCH / "run.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _approx(a, b):
    return a == pytest.approx(b, rel=1e-12)


# --------------------------------------------------------------------------- no cache needed
def test_paired_ratio_is_the_median_of_per_round_ratios():
    run = _load_run_module()
    # quickscore fast in rounds 1 and 3, the machine slow in round 2 for both: the per-round
    # ratio stays 2, while the ratio of the medians would not be
    ref = {"paired_reps": {"2": [400.0, 200.0, 420.0], "1": [300.0, 150.0, 330.0]},
           "latency": {"round_p50_us": [10.0, 20.0, 11.0]}}  # fmt: skip
    peer = {"paired_reps": {"2": [200.0, 100.0, 210.0], "1": [100.0, None, 110.0]},
            "latency": {"round_p50_us": [100.0, 200.0, 99.0]}}  # fmt: skip
    q = run.paired_ratios(peer, ref, ["2", "1"])
    assert q["2"]["per_round"] == [2.0, 2.0, 2.0] and q["2"]["median"] == 2.0
    # a round the peer missed (None) has no ratio and does not count
    assert q["1"]["per_round"] == [3.0, None, 3.0] and q["1"]["rounds"] == 2
    assert q["p50"]["per_round"] == [10.0, 10.0, 9.0]
    assert (q["p50"]["median"], q["p50"]["min"], q["p50"]["max"]) == (10.0, 9.0, 10.0)
    # quickscore's repetition right next to the peer's, when recorded, is the one compared
    peer["qs_adjacent_reps"] = {"2": [300.0, 300.0, 300.0]}
    peer["latency"]["qs_adjacent_p50_us"] = [20.0, 20.0, 20.0]
    q = run.paired_ratios(peer, ref, ["2", "1"])
    assert q["2"]["per_round"] == [1.5, 3.0, 300.0 / 210.0] and q["1"]["per_round"] == [3.0, None, 3.0]
    assert q["p50"]["per_round"] == [5.0, 10.0, 99.0 / 20.0]


def test_table_shows_paired_ratios_their_range_and_the_p50_target():
    run = _load_run_module()
    base = {"status": "ok", "load_s": 0.1, "rss_mb": 100.0, "peak_mb": 110.0, "maxdiff": 0.0,
            "model_file": "model.pmml", "model_file_mb": 0.01}  # fmt: skip
    qs = {**base, "peer": "quickscore", "workload": "W2",
          "batch": {k: {"rows_per_s": 1e6, "rows": 100_000} for k in ("1", "2")},
          "latency": {"p50_us": 3.0, "p99_us": 5.0, "calls": 10_000, "round_p50_us": [3.0, 5.0, 3.5]},
          "qs_ratio": {k: {"median": 1.0, "min": 1.0, "max": 1.0, "rounds": 3} for k in ("1", "2", "p50")}}  # fmt: skip
    peer = {**base, "peer": "onnxruntime", "workload": "W2",
            "batch": {k: {"rows_per_s": 2e6, "rows": 100_000} for k in ("1", "2")},
            "latency": {"p50_us": 12.0, "p99_us": 20.0, "calls": 10_000},
            # medians of the per-round ratios differ from the ratio of the medians (0.5, 4)
            "qs_ratio": {"1": {"median": 0.61, "min": 0.55, "max": 0.7, "rounds": 3},
                         "2": {"median": 0.4, "min": 0.3, "max": 0.52, "rounds": 3},
                         "p50": {"median": 3.5, "min": 3.1, "max": 4.2, "rounds": 3}}}  # fmt: skip
    md = run.table([qs, peer], 2)
    row = next(line for line in md.splitlines() if line.startswith("| ONNX Runtime"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[9:12] == ["0.61×", "0.40×", "3.50×"]
    assert "ONNX Runtime 1T 0.55–0.70, 2T 0.30–0.52, p50 3.10–4.20" in md
    assert "≤ 4 µs (target) in 2 of 3 rounds" in md


# --------------------------------------------------------------------------- end to end
@pytest.mark.skipif(not (CACHE / "meta.json").is_file(), reason=f"benchmark cache not built at {CACHE} (python bench/workloads.py)")
def test_interleaved_run_end_to_end_with_failing_peers(tmp_path):
    out = tmp_path / "bench.json"
    env = dict(os.environ)
    # native (W2: single-threaded engine, so it also runs the 2T rounds with its one thread):
    # its 5th batch command (1T round 2) raises; ONNX Runtime's 2nd latency round hangs
    # (peers that start fast: no .qsm compile, no second numba import)
    env["QS_BENCH_FAULT"] = "native:batch:5:raise;onnxruntime:latency:2:hang"
    cmd = [sys.executable, str(BENCH / "run.py"), "--quick", "--workloads", "W2",
           "--peers", "quickscore,native,onnxruntime", "--round-timeout", "3", "--out", str(out)]  # fmt: skip
    p = subprocess.run(cmd, check=False, cwd=REPO, env=env, capture_output=True, text=True, timeout=240)
    assert p.returncode == 0, p.stderr[-3000:]
    doc = json.loads(out.read_text())
    assert doc["method"] == "interleaved" and doc["mode"] == "quick"
    by = {r["peer"]: r for r in doc["results"]}
    rounds = doc["rounds"]["batch_rounds"]

    qs = by["quickscore"]
    assert qs["status"] == "ok", qs.get("reason")
    assert qs["load_s"] > 0 and qs["rss_mb"] > 0 and qs["peak_mb"] > 0 and qs["maxdiff"] < 1e-9
    assert set(qs["batch"]) == {"1", "2"} and qs["batch"]["1"]["reps"] == rounds
    assert all(v > 0 for n in ("1", "2") for v in qs["paired_reps"][n])
    lat = qs["latency"]
    assert lat["rounds"] == doc["rounds"]["lat_rounds"] == len(lat["round_p50_us"])
    assert lat["calls"] >= 100 and lat["p50_us"] > 0 and lat["maxdiff_single"] < 1e-9
    # the batch figure is the median rows/s over the rounds
    assert _approx(qs["batch"]["1"]["rows_per_s"], statistics.median(qs["paired_reps"]["1"]))

    # ONNX Runtime: timed out in latency round 2, killed; its batch rounds are paired
    ort = by["onnxruntime"]
    assert ort["status"] == "error" and ort["stage"] == "measure (latency round 2)"
    assert ort["reason"] == "timed out after 3s (latency)"
    for n in ("1", "2"):
        q = ort["qs_ratio"][n]
        # against quickscore's extra repetition next to ONNX Runtime's in the same round
        assert all(v > 0 for v in ort["qs_adjacent_reps"][n])
        per = [a / b for a, b in zip(ort["qs_adjacent_reps"][n], ort["paired_reps"][n])]
        assert all(_approx(x, y) for x, y in zip(q["per_round"], per))
        assert _approx(q["median"], statistics.median(per)) and q["rounds"] == rounds
        assert q["min"] <= q["median"] <= q["max"]

    # native: its command raised in 1T round 2; the rounds before it are kept
    nat = by["native"]
    assert nat["status"] == "error" and "injected failure" in nat["reason"]
    assert nat["stage"] == "measure (1T round 2)"
    assert nat["paired_reps"]["1"][0] > 0 and nat["paired_reps"]["1"][1:] == [None] * (rounds - 1)
    assert nat["qs_ratio"]["1"]["rounds"] == 1 and nat["qs_ratio"]["2"]["rounds"] == rounds
    # quickscore's own figures leave the extra repetitions / latency probes out
    assert qs["batch"]["2"]["reps"] == rounds
    # ... and the paired thread scaling: a 1T repetition next to each 2T one, on the same rows
    sc = qs["scaling"]
    assert sc["threads"] == 2 and sc["rows"] == qs["batch"]["2"]["rows"] and sc["rounds"] == rounds
    assert sc["first"] == ["1T" if r % 2 == 0 else "2T" for r in range(rounds)]
    assert [p[0] for p in sc["pairs"]] == qs["paired_reps"]["2"] and all(v > 0 for v in sc["one_thread_reps"])
    assert _approx(sc["median"], statistics.median(a / b for a, b in sc["pairs"]))
    assert _approx(sc["unpaired"], qs["batch"]["2"]["rows_per_s"] / qs["batch"]["1"]["rows_per_s"])
    assert "scaling" not in ort and "scaling" not in nat
    # the 1-thread phases ran pinned to one CPU (the same for every peer), the 2T phase on all
    one = min(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    for r in (qs, ort):
        aff = r["cpu_affinity"]
        if one is not None:
            assert aff["1"]["cpus"] == [one] and aff["latency"]["cpus"] == [one]
            assert aff["2"]["cpus"] == sorted(os.sched_getaffinity(0)) and aff["1"]["threads_set"] >= 1
    assert lat["calls"] == lat["rounds"] * lat["calls_per_round"]
    # quickscore's latency slice next to ONNX Runtime's in round 1 (before it: even round)
    assert ort["latency"]["qs_adjacent_p50_us"][0] > 0 and ort["latency"]["round_p50_us"][0] > 0
    assert ort["qs_ratio"]["p50"]["rounds"] == 1

    md = out.with_suffix(".md").read_text()
    assert "| peer | load s | RSS MB | peak MB | rows/s 1T | rows/s 2T | p50 | p99 | max|Δp| | qs× 1T | qs× 2T | qs× p50 | notes |" in md
    assert "failed after load: timed out after 3s (latency)" in md
    assert "qs× = median of the per-round ratios" in md
    assert "Thread scaling (2T ÷ 1T rows/s; paired:" in md and "quickscore (PMML) " in md
    assert "W2 quickscore: thread scaling 2T/1T " in p.stderr
