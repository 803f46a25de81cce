"""Batch and single-row scoring of ``TreeArrays``: leaf indices and fused aggregations.

Inputs: ``X`` float64 (n_rows, >= arrays.n_features), C-contiguous (copied if not), built
with ``TreeArrays.encode`` or by the caller with the same encoding. Results never depend on
the thread count: each row is computed by one thread, trees in order.

Per-node tables of the fused kernels are indexed by the *global* node index (``arrays.
node_offsets[t]`` + the tree's pre-order index), e.g. ``np.concatenate([core.scores for core
in tree_cores])``:

* ``leaf_values`` float64 (n_nodes,): a tree's value when its result is that node; NaN =
  missing (a node without score).
* ``leaf_class`` int32/int64 (n_nodes,): the class index (in the ensemble's class order)
  a tree votes for when its result is that node; -1 = missing.
* ``leaf_probs`` float64 (n_nodes, k): the tree's probabilities (ensemble class order,
  0.0 for classes the tree lacks) when its result is that node; a NaN first column = missing.

"No prediction" (the walk ends at -1) is always missing. ``weights`` float64 (n_trees,) are
the segment weights (default 1.0).

The ``combine_*`` functions finish the accumulators exactly like ``models/mining.py``
(``MiningCore._values`` / ``_votes`` / ``_probabilities`` with ``_missing_policy``) for
segments whose predicates are all True.
"""

from __future__ import annotations

import sys
from typing import NamedTuple

import numpy as np

from quickscore.ir import DataType
from quickscore.kernels import tree_kernels as K
from quickscore.kernels._layout import FAST32_DTYPE, ORDER32_NAN
from quickscore.kernels.bits import bit_layout
from quickscore.kernels.options import run_chunks
from quickscore.kernels.trees import TreeArrays

BLOCK = K.BLOCK

#: The largest gbuf (n_trees x block int32, per thread) worth a 2048-row block; forests with
#: more trees keep 1024-row blocks (as before, so no larger buffer than before).
GBUF_BYTES = 16 << 20


def _block(arrays: TreeArrays) -> int:
    """Rows per block: ``BLOCK`` (2048), or 1024 when the forest's gbuf would exceed
    ``GBUF_BYTES``. A tree's tests are read from L2/L3 once per block and walked for every
    row of it: on W1 (100 deep trees, 58 KB of tests each) 1024 -> 2048 rows measured
    308k -> 320k rows/s (proba_range, 1 thread, process_time best of 8, twice; 4096: the
    same as 2048); W3 / W4 were within noise."""
    return BLOCK if arrays.n_trees * BLOCK * 4 <= GBUF_BYTES else 1024


def _matrix(X: np.ndarray, arrays: TreeArrays) -> np.ndarray:
    X = np.ascontiguousarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] < arrays.n_features:
        raise ValueError(f"X must be (n_rows, >= {arrays.n_features}); got {X.shape}")
    return X


def _graph(arrays: TreeArrays) -> tuple:
    # ``mixed`` is None for forests of OP_LE tests only: numba then specialises the kernels on
    # the None type and prunes the op dispatch, so only the walks a forest needs get compiled.
    mixed = None if arrays.all_le else True
    return arrays.nodes, arrays.fast, arrays.features, arrays.bitsets, arrays.set_values, mixed, arrays.roots, arrays.used_cols, sync_layout(arrays), walk32(arrays)


def _batch_graph(arrays: TreeArrays) -> tuple:
    """``_graph`` plus the ``bits.BitLayout`` (or None) the batch kernels also take."""
    return (*_graph(arrays), bit_layout(arrays))


