"""Fused aggregations against MiningCore.predict on hand-built ensembles.

Random regression / classification trees (with nodes without a score, NaN inputs, null
predictions), every value / vote / probability method, segment weights, every
missingPredictionTreatment, float and double mathContext: the fused kernels plus the
``combine_*`` functions must be bit-identical to the reference MiningModel evaluator.
"""

from __future__ import annotations

import numpy as np
import pytest

from kernels_lib import SP, N, T
from quickscore.ir import (
    DataField,
    DataType,
    Document,
    Header,
    MiningField,
    MiningModel,
    OpType,
    ScoreDistribution,
    Segment,
    Segmentation,
    TreeModel,
)
from quickscore.kernels import ensemble as E
from quickscore.kernels import options
from quickscore.kernels.trees import FieldEncoding, lower_trees
from quickscore.runtime.model import Model

FIELDS = ("x", "y", "z")
CLASSES = ("A", "B", "C")


def _random_tree(rng, depth: int, classification: bool, scored: bool = False) -> N:
    """``scored``: every node has a score (and a distribution when classifying), so that no walk
    ends on a node without a prediction (the default engine then keeps the fused kernels)."""

    def node(pred, d):
        if d == 0 or rng.random() < 0.25:
            return _leaf(pred)
        f = FIELDS[rng.integers(len(FIELDS))]
        t = repr(float(np.round(rng.normal(), 1)))
        kids = [node(SP(f, "lessOrEqual", t), d - 1)]
        kids.append(node(SP(f, "greaterThan", t) if rng.random() < 0.7 else T, d - 1))
        if rng.random() < 0.2:
            kids.insert(1, node(SP(FIELDS[rng.integers(3)], "greaterThan", "0.5"), d - 1))
        score = None if rng.random() < 0.5 and not scored else _score()
        return N(pred, *kids, score=score, distribution=_dist() if score and classification else ())

    def _score():
        return CLASSES[rng.integers(3)] if classification else repr(float(np.round(rng.normal(), 3)))

    def _dist():
        counts = rng.integers(0, 5, size=3).astype(float)
        counts[rng.integers(3)] += 1
        return tuple(ScoreDistribution(value=c, record_count=float(k)) for c, k in zip(CLASSES, counts))

    def _leaf(pred):
        if classification:
            return N(pred, score=_score(), distribution=_dist())
        # A leaf without a score: a missing prediction.
        return N(pred, score=None if rng.random() < 0.1 else _score())

    return node(T, depth)


def N(pred, *children, score=None, distribution=()):  # noqa: F811 - with distributions
    from quickscore.ir import Node

    return Node(predicate=pred, children=tuple(children), score=score, distribution=tuple(distribution))


def _document(trees, method, treatment, threshold, weights, classification, math_context):
    fn = "classification" if classification else "regression"
    schema = tuple(MiningField(name=f) for f in FIELDS)
    strategies = ("none", "nullPrediction", "lastPrediction")
    segments = tuple(
        Segment(
            predicate=T,
            id=str(i + 1),
            weight=float(w),
            model=TreeModel(function_name=fn, mining_schema=schema, root=root, missing_value_strategy=strategies[i % 3], no_true_child_strategy=("returnNullPrediction", "returnLastPrediction")[i % 2], math_context=math_context),
        )
        for i, (root, w) in enumerate(zip(trees, weights))
    )
    model = MiningModel(
        function_name=fn,
        mining_schema=schema,
        segmentation=Segmentation(multiple_model_method=method, segments=segments, missing_prediction_treatment=treatment, missing_threshold=threshold),
        math_context=math_context,
    )
    fields = tuple(DataField(name=f, data_type=DataType.DOUBLE, op_type=OpType.CONTINUOUS) for f in FIELDS)
    return Document(format="pmml", version="4.4", header=Header(), data_fields=fields, model=model)


