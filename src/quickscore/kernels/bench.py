"""Timings of the tree kernels (not a test): ``python -m quickscore.kernels.bench [--quick]``.

Builds a random forest with scikit-learn (100 trees, fully grown, ~580k nodes, 20 numeric
features), converts it to IR TreeModels the way sklearn2pmml writes them (``<True/>`` root,
children ``x <= t`` / ``x > t``), lowers it, and times on 100k rows: leaf_indices, fused
probability averaging and voting on 1 and 2 threads, the single-row path, and
scikit-learn's own predict_proba (one thread) for reference.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from quickscore.ir import DataType, Node, SimplePredicate, TreeModel, TruePredicate
from quickscore.kernels import ensemble as E
from quickscore.kernels import tree_kernels as K
from quickscore.kernels.trees import FieldEncoding, lower_trees


def sklearn_forest(n_trees: int = 100, n_samples: int = 9000, n_features: int = 20, seed: int = 0):
    from sklearn.datasets import make_classification
    from sklearn.ensemble import RandomForestClassifier

    X, y = make_classification(
        n_samples=n_samples, n_features=n_features, n_informative=12, n_classes=3, flip_y=0.35, random_state=seed
    )
    rf = RandomForestClassifier(n_estimators=n_trees, random_state=seed, n_jobs=1).fit(X, y)
    return rf, X


def to_ir(estimator) -> tuple[TreeModel, list[int]]:
    """An sklearn tree as an IR TreeModel; also the sklearn node id of each pre-order node."""
    tree = estimator.tree_
    left, right, feat, thr = tree.children_left, tree.children_right, tree.feature, tree.threshold
    order: list[int] = []

    def build(i: int, pred) -> Node:
        order.append(i)
        if left[i] < 0:
            return Node(predicate=pred, score=str(int(np.argmax(tree.value[i][0]))))
        name = f"x{feat[i]}"
        t = repr(float(thr[i]))
        kids = (
            build(left[i], SimplePredicate(field=name, operator="lessOrEqual", value=t)),
            build(right[i], SimplePredicate(field=name, operator="greaterThan", value=t)),
        )
        return Node(predicate=pred, children=kids)

    root = build(0, TruePredicate())
    model = TreeModel(function_name="classification", mining_schema=(), root=root, missing_value_strategy="nullPrediction")
    return model, order


def _rate(fn, n: int, repeat: int = 5, cpu: bool = False) -> float:
    """Rows per second, best of ``repeat``. ``cpu``: measure the calling thread's CPU time
    (robust on a shared machine; only for single-threaded calls)."""
    clock = time.thread_time if cpu else time.perf_counter
    fn()  # warm up / compile
    best = float("inf")
    for _ in range(repeat):
        t0 = clock()
        fn()
        best = min(best, clock() - t0)
    return n / best


def main(argv=None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--trees", type=int, default=100)
    ap.add_argument("--samples", type=int, default=15000, help="training rows (tree size)")
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args(argv)
    print(f"load average at start: {os.getloadavg()}")

    t0 = time.perf_counter()
    rf, Xtrain = sklearn_forest(args.trees, n_samples=args.samples)
    models, orders = zip(*(to_ir(e) for e in rf.estimators_))
    n_feat = Xtrain.shape[1]
    fields = {f"x{j}": FieldEncoding(j, DataType.DOUBLE) for j in range(n_feat)}
    arrays = lower_trees(list(models), fields)
    assert arrays is not None
    depths = [e.tree_.max_depth for e in rf.estimators_]
    print(
        f"forest: {arrays.n_trees} trees, {arrays.n_nodes} nodes, {arrays.n_tests} tests, depth {min(depths)}-{max(depths)}"
        f" (built in {time.perf_counter() - t0:.1f}s)"
    )

    rng = np.random.default_rng(1)
    X = np.ascontiguousarray(Xtrain[rng.integers(0, len(Xtrain), args.rows)] + rng.normal(0, 0.3, (args.rows, n_feat)))
    n = len(X)

    # Per-node tables (global index = node_offsets[t] + pre-order index).
    k = rf.n_classes_
    probs = np.zeros((arrays.n_nodes, k))
    cls = np.full(arrays.n_nodes, -1, dtype=np.int64)
    for t, (est, order) in enumerate(zip(rf.estimators_, orders)):
        v = est.tree_.value[order][:, 0, :]
        off = arrays.node_offsets[t]
        probs[off : off + len(order)] = v / v.sum(axis=1, keepdims=True)
        leaf = est.tree_.children_left[order] < 0
        cls[off : off + len(order)] = np.where(leaf, np.argmax(v, axis=1), -1)

    # Check against sklearn before timing.
    ours = E.average_probabilities(X[:2000], arrays, probs)
    ref = rf.predict_proba(X[:2000])
    print(f"max |ours - sklearn predict_proba| on 2000 rows: {np.abs(ours - ref).max():.2e}")

    reused = np.empty((n, arrays.n_trees), dtype=np.int32)
    calls = {
        "leaf_indices": lambda t: E.leaf_indices(X, arrays, n_threads=t),
        "leaf_indices (out reused)": lambda t: E.leaf_indices(X, arrays, out=reused, n_threads=t),
        "average_probabilities": lambda t: E.average_probabilities(X, arrays, probs, n_threads=t),
        "vote_counts": lambda t: E.vote_counts(X, arrays, cls, k, n_threads=t),
    }
    for name, call in calls.items():
        cpu1 = _rate(lambda: call(1), n, cpu=True)
        wall1 = _rate(lambda: call(1), n)
        wall2 = _rate(lambda: call(2), n)
        print(
            f"{name:>26s}: 1 thread {cpu1 / 1e3:6.1f}k rows/s (CPU time) {wall1 / 1e3:6.1f}k (wall);"
            f" 2 threads {wall2 / 1e3:6.1f}k (wall): x{wall2 / wall1:.2f}"
        )
    Xnan = X.copy()
    Xnan[rng.random(X.shape) < 0.05] = np.nan
    r = _rate(lambda: E.leaf_indices(Xnan, arrays, n_threads=1), n, cpu=True)
    print(f"{'leaf_indices 5% NaN':>24s}: 1 thread {r / 1e3:7.1f}k rows/s ({np.isnan(Xnan).any(axis=1).mean():.0%} rows with NaN)")

    # prange variant for comparison (numba's own pool).
    import numba

    out = np.empty((n, arrays.n_trees), dtype=np.int32)
    for threads in (1, 2):
        numba.set_num_threads(threads)
        r = _rate(lambda: K.leaves_prange(*E._batch_graph(arrays), arrays.node_offsets, X, out, E.BLOCK), n)
        print(f"{'leaves (prange)':>24s} {threads} thread(s): {r / 1e3:7.1f}k rows/s (wall)  [layer {numba.threading_layer()}]")
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)

    if not args.quick:
        for block in (128, 256, 512, 1024, 2048, 4096):
            r = _rate(lambda: E.leaf_indices(X, arrays, n_threads=1, block=block), n, repeat=3, cpu=True)
            print(f"{'leaf_indices block':>24s} {block:6d}: {r / 1e3:7.1f}k rows/s")

    # Single row.
    out1 = np.empty(arrays.n_trees, dtype=np.int32)
    E.leaf_indices_row(X[0], arrays, out1)
    lat = []
    rows = [np.ascontiguousarray(X[i]) for i in range(min(n, 20000))]
    for x in rows:
        t1 = time.perf_counter_ns()
        E.leaf_indices_row(x, arrays, out1)
        lat.append(time.perf_counter_ns() - t1)
    lat = np.array(lat) / 1e3
    print(f"{'leaf_indices_row':>24s}: p50 {np.percentile(lat, 50):.1f} us, p99 {np.percentile(lat, 99):.1f} us")
    lat = []
    for x in rows:
        t1 = time.perf_counter_ns()
        E.sum_probabilities_row(x, arrays, probs)
        lat.append(time.perf_counter_ns() - t1)
    lat = np.array(lat) / 1e3
    print(f"{'sum_probabilities_row':>24s}: p50 {np.percentile(lat, 50):.1f} us, p99 {np.percentile(lat, 99):.1f} us")
    lat = []
    graph = E._graph(arrays)
    for x in rows:
        t1 = time.perf_counter_ns()
        K.leaves_row(*graph, arrays.node_offsets, x, out1)
        lat.append(time.perf_counter_ns() - t1)
    lat = np.array(lat) / 1e3
    print(f"{'kernel leaves_row (raw)':>24s}: p50 {np.percentile(lat, 50):.1f} us, p99 {np.percentile(lat, 99):.1f} us")

    rf.set_params(n_jobs=1)
    r = _rate(lambda: rf.predict_proba(X), n, repeat=3, cpu=True)
    print(f"{'sklearn predict_proba':>24s}: 1 thread {r / 1e3:7.1f}k rows/s (CPU time)")
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