def walk32(arrays: TreeArrays) -> np.ndarray | None:
    """The records of the float32 walk (FAST32_DTYPE, one per test), or None when the batch
    kernels keep the float64 walk; computed once per ``TreeArrays`` (cached on it; 2.4-2.9 ms
    on W1's 290k tests). ``batch_walk`` names the walk.

    Taken when every test is OP_LE on a field of dataType float and some tree is not laid out
    for the in-step walk (``sync_layout``). PMML 4.4, DataDictionary:
    "float: 32-bit floating-point number" -- such a field's values are held float32-rounded
    (``schema.values``) and its comparison values parsed as float32, so a float32 walk makes
    the same decisions with half the bytes per row and per test.

    Exactness does not rest on that: the record's threshold is the largest float32 <= the
    float64 threshold t (``lessThan v`` is ``<= nextafter(v, -inf)`` in float64: not a float32),
    and for every x a float32 holds, ``x <= t`` iff ``x <= that float32`` (x is one of the
    float32s <= t, and the largest of them is >= x). The kernels walk a row this way only when
    each tested value converts exactly (``tree_kernels._split32``); other rows (NaN, a value
    a caller did not round) take the float64 walk. The comparison itself is on integer order
    keys (``_layout.FAST32_DTYPE``): the same order as the floats', NaN thresholds below every
    value (FALSE for every x, as in float64).
    """
    if "_walk32" in arrays.__dict__:
        return arrays.__dict__["_walk32"]
    out = None
    float_fields = all(arrays.fields[name].data_type is DataType.FLOAT for name in arrays.used)
    # Trees laid out for the in-step walk keep it (W4: all 300 trees): with no tree left for
    # the pointer walk, the float32 copy of the rows would be pure cost.
    pointer = arrays.all_le and bool(((sync_layout(arrays)[4] == 0) & (arrays.roots >= 0)).any())
    if pointer and float_fields and sys.byteorder == "little":
        t = arrays.fast["threshold"]
        with np.errstate(over="ignore"):  # |t| > FLT_MAX: +-inf, corrected below for +
            t32 = t.astype(np.float32)
        above = np.flatnonzero(t32 > t)  # rounded up: take the next float32 down
        if len(above):
            t32[above] = np.nextafter(t32[above], np.float32(-np.inf))
        out = np.empty(len(t), dtype=FAST32_DTYPE)
        # Written as int32 words (little-endian: the key's low word is the column).
        words = out.view(np.int32).reshape(-1, 4)
        words[:, 0] = arrays.features  # all OP_LE: the entry is the column
        words[:, 1] = order32(t32, wide=False)
        words[:, 2] = arrays.fast["true_next"]
        words[:, 3] = arrays.fast["false_next"]
    arrays.__dict__["_walk32"] = out
    return out


def order32(values: np.ndarray, wide: bool = True) -> np.ndarray:
    """``_layout.FAST32_DTYPE``'s order key of each float32 (-0.0 as +0.0; NaN: ORDER32_NAN),
    as ``tree_kernels._split32`` computes it for the rows' values: int64, or int32 when not
    ``wide``."""
    bits = (values.astype(np.float32) + np.float32(0.0)).view(np.int32)
    keys = bits ^ ((bits >> 31) & np.int32(0x7FFFFFFF))
    nan = np.flatnonzero(np.isnan(values))
    if len(nan):
        keys[nan] = ORDER32_NAN
    return keys.astype(np.int64) if wide else keys


def batch_walk(arrays: TreeArrays) -> str:
    """Which walk the batch kernels take for rows without NaN: "float32" (``walk32``) or
    "float64" (depth-limited trees laid out by ``sync_layout`` keep their in-step walk)."""
    return "float32" if walk32(arrays) is not None else "float64"


#: A tree takes the in-step walk when its longest walk has at most this many tests (its
#: complete-tree layout then has at most 2**12 - 1 tests, 64 KB).
SYNC_MAX_DEPTH = 12

HEAP_DTYPE = np.dtype([("threshold", "<f8"), ("feature", "<i4"), ("_pad", "<i4")], align=True)
"""A test of the in-step walk: 16 bytes, ``x[feature] <= threshold`` (threshold NaN: a
pass-through test, FALSE for every x)."""