def _setup(seed, method, treatment, threshold, weighted_w, classification, math_context, n=400):
    rng = np.random.default_rng(seed)
    trees = [_random_tree(rng, 4, classification) for _ in range(7)]
    weights = rng.choice([0.5, 1.0, 2.0, 0.1, 3.0], size=7) if weighted_w else np.ones(7)
    doc = _document(trees, method, treatment, threshold, weights, classification, math_context)
    model = Model(doc, engine="reference")  # the default engine would run these kernels
    assert model.engine == "reference"
    X = rng.normal(size=(n, 3)).round(1)
    X[rng.random(X.shape) < 0.08] = np.nan
    columns = {f: X[:, j].copy() for j, f in enumerate(FIELDS)}
    frame, result = model._score(columns, n)
    mining = model._compiled.core
    segs = mining.segments
    arrays = lower_trees([s.model.model for s in segs], {f: FieldEncoding(j, DataType.DOUBLE) for j, f in enumerate(FIELDS)})
    assert arrays is not None
    return model, mining, segs, arrays, np.ascontiguousarray(X), weights, frame


TREATMENTS = [("returnMissing", 1.0), ("skipSegment", 0.3), ("skipSegment", 1.0), ("continue", 0.2), ("continue", 1.0)]


@pytest.mark.parametrize("method", ["sum", "weightedSum", "average", "weightedAverage"])
@pytest.mark.parametrize("treatment,threshold", TREATMENTS)
@pytest.mark.parametrize("math_context", ["double", "float"])
def test_values(method, treatment, threshold, math_context):
    for seed in range(3):
        model, mining, segs, arrays, X, weights, frame = _setup(seed, method, treatment, threshold, True, False, math_context)
        expected = mining.predict(frame.child()).value
        values = np.concatenate([s.model.core.scores for s in segs])
        weighted = method.startswith("weighted")
        for threads in (1, 2):
            sums = E.sum_values(X, arrays, values, weights=weights, weighted=weighted, float32=math_context == "float", n_threads=threads)
            out = E.combine_values(sums, method, n_trees=arrays.n_trees, weights=weights, treatment=treatment, threshold=threshold)
            np.testing.assert_array_equal(out, expected)
        if method in ("average", "weightedAverage"):
            out = E.average_values(X, arrays, values, weights=weights, weighted=weighted, float32=math_context == "float", treatment=treatment, threshold=threshold)
            np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("method", ["majorityVote", "weightedMajorityVote"])
@pytest.mark.parametrize("treatment,threshold", TREATMENTS)
def test_votes(method, treatment, threshold):
    for seed in range(3):
        model, mining, segs, arrays, X, weights, frame = _setup(seed, method, treatment, threshold, True, True, "double")
        pred = mining.predict(frame.child())
        classes = mining.classes
        labels = []
        for s in segs:
            core = s.model.core
            # The label a tree predicts at each node (its score, else the most probable class).
            for i in range(core.n_nodes):
                label = core.scores[i]
                if label is None and not np.isnan(core.probabilities[i]).all():
                    label = core.classes[int(np.argmax(core.probabilities[i]))]
                labels.append(-1 if label is None else classes.index(label))
        counts = E.vote_counts(X, arrays, np.array(labels), len(classes), weights=weights, weighted=method == "weightedMajorityVote")
        probs, winner = E.combine_votes(counts, n_trees=arrays.n_trees, weights=weights, treatment=treatment, threshold=threshold)
        np.testing.assert_array_equal(probs, pred.probabilities)
        got_labels = [None if w < 0 else classes[w] for w in winner]
        assert got_labels == list(pred.value)


@pytest.mark.parametrize("method", ["average", "weightedAverage"])
@pytest.mark.parametrize("treatment,threshold", TREATMENTS)
def test_probabilities(method, treatment, threshold):
    for seed in range(3):
        model, mining, segs, arrays, X, weights, frame = _setup(seed, method, treatment, threshold, True, True, "double")
        pred = mining.predict(frame.child())
        classes = mining.classes
        probs = []
        for s in segs:
            core = s.model.core
            p = np.zeros((core.n_nodes, len(classes)))
            for j, c in enumerate(core.classes):
                p[:, classes.index(c)] = core.probabilities[:, j]
            probs.append(p)
        out = E.average_probabilities(X, arrays, np.concatenate(probs), weights=weights, weighted=method == "weightedAverage", treatment=treatment, threshold=threshold)
        np.testing.assert_array_equal(out, pred.probabilities)


