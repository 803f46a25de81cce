"""The packed layouts of ``row.py``'s one-row kernels, built once per forest (at the first
record), each one int32 array so that a kernel call passes one array:

* ``pack_pairs(arrays, values, weights, weighted, float32)`` -> ``PackedPairs`` or None, for
  ``row.sum_values_pairs`` (tree sums: GBM chains, sum ensembles);
* ``pack_le32(arrays, table)`` -> ``PackedLe32`` or None, for ``row.proba2_le32`` (binary
  probability forests of fields of dataType float).

None: the forest has tests other than OP_LE, or is too large for int32 offsets. (The earlier
``pack_sum`` layout of the sync/plain walk was removed with that kernel: see ``row.py``.)
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from quickscore.kernels import row as R
from quickscore.kernels.trees import TreeArrays

_INT32_MAX = np.iinfo(np.int32).max


class PackedLe32(NamedTuple):
    """A forest for ``row.proba2_le32(B, x)``: one int32 array (layout: ``row.B32_*``)."""

    B: np.ndarray


def floor_float32(t: np.ndarray) -> np.ndarray:
    """The largest float32 <= t, elementwise (NaN stays NaN; below float32's range: -inf).

    For a float32 value x (widened to float64), ``x <= t`` and ``x <= floor_float32(t)`` are
    the same decision: floor_float32(t) <= t, and no float32 lies between them."""
    with np.errstate(over="ignore"):
        t32 = t.astype(np.float32)
    above = t32.astype(np.float64) > t
    t32[above] = np.nextafter(t32[above], np.float32(-np.inf))
    return t32


def pack_le32(arrays: TreeArrays, table: np.ndarray) -> PackedLe32 | None:
    """The ``pack_le32`` form of a forest of OP_LE tests and its per-node table ``table``
    (n_nodes, k), or None when ``arrays`` has other tests. Exact only for rows whose tested
    values are float32 values (fields of dataType float: ``row.proba2_le32`` rounds x): the
    thresholds are ``floor_float32`` of the float64 ones. Each test is 16 bytes with its
    column inside (one load per test; the batch layout's ``fast`` record + ``features``
    entry: two) and the table keeps the terminals' distinct rows only (W1: 4.7 MB and 2 rows
    instead of 4.7 + 1.2 + 7.0 MB: one cache miss less per tree). Built in 27 ms on W1 (291k
    tests; min of 7 at load average 8-11 on 2 cores, much of it first touches of new pages)."""
    if not arrays.all_le or table.ndim != 2 or table.shape[0] != arrays.n_nodes:
        return None
    fast = arrays.fast
    table = np.ascontiguousarray(table, dtype=np.float64)
    n = len(fast) + arrays.n_trees + len(arrays.used_cols) + 2 * table.shape[0] * table.shape[1]
    if n + 64 > _INT32_MAX:
        return None
    B = R.pack_le32_buffer(
        floor_float32(fast["threshold"]),
        np.ascontiguousarray(arrays.features & 0xFFFFFF, dtype=np.int32),  # OP_LE: the op bits are 0
        np.ascontiguousarray(fast["true_next"], dtype=np.int32),
        np.ascontiguousarray(fast["false_next"], dtype=np.int32),
        np.ascontiguousarray(arrays.roots, dtype=np.int32),
        np.ascontiguousarray(arrays.used_cols, dtype=np.int32),
        table,
        table.view(np.int64),
    )
    return PackedLe32(B)


class PackedPairs(NamedTuple):
    """A forest and its per-node values for ``row.sum_values_pairs(B, x)`` (layout: ``row.P_*``)."""

    B: np.ndarray


def pack_pairs(arrays: TreeArrays, values: np.ndarray, weights: np.ndarray, weighted: bool, float32: bool) -> PackedPairs | None:
    """The ``pack_pairs`` form of ``kernels.sum_values_row(x, arrays, values, weights=weights,
    weighted=weighted, float32=float32)``, or None when ``row.sum_values_pairs`` does not
    cover it (tests other than OP_LE, or too large for int32 offsets).

    Records: one per tree root (then leaves padding the trees to a multiple of
    ``row.PAIR_LANES``), then two per test u of ``arrays.fast`` -- the nodes its "x <=
    threshold" and "x > threshold" lead to, side by side. A test's record holds its threshold,
    column and the index of its children's first record; a terminal's record holds the node's
    value (NaN: no terminal, or a missing value) and leads to itself. A NaN threshold (``x <=
    NaN`` is false) leads to the second child always (+inf, and its first record is the second
    child). 16 bytes a record (W3: 500 trees, 31,000 tests: 1.0 MB); built with numpy in a few
    milliseconds."""
    if not arrays.all_le:
        return None
    fast = arrays.fast
    n_trees, n_tests, n_features = arrays.n_trees, len(fast), arrays.n_features
    lanes = R.PAIR_LANES
    padded = -(-n_trees // lanes) * lanes
    true_next = fast["true_next"].astype(np.int64)
    false_next = fast["false_next"].astype(np.int64)
    threshold = fast["threshold"].astype(np.float64)
    column = (arrays.features & 0xFFFFFF).astype(np.int64)  # OP_LE: the op bits are 0
    nan_threshold = np.isnan(threshold)
    threshold[nan_threshold] = np.inf
    values = np.asarray(values, dtype=np.float64)
    weights = np.asarray(weights, dtype=np.float64)
    if len(values) != arrays.n_nodes or len(weights) != n_trees:
        return None
    # the node code of each record (fast's codes: >= 0 a test, < -1 the terminal -code - 2, -1 none)
    code = np.concatenate([np.asarray(arrays.roots, dtype=np.int64), np.full(padded - n_trees, -1), np.stack([true_next, false_next], axis=1).reshape(-1)])
    n_records = len(code)
    test = code >= 0
    u = np.where(test, code, 0)
    if n_tests == 0:  # a forest of single leaves: u (all 0) indexes one unused test
        threshold, column, nan_threshold = np.zeros(1), np.zeros(1, dtype=np.int64), np.zeros(1, dtype=bool)
    terminal = code < -1
    slot = np.full(n_records, np.nan)
    slot[test] = threshold[u[test]]
    slot[terminal] = values[-code[terminal] - 2]
    first = np.where(test, padded + 2 * u + nan_threshold[u], np.arange(n_records))
    col = np.where(test, column[u], n_features)
    used = np.asarray(arrays.used_cols, dtype=np.int64)
    w_off = R.P_HEADER + len(used)
    w_off += w_off % 2
    rec = w_off + 2 * n_trees
    rec += (-rec) % 4
    size = rec + 4 * n_records
    if size > _INT32_MAX or padded + 2 * n_tests > _INT32_MAX:
        return None
    B = np.zeros(size, dtype=np.int32)
    B[R.P_TREES] = n_trees
    B[R.P_N_USED] = len(used)
    B[R.P_USED] = R.P_HEADER
    B[R.P_WEIGHTS] = w_off
    B[R.P_RECORDS] = rec
    B[R.P_F32] = int(bool(float32))
    B[R.P_WEIGHTED] = int(bool(weighted))
    B[R.P_NAN_COL] = n_features
    B[R.P_HEADER : R.P_HEADER + len(used)] = used
    B[w_off : w_off + 2 * n_trees].view(np.float64)[:] = weights
    records = B[rec:].reshape(n_records, 4)
    records[:, 0:2] = slot.view(np.int32).reshape(n_records, 2)
    records[:, 2] = col
    records[:, 3] = first
    return PackedPairs(B)