def sync_layout(arrays: TreeArrays) -> tuple:
    """The arrays of the in-step walk (``tree_kernels._walk_rows_sync``), computed once per
    ``TreeArrays`` (cached on it). A depth-limited tree is laid out as a *complete* binary
    tree of its depth D, level by level: test h's children are 2h+1 (TRUE) and 2h+2 (FALSE), so
    a walk computes where it goes next instead of loading it, and every walk takes exactly D
    steps (a terminal above depth D continues through pass-through tests down to the right:
    their threshold is NaN, so ``x <= threshold`` is FALSE whatever the column holds).

    * ``heap``: HEAP_DTYPE (sum of 2**D - 1,): the trees' tests, tree t's at ``hoff[t]``;
    * ``leaves``: int32 (sum of 2**D,): the terminal result (global node index, -1 none) at
      position h - (2**D - 1) of tree t's last level, from ``loff[t]`` (-1 where unreachable);
    * ``hoff``, ``loff``: int64 (n_trees,); ``depth``: int64 (n_trees,): D when the tree takes
      the in-step walk, else 0. A tree takes it when it is OP_LE only, its longest walk has at
      most ``SYNC_MAX_DEPTH`` tests, and its leaves' mean depth is at least 60% of that (walks
      about equally long, few pass-through steps: XGBoost-style depth-limited trees and the
      shallower ~28% of LightGBM's 63-leaf trees (W3); not chains nor deep random-forest
      trees). Memory: 20 bytes per slot, 80 KB for a tree of depth 12.

    Exactness: the in-step walk ends on the terminal the plain walk ends on (the same tests,
    compared the same way, on rows without NaN; rows with NaN keep the plain walk).
    """
    cached = arrays.__dict__.get("_sync")
    if cached is not None:
        return cached
    fast, roots = arrays.fast, arrays.roots
    n_trees = len(roots)
    depth = np.zeros(n_trees, dtype=np.int64)
    if arrays.all_le and len(fast):
        K.sync_depths(fast["true_next"].astype(np.int64), fast["false_next"].astype(np.int64), roots, SYNC_MAX_DEPTH, depth)
    hoff = np.zeros(n_trees, dtype=np.int64)
    loff = np.zeros(n_trees, dtype=np.int64)
    sizes = np.where(depth > 0, 1 << depth, 0)
    hoff[1:] = np.cumsum(np.maximum(sizes - 1, 0))[:-1]
    loff[1:] = np.cumsum(sizes)[:-1]
    n_heap, n_leaves = int(np.maximum(sizes - 1, 0).sum()), int(sizes.sum())
    threshold = np.full(n_heap, np.nan)
    feature = np.zeros(n_heap, dtype=np.int32)
    leaves = np.full(n_leaves, -1, dtype=np.int32)
    if n_leaves:
        K.sync_heaps(fast["threshold"].copy(), fast["true_next"].astype(np.int64), fast["false_next"].astype(np.int64), arrays.features, roots, depth, hoff, loff, threshold, feature, leaves)
    heap = np.zeros(n_heap, dtype=HEAP_DTYPE)
    heap["threshold"] = threshold
    heap["feature"] = feature
    layout = (heap, leaves, hoff, loff, depth)
    arrays.__dict__["_sync"] = layout
    return layout


def _weights(arrays: TreeArrays, weights) -> np.ndarray:
    if weights is None:
        return np.ones(arrays.n_trees)
    w = np.ascontiguousarray(weights, dtype=np.float64)
    if w.shape != (arrays.n_trees,):
        raise ValueError(f"weights must be ({arrays.n_trees},); got {w.shape}")
    return w


def _table(values, arrays: TreeArrays, dtype, ndim: int) -> np.ndarray:
    t = np.ascontiguousarray(values, dtype=dtype)
    if t.ndim != ndim or t.shape[0] != arrays.n_nodes:
        raise ValueError(f"a per-node table needs {arrays.n_nodes} rows; got {t.shape}")
    return t


# --- leaf indices -------------------------------------------------------------------------------