def test_one_row_and_many_threads_agree(monkeypatch):
    model, mining, segs, arrays, X, weights, frame = _setup(7, "sum", "continue", 1.0, False, False, "float", n=3000)
    values = np.concatenate([s.model.core.scores for s in segs])
    monkeypatch.setattr(options, "MIN_ROWS_PER_THREAD", 64)
    full = E.sum_values(X, arrays, values, float32=True, n_threads=1)
    for threads in (2, 3):
        for a, b in zip(E.sum_values(X, arrays, values, float32=True, n_threads=threads), full):
            np.testing.assert_array_equal(a, b)
    for r in range(0, 3000, 97):
        one = E.sum_values(X[r : r + 1], arrays, values, float32=True)
        for a, b in zip(one, full):
            np.testing.assert_array_equal(a, b[r : r + 1])


@pytest.mark.parametrize("float32", [False, True])
def test_row_entry_points_match_batch(float32):
    model, mining, segs, arrays, X, weights, frame = _setup(11, "weightedSum", "continue", 1.0, True, False, "float" if float32 else "double")
    values = np.concatenate([s.model.core.scores for s in segs])
    batch = E.sum_values(X, arrays, values, weights=weights, float32=float32)
    for r in range(len(X)):
        one = E.sum_values_row(X[r], arrays, values, weights=weights, float32=float32)
        np.testing.assert_array_equal(np.array(one), np.array([a[r] for a in batch]))
    model, mining, segs, arrays, X, weights, frame = _setup(12, "weightedAverage", "continue", 1.0, True, True, "double")
    classes = mining.classes
    probs = np.concatenate([np.stack([s.model.core.probabilities[:, s.model.core.classes.index(c)] if c in s.model.core.classes else np.zeros(s.model.core.n_nodes) for c in classes], axis=1) for s in segs])
    labels = np.concatenate([[classes.index(v) if v is not None else -1 for v in s.model.core.scores] for s in segs]).astype(np.int64)
    psum = E.sum_probabilities(X, arrays, probs, weights=weights, weighted=True)
    vsum = E.vote_counts(X, arrays, labels, len(classes), weights=weights, weighted=True)
    for r in range(len(X)):
        total, wsum, wmiss, nmiss = E.sum_probabilities_row(X[r], arrays, probs, weights=weights, weighted=True)
        np.testing.assert_array_equal(total, psum.total[r])
        assert (wsum, wmiss, nmiss) == (psum.wsum[r], psum.wmiss[r], psum.nmiss[r])
        votes, first, mvotes, wmiss, nmiss = E.vote_counts_row(X[r], arrays, labels, len(classes), weights=weights, weighted=True)
        np.testing.assert_array_equal(votes, vsum.votes[r])
        np.testing.assert_array_equal(first, vsum.first[r])
        assert (mvotes, wmiss, nmiss) == (vsum.mvotes[r], vsum.wmiss[r], vsum.nmiss[r])


@pytest.mark.parametrize("k", [1, 2, 3, 5])
def test_probability_sums_any_class_count(k):
    model, mining, segs, arrays, X, weights, frame = _setup(5, "average", "continue", 1.0, True, False, "double")
    rng = np.random.default_rng(k)
    probs = rng.random((arrays.n_nodes, k))
    probs[rng.random(arrays.n_nodes) < 0.1] = np.nan
    leaves = E.leaf_indices(X, arrays) + arrays.node_offsets[:-1][None, :]
    leaves[E.leaf_indices(X, arrays) < 0] = -1
    for weighted in (False, True):
        sums = E.sum_probabilities(X, arrays, probs, weights=weights, weighted=weighted)
        for r in range(0, len(X), 7):
            total, wsum = np.zeros(k), 0.0
            for t in range(arrays.n_trees):
                g = leaves[r, t]
                if g < 0 or np.isnan(probs[g, 0]):
                    continue
                ww = weights[t] if weighted else 1.0
                total += ww * probs[g]
                wsum += ww
            np.testing.assert_array_equal(sums.total[r], total)
            assert sums.wsum[r] == wsum
