"""Random trees (Hypothesis): the kernels agree exactly with TreeCore.leaves and a per-row evaluator."""

from __future__ import annotations

import itertools
import math

import numpy as np
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from kernels_lib import CP, SP, SS, F, N, T, column, encodings, reference_leaves, rowwise_leaves, tree
from quickscore.ir import DataType, Node
from quickscore.kernels import ensemble as E
from quickscore.kernels import options
from quickscore.kernels.trees import lower_trees

D, FL, I, S = DataType.DOUBLE, DataType.FLOAT, DataType.INTEGER, DataType.STRING
TYPES = {"d": D, "f": FL, "i": I, "s": S, "w": S}

OPERANDS = {
    "d": ["-Infinity", "-1.5", "-0.0", "0", "0.1", "1", "2.5", "1e300", "Infinity", "NaN"],
    "f": ["0.1", "-0.0", "1", "16777217", "3.4e38", "2.5"],
    "i": ["0", "1", "-2", "3", "1.5"],
    "s": ["a", "b", "c", "d", "e"],
    "w": [f"v{k}" for k in range(100)],
}


def _neighbours(texts: list[str]) -> list:
    out: list = [None]
    for t in texts:
        v = float(t)
        out.append(v)
        if math.isfinite(v):
            out += [float(np.nextafter(v, math.inf)), float(np.nextafter(v, -math.inf))]
    return out


VALUES = {
    "d": _neighbours(OPERANDS["d"]) + [math.inf, -math.inf],
    "f": _neighbours(OPERANDS["f"]) + [float(np.float32(0.1)), 16777216.0, 1e39, -math.inf],
    "i": [None, -3.0, -2.0, 0.0, 1.0, 2.0, 3.0, 4.0],
    "s": [None, "a", "b", "c", "d", "e", "unseen"],
    "w": [None, "v0", "v1", "v63", "v64", "v65", "v99", "zzz"] + [f"v{k}" for k in range(2, 40)],
}

COMPLEMENT = {
    "lessOrEqual": "greaterThan",
    "greaterThan": "lessOrEqual",
    "lessThan": "greaterOrEqual",
    "greaterOrEqual": "lessThan",
    "equal": "notEqual",
    "notEqual": "equal",
    "isMissing": "isNotMissing",
    "isNotMissing": "isMissing",
}


@st.composite
def simple(draw, fields=tuple(sorted(TYPES))):
    field = draw(st.sampled_from(fields))
    numeric = TYPES[field].is_numeric
    kind = draw(st.sampled_from(["simple", "simple", "set", "missing"]))
    if kind == "missing":
        return SP(field, draw(st.sampled_from(["isMissing", "isNotMissing"])))
    if kind == "set":
        values = draw(st.lists(st.sampled_from(OPERANDS[field]), max_size=6 if field != "w" else 70, unique=True))
        return SS(field, draw(st.sampled_from(["isIn", "isNotIn"])), *values)
    ops = ["equal", "notEqual", "lessThan", "lessOrEqual", "greaterThan", "greaterOrEqual"] if numeric else ["equal", "notEqual"]
    return SP(field, draw(st.sampled_from(ops)), draw(st.sampled_from(OPERANDS[field])))


def predicate(fields, depth: int = 2):
    leaf = st.one_of(simple(fields), simple(fields), simple(fields), st.just(T), st.just(F))
    if depth == 0:
        return leaf

    @st.composite
    def compound(draw):
        kind = draw(st.sampled_from(["and", "or", "xor", "surrogate"]))
        parts = draw(st.lists(predicate(fields, depth - 1), min_size=1 if kind == "surrogate" else 2, max_size=3))
        return CP(kind, *parts)

    return st.one_of(leaf, leaf, leaf, compound())


def complement(p):
    if isinstance(p, type(SP("x", "equal", "1"))):
        return SP(p.field, COMPLEMENT[p.operator], p.value)
    if isinstance(p, type(SS("x", "isIn"))):
        return SS(p.field, "isNotIn" if p.boolean_operator == "isIn" else "isIn", *p.values)
    return T


