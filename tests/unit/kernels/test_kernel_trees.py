"""Tree kernels on hand-built trees: exact agreement with TreeCore.leaves (and a per-row evaluator)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from kernels_lib import CP, SP, SS, F, N, T, column, encodings, reference_leaves, rowwise_leaves, tree
from quickscore.ir import DataType
from quickscore.kernels import ensemble as E
from quickscore.kernels import options
from quickscore.kernels.trees import NODE_DTYPE, OP_BITS, OP_EQ, OP_LE, OP_SORTED, UNSEEN, lower_trees

D = DataType.DOUBLE


def check(model, types, data, *, expect_tests=None, categories=None):
    """Lower ``model`` and compare every path of the kernels with both references."""
    n = len(next(iter(data.values())))
    cols = {name: column(data[name], types[name]) for name in types}
    arrays = lower_trees([model], encodings(types, categories))
    assert arrays is not None
    ref, ref_levels, failed = reference_leaves(model, types, cols, n)
    assert not failed.any()
    row, row_levels, errors = rowwise_leaves(model, types, cols, n)
    assert not errors.any()
    np.testing.assert_array_equal(ref, row)
    np.testing.assert_array_equal(ref_levels, row_levels)
    X = arrays.encode(cols, n)
    for block in (1, 3, 512):
        got, levels = E.leaf_indices(X, arrays, levels=True, n_threads=1, block=block)
        np.testing.assert_array_equal(got[:, 0], ref)
        np.testing.assert_array_equal(levels[:, 0], ref_levels)
        np.testing.assert_array_equal(E.leaf_indices(X, arrays, n_threads=1, block=block)[:, 0], ref)
    for r in range(n):
        assert E.leaf_indices_row(X[r], arrays)[0] == ref[r]
        assert E.leaf_indices(X[r : r + 1], arrays)[0, 0] == ref[r]
    if expect_tests is not None:
        assert arrays.n_tests == expect_tests
    return arrays, ref


# --- numeric splits ------------------------------------------------------------------------------


def test_binary_tree_is_one_test_per_split():
    # sklearn2pmml style: <True/> root, [x <= t, x > t] children.
    model = tree(
        N(
            T,
            N(SP("x", "lessOrEqual", "1.5"), N(SP("y", "lessOrEqual", "0"), score="1"), N(SP("y", "greaterThan", "0"), score="2")),
            N(SP("x", "greaterThan", "1.5"), score="3"),
        ),
        strategy="nullPrediction",
    )
    data = {"x": [1.0, 1.5, 2.0, None, -math.inf, math.inf, 1.5], "y": [0.0, -0.0, None, 1.0, 5e-324, -5e-324, 0.0]}
    arrays, ref = check(model, {"x": D, "y": D}, data, expect_tests=2)
    assert ref.tolist() == [2, 2, 4, -1, 3, 4, 2]
    assert arrays.all_le


@pytest.mark.parametrize("strategy", ["none", "lastPrediction", "nullPrediction", "defaultChild"])
@pytest.mark.parametrize("no_true", ["returnNullPrediction", "returnLastPrediction"])
def test_strategies(strategy, no_true):
    model = tree(
        N(
            T,
            N(SP("x", "lessThan", "0"), N(SP("y", "greaterOrEqual", "2"), id="a"), N(SP("y", "lessThan", "1"), id="b"), id="n1", score="s1", default="b"),
            N(SP("x", "greaterOrEqual", "0"), N(SP("y", "equal", "2"), id="c"), N(SP("y", "notEqual", "3"), id="d"), id="n2", default="c"),
            id="root",
            score="s0",
            default="n2",
        ),
        strategy=strategy,
        no_true=no_true,
    )
    values = [None, -1.0, 0.0, 1.0, 1.5, 2.0, 3.0, -math.inf, math.inf, -0.0]
    xs, ys = zip(*[(a, b) for a in values for b in values])
    check(model, {"x": D, "y": D}, {"x": list(xs), "y": list(ys)})


def test_comparison_boundaries_are_exact():
    # Every operator at, just below and just above its threshold, including infinities and -0.0.
    thresholds = ["0", "-0.0", "0.1", "1e308", "-1e-320", "Infinity", "-Infinity", "NaN"]
    ops = ["equal", "notEqual", "lessThan", "lessOrEqual", "greaterThan", "greaterOrEqual"]
    values = [None, 0.0, -0.0, math.inf, -math.inf, 1e308, 5e-324, -5e-324, -1e-320]
    for t in thresholds:
        v = float(t)
        if math.isfinite(v):
            values += [v, float(np.nextafter(v, math.inf)), float(np.nextafter(v, -math.inf))]
    for op in ops:
        for t in thresholds:
            model = tree(N(T, N(SP("x", op, t), score="1"), N(T, score="2")), strategy="lastPrediction")
            check(model, {"x": D}, {"x": values})


def test_float_fields_compare_float32_rounded_values():
    # dataType float: thresholds and values are float32-rounded, so 0.1 matches float32(0.1).
    f32 = float(np.float32(0.1))
    values = [0.1, f32, float(np.nextafter(f32, 1.0)), float(np.nextafter(f32, -1.0)), 16777217.0, 3.5e38, None]
    for op in ("lessOrEqual", "lessThan", "equal", "greaterThan"):
        for t in ("0.1", "16777217", "3.4028235e38", "1e39"):
            model = tree(N(T, N(SP("x", op, t), score="1"), N(T, score="2")))
            check(model, {"x": DataType.FLOAT}, {"x": values})


def test_integer_and_boolean_fields():
    # Integer fields compare with double thresholds; boolean thresholds like 0.5 are doubles.
    model = tree(
        N(
            T,
            N(SP("i", "lessOrEqual", "70.5"), N(SP("b", "lessOrEqual", "0.5"), score="1"), N(SP("b", "equal", "true"), score="2")),
            N(SP("i", "greaterThan", "70.5"), score="3"),
        ),
        strategy="nullPrediction",
    )
    check(model, {"i": DataType.INTEGER, "b": DataType.BOOLEAN}, {"i": [70, 71, None, 0, -3], "b": [0.0, 1.0, 1.0, None, 0.0]})


def test_multiway_compact_tree_returns_last_prediction():
    # LightGBM style: children tried in order, the parent's score when none matches.
    model = tree(
        N(
            T,
            N(SP("a", "lessOrEqual", "54.5"), N(SP("b", "lessOrEqual", "40985.8"), score="x"), N(SP("a", "greaterThan", "31.5"), score="y"), score="p"),
            N(SP("b", "greaterThan", "970.1"), score="q"),
            N(SP("a", "greaterThan", "29.5"), score="r"),
            score="root",
        ),
        no_true="returnLastPrediction",
    )
    vals_a = [None, 10.0, 30.0, 31.5, 40.0, 54.5, 60.0]
    vals_b = [None, 0.0, 970.1, 1000.0, 50000.0]
    a, b = zip(*[(x, y) for x in vals_a for y in vals_b])
    check(model, {"a": D, "b": D}, {"a": list(a), "b": list(b)})


def test_default_child_counts_missing_levels():
    # XGBoost style: binary splits with defaultChild; levels count the jumps.
    model = tree(
        N(
            T,
            N(SP("x", "lessThan", "1"), N(SP("y", "lessThan", "2"), id="3"), N(SP("y", "greaterOrEqual", "2"), id="4"), id="1", default="4"),
            N(SP("x", "greaterOrEqual", "1"), N(SP("x", "lessThan", "5"), id="5"), N(SP("x", "greaterOrEqual", "5"), id="6"), id="2", default="5"),
            id="0",
            default="2",
        ),
        strategy="defaultChild",
    )
    arrays, ref = check(model, {"x": D, "y": D}, {"x": [None, None, 0.0, 2.0, 7.0, 0.0], "y": [None, 1.0, None, None, 1.0, 3.0]})
    assert arrays.n_tests == 3  # the second test of each pair is threaded away
    levels = E.missing_levels(arrays.encode({"x": column([None], D), "y": column([None], D)}, 1), arrays)
    assert levels.tolist() == [[2]]


def test_missing_predicates_and_true_false():
    model = tree(
        N(
            T,
            N(F, score="never"),
            N(SP("x", "isMissing"), N(SP("y", "isNotMissing"), score="a"), N(T, score="b")),
            N(SP("x", "isNotMissing"), N(SP("y", "isMissing"), score="c"), N(SP("y", "isNotMissing"), score="d")),
        ),
        strategy="nullPrediction",
    )
    check(model, {"x": D, "y": D}, {"x": [None, None, 1.0, 1.0], "y": [None, 2.0, None, 2.0]})


def test_root_predicate_must_be_true():
    for pred in (F, SP("x", "greaterThan", "0"), CP("surrogate", SP("x", "lessThan", "0"), T)):
        model = tree(N(pred, N(SP("x", "lessThan", "5"), score="a"), N(T, score="b")), strategy="lastPrediction")
        check(model, {"x": D}, {"x": [None, -1.0, 1.0, 10.0]})


def test_leaf_root():
    model = tree(N(T, score="only"))
    arrays, ref = check(model, {"x": D}, {"x": [None, 1.0]}, expect_tests=0)
    assert ref.tolist() == [0, 0]


# --- categorical and set predicates ------------------------------------------------------------------


def test_categorical_equal_and_sets():
    S = DataType.STRING
    model = tree(
        N(
            T,
            N(SP("c", "equal", "Married"), N(SS("e", "isIn", "HSgrad", "Master", "Yr11"), score="1"), N(SS("e", "isNotIn", "HSgrad", "Master", "Yr11"), score="2")),
            N(SP("c", "notEqual", "Married"), N(SS("e", "isIn", "Bachelor", "College"), score="3"), N(SS("e", "isIn", "Doctorate"), score="4")),
        ),
        strategy="lastPrediction",
    )
    cs = ["Married", "Single", None, "unseen", "Married", "Single", "Single", "Married"]
    es = ["HSgrad", "Bachelor", "Yr11", "Doctorate", None, "nope", "Doctorate", "Master"]
    arrays, _ = check(model, {"c": S, "e": S}, {"c": cs, "e": es}, categories={"c": ("Single",)})
    assert arrays.categories["c"] == {"Single": 0, "Married": 1}
    ops = set(arrays.nodes["op"].tolist())
    assert OP_BITS in ops and OP_EQ in ops
    X = arrays.encode({"c": column(["unseen"], S), "e": column([None], S)}, 1)
    assert X[0, arrays.fields["c"].column] == UNSEEN and math.isnan(X[0, arrays.fields["e"].column])


def test_bitsets_span_several_words():
    S = DataType.STRING
    cats = tuple(f"v{i}" for i in range(200))
    members = cats[::3]
    model = tree(N(T, N(SS("c", "isIn", *members), score="in"), N(SS("c", "isNotIn", *members), score="out")), strategy="nullPrediction")
    arrays, _ = check(model, {"c": S}, {"c": list(cats) + [None, "zzz"]}, categories={"c": cats}, expect_tests=1)
    assert arrays.bitsets[0] == 4


def test_numeric_sets():
    model = tree(
        N(
            T,
            N(SS("x", "isIn", "1", "2.5", "-0.0", "Infinity", "NaN", "1e300"), score="in"),
            N(SS("x", "isNotIn", "7"), score="not7"),
            N(SS("x", "isIn"), score="empty"),
        ),
        strategy="none",
        no_true="returnLastPrediction",
    )
    values = [None, 0.0, -0.0, 1.0, 2.5, 3.0, 7.0, math.inf, -math.inf, 1e300, float(np.nextafter(1e300, 0))]
    arrays, _ = check(model, {"x": D}, {"x": values})
    assert OP_SORTED in set(arrays.nodes["op"].tolist())


# --- compound predicates ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["and", "or", "xor", "surrogate"])
@pytest.mark.parametrize("strategy", ["none", "lastPrediction", "nullPrediction", "defaultChild"])
def test_compound_predicates(kind, strategy):
    p = CP(kind, SP("x", "lessThan", "1"), CP("or" if kind != "or" else "and", SP("y", "equal", "2"), SP("x", "isMissing")), SP("y", "greaterThan", "0"))
    model = tree(
        N(T, N(p, N(SP("y", "lessOrEqual", "5"), score="a", id="a"), score="p", id="p", default="a"), N(SP("x", "greaterThan", "-1"), score="q", id="q"), id="r", default="q", score="r"),
        strategy=strategy,
        no_true="returnLastPrediction",
    )
    values = [None, -2.0, 0.0, 1.0, 2.0, 3.0]
    xs, ys = zip(*[(a, b) for a in values for b in values])
    check(model, {"x": D, "y": D}, {"x": list(xs), "y": list(ys)})


# --- what falls back -----------------------------------------------------------------------------------


def test_unsupported_returns_none():
    S = DataType.STRING
    fields = encodings({"x": D, "c": S})
    base = N(T, N(SP("x", "lessThan", "1"), score="a"), N(T, score="b"))
    assert lower_trees([tree(base)], fields) is not None
    assert lower_trees([tree(base, strategy="weightedConfidence")], fields) is None
    assert lower_trees([tree(base, strategy="aggregateNodes")], fields) is None
    assert lower_trees([tree(N(T, N(SP("z", "lessThan", "1"), score="a")))], fields) is None  # no encoding
    assert lower_trees([tree(N(T, N(SP("c", "lessThan", "m"), score="a")))], fields) is None  # string order
    assert lower_trees([tree(N(T, N(SP("x", "lessThan", "abc"), score="a")))], fields) is None  # bad value
    assert lower_trees([tree(N(T, N(SP("x", "between", "1"), score="a")))], fields) is None
    assert lower_trees([tree(N(T, N(CP("and", SP("x", "lessThan", "1")), score="a")))], fields) is None
    # defaultChild: a missing defaultChild that a row can need; a defaultChild that is no child.
    assert lower_trees([tree(N(T, N(SP("x", "lessThan", "1"), score="a")), strategy="defaultChild")], fields) is None
    assert lower_trees([tree(N(T, N(SP("x", "lessThan", "1"), score="a"), default="nope"))], fields) is None
    # ... but a node whose children cannot be UNKNOWN needs no defaultChild.
    assert lower_trees([tree(N(T, N(SP("x", "isMissing"), score="a"), N(T, score="b")), strategy="defaultChild")], fields) is not None


def test_several_trees_share_arrays():
    types = {"x": D, "y": D}
    models = [
        tree(N(T, N(SP("x", "lessThan", "1"), score="a"), N(T, score="b"))),
        tree(N(T, score="leaf")),
        tree(N(SP("y", "isMissing"), N(SP("x", "greaterThan", "0"), score="c"), N(T, score="d")), strategy="nullPrediction"),
    ]
    arrays = lower_trees(models, encodings(types))
    assert arrays.n_trees == 3 and arrays.node_offsets.tolist() == [0, 3, 4, 7]
    data = {"x": column([None, 0.0, 2.0, 5.0], D), "y": column([None, None, 1.0, None], D)}
    got = E.leaf_indices(arrays.encode(data, 4), arrays)
    for t, m in enumerate(models):
        ref, _, _ = reference_leaves(m, types, data, 4)
        np.testing.assert_array_equal(got[:, t], ref)


def test_threads_give_identical_results(monkeypatch):
    rng = np.random.default_rng(3)
    types = {"x": D, "y": D}
    model = tree(
        N(T, N(SP("x", "lessOrEqual", "0"), N(SP("y", "lessOrEqual", "0.5"), score="1"), N(T, score="2")), N(T, N(SP("y", "isMissing"), score="3"), N(T, score="4"))),
        strategy="lastPrediction",
    )
    arrays = lower_trees([model, model], encodings(types))
    X = rng.normal(size=(5000, 2))
    X[rng.random(X.shape) < 0.1] = np.nan
    monkeypatch.setattr(options, "MIN_ROWS_PER_THREAD", 16)
    one = E.leaf_indices(X, arrays, n_threads=1)
    for threads in (2, 3, 7):
        np.testing.assert_array_equal(E.leaf_indices(X, arrays, n_threads=threads), one)
    assert len(options.row_ranges(5000, 2)) == 2 * options.CHUNKS_PER_THREAD


def test_node_record_layout():
    assert NODE_DTYPE.itemsize == 32
    assert OP_LE == 0


def test_threading_keeps_what_an_earlier_test_did_not_decide():
    # After x <= 5 held, x <= -inf is still open (x may be -inf).
    model = tree(N(T, N(SP("x", "lessOrEqual", "5"), N(SP("x", "lessOrEqual", "-Infinity"), score="a"), N(T, score="b")), N(T, score="c")))
    check(model, {"x": D}, {"x": [-math.inf, -1.0, 5.0, 6.0, None]})
    # After c != a, c in {a, b} is still open (c may be b); after c == a it is decided.
    S = DataType.STRING
    model = tree(
        N(
            T,
            N(SP("c", "equal", "a"), N(SS("c", "isIn", "a", "b"), score="yes"), N(T, score="no")),
            N(T, N(SS("c", "isIn", "a", "b"), score="x"), N(SS("c", "isNotIn", "b"), score="y"), N(T, score="z")),
        )
    )
    arrays, _ = check(model, {"c": S}, {"c": ["a", "b", "c", None]})


def test_numba_cache_fingerprint_is_current():
    # The cached kernels of tree_kernels.py inline lanes.py and _layout.py; numba only notices
    # edits of tree_kernels.py itself. Run `python -m quickscore.kernels._codegen` to restamp.
    from quickscore.kernels import _codegen, tree_kernels

    assert tree_kernels.DEPENDENCY_FINGERPRINT == _codegen.fingerprint()
    assert (_codegen.HERE / "lanes.py").read_text() == _codegen.generate(), "lanes.py is not the output of _codegen"


def test_empty_batches_and_encoding():
    S = DataType.STRING
    model = tree(N(T, N(SP("c", "equal", "b"), score="1"), N(SP("x", "lessThan", "1"), score="2")))
    arrays = lower_trees([model], encodings({"x": D, "c": S}, {"c": ("a",)}))
    assert E.leaf_indices(np.zeros((0, 2)), arrays).shape == (0, 1)
    assert E.sum_values(np.zeros((0, 2)), arrays, np.zeros(arrays.n_nodes)).total.shape == (0,)
    assert E.average_probabilities(np.zeros((0, 2)), arrays, np.zeros((arrays.n_nodes, 3))).shape == (0, 3)
    codes = arrays.encode_column("c", np.array(["b", "a", None, "z"], dtype=object))
    np.testing.assert_array_equal(codes, [1.0, 0.0, np.nan, UNSEEN])
    with pytest.raises(KeyError):
        arrays.encode({"x": np.zeros(2)}, 2)
    with pytest.raises(ValueError):
        E.leaf_indices(np.zeros((3, 1)), arrays)  # too few columns


def test_thread_pool_survives_fork(monkeypatch):
    import os

    monkeypatch.setattr(options, "MIN_ROWS_PER_THREAD", 16)
    types = {"x": D}
    arrays = lower_trees([tree(N(T, N(SP("x", "lessThan", "0"), score="a"), N(T, score="b")))], encodings(types))
    X = np.random.default_rng(0).normal(size=(1000, 1))
    want = E.leaf_indices(X, arrays, n_threads=1)
    np.testing.assert_array_equal(E.leaf_indices(X, arrays, n_threads=2), want)  # the pool exists now
    pid = os.fork()
    if pid == 0:  # the child: a new pool, same results
        import signal

        signal.alarm(30)  # an executor inherited without its threads would hang
        ok = False
        try:
            ok = bool((E.leaf_indices(X, arrays, n_threads=2) == want).all())
        finally:
            os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_warmup_runs():
    from quickscore.kernels import warmup

    warmup(mixed=True)


def test_leaf_indices_into_a_given_array(monkeypatch):
    monkeypatch.setattr(options, "MIN_ROWS_PER_THREAD", 16)
    arrays = lower_trees([tree(N(T, N(SP("x", "lessThan", "0"), score="a"), N(T, score="b")))] * 3, encodings({"x": D}))
    X = np.random.default_rng(1).normal(size=(500, 1))
    want = E.leaf_indices(X, arrays, n_threads=1)
    out = np.full((500, 3), 7, dtype=np.int32)
    assert E.leaf_indices(X, arrays, out=out, n_threads=2) is out
    np.testing.assert_array_equal(out, want)
    with pytest.raises(ValueError):
        E.leaf_indices(X, arrays, out=np.empty((500, 3), dtype=np.int64))
