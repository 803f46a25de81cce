"""The float32 walk (ensemble.walk32, lanes.walk_rows_le32_clean, tree_kernels._split32): bit
for bit the float64 walk's results on forests of fields with dataType float, with NaN, ±inf,
-0.0, values exactly at float32 thresholds, their float32 neighbours and float64 values
between two float32s (rows a caller did not round), on 1 and 2 threads."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from kernels_lib import SP, N, T, encodings, tree, with_layout
from quickscore.ir import DataType
from quickscore.kernels import ensemble as E
from quickscore.kernels.trees import lower_trees

FIELDS = [f"x{i}" for i in range(5)]
FLOAT = {f: DataType.FLOAT for f in FIELDS}
F32_MAX = float(np.finfo(np.float32).max)

# Comparison values as PMML text: float32-exact ones, ones float32 rounds (0.1, 16777217),
# beyond float32's range (1e39: +inf as a float), -0.0, infinities, NaN (never TRUE).
OPERANDS = ["0.1", "-0.0", "0", "1", "-1.5", "16777217", "3.4e38", "1e39", "-1e39", "2.5", "Infinity", "-Infinity", "NaN", "1e-45"]
OPS = ["lessOrEqual", "greaterThan", "lessThan", "greaterOrEqual"]
COMPLEMENT = {"lessOrEqual": "greaterThan", "greaterThan": "lessOrEqual", "lessThan": "greaterOrEqual", "greaterOrEqual": "lessThan"}


def _values() -> list[float]:
    out = [np.nan, np.inf, -np.inf, -0.0, 0.0, F32_MAX, -F32_MAX, 1e39, 5e-324, 2.0**-149]
    for text in OPERANDS:
        v = float(text)
        if not np.isfinite(v):
            continue
        with np.errstate(over="ignore"):
            f = np.float32(v)
        out += [v, float(f), float(np.nextafter(f, np.float32(np.inf))), float(np.nextafter(f, np.float32(-np.inf)))]
        out += [float(np.nextafter(float(f), np.inf)), float(np.nextafter(float(f), -np.inf))]  # between two float32s
    return out


VALUES = np.array(_values())


def _forest(rng: np.random.Generator, n_trees: int, depth: int, stop: float = 0.3):
    """Trees of `x op t` / its complement; a branch stops early with probability ``stop``, so
    walks differ in length and most trees keep the pointer walk (not the in-step walk of
    ``ensemble.sync_layout``, which the float32 walk leaves to depth-limited trees)."""
    counter = itertools.count()

    def node(predicate, level: int):
        if level == depth or (level > 1 and rng.random() < stop):
            return N(predicate, score=str(next(counter) % 5))
        field = FIELDS[int(rng.integers(len(FIELDS)))]
        op = OPS[int(rng.integers(len(OPS)))]
        t = OPERANDS[int(rng.integers(len(OPERANDS)))] if rng.random() < 0.7 else repr(float(rng.normal()))
        return N(predicate, node(SP(field, op, t), level + 1), node(SP(field, COMPLEMENT[op], t), level + 1))

    return [tree(node(T, 0)) for _ in range(n_trees)]


def _rows(rng: np.random.Generator, n: int, rounded: bool) -> np.ndarray:
    X = rng.choice(VALUES, size=(n, len(FIELDS)))
    X = np.where(rng.random(X.shape) < 0.3, rng.normal(size=X.shape), X)
    if rounded:  # as schema.values holds a float field: float32-rounded, NaN kept
        with np.errstate(over="ignore"):
            X = X.astype(np.float32).astype(np.float64)
        X[rng.random(X.shape) < 0.02] = np.nan
    return np.ascontiguousarray(X)


def _float64_walk(arrays, fn):
    E.walk32(arrays)
    return with_layout(arrays, "_walk32", None, fn)


def _results(X, arrays, values, probs, classes, n_threads):
    return (
        E.leaf_indices(X, arrays, n_threads=n_threads),
        E.leaf_indices(X, arrays, levels=True, n_threads=n_threads)[0],
        *E.sum_values(X, arrays, values, n_threads=n_threads),
        *E.sum_values(X, arrays, values, float32=True, n_threads=n_threads),
        *E.sum_probabilities(X, arrays, probs, n_threads=n_threads),
        *E.vote_counts(X, arrays, classes, 5, n_threads=n_threads),
    )


@pytest.mark.parametrize("seed, depth, stop, rounded", [(1, 13, 0.4, True), (2, 13, 0.3, True), (3, 16, 0.25, True), (4, 14, 0.3, False), (5, 15, 0.3, True)])
def test_float32_walk_matches_the_float64_walk(seed, depth, stop, rounded):
    rng = np.random.default_rng(seed)
    arrays = lower_trees(_forest(rng, 30, depth, stop), encodings(FLOAT))
    assert arrays is not None and arrays.all_le
    assert E.batch_walk(arrays) == "float32"
    if stop > 0:
        assert (E.sync_layout(arrays)[4] == 0).sum() >= 5, "trees on the pointer walk, so on the float32 walk"
    X = _rows(rng, 5000, rounded)
    values = rng.normal(size=arrays.n_nodes)
    values[rng.random(arrays.n_nodes) < 0.05] = np.nan
    probs = rng.random(size=(arrays.n_nodes, 3))
    classes = rng.integers(-1, 5, size=arrays.n_nodes)
    expected = _float64_walk(arrays, lambda: _results(X, arrays, values, probs, classes, 1))
    for n_threads in (1, 2):
        got = _results(X, arrays, values, probs, classes, n_threads)
        for a, b in zip(got, expected):
            assert np.array_equal(a, b, equal_nan=True)


def test_float32_walk_takes_most_rounded_rows():
    """Rows of float32-rounded values without NaN take the float32 walk; the others the
    float64 one (checked through the results of a row both ways)."""
    rng = np.random.default_rng(7)
    arrays = lower_trees(_forest(rng, 10, 6), encodings(FLOAT))
    X = _rows(rng, 300, rounded=True)
    single = np.vstack([E.leaf_indices(X[i : i + 1], arrays, n_threads=1) for i in range(len(X))])
    assert np.array_equal(single, E.leaf_indices(X, arrays, n_threads=1))


def test_thresholds_round_down_to_float32():
    """``lessThan 0.1`` on a float field: x < float32(0.1), i.e. x <= the float32 below it."""
    arrays = lower_trees([tree(N(T, N(SP("x0", "lessThan", "0.1"), score="1"), N(SP("x0", "greaterOrEqual", "0.1"), score="2")))], encodings({"x0": DataType.FLOAT}))
    E.sync_layout(arrays)[4][:] = 0  # the tree on the pointer walk, so on the float32 walk
    w = E.walk32(arrays)
    f = np.float32(0.1)
    below = np.nextafter(f, np.float32(-np.inf))
    assert w["key"][0] >> 32 == E.order32(np.array([below], dtype=np.float32))[0]
    X = np.array([[float(f)], [float(below)], [float(np.nextafter(f, np.float32(np.inf)))], [-0.0], [np.inf], [-np.inf]])
    assert E.leaf_indices(X, arrays, n_threads=1)[:, 0].tolist() == [2, 1, 2, 1, 2, 1]


def test_order_keys_sort_as_the_floats():
    rng = np.random.default_rng(3)
    special = np.array([np.inf, -np.inf, 0.0, -0.0, 2.0**-149, -(2.0**-149), F32_MAX, -F32_MAX, 1.0, -1.0], dtype=np.float32)
    x = np.concatenate([special, rng.normal(size=2000).astype(np.float32), (rng.normal(size=500) * 1e-40).astype(np.float32)])
    k = E.order32(x)
    a, b = x[:, None], x[None, :]
    assert np.array_equal(k[:, None] <= k[None, :], a <= b)
    assert (E.order32(np.array([np.nan], dtype=np.float32)) < k.min()).all()


@pytest.mark.parametrize(
    "types, op",
    [({f: DataType.DOUBLE for f in FIELDS}, "lessOrEqual"), ({**FLOAT, "x4": DataType.DOUBLE}, "lessOrEqual"), (FLOAT, "equal")],
)
def test_other_forests_keep_the_float64_walk(types, op):
    trees = [tree(N(T, N(SP(f, op, "1.5"), score="1"), N(T, score="2"))) for f in FIELDS]
    arrays = lower_trees(trees, encodings(types))
    assert E.walk32(arrays) is None and E.batch_walk(arrays) == "float64"


@pytest.mark.parametrize("seed, method, classification", [(11, "average", True), (12, "majorityVote", True), (13, "sum", False)])
def test_float_fields_take_the_float32_walk_and_match_the_reference(seed, method, classification):
    """A MiningModel of trees on dataType float fields: ``FusedEnsemble.walk`` says "float32"
    and the predictions equal the reference evaluator's, on 1 and 2 threads."""
    import dataclasses

    import pandas as pd
    from test_kernel_fused import FIELDS as FUSED_FIELDS
    from test_kernel_fused import _document, _random_tree

    from quickscore.runtime.model import Model

    rng = np.random.default_rng(seed)
    # only `<=` / `>` tests: the float32 walk's forests (the helper adds some True branches)
    trees = [_random_tree(rng, 13, classification, scored=True) for _ in range(9)]  # deeper than the in-step walk takes
    doc = _document(trees, method, "continue", 1.0, np.ones(9), classification, "double")
    doc = dataclasses.replace(doc, data_fields=tuple(dataclasses.replace(f, data_type=DataType.FLOAT) for f in doc.data_fields))
    X = rng.choice(np.concatenate([VALUES, rng.normal(size=40).round(1)]), size=(3000, len(FUSED_FIELDS)))
    frame = pd.DataFrame(X, columns=list(FUSED_FIELDS))
    reference = Model(doc, engine="reference").predict(frame)
    plain = Model(doc, n_threads=1)
    plain._compiled.core.fused.arrays.__dict__["_walk32"] = None
    assert plain._compiled.core.fused.walk == "float64"
    float64_walk = plain.predict(frame)
    for n_threads in (1, 2):
        model = Model(doc, n_threads=n_threads)
        assert model._compiled.core.fused.walk == "float32"
        got = model.predict(frame)
        assert got.columns.tolist() == reference.columns.tolist()
        assert frame_equal(got, float64_walk)
        assert frame_equal(got, reference)


def frame_equal(a, b) -> bool:
    if a.columns.tolist() != b.columns.tolist():
        return False
    for c in a.columns:
        x, y = a[c].to_numpy(), b[c].to_numpy()
        if not (np.array_equal(x, y, equal_nan=True) if x.dtype.kind == "f" else a[c].reset_index(drop=True).equals(b[c].reset_index(drop=True))):
            return False
    return True


def test_forests_all_on_the_in_step_walk_keep_the_float64_walk():
    rng = np.random.default_rng(8)
    arrays = lower_trees(_forest(rng, 10, 4, stop=0.0), encodings(FLOAT))
    assert (E.sync_layout(arrays)[4] > 0).all()
    assert E.walk32(arrays) is None and E.batch_walk(arrays) == "float64"
