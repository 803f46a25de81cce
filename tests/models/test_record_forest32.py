"""The record path's float32 forest (``kernels.row.proba2_le32`` on ``row_pack.pack_le32``):
binary probability forests of fields of dataType float, as scikit-learn's
RandomForestClassifier through sklearn2pmml. Bit-identical to the batch path and to
engine="reference", on values at, next to and between float32 thresholds, thresholds that
are not float32 values, and missing, extreme and mistyped values."""

from __future__ import annotations

import math
import random
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import quickscore
from quickscore.kernels.row_pack import floor_float32, pack_le32

from test_record_path import _batch, _same, _single

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench" / ".cache"

# Thresholds: float32 values, doubles between two float32 values, beyond float32's range,
# below its smallest subnormal, and 0.
THRESHOLDS = [0.5, -1.25, 0.1, 1.0 / 3.0, -0.7, 2.0 / 3.0, 3.4e38, 3.5e38, -3.5e38, 1e-46, -1e-46, 0.0, 16777217.0, 0.61821806]


def _f32(v: float) -> float:
    with np.errstate(over="ignore"):
        return float(np.float32(v))


def _tree(rng: random.Random, fields: list[str], depth: int) -> str:
    """sklearn2pmml's shape: a node's first child tests ``x <= t``, the second is True; leaves
    carry ScoreDistributions (at least one record: zero would be an UndefinedResult)."""

    def node(pred: str, d: int) -> str:
        if d == 0 or rng.random() < 0.15:
            n0 = rng.choice([0, 1, 2, 3, 5])
            n1 = rng.choice([0, 1, 2, 4]) if n0 else rng.choice([1, 2, 4])
            score = "1" if n1 > n0 else "0"
            return (
                f'<Node score="{score}" recordCount="{n0 + n1}">{pred}'
                f'<ScoreDistribution value="0" recordCount="{n0}"/><ScoreDistribution value="1" recordCount="{n1}"/></Node>'
            )
        field, t = rng.choice(fields), rng.choice(THRESHOLDS)
        test = f'<SimplePredicate field="{field}" operator="lessOrEqual" value="{t!r}"/>'
        return f"<Node>{pred}{node(test, d - 1)}{node('<True/>', d - 1)}</Node>"

    return node("<True/>", depth)


