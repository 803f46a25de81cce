"""The in-step walk of depth-limited trees (tree_kernels._walk_rows_sync, ensemble.sync_layout):
the same results as the plain walk, bit for bit, on random forests with NaN, ±inf and ties."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from kernels_lib import SP, N, T, encodings, tree
from quickscore.ir import DataType
from quickscore.kernels import ensemble as E
from quickscore.kernels.trees import lower_trees

FIELDS = [f"x{i}" for i in range(6)]


def _forest(rng: np.random.Generator, n_trees: int, depth: int, full: float):
    """Binary trees of `x <= t` / `x > t` splits, cut short with probability 1 - full per level."""
    counter = itertools.count()

    def node(predicate, level: int):
        if level == depth or (level > 0 and rng.random() > full):
            return N(predicate, score=str(next(counter) % 7 - 3.5))
        field = FIELDS[int(rng.integers(len(FIELDS)))]
        t = str(float(rng.choice([-1.0, 0.0, 0.5, 1.0, rng.normal()])))
        return N(predicate, node(SP(field, "lessOrEqual", t), level + 1), node(SP(field, "greaterThan", t), level + 1))

    return [tree(node(T, 0)) for _ in range(n_trees)]


def _rows(rng: np.random.Generator, n: int) -> np.ndarray:
    X = rng.choice([-1.0, 0.0, 0.5, 1.0, np.inf, -np.inf], size=(n, len(FIELDS)))
    X = np.where(rng.random(X.shape) < 0.5, rng.normal(size=X.shape), X)
    X[rng.random(X.shape) < 0.03] = np.nan
    return np.ascontiguousarray(X)


@pytest.mark.parametrize("depth, full", [(3, 1.0), (6, 0.95), (8, 0.9), (5, 0.5)])
def test_in_step_walk_matches_the_plain_walk(depth, full):
    rng = np.random.default_rng(depth * 100 + int(full * 10))
    arrays = lower_trees(_forest(rng, 40, depth, full), encodings({f: DataType.DOUBLE for f in FIELDS}))
    layout = E.sync_layout(arrays)
    X = _rows(rng, 3000)
    values = rng.normal(size=arrays.n_nodes)
    in_step = E.leaf_indices(X, arrays, n_threads=1)
    sums = E.sum_values(X, arrays, values, n_threads=1).total
    saved = layout[4].copy()
    layout[4][:] = 0  # every tree on the plain walk
    try:
        plain = E.leaf_indices(X, arrays, n_threads=1)
        plain_sums = E.sum_values(X, arrays, values, n_threads=1).total
    finally:
        layout[4][:] = saved
    assert np.array_equal(in_step, plain)
    assert np.array_equal(sums, plain_sums, equal_nan=True)
    if full >= 0.9:
        assert (saved > 0).mean() > 0.5, "depth-limited, nearly full trees take the in-step walk"


def test_leaf_wise_trees_keep_the_plain_walk():
    """A chain-like tree (walks of very different lengths) would loop on its sinks too long."""
    def chain(k: int, predicate):
        if k == 12:
            return N(predicate, score="12")
        return N(predicate, N(SP("x0", "lessOrEqual", str(k)), score=str(k)), chain(k + 1, SP("x0", "greaterThan", str(k))))

    nodes = chain(0, T)
    arrays = lower_trees([tree(nodes)], encodings({f: DataType.DOUBLE for f in FIELDS}))
    assert E.sync_layout(arrays)[4].tolist() == [0]


def test_pass_through_tests_ignore_columns_the_tree_does_not_test():
    """A walk that ends above the last level passes through tests that must not read a column:
    a row can be clean (no NaN where the trees test) and still hold NaN elsewhere (found by
    Hypothesis: column 0 NaN sent such a walk to an unreachable slot)."""
    root = N(T, N(SP("x1", "lessThan", "0"), score="1"), N(T, N(SP("x1", "lessThan", "1"), score="3")))
    arrays = lower_trees([tree(root)], encodings({f: DataType.DOUBLE for f in FIELDS}))
    layout = E.sync_layout(arrays)
    assert layout[4].tolist() == [2], "the tree takes the in-step walk"
    X = np.full((4, len(FIELDS)), np.nan)
    X[:, 1] = [-3.0, 0.5, 2.0, -0.0]
    in_step = E.leaf_indices(X, arrays, n_threads=1)
    layout[4][:] = 0
    try:
        plain = E.leaf_indices(X, arrays, n_threads=1)
    finally:
        layout[4][:] = 2
    assert np.array_equal(in_step, plain) and (in_step[:, 0] >= 0).sum() == 3


def test_unbalanced_trees_take_the_in_step_walk_on_any_thread_count():
    """Unbalanced trees (cut short at random, walks of different lengths) mostly take the
    in-step walk (mean leaf depth >= 60% of the longest walk), a few the plain one; leaves and
    float32 sums equal the plain walk's on 1 and 2 threads (rows with NaN, ±inf)."""
    rng = np.random.default_rng(7)
    arrays = lower_trees(_forest(rng, 60, 8, 0.7), encodings({f: DataType.DOUBLE for f in FIELDS}))
    layout = E.sync_layout(arrays)
    taken = layout[4] > 0
    assert taken.any() and not taken.all(), "a mix of in-step and plain trees"
    X = _rows(rng, 6000)  # > 2 chunks: 2 threads really split the rows
    values = rng.normal(size=arrays.n_nodes)
    got = {n: (E.leaf_indices(X, arrays, n_threads=n), E.sum_values(X, arrays, values, n_threads=n, float32=True).total) for n in (1, 2)}
    saved = layout[4].copy()
    layout[4][:] = 0
    try:
        plain = (E.leaf_indices(X, arrays, n_threads=1), E.sum_values(X, arrays, values, n_threads=1, float32=True).total)
    finally:
        layout[4][:] = saved
    for n in (1, 2):
        assert np.array_equal(got[n][0], plain[0])
        assert np.array_equal(got[n][1], plain[1], equal_nan=True)