def leaf_indices(
    X: np.ndarray,
    arrays: TreeArrays,
    *,
    levels: bool = False,
    out: np.ndarray | None = None,
    n_threads: int | None = None,
    block: int | None = None,
):
    """int32 (n_rows, n_trees): per row and tree the result node's pre-order index within its
    tree (``TreeCore.leaves``'s index; -1: no prediction). With ``levels=True`` also the int32
    (n_rows, n_trees) missing levels (defaultChild jumps) of each walk. ``out``: an int32
    C-contiguous (n_rows, n_trees) array to fill (reusing one spares page faults)."""
    X = _matrix(X, arrays)
    n = X.shape[0]
    fresh: tuple = ()
    if out is None:
        out = np.empty((n, arrays.n_trees), dtype=np.int32)
        fresh = (out,)
    elif out.shape != (n, arrays.n_trees) or out.dtype != np.int32 or not out.flags.c_contiguous:
        raise ValueError(f"out must be a C-contiguous int32 ({n}, {arrays.n_trees}) array")
    lv = np.empty((n, arrays.n_trees) if levels else (1, 1), dtype=np.int32)
    if levels:
        fresh += (lv,)
    run_chunks(K.leaves_range, n, n_threads, (*_batch_graph(arrays), arrays.node_offsets, X, out, lv, bool(levels)), block or _block(arrays), fresh)
    return (out, lv) if levels else out


def missing_levels(X: np.ndarray, arrays: TreeArrays, *, n_threads: int | None = None) -> np.ndarray:
    """int32 (n_rows, n_trees): the missing levels of each tree's walk (0 unless defaultChild)."""
    return leaf_indices(X, arrays, levels=True, n_threads=n_threads)[1]


def leaf_indices_row(x: np.ndarray, arrays: TreeArrays, out: np.ndarray | None = None) -> np.ndarray:
    """One row: x float64 (>= n_features,) -> int32 (n_trees,) as ``leaf_indices`` (no thread
    hand-off; allocates only ``out`` when not given). x must be float64 and contiguous."""
    _row(x, arrays)
    if out is None:
        out = np.empty(arrays.n_trees, dtype=np.int32)
    K.leaves_row(*_graph(arrays), arrays.node_offsets, x, out)
    return out


def _row(x: np.ndarray, arrays: TreeArrays) -> None:
    # The kernels do not check bounds: a short row would be read past its end.
    if x.ndim != 1 or x.shape[0] < arrays.n_features:
        raise ValueError(f"x must be (>= {arrays.n_features},); got {x.shape}")


# One-row fused entry points: the walk + accumulation of the batch kernels for a single row
# (x float64, contiguous, >= n_features), with no thread hand-off and no (1, ...) arrays.
# Tables as for the batch functions (float64 / int64, contiguous: they are not checked here).


def _ones(arrays: TreeArrays) -> np.ndarray:
    ones = arrays.__dict__.get("_ones")
    if ones is None:
        ones = arrays.__dict__["_ones"] = np.ones(arrays.n_trees)
    return ones


def sum_values_row(
    x: np.ndarray, arrays: TreeArrays, leaf_values: np.ndarray, *, weights=None, weighted: bool | None = None, float32: bool = False
) -> tuple[float, float, float, float]:
    """``sum_values`` for one row: (total, wsum, count, wmiss) as floats."""
    _row(x, arrays)
    w = _ones(arrays) if weights is None else weights
    weighted = weights is not None if weighted is None else weighted
    g = np.empty(arrays.n_trees, dtype=np.int32)
    return K.sum_row(*_graph(arrays), x, leaf_values, w, bool(weighted), bool(float32), g)


def sum_probabilities_row(
    x: np.ndarray, arrays: TreeArrays, leaf_probs: np.ndarray, *, weights=None, weighted: bool = False, out: np.ndarray | None = None
) -> tuple[np.ndarray, float, float, float]:
    """``sum_probabilities`` for one row: (total (k,), wsum, wmiss, nmiss)."""
    _row(x, arrays)
    w = _ones(arrays) if weights is None else weights
    total = np.empty(leaf_probs.shape[1]) if out is None else out
    g = np.empty(arrays.n_trees, dtype=np.int32)
    wsum, wmiss, nmiss = K.proba_row(*_graph(arrays), x, leaf_probs, w, bool(weighted), g, total)
    return total, wsum, wmiss, nmiss


