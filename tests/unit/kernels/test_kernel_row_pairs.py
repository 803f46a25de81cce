"""The record path's GBM-sum kernel on a ``pack_pairs`` forest (kernels.row.sum_values_pairs,
kernels.row_pack.pack_pairs): the same (total, wsum, count, wmiss) as the batch kernels'
one-row entry point, bit for bit, on random forests (shallow and deep, lopsided, single
leaves, a tree count that is not a multiple of the lanes, weights, float32 accumulation, NaN
leaf values, NaN thresholds), rows with +-inf, extremes and NaN (a NaN in a tested column is
left to that entry point: count -1), and float32 inputs rounded as numpy rounds them."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kernels_lib import SP, N, T, encodings, tree
from quickscore.ir import DataType
from quickscore.kernels import ensemble as E
from quickscore.kernels import row
from quickscore.kernels.row_pack import pack_pairs
from quickscore.kernels.trees import lower_trees

FIELDS = [f"x{i}" for i in range(6)]
CUTS = [-1.0, 0.0, 0.5, 1.0, 1e300, -1e300, 2.0**-1074]


def _forest(rng: np.random.Generator, n_trees: int, depth: int, full: float):
    """`x <= t` / `x > t` splits cut short with probability 1 - full per level (lopsided
    trees, as LightGBM's leaf-wise ones); every ninth tree is a single leaf."""
    counter = itertools.count()

    def node(predicate, level: int):
        if level == depth or (level > 0 and rng.random() > full):
            return N(predicate, score=str(next(counter) % 7 - 3.5))
        field = FIELDS[int(rng.integers(len(FIELDS)))]
        t = repr(float(rng.choice([*CUTS, rng.normal()])))
        return N(predicate, node(SP(field, "lessOrEqual", t), level + 1), node(SP(field, "greaterThan", t), level + 1))

    return [tree(node(T, 0) if k % 9 else N(T, score="0.25")) for k in range(n_trees)]


def _rows(rng: np.random.Generator, n: int) -> np.ndarray:
    X = rng.choice([*CUTS, np.inf, -np.inf, np.nextafter(0.5, 1.0), np.nextafter(0.5, 0.0)], size=(n, len(FIELDS)))
    X = np.where(rng.random(X.shape) < 0.5, rng.normal(size=X.shape), X)
    X[rng.random(X.shape) < 0.02] = np.nan
    return X


def _check(arrays, packed, values, weights, weighted, float32, x) -> bool:
    """True when the kernel scored x (False: left to the batch kernels, as it must be)."""
    x = np.ascontiguousarray(x, dtype=np.float64)
    got = row.sum_values_pairs(packed.B, x)
    if got[2] < 0:  # a NaN in a tested column: left to the batch kernels
        assert np.isnan(x[arrays.used_cols]).any(), (x, got)
        return False
    want = E.sum_values_row(x, arrays, values, weights=weights, weighted=weighted, float32=float32)
    assert np.array_equal(np.array(got), np.array(want), equal_nan=True), (x, got, want)
    return True


@pytest.mark.parametrize("depth, full, n_trees", [(3, 1.0, 13), (8, 0.9, 40), (6, 0.5, 21), (12, 0.8, 9), (20, 0.6, 17), (1, 1.0, 1)])
@pytest.mark.parametrize("weighted, float32", [(False, False), (True, False), (False, True), (True, True)])
def test_pairs_sum_matches_the_batch_kernels(depth, full, n_trees, weighted, float32):
    rng = np.random.default_rng(depth * 1000 + n_trees)
    arrays = lower_trees(_forest(rng, n_trees, depth, full), encodings({f: DataType.DOUBLE for f in FIELDS}))
    values = rng.normal(size=arrays.n_nodes) * 10.0 ** rng.integers(-3, 4, size=arrays.n_nodes)
    values[rng.random(arrays.n_nodes) < 0.05] = np.nan  # a missing tree value
    weights = rng.uniform(0.1, 2.0, size=arrays.n_trees)
    packed = pack_pairs(arrays, values, weights, weighted, float32)
    assert packed is not None
    B = packed.B
    assert B[row.P_RECORDS] % 4 == 0 and B[row.P_WEIGHTS] % 2 == 0
    n_records = (len(B) - B[row.P_RECORDS]) // 4
    padded = -(-n_trees // row.PAIR_LANES) * row.PAIR_LANES
    assert n_records == padded + 2 * len(arrays.fast)
    scored = sum(_check(arrays, packed, values, weights, weighted, float32, x) for x in _rows(rng, 300))
    assert scored > 0


def test_nan_thresholds_lead_to_the_second_child():
    """``x <= NaN`` is false: a test with a NaN threshold always goes where "x > t" goes."""
    rng = np.random.default_rng(7)
    arrays = lower_trees(_forest(rng, 19, 7, 0.85), encodings({f: DataType.DOUBLE for f in FIELDS}))
    threshold = arrays.fast["threshold"]
    threshold[rng.random(len(threshold)) < 0.3] = np.nan  # this test's own copy of the forest
    values = rng.normal(size=arrays.n_nodes)
    weights = np.ones(arrays.n_trees)
    packed = pack_pairs(arrays, values, weights, False, False)
    assert sum(_check(arrays, packed, values, weights, False, False, x) for x in _rows(rng, 300)) > 0


def test_rows_longer_or_shorter_than_the_forest():
    rng = np.random.default_rng(11)
    arrays = lower_trees(_forest(rng, 10, 5, 0.9), encodings({f: DataType.DOUBLE for f in FIELDS}))
    values = rng.normal(size=arrays.n_nodes)
    packed = pack_pairs(arrays, values, np.ones(arrays.n_trees), False, False)
    x = rng.normal(size=len(FIELDS))
    assert row.sum_values_pairs(packed.B, np.append(x, [np.nan, 3.0])) == row.sum_values_pairs(packed.B, x)
    assert row.sum_values_pairs(packed.B, x[:-1])[2] == -1.0


def test_float32_inputs_round_like_numpy():
    """``sum_values_pairs_float32_inputs`` = ``sum_values_pairs`` of
    ``x.astype(np.float32).astype(np.float64)`` (beyond float32's range: +-inf), with no
    warning, and x is left as it was."""
    rng = np.random.default_rng(5)
    arrays = lower_trees(_forest(rng, 16, 6, 0.9), encodings({f: DataType.DOUBLE for f in FIELDS}))
    values = rng.normal(size=arrays.n_nodes)
    packed = pack_pairs(arrays, values, np.ones(arrays.n_trees), False, False)
    for _ in range(300):
        x = rng.choice([0.1, 1.0 + 2.0**-30, 0.5 - 1e-9, 1e39, -1e39, 3.4028235677973366e38, rng.normal()], size=len(FIELDS))
        before = x.copy()
        with np.errstate(over="ignore"):
            rounded = x.astype(np.float32).astype(np.float64)
        with np.errstate(all="raise"):
            got = row.sum_values_pairs_float32_inputs(packed.B, x)
        assert got == row.sum_values_pairs(packed.B, rounded)
        assert np.array_equal(x, before)


_FOREST = None


def _shared_forest():
    global _FOREST
    if _FOREST is None:
        rng = np.random.default_rng(3)
        arrays = lower_trees(_forest(rng, 27, 10, 0.85), encodings({f: DataType.DOUBLE for f in FIELDS}))
        values = rng.normal(size=arrays.n_nodes)
        values[::17] = np.nan
        weights = rng.uniform(0.5, 1.5, size=arrays.n_trees)
        _FOREST = arrays, values, weights, {w: pack_pairs(arrays, values, weights, w, False) for w in (False, True)}
    return _FOREST


_VALUE = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([*CUTS, np.nextafter(0.5, 1.0), np.nextafter(-1.0, -2.0), -0.0, 5e-324]),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_VALUE, min_size=len(FIELDS), max_size=len(FIELDS)), st.booleans())
def test_any_row_matches_the_batch_kernels(x, weighted):
    arrays, values, weights, packed = _shared_forest()
    _check(arrays, packed[weighted], values, weights, weighted, False, np.array(x))
