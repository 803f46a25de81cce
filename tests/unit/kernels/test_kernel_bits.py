"""The bitvector walk (kernels/bits.py, bits_walk.walk_bits, tree_kernels._walk_bits_block):
bit for bit the pointer / in-step walks' results on forests of trees of up to 64 exits, with
NaN going either way, ±inf, -0.0, values at and next to thresholds, forests that mix laid-out
trees with trees that keep their walk, row counts around the 32-row lanes, the 256-row
passes and the blocks, on 1 and 2 threads."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from kernels_lib import SP, N, T, encodings, reference_leaves, tree, with_layout
from quickscore.ir import DataType
from quickscore.kernels import ensemble as E
from quickscore.kernels.bits import MAX_EXITS, bit_layout
from quickscore.kernels.trees import lower_trees

FIELDS = [f"x{i}" for i in range(4)]
DOUBLE = {f: DataType.DOUBLE for f in FIELDS}
THRESHOLDS = ["0", "-0.0", "1.5", "-2.25", "0.1", "1e300", "-1e300", "Infinity", "-Infinity"]
OPS = ["lessOrEqual", "greaterThan", "lessThan", "greaterOrEqual"]
COMPLEMENT = {"lessOrEqual": "greaterThan", "greaterThan": "lessOrEqual", "lessThan": "greaterOrEqual", "greaterOrEqual": "lessThan"}


def _values() -> np.ndarray:
    out = [np.nan, np.inf, -np.inf, -0.0, 0.0, 5e-324, -5e-324]
    for text in THRESHOLDS:
        v = float(text)
        out += [v, float(np.nextafter(v, np.inf)), float(np.nextafter(v, -np.inf))]
    return np.array(out)


VALUES = _values()


def _threshold(rng) -> str:
    return THRESHOLDS[int(rng.integers(len(THRESHOLDS)))] if rng.random() < 0.5 else repr(float(np.round(rng.normal(), 2)))


def _binary(rng, n_exits: int, style: str):
    """A random binary tree with exactly ``n_exits`` exits. ``style``:
    "default": [x op t, complement] with defaultChild the first or the second child (NaN goes
    TRUE or FALSE); "last": LightGBM's compact form, one child ``x > t`` under
    returnLastPrediction (NaN stays at the node); "none": [x op t, complement] with no
    missing handling (a NaN ends with no prediction: such trees keep their walk)."""
    counter = itertools.count()

    def node(pred, k: int):
        i = next(counter)
        if k == 1:
            return N(pred, score=str(i % 7), id=str(i))
        if style == "last":
            # children ``x > t`` tried in order; none TRUE (or a NaN): the node's own score
            kids, rest = [], k - 1
            while rest > 0:
                c = int(rng.integers(1, rest + 1)) if len(kids) < 2 else rest
                kids.append(node(SP(FIELDS[int(rng.integers(len(FIELDS)))], "greaterThan", _threshold(rng)), c))
                rest -= c
            return N(pred, *kids, score=str(i % 7), id=str(i))
        left = int(rng.integers(1, k))
        f = FIELDS[int(rng.integers(len(FIELDS)))]
        op = OPS[int(rng.integers(len(OPS)))]
        t = _threshold(rng)
        a, b = node(SP(f, op, t), left), node(SP(f, COMPLEMENT[op], t), k - left)
        default = (a.id if rng.random() < 0.5 else b.id) if style == "default" else None
        return N(pred, a, b, score=str(i % 7), id=str(i), default=default)

    if style == "default":
        return tree(node(T, n_exits), strategy="defaultChild")
    if style == "last":
        return tree(node(T, n_exits), no_true="returnLastPrediction")
    return tree(node(T, n_exits))


def _forest(rng, n_trees: int, styles=("default", "last"), max_exits: int = 64):
    return [_binary(rng, int(rng.integers(1, max_exits + 1)), styles[int(rng.integers(len(styles)))]) for _ in range(n_trees)]


def _rows(rng, n: int) -> np.ndarray:
    X = rng.choice(VALUES, size=(n, len(FIELDS)))
    return np.ascontiguousarray(np.where(rng.random(X.shape) < 0.4, np.round(rng.normal(size=X.shape), 2), X))


def _without_bits(arrays, fn):
    bit_layout(arrays)
    return with_layout(arrays, "_bits", None, fn)


def _results(X, arrays, values, probs, classes, n_threads):
    return (
        E.leaf_indices(X, arrays, n_threads=n_threads),
        *E.sum_values(X, arrays, values, n_threads=n_threads),
        *E.sum_values(X, arrays, values, float32=True, weights=np.linspace(0.5, 2.0, arrays.n_trees), n_threads=n_threads),
        *E.sum_probabilities(X, arrays, probs, n_threads=n_threads),
        *E.vote_counts(X, arrays, classes, 5, n_threads=n_threads),
    )


def _tables(rng, arrays):
    values = rng.normal(size=arrays.n_nodes)
    values[rng.random(arrays.n_nodes) < 0.05] = np.nan
    return values, rng.random(size=(arrays.n_nodes, 3)), rng.integers(-1, 5, size=arrays.n_nodes)


@pytest.mark.parametrize(
    "seed, n_trees, styles, n_rows",
    [
        (1, 40, ("default", "last"), 5000),
        (2, 40, ("default", "last", "none"), 4099),  # mixed with trees that keep their walk
        (3, 12, ("last",), 31),  # every tree laid out (no row split); fewer rows than one lane group
        (6, 30, ("last",), 3000),
        (4, 25, ("default",), 257),  # one row past a 256-row pass
        (5, 30, ("default", "none"), 2048 * 2 + 33),  # blocks, passes and lanes all partial
    ],
)
def test_bitvector_walk_matches_the_other_walks(seed, n_trees, styles, n_rows):
    rng = np.random.default_rng(seed)
    arrays = lower_trees(_forest(rng, n_trees, styles), encodings(DOUBLE))
    assert arrays is not None and arrays.all_le
    layout = bit_layout(arrays)
    assert layout is not None
    # Laid out: every tree of sklearn2pmml's compact LightGBM form; most defaultChild ones
    # (not those where a NaN ends on an inner node, or compares with a NaN value).
    laid_out = int((layout.tree_bits >= 0).sum())
    assert laid_out >= 5
    if "none" in styles:
        assert layout.n_other >= 1
    if styles == ("last",):
        assert laid_out == int((arrays.roots >= 0).sum()) and layout.n_other == 0
    X = _rows(rng, n_rows)
    values, probs, classes = _tables(rng, arrays)
    expected = _without_bits(arrays, lambda: _results(X, arrays, values, probs, classes, 1))
    for n_threads in (1, 2):
        got = _results(X, arrays, values, probs, classes, n_threads)
        for a, b in zip(got, expected):
            assert np.array_equal(a, b, equal_nan=True)


def test_bitvector_walk_matches_the_reference_evaluator():
    rng = np.random.default_rng(9)
    trees = _forest(rng, 8, ("last",)) + _forest(rng, 8, ("default",))
    arrays = lower_trees(trees, encodings(DOUBLE))
    assert (bit_layout(arrays).tree_bits >= 0).sum() >= 9
    X = _rows(rng, 700)
    got = E.leaf_indices(X, arrays, n_threads=1)
    columns = {f: X[:, j] for j, f in enumerate(FIELDS)}
    for t, model in enumerate(trees):
        assert np.array_equal(got[:, t], reference_leaves(model, DOUBLE, columns, len(X))[0])


def _chain(n_exits: int):
    """x0 > 1 ? (x0 > 2 ? (... : exit) : exit) : exit, in the compact form: n_exits - 1 tests,
    none implied by another, so exactly n_exits exits."""
    node = N(SP("x0", "greaterThan", str(n_exits - 1)), score=str(n_exits - 1))
    for k in range(n_exits - 2, 0, -1):
        node = N(SP("x0", "greaterThan", str(k)), node, score=str(k))
    return tree(N(T, node, score="0"), no_true="returnLastPrediction")


@pytest.mark.parametrize("n_exits, laid_out", [(2, True), (63, True), (64, True), (65, False), (200, False)])
def test_trees_of_up_to_64_exits_are_laid_out(n_exits, laid_out):
    arrays = lower_trees([_chain(n_exits)], encodings(DOUBLE))
    assert len(arrays.nodes) == n_exits - 1
    layout = bit_layout(arrays)
    assert (layout is not None and int(layout.tree_bits[0]) == 0) == laid_out
    X = np.concatenate([np.arange(-1.0, n_exits + 1.0, 0.5), [np.nan, np.inf, -np.inf]])[:, None].repeat(4, axis=1)
    expected = _without_bits(arrays, lambda: E.leaf_indices(X, arrays, n_threads=1))
    assert np.array_equal(E.leaf_indices(X, arrays, n_threads=1), expected)
    assert expected[:, 0].tolist()[:5] == [0, 0, 0, 0, 0] and expected[-3:, 0].tolist() == [0, n_exits - 1, 0]


def test_a_single_leaf_needs_no_walk():
    arrays = lower_trees([tree(N(T, score="1"))], encodings(DOUBLE))
    assert arrays.roots[0] < 0 and bit_layout(arrays) is None


def test_masks_clear_the_true_subtree():
    """x0 <= 1 ? (x1 <= 2 ? A : B) : C, NaN to the TRUE side: exits A, B, C are bits 0, 1, 2;
    the root's mask clears A and B, the inner test's clears A."""
    inner = N(SP("x0", "lessOrEqual", "1"), N(SP("x1", "lessOrEqual", "2"), score="A", id="A"), N(SP("x1", "greaterThan", "2"), score="B", id="B"), default="A", id="i")
    root = N(T, inner, N(SP("x0", "greaterThan", "1"), score="C", id="C"), default="i")
    arrays = lower_trees([tree(root, strategy="defaultChild")], encodings({"x0": DataType.DOUBLE, "x1": DataType.DOUBLE}))
    layout = bit_layout(arrays)
    full = np.uint64(0xFFFFFFFFFFFFFFFF)
    assert sorted(int(m) for m in layout.masks) == sorted([int(full & ~np.uint64(0b11)), int(full & ~np.uint64(0b1))])
    assert layout.leaves[:4].tolist()[:3] == [2, 3, 4] and layout.leaves[3] == -1  # pre-order indices of A, B, C
    X = np.array([[0.0, 0.0], [0.0, 3.0], [2.0, 0.0], [np.nan, 3.0], [0.0, np.nan], [np.inf, -np.inf]])
    assert E.leaf_indices(X, arrays, n_threads=1)[:, 0].tolist() == [2, 3, 4, 3, 2, 4]


def test_nan_thresholds_and_missing_levels_keep_their_walk():
    """A NaN comparison value (FALSE for every x) keeps the pointer walk; with missing levels
    wanted (leaf_indices(levels=True)) no tree takes the bitvector walk."""
    nan_tree = tree(N(T, N(SP("x0", "lessOrEqual", "NaN"), score="1", id="a"), N(SP("x0", "greaterThan", "NaN"), score="2", id="b"), default="a"), strategy="defaultChild")
    rng = np.random.default_rng(5)
    arrays = lower_trees([nan_tree, _binary(rng, 10, "default")], encodings(DOUBLE))
    layout = bit_layout(arrays)
    assert layout.tree_bits.tolist() == [-1, 0] and layout.n_other == 1
    X = _rows(rng, 300)
    expected = _without_bits(arrays, lambda: E.leaf_indices(X, arrays, levels=True, n_threads=1))
    got = E.leaf_indices(X, arrays, levels=True, n_threads=1)
    assert all(np.array_equal(a, b) for a, b in zip(got, expected))


def test_other_ops_have_no_layout():
    arrays = lower_trees([tree(N(T, N(SP("x0", "equal", "1"), score="1"), N(T, score="2")))], encodings({"x0": DataType.DOUBLE}))
    assert not arrays.all_le and bit_layout(arrays) is None


_FOREST = None


def _hypothesis_forest():
    global _FOREST
    if _FOREST is None:
        rng = np.random.default_rng(21)
        arrays = lower_trees(_forest(rng, 16, ("default", "last", "none")), encodings(DOUBLE))
        _FOREST = (arrays, rng.normal(size=arrays.n_nodes))
    return _FOREST


@settings(max_examples=60, deadline=None)
@given(
    hnp.arrays(
        np.float64,
        st.tuples(st.integers(1, 80), st.just(len(FIELDS))),
        elements=st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from(list(VALUES))),
    )
)
def test_any_rows(X):
    arrays, values = _hypothesis_forest()
    X = np.ascontiguousarray(X)
    expected = _without_bits(arrays, lambda: (E.leaf_indices(X, arrays, n_threads=1), E.sum_values(X, arrays, values, n_threads=1)))
    assert np.array_equal(E.leaf_indices(X, arrays, n_threads=1), expected[0])
    for a, b in zip(E.sum_values(X, arrays, values, n_threads=1), expected[1]):
        assert np.array_equal(a, b, equal_nan=True)


def test_exits_bound():
    assert MAX_EXITS == 64


def _balanced(depth: int):
    """A complete binary tree, level k testing field f{k} (no test implied by another), a NaN
    to the first child: 2**depth exits, 2**depth - 1 tests."""
    counter = itertools.count()

    def node(pred, level):
        i = next(counter)
        if level == depth:
            return N(pred, score=str(i), id=str(i))
        f, t = f"f{level}", str(i % 5)
        a = node(SP(f, "lessOrEqual", t), level + 1)
        return N(pred, a, node(SP(f, "greaterThan", t), level + 1), score=str(i), id=str(i), default=a.id)

    return tree(node(T, 0), strategy="defaultChild")


@pytest.mark.parametrize("depth", [6, 7, 8])
def test_bushy_trees_past_64_exits_stay_in_bounds(depth):
    """Wide trees reach more than 63 entered tests before their 65th exit: the layout must give
    up before writing past its 64-entry scratch arrays (checked on the pure-Python function,
    whose numpy indexing raises on an out-of-bounds index)."""
    from quickscore.kernels import bits

    types = {f"f{k}": DataType.DOUBLE for k in range(depth)}
    arrays = lower_trees([_balanced(depth)], encodings(types))
    nodes = arrays.nodes
    assert len(nodes) == 2**depth - 1
    args = [nodes["threshold"].copy(), nodes["feature"].astype(np.int64), nodes["true_next"].astype(np.int64), nodes["false_next"].astype(np.int64), nodes["missing_next"].astype(np.int64)]
    E_ = bits.MAX_EXITS
    got = bits._lay_out.py_func(*args, int(arrays.roots[0]), np.zeros(len(nodes), dtype=np.bool_), np.empty((4, E_), dtype=np.int64), np.empty(2 * E_, dtype=np.int64), np.empty(E_, dtype=np.int64), np.empty(E_, dtype=np.bool_), np.empty(E_, dtype=np.uint64), np.empty(E_, dtype=np.int32))
    assert (got == 2**depth - 1) == (depth <= 6) and (got == -1) == (depth > 6)
    X = np.random.default_rng(depth).normal(scale=3, size=(500, depth))
    expected = _without_bits(arrays, lambda: E.leaf_indices(X, arrays, n_threads=1))
    assert np.array_equal(E.leaf_indices(X, arrays, n_threads=1), expected)