def vote_counts_row(
    x: np.ndarray, arrays: TreeArrays, leaf_class: np.ndarray, n_classes: int, *, weights=None, weighted: bool = False
) -> tuple[np.ndarray, np.ndarray, float, float, float]:
    """``vote_counts`` for one row: (votes (k,), first (k,), mvotes, wmiss, nmiss)."""
    _row(x, arrays)
    w = _ones(arrays) if weights is None else weights
    votes = np.empty(n_classes)
    first = np.empty(n_classes, dtype=np.int32)
    g = np.empty(arrays.n_trees, dtype=np.int32)
    mvotes, wmiss, nmiss = K.votes_row(*_graph(arrays), x, leaf_class, w, bool(weighted), g, votes, first)
    return votes, first, mvotes, wmiss, nmiss


# --- values (regression ensembles, GBMs) ----------------------------------------------------------


class ValueSums(NamedTuple):
    """float64 (n_rows,) each. total: the sum of non-missing tree values in tree order (float32
    arithmetic when float32=True, then widened); wsum: the sum of their weights (weighted) or
    their count; count: their number; wmiss: the sum of the weights of the missing ones."""

    total: np.ndarray
    wsum: np.ndarray
    count: np.ndarray
    wmiss: np.ndarray


def sum_values(
    X: np.ndarray,
    arrays: TreeArrays,
    leaf_values: np.ndarray,
    *,
    weights: np.ndarray | None = None,
    weighted: bool | None = None,
    float32: bool = False,
    n_threads: int | None = None,
) -> ValueSums:
    """Fused walk + sum of per-tree values (see ``ValueSums``); no (n, n_trees) array is made.

    ``weighted`` (default: weights given): multiply each value by its tree's weight (mining's
    weightedSum / weightedAverage). ``float32``: accumulate as float32 (mathContext="float"):
    ``acc = float32(acc + float32(v) [* float32(w)])``, bit-identical to ``models/mining.py``.
    """
    X = _matrix(X, arrays)
    n = X.shape[0]
    w = _weights(arrays, weights)
    values = _table(leaf_values, arrays, np.float64, 1)
    weighted = weights is not None if weighted is None else weighted
    out = ValueSums(np.empty(n), np.empty(n), np.empty(n), np.empty(n))
    run_chunks(K.sum_range, n, n_threads, (*_batch_graph(arrays), X, values, w, bool(weighted), bool(float32), *out), _block(arrays), fresh=tuple(out))
    return out


def _total_weight(w: np.ndarray) -> float:
    total = 0.0
    for x in w.tolist():  # in segment order, as mining's weight_all
        total += x
    return total


def _missing_rows(count: np.ndarray, wmiss: np.ndarray, n_trees: int, w: np.ndarray, treatment: str, threshold: float, votes: bool) -> np.ndarray:
    """``MiningCore._missing_policy``'s result_missing."""
    if treatment not in ("returnMissing", "skipSegment", "continue"):
        raise ValueError(f"missingPredictionTreatment {treatment!r}")
    any_missing = count < n_trees
    missing = np.zeros(len(count), dtype=bool)
    if treatment == "returnMissing" or (treatment == "continue" and not votes):
        missing |= any_missing
    if treatment == "skipSegment" or (treatment == "continue" and votes):
        with np.errstate(invalid="ignore", divide="ignore"):
            missing |= (wmiss / np.full(len(count), _total_weight(w))) > threshold
    return missing


def combine_values(
    sums: ValueSums,
    method: str,
    *,
    n_trees: int,
    weights: np.ndarray | None = None,
    treatment: str = "continue",
    threshold: float = 1.0,
) -> np.ndarray:
    """float64 (n,): mining's result for method sum / weightedSum / average / weightedAverage
    (NaN = missing), from ``sum_values`` accumulators (``weighted`` must match the method)."""
    w = np.ones(n_trees) if weights is None else np.asarray(weights, dtype=np.float64)
    missing = _missing_rows(sums.count, sums.wmiss, n_trees, w, treatment, threshold, votes=False)
    with np.errstate(invalid="ignore", divide="ignore"):
        if method == "average":
            out = sums.total / sums.count
        elif method == "weightedAverage":
            out = sums.total / sums.wsum
        elif method in ("sum", "weightedSum"):
            out = sums.total.copy()
        else:
            raise ValueError(f"method {method!r}")
    out[sums.count == 0] = np.nan
    out[missing] = np.nan
    return out