def _forest(seed: int, data_type: str = "float", n_trees: int = 30, depth: int = 6, treatment: str = "returnMissing") -> bytes:
    rng = random.Random(seed)
    fields = ["a", "b", "c"]
    fields_xml = "".join(f'<DataField name="{f}" optype="continuous" dataType="{data_type}"/>' for f in fields)
    mining = "".join(f'<MiningField name="{f}"/>' for f in fields)
    segments = "".join(
        f'<Segment id="{i + 1}"><True/><TreeModel functionName="classification" missingValueStrategy="nullPrediction">'
        f"<MiningSchema>{mining}</MiningSchema>{_tree(rng, fields, depth)}</TreeModel></Segment>"
        for i in range(n_trees)
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<PMML xmlns="http://www.dmg.org/PMML-4_4" version="4.4"><Header/>
<DataDictionary><DataField name="y" optype="categorical" dataType="integer"><Value value="0"/><Value value="1"/></DataField>{fields_xml}</DataDictionary>
<MiningModel functionName="classification"><MiningSchema><MiningField name="y" usageType="target"/>{mining}</MiningSchema>
<Output><OutputField name="probability(0)" optype="continuous" dataType="double" feature="probability" value="0"/>
<OutputField name="probability(1)" optype="continuous" dataType="double" feature="probability" value="1"/></Output>
<Segmentation multipleModelMethod="average" missingPredictionTreatment="{treatment}">{segments}</Segmentation></MiningModel></PMML>""".encode()


def _near(t: float) -> list[float]:
    """Values at a threshold, next to it in float64 and float32, and between it and its
    float32 rounding."""
    out = [t, math.nextafter(t, math.inf), math.nextafter(t, -math.inf)]
    r = _f32(t)
    if math.isfinite(r):
        out += [r, float(np.nextafter(np.float32(r), np.float32(np.inf))), float(np.nextafter(np.float32(r), np.float32(-np.inf))), (t + r) / 2]
    return out


def _records(seed: int, n: int) -> list[dict]:
    rng = random.Random(seed)
    near = [v for t in THRESHOLDS for v in _near(t)] + [-t for t in THRESHOLDS]
    odd = [None, math.nan, math.inf, -math.inf, 1e300, -1e300, 0, -1, 7, 2**70, 2**1100, True, "", "abc", "0.5", np.float64(0.5), np.float32(0.1), 3.4028235e38, 3.4028236e38, 5e-324]
    out = []
    for i in range(n):
        r = {f: rng.choice(near) if rng.random() < 0.8 else rng.gauss(0, 1) for f in "abc"}
        if i % 4 == 0:
            r[rng.choice("abc")] = rng.choice(odd)
        if i % 23 == 0:
            del r[rng.choice("abc")]
        if i % 31 == 0:
            r["unused"] = "x"
        out.append(r)
    return out


def test_floor_float32_is_the_largest_float32_not_above():
    t = np.array([0.1, -0.1, 1.0 / 3.0, 0.5, 3.5e38, -3.5e38, 1e-46, -1e-46, 0.0, -0.0, np.inf, -np.inf, np.nan, 16777217.0])
    f = floor_float32(t)
    assert f.dtype == np.float32
    for ti, fi in zip(t, f):
        if math.isnan(ti):
            assert math.isnan(fi)
            continue
        assert float(fi) <= ti
        if fi < np.float32(np.inf):
            assert not float(np.nextafter(fi, np.float32(np.inf))) <= ti


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_float32_forest_equals_the_batch_path_and_the_reference_engine(seed):
    text = _forest(seed)
    model = quickscore.load(text)
    reference = quickscore.load(text, engine="reference")
    assert model._record is not None and model._record.fast is not None
    fast_scored = 0
    for record in _records(seed, 400):
        one, batch, ref = _single(model, record), _batch(model, record), _single(reference, record)
        assert _same(one, batch), f"{record}: record path {one} != batch path {batch}"
        assert _same(one, ref), f"{record}: record path {one} != reference engine {ref}"
        fast_scored += model._record.score(record) is not None and all(type(v) is float and v == v for v in record.values())
    assert fast_scored > 150
    # the float32 forest scored those records (not the generic path's kernels)
    assert model._record.step.core.packed_le32


@pytest.mark.parametrize("treatment", ["continue", "skipSegment"])
def test_other_missing_prediction_treatments(treatment):
    text = _forest(5, treatment=treatment)
    model = quickscore.load(text)
    reference = quickscore.load(text, engine="reference")
    for record in _records(5, 150):
        one = _single(model, record)
        assert _same(one, _batch(model, record)) and _same(one, _single(reference, record)), record


def test_double_fields_keep_the_float64_kernels():
    """Thresholds in float32 are exact for float32 values only: double fields do not take it."""
    text = _forest(4, data_type="double")
    model = quickscore.load(text)
    assert model._record is not None and model._record.fast is None
    for record in _records(4, 150):
        assert _same(_single(model, record), _batch(model, record)), record


def test_the_packed_forest_walks_to_the_batch_terminals():
    """pack_le32's tests and distinct leaf rows: each terminal code points at a row equal to
    the batch table's row of that terminal."""
    model = quickscore.load(_forest(6, n_trees=12, depth=9))
    fused = model._record.step.core
    from quickscore.kernels import row as row_kernels

    B = pack_le32(fused.arrays, fused.table).B
    fast = fused.arrays.fast
    codes = np.concatenate([fast["true_next"], fast["false_next"], fused.arrays.roots])
    leaves = np.unique(-codes[codes < -1] - 2)
    assert B[row_kernels.B32_TREES] == 12 and B[row_kernels.B32_RECORDS] % 4 == 0
    tests = B[B[row_kernels.B32_RECORDS] : B[row_kernels.B32_LEAVES]].reshape(-1, 4)
    assert len(tests) == len(fast) and np.array_equal(tests[:, 0].view(np.float32), floor_float32(fast["threshold"]))
    rows = B[B[row_kernels.B32_LEAVES] :].view(np.float64).reshape(-1, 2)
    distinct = np.unique(fused.table[leaves].view(np.int64), axis=0)
    assert len(rows) == len(distinct) < len(leaves)
    # the terminal codes point at rows equal, bit for bit, to the terminals' table rows
    for col, name in ((2, "true_next"), (3, "false_next")):
        orig = fast[name]
        term = orig < -1
        assert np.array_equal(rows[-tests[term, col] - 2].view(np.int64), fused.table[-orig[term] - 2].view(np.int64))
        assert np.array_equal(tests[~term, col], orig[~term])


def test_float32_records_on_float64_thresholds():
    """A forest of double fields keeps its float64 thresholds (0.1, 1/3, 3.5e38...): on rows
    of float32 values, ``proba2_le32`` on ``floor_float32`` thresholds takes the batch
    kernel's decisions (``kernels.sum_probabilities_row``)."""
    from quickscore import kernels
    from quickscore.kernels import row as row_kernels

    model = quickscore.load(_forest(9, data_type="double", n_trees=40))
    fused = model._record.step.core
    thresholds = fused.arrays.fast["threshold"]
    assert not np.all(thresholds.astype(np.float32).astype(np.float64) == thresholds)
    packed = pack_le32(fused.arrays, fused.table)
    checked = 0
    for record in _records(9, 400):
        values = [record.get(f) for f in "abc"]
        if not all(type(v) is float for v in values):
            continue
        with np.errstate(over="ignore"):
            x = np.array(values).astype(np.float32).astype(np.float64)
        total, wsum, _, nmiss = kernels.sum_probabilities_row(x, fused.arrays, fused.table, weights=fused.weights, weighted=False)
        t0, t1, wsum2, nmiss2 = row_kernels.proba2_le32(packed.B, x.copy())
        if np.isnan(x).any():
            assert nmiss2 == -1.0
            continue
        assert (t0, t1, wsum2, nmiss2) == (total[0], total[1], wsum, nmiss), record
        checked += 1
    assert checked > 200


def test_several_threads_give_the_one_thread_results():
    from concurrent.futures import ThreadPoolExecutor

    model = quickscore.load(_forest(8))
    records = [r for r in _records(8, 200)] * 5
    one = [_single(model, r) for r in records]
    with ThreadPoolExecutor(4) as ex:
        many = list(ex.map(lambda r: _single(model, r), records))
    assert all(_same(a, b) for a, b in zip(one, many))


def test_w1_record_path_equals_the_batch_path():
    """The benchmark's W1 forest (scikit-learn RandomForestClassifier, 100 deep trees; the
    compiled ``model.qsm``): 300 test rows through the generated code and the DataFrame path."""
    path = BENCH / "w1" / "model.qsm"
    if not path.exists() or not (BENCH / "data" / "X_test.npy").exists():
        pytest.skip("bench/.cache has no W1 (python bench/workloads.py builds it)")
    X = np.load(BENCH / "data" / "X_test.npy")[:300]
    names = [f"x{i}" for i in range(1, X.shape[1] + 1)]
    model = quickscore.load(path)
    assert model._record is not None and model._record.fast is not None
    frame = model.predict(pd.DataFrame(X, columns=names))
    for i, row in enumerate(X):
        one = model._record.fast(dict(zip(names, map(float, row))))
        for k, v in one.items():
            b = frame[k].iloc[i]
            assert _same(v, None if pd.isna(b) else float(b)), (i, k, v, b)
    assert model._record.step.core.packed_le32


def test_pack_keeps_each_distinct_leaf_row_once():
    """Many distinct rows (the open-addressing table grows several times), duplicates, NaN
    rows and -0.0 (kept apart from 0.0: rows are compared bit for bit)."""
    from quickscore.kernels import row as row_kernels

    rng = np.random.default_rng(3)
    n_tests = 700
    distinct = rng.random((300, 2))
    distinct[0] = np.nan
    distinct[1] = [0.0, 1.0]
    distinct[2] = [-0.0, 1.0]
    table = distinct[rng.integers(0, 300, size=2 * n_tests)]
    true_next = -(np.arange(n_tests, dtype=np.int32) * 2) - 2
    false_next = -(np.arange(n_tests, dtype=np.int32) * 2 + 1) - 2
    roots = np.arange(n_tests, dtype=np.int32)
    B = row_kernels.pack_le32_buffer(
        np.zeros(n_tests, dtype=np.float32), np.zeros(n_tests, dtype=np.int32), true_next, false_next, roots, np.zeros(1, dtype=np.int32), table, table.view(np.int64)
    )
    rows = B[B[row_kernels.B32_LEAVES] :].view(np.float64).reshape(-1, 2)
    assert len(rows) == len(np.unique(table.view(np.int64), axis=0))
    tests = B[B[row_kernels.B32_RECORDS] : B[row_kernels.B32_LEAVES]].reshape(-1, 4)
    assert np.array_equal(rows[-tests[:, 2] - 2].view(np.int64), table[0::2].view(np.int64))
    assert np.array_equal(rows[-tests[:, 3] - 2].view(np.int64), table[1::2].view(np.int64))