@st.composite
def node(draw, depth: int, counter: itertools.count, fields):
    ident = str(next(counter))
    score = draw(st.sampled_from([None, "s" + ident]))
    if depth == 0 or draw(st.integers(0, 3)) == 0:
        return lambda pred: N(pred, score=score or "s" + ident, id=ident)
    if draw(st.booleans()):
        # A binary split: a predicate and its complement (or True): what threading collapses.
        first = draw(simple(fields))
        preds = [first, complement(first) if draw(st.integers(0, 3)) else T]
    else:
        preds = draw(st.lists(predicate(fields), min_size=1, max_size=3))
    makers = [draw(node(depth - 1, counter, fields)) for _ in preds]
    children = tuple(m(p) for m, p in zip(makers, preds))
    default = draw(st.sampled_from([c.id for c in children] + [None]))
    return lambda pred: N(pred, *children, score=score, id=ident, default=default)


@st.composite
def trees(draw):
    counter = itertools.count()
    # Few fields per tree, so that tests on one column follow each other (what threading uses).
    fields = tuple(draw(st.lists(st.sampled_from(sorted(TYPES)), min_size=1, max_size=3, unique=True)))
    root_pred = draw(st.one_of(st.just(T), st.just(T), st.just(T), predicate(fields, 1)))
    root = draw(node(draw(st.integers(1, 4)), counter, fields))(root_pred)
    strategy = draw(st.sampled_from(["none", "lastPrediction", "nullPrediction", "defaultChild"]))
    no_true = draw(st.sampled_from(["returnNullPrediction", "returnLastPrediction"]))
    return tree(root, strategy, no_true)


@st.composite
def rows(draw):
    n = draw(st.integers(1, 40))
    return {f: [draw(st.sampled_from(VALUES[f])) for _ in range(n)] for f in TYPES}


def _walkable(model) -> bool:
    """False when a row may need a defaultChild that a node lacks (TreeCore then fails rows)."""
    if model.missing_value_strategy != "defaultChild":
        return True

    def ok(nd: Node) -> bool:
        return (not nd.children or nd.default_child is not None) and all(ok(c) for c in nd.children)

    return ok(model.root)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(trees(), min_size=1, max_size=3), rows())