def average_values(
    X: np.ndarray,
    arrays: TreeArrays,
    leaf_values: np.ndarray,
    *,
    weights: np.ndarray | None = None,
    weighted: bool = False,
    float32: bool = False,
    treatment: str = "continue",
    threshold: float = 1.0,
    n_threads: int | None = None,
) -> np.ndarray:
    """float64 (n,): mining's average (weightedAverage when ``weighted``) of per-tree values."""
    sums = sum_values(X, arrays, leaf_values, weights=weights, weighted=weighted, float32=float32, n_threads=n_threads)
    method = "weightedAverage" if weighted else "average"
    return combine_values(sums, method, n_trees=arrays.n_trees, weights=weights, treatment=treatment, threshold=threshold)


# --- votes --------------------------------------------------------------------------------------


class VoteCounts(NamedTuple):
    """votes float64 (n, k): per class, the sum of votes (w if weighted else 1.0), in tree order;
    first int32 (n, k): the first tree that voted for the class (n_trees: none); mvotes float64
    (n,): the sum of votes of trees with a missing result; wmiss float64 (n,): the sum of the
    weights of those trees; nmiss float64 (n,): their number."""

    votes: np.ndarray
    first: np.ndarray
    mvotes: np.ndarray
    wmiss: np.ndarray
    nmiss: np.ndarray


def vote_counts(
    X: np.ndarray,
    arrays: TreeArrays,
    leaf_class: np.ndarray,
    n_classes: int,
    *,
    weights: np.ndarray | None = None,
    weighted: bool = False,
    n_threads: int | None = None,
) -> VoteCounts:
    """Fused walk + majority vote counting (weightedMajorityVote when ``weighted``)."""
    X = _matrix(X, arrays)
    n = X.shape[0]
    w = _weights(arrays, weights)
    classes = _table(leaf_class, arrays, np.int64, 1)
    if classes.size and classes.max() >= n_classes:
        raise ValueError("leaf_class holds a class index >= n_classes")
    out = VoteCounts(np.empty((n, n_classes)), np.empty((n, n_classes), dtype=np.int32), np.empty(n), np.empty(n), np.empty(n))
    run_chunks(K.votes_range, n, n_threads, (*_batch_graph(arrays), X, classes, w, bool(weighted), *out), _block(arrays), fresh=tuple(out))
    return out


