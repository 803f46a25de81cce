"""The record path's one-row kernel on a packed forest (kernels.row, kernels.row_pack): the
same (total, wsum, count, wmiss) as the batch kernels' one-row entry point, bit for bit, on
random forests (depth-limited ones take the in-step walk, others the plain walk; weights,
float32 accumulation, NaN leaf values), and rows with NaN left to that entry point."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from kernels_lib import SP, N, T, encodings, tree
from quickscore.ir import DataType
from quickscore.kernels import _row_codegen, row
from quickscore.kernels import ensemble as E
from quickscore.kernels.row_pack import pack_sum
from quickscore.kernels.trees import lower_trees

FIELDS = [f"x{i}" for i in range(6)]


def _forest(rng: np.random.Generator, n_trees: int, depth: int, full: float):
    """`x <= t` / `x > t` splits cut short with probability 1 - full per level; a few trees
    are a single leaf."""
    counter = itertools.count()

    def node(predicate, level: int):
        if level == depth or (level > 0 and rng.random() > full):
            return N(predicate, score=str(next(counter) % 7 - 3.5))
        field = FIELDS[int(rng.integers(len(FIELDS)))]
        t = str(float(rng.choice([-1.0, 0.0, 0.5, 1.0, rng.normal()])))
        return N(predicate, node(SP(field, "lessOrEqual", t), level + 1), node(SP(field, "greaterThan", t), level + 1))

    return [tree(node(T, 0) if k % 9 else N(T, score="0.25")) for k in range(n_trees)]


def test_row_py_is_the_output_of_its_generator():
    # numba's on-disk cache needs the generated source as a file: regenerate it with
    # `python -m quickscore.kernels._row_codegen`.
    assert (_row_codegen.Path(_row_codegen.__file__).with_name("row.py")).read_text() == _row_codegen.generate()


@pytest.mark.parametrize("depth, full, n_trees", [(3, 1.0, 13), (8, 0.9, 40), (6, 0.5, 21), (12, 0.8, 9)])
@pytest.mark.parametrize("weighted, float32", [(False, False), (True, False), (False, True), (True, True)])
def test_packed_sum_matches_the_batch_kernels(depth, full, n_trees, weighted, float32):
    rng = np.random.default_rng(depth * 1000 + n_trees)
    arrays = lower_trees(_forest(rng, n_trees, depth, full), encodings({f: DataType.DOUBLE for f in FIELDS}))
    values = rng.normal(size=arrays.n_nodes) * 10.0 ** rng.integers(-3, 4, size=arrays.n_nodes)
    values[rng.random(arrays.n_nodes) < 0.05] = np.nan  # a missing tree value
    weights = rng.uniform(0.1, 2.0, size=arrays.n_trees)
    packed = pack_sum(arrays, values, weights, weighted, float32)
    assert packed is not None
    X = rng.choice([-1.0, 0.0, 0.5, 1.0, np.inf, -np.inf], size=(400, len(FIELDS)))
    X = np.where(rng.random(X.shape) < 0.5, rng.normal(size=X.shape), X)
    X[rng.random(X.shape) < 0.02] = np.nan
    dirty = 0
    for x in X:
        x = np.ascontiguousarray(x)
        got = row.sum_values(packed.F, packed.I, packed.fast, packed.features, x)
        if got[2] < 0:  # a NaN in a tested column: left to the batch kernels
            assert np.isnan(x[arrays.used_cols]).any()
            dirty += 1
            continue
        want = E.sum_values_row(x, arrays, values, weights=weights, weighted=weighted, float32=float32)
        assert np.array_equal(np.array(got), np.array(want), equal_nan=True), (x, got, want)
    assert dirty < len(X)
    if depth <= 8 and full >= 0.9:
        assert packed.I[row.H_N_GROUPS] > 0, "depth-limited trees are walked in step"


def test_float32_inputs_round_like_numpy():
    """``sum_values_float32_inputs`` = ``sum_values`` of ``x.astype(np.float32).astype(np.float64)``
    (beyond float32's range: +-inf), with no warning."""
    rng = np.random.default_rng(5)
    arrays = lower_trees(_forest(rng, 16, 6, 0.9), encodings({f: DataType.DOUBLE for f in FIELDS}))
    values = rng.normal(size=arrays.n_nodes)
    packed = pack_sum(arrays, values, np.ones(arrays.n_trees), False, False)
    for _ in range(300):
        x = rng.choice([0.1, 1.0 + 2.0**-30, 0.5 - 1e-9, 1e39, -1e39, 3.4028235677973366e38, rng.normal()], size=len(FIELDS))
        with np.errstate(over="ignore"):
            rounded = x.astype(np.float32).astype(np.float64)
        with np.errstate(all="raise"):
            got = row.sum_values_float32_inputs(packed.F, packed.I, packed.fast, packed.features, x.copy())
        assert got == row.sum_values(packed.F, packed.I, packed.fast, packed.features, rounded)