def test_random_trees_match_reference(models, data):
    n = len(data["d"])
    cols = {f: column(data[f], TYPES[f]) for f in TYPES}
    arrays = lower_trees(models, encodings(TYPES, {"s": ("c", "a")}))
    if arrays is None:
        # Only a defaultChild tree with a node lacking its defaultChild may fall back.
        assert not all(_walkable(m) for m in models)
        event("falls back (defaultChild without a default child)")
        return
    event(f"lowered: {'no tests' if arrays.n_tests == 0 else 'LE only' if arrays.all_le else 'mixed ops'}")
    event(f"rows with NaN: {'none' if not np.isnan(arrays.encode(cols, n)[:, arrays.used_cols]).any() else 'some'}")
    X = arrays.encode(cols, n)
    got, levels = E.leaf_indices(X, arrays, levels=True, n_threads=1)
    got_blocks = E.leaf_indices(X, arrays, n_threads=1, block=3)
    np.testing.assert_array_equal(got_blocks, got)
    for t, model in enumerate(models):
        ref, ref_levels, failed = reference_leaves(model, TYPES, cols, n)
        mine, mine_levels, errors = rowwise_leaves(model, TYPES, cols, n)
        np.testing.assert_array_equal(failed, errors)
        np.testing.assert_array_equal(ref, mine)
        np.testing.assert_array_equal(ref_levels, mine_levels)
        assume(not failed.any())
        np.testing.assert_array_equal(got[:, t], ref)
        np.testing.assert_array_equal(levels[:, t], ref_levels)
    for r in range(n):
        np.testing.assert_array_equal(E.leaf_indices_row(X[r], arrays), got[r])
        np.testing.assert_array_equal(E.leaf_indices(X[r : r + 1], arrays), got[r : r + 1])
    old = options.MIN_ROWS_PER_THREAD
    options.MIN_ROWS_PER_THREAD = 1
    try:
        np.testing.assert_array_equal(E.leaf_indices(np.repeat(X, 50, axis=0), arrays, n_threads=2), np.repeat(got, 50, axis=0))
    finally:
        options.MIN_ROWS_PER_THREAD = old


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_binary_trees_lower_to_one_test_per_split(data):
    # [p, complement(p)] children become a single test: at most one test per internal node
    # (fewer when an ancestor already decided a test).
    counter = itertools.count()

    def build(depth: int):
        ident = str(next(counter))
        if depth == 0 or data.draw(st.integers(0, 4)) == 0:
            return lambda pred: N(pred, score="s" + ident, id=ident), 0
        first = data.draw(simple(fields))
        second = complement(first) if data.draw(st.booleans()) else T
        (left, nl), (right, nr) = build(depth - 1), build(depth - 1)
        children = (left(first), right(second))
        return (lambda pred: N(pred, *children, id=ident, default=children[1].id)), 1 + nl + nr

    fields = tuple(data.draw(st.lists(st.sampled_from(sorted(TYPES)), min_size=1, max_size=2, unique=True)))
    make, internal = build(5)
    strategy = data.draw(st.sampled_from(["none", "lastPrediction", "nullPrediction", "defaultChild"]))
    arrays = lower_trees([tree(make(T), strategy)], encodings(TYPES))
    assert arrays is not None
    assert arrays.n_tests <= internal


def test_large_random_trees_match_reference():
    # Deeper trees and more rows than the Hypothesis cases: every lane of the interleaved walks
    # is refilled many times, clean and NaN rows mix in each block.
    rng = np.random.default_rng(42)
    counter = itertools.count()
    numeric = ["d", "f", "i"]

    def build(depth):
        ident = str(next(counter))
        if depth == 0 or rng.random() < 0.08:
            return lambda pred: N(pred, score="s" + ident, id=ident)
        field = numeric[rng.integers(3)] if rng.random() < 0.8 else ["s", "w"][rng.integers(2)]
        if field in ("s", "w"):
            members = list(rng.choice(OPERANDS[field], size=rng.integers(1, 4), replace=False))
            first = SS(field, "isIn", *members)
        else:
            op = ["lessOrEqual", "lessThan", "equal", "greaterThan"][rng.integers(4)]
            first = SP(field, op, OPERANDS[field][rng.integers(len(OPERANDS[field]))])
        second = complement(first) if rng.random() < 0.7 else T
        left, right = build(depth - 1), build(depth - 1)
        children = (left(first), right(second))
        return lambda pred: N(pred, *children, id=ident, default=children[int(rng.integers(2))].id)

    models = [tree(build(11)(T), strategy) for strategy in ("none", "defaultChild", "nullPrediction", "lastPrediction")]
    n = 3000
    data = {f: [VALUES[f][i] for i in rng.integers(len(VALUES[f]), size=n)] for f in TYPES}
    cols = {f: column(data[f], TYPES[f]) for f in TYPES}
    for subset in (models, [models[0]]):
        arrays = lower_trees(subset, encodings(TYPES))
        X = arrays.encode(cols, n)
        got, levels = E.leaf_indices(X, arrays, levels=True)
        plain = E.leaf_indices(X, arrays)
        for t, model in enumerate(subset):
            ref, ref_levels, failed = reference_leaves(model, TYPES, cols, n)
            assert not failed.any()
            np.testing.assert_array_equal(got[:, t], ref)
            np.testing.assert_array_equal(plain[:, t], ref)
            np.testing.assert_array_equal(levels[:, t], ref_levels)
        for r in range(0, n, 37):
            np.testing.assert_array_equal(E.leaf_indices_row(X[r], arrays), got[r])