def combine_votes(
    counts: VoteCounts,
    *,
    n_trees: int,
    weights: np.ndarray | None = None,
    treatment: str = "continue",
    threshold: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """mining's majorityVote / weightedMajorityVote: float64 (n, k) probabilities (NaN rows =
    missing) and int64 (n,) the winning class index (-1 = missing; ties go to the class whose
    first vote came first, as ``MiningCore._votes``)."""
    w = np.ones(n_trees) if weights is None else np.asarray(weights, dtype=np.float64)
    missing = _missing_rows(n_trees - counts.nmiss, counts.wmiss, n_trees, w, treatment, threshold, votes=True)
    mvotes = counts.mvotes if treatment == "continue" else np.zeros(len(counts.mvotes))
    votes = counts.votes
    total = votes.sum(axis=1)
    # "The missing result is returned if it gets the most (possibly weighted) votes"
    missing |= mvotes > votes.max(axis=1, initial=0.0)
    missing |= total == 0
    with np.errstate(invalid="ignore", divide="ignore"):
        probs = votes / total[:, None]
    probs[missing] = np.nan
    best = votes == votes.max(axis=1, keepdims=True)
    winner = np.argmin(np.where(best, counts.first, np.iinfo(np.int32).max), axis=1).astype(np.int64)
    winner[missing] = -1
    return probs, winner


# --- probabilities --------------------------------------------------------------------------------


class ProbabilitySums(NamedTuple):
    """total float64 (n, k): the sum of w' * probabilities (w' = w if weighted else 1.0) over
    trees with probabilities, in tree order; wsum float64 (n,): the sum of their w'; wmiss
    float64 (n,): the sum of the weights of the others; nmiss float64 (n,): their number."""

    total: np.ndarray
    wsum: np.ndarray
    wmiss: np.ndarray
    nmiss: np.ndarray


def sum_probabilities(
    X: np.ndarray,
    arrays: TreeArrays,
    leaf_probs: np.ndarray,
    *,
    weights: np.ndarray | None = None,
    weighted: bool = False,
    n_threads: int | None = None,
) -> ProbabilitySums:
    """Fused walk + sum of per-tree probability vectors (see ``ProbabilitySums``)."""
    X = _matrix(X, arrays)
    n = X.shape[0]
    w = _weights(arrays, weights)
    probs = _table(leaf_probs, arrays, np.float64, 2)
    if probs.shape[1] == 0:
        raise ValueError("leaf_probs needs at least one class column")
    out = ProbabilitySums(np.empty((n, probs.shape[1])), np.empty(n), np.empty(n), np.empty(n))
    run_chunks(K.proba_range, n, n_threads, (*_batch_graph(arrays), X, probs, w, bool(weighted), *out), _block(arrays), fresh=tuple(out))
    return out


def combine_probabilities(
    sums: ProbabilitySums,
    *,
    n_trees: int,
    weights: np.ndarray | None = None,
    treatment: str = "continue",
    threshold: float = 1.0,
) -> np.ndarray:
    """float64 (n, k): mining's average / weightedAverage of probabilities (NaN rows = missing)."""
    w = np.ones(n_trees) if weights is None else np.asarray(weights, dtype=np.float64)
    missing = _missing_rows(n_trees - sums.nmiss, sums.wmiss, n_trees, w, treatment, threshold, votes=False)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = sums.total / sums.wsum[:, None]
    out[missing] = np.nan
    return out


def average_probabilities(
    X: np.ndarray,
    arrays: TreeArrays,
    leaf_probs: np.ndarray,
    *,
    weights: np.ndarray | None = None,
    weighted: bool = False,
    treatment: str = "continue",
    threshold: float = 1.0,
    n_threads: int | None = None,
) -> np.ndarray:
    """float64 (n, k): mining's average (weightedAverage when ``weighted``) of per-tree probabilities."""
    sums = sum_probabilities(X, arrays, leaf_probs, weights=weights, weighted=weighted, n_threads=n_threads)
    return combine_probabilities(sums, n_trees=arrays.n_trees, weights=weights, treatment=treatment, threshold=threshold)


def warmup(mixed: bool = False) -> None:
    """Compile (or load from numba's cache) the kernels for forests of OP_LE tests only, and
    with ``mixed`` also those for forests with other ops. The first compile of a process
    without a cache takes a few seconds per kernel; later processes load them in ~0.3 s."""
    from quickscore.ir import DataType, Node, SimplePredicate, TreeModel, TruePredicate
    from quickscore.kernels.trees import FieldEncoding, lower_trees

    ops = ["lessOrEqual"] + (["equal"] if mixed else [])
    X = np.array([[0.0], [np.nan]] * 2)
    for op in ops:
        node = Node(predicate=TruePredicate(), children=(Node(predicate=SimplePredicate(field="x", operator=op, value="0"), score="1"), Node(predicate=TruePredicate(), score="2")))
        arrays = lower_trees([TreeModel(function_name="regression", mining_schema=(), root=node)], {"x": FieldEncoding(0, DataType.DOUBLE)})
        assert arrays is not None
        values = np.zeros(arrays.n_nodes)
        probs = np.zeros((arrays.n_nodes, 2))
        classes = np.zeros(arrays.n_nodes, dtype=np.int64)
        leaf_indices(X, arrays, levels=True, n_threads=1)
        leaf_indices(X, arrays, n_threads=1)
        sum_values(X, arrays, values, n_threads=1)
        sum_probabilities(X, arrays, probs, n_threads=1)
        vote_counts(X, arrays, classes, 2, n_threads=1)
        for x in X[:2]:
            leaf_indices_row(x, arrays)
            sum_values_row(x, arrays, values)
            sum_probabilities_row(x, arrays, probs)
            vote_counts_row(x, arrays, classes, 2)
