"""bench/run.py's thread scaling: all threads ÷ 1 thread as the median of per-round ratios of
two repetitions timed next to each other (paired), beside the ratio of the phases' medians."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture(scope="module")
def run():
    spec = importlib.util.spec_from_file_location("bench_run_scaling_under_test", BENCH / "run.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _result(many, one, rate_1t=100.0, rate_nt=150.0):
    """A fake interleaved result: 2T repetitions (paired_reps), the 1T ones timed next to them,
    and the two phases' medians (batch)."""
    return {"peer": "quickscore", "workload": "W1", "status": "ok", "load_s": 1.0, "rss_mb": 1.0, "peak_mb": 1.0,
            "maxdiff": 0.0, "model_file": "model.pmml", "model_file_mb": 90.0,
            "paired_reps": {"2": many, "1": [rate_1t] * len(many)},
            "batch": {"1": {"rows_per_s": rate_1t, "rows": 100_000}, "2": {"rows_per_s": rate_nt, "rows": 100_000}},
            "scaling": {"threads": 2, "rows": 100_000, "one_thread_reps": one}}  # fmt: skip


def test_paired_scaling_is_the_median_of_per_round_ratios(run):
    # the machine slow in round 2 for both repetitions: that round's ratio stays ~1.9, while
    # the phases measured minutes apart (one slow, one fast) give an unpaired 1.29
    res = _result([380.0, 190.0, 400.0], [200.0, 100.0, 200.0], rate_1t=290.0, rate_nt=374.1)
    s = run.thread_scaling(res, 2)
    assert s["pairs"] == [[380.0, 200.0], [190.0, 100.0], [400.0, 200.0]]
    assert s["per_round"] == [1.9, 1.9, 2.0]
    assert (s["median"], s["min"], s["max"], s["rounds"]) == (1.9, 1.9, 2.0, 3)
    assert s["unpaired"] == pytest.approx(374.1 / 290.0)


def test_a_round_missing_either_repetition_has_no_ratio(run):
    s = run.thread_scaling(_result([300.0, None, 320.0, 310.0], [150.0, 140.0, None, 100.0]), 2)
    assert s["pairs"] == [[300.0, 150.0], None, None, [310.0, 100.0]]
    assert s["per_round"] == [2.0, None, None, 3.1] and s["rounds"] == 2
    assert s["median"] == pytest.approx(2.55) and (s["min"], s["max"]) == (2.0, 3.1)


def test_without_pairs_only_the_unpaired_ratio(run):
    res = _result([300.0], [None])
    res["scaling"]["one_thread_reps"] = []
    assert run.thread_scaling(res, 2) == {"unpaired": 1.5}
    del res["scaling"]
    assert run.thread_scaling(res, 2) == {"unpaired": 1.5}
    # one thread only: nothing to scale
    assert run.thread_scaling(_result([300.0], [150.0]), 1) is None
    assert run.thread_scaling({"peer": "x"}, 2) is None


def test_table_and_log_show_paired_and_unpaired_scaling(run, capsys):
    res = _result([380.0, 190.0, 400.0], [200.0, 100.0, 200.0], rate_1t=290.0, rate_nt=374.1)
    res["scaling"].update(run.thread_scaling(res, 2))
    other = {**_result([1.0], [1.0]), "peer": "onnxruntime"}
    del other["scaling"]
    md = run.table([res, other], 2)
    line = next(x for x in md.splitlines() if x.startswith("Thread scaling"))
    assert "quickscore (PMML) 1.90× paired [1.90–2.00] over 3 round(s), 1.29× unpaired" in line
    assert "ONNX" not in line  # measured unpaired only: no scaling line of its own
    run._log_result(res, 2)
    err = capsys.readouterr().err
    assert "W1 quickscore: thread scaling 2T/1T 1.90× paired [1.90–2.00] over 3 round(s), 1.29× unpaired" in err
