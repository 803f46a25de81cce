"""The bitvector layout of shallow trees (QuickScorer), for the batch walk ``bits_walk``.

A tree with at most 64 leaves (exits) gets a 64-bit *leaf bitvector* per row: bit j stands
for its j-th exit, exits numbered left to right with the TRUE exit of a test on the left.
Every test k carries a mask that is 0 exactly at the exits of its TRUE subtree. Start a
row with all bits set and AND in the mask of every test that is FALSE for the row: the
row's exit is then the *leftmost* bit still set (Lucchese et al., "QuickScorer", SIGIR 2015,
Theorem 3.1: every exit left of the true one lies in the TRUE subtree of a test on the
row's path that is FALSE for the row; the true exit lies in no FALSE test's TRUE subtree).
The tests of a tree can so be evaluated in any order, without a branch on the outcome, and
the same test for 32 rows at once (``bits_walk.walk_bits``: one SIMD compare and one masked
AND per 4-8 rows). This beats the pointer walk on GBM trees of up to 64 leaves (W3:
LightGBM's 63-leaf trees), whose walks mispredict about one branch per tree and row.

Which trees: a tree is laid out when it is a tree of OP_LE tests (``x <= threshold``; each
test reached once from the root) with at most 64 exits, no NaN threshold, and every test's
``missing_next`` on the side of its ``true_next`` or of its ``false_next`` (a NaN goes one way;
``_nan_side``).
Missing levels (defaultChild jumps) are not tracked: a caller that wants them
(``leaf_indices(levels=True)``) gets the other walks. Such a test is FALSE for a row when ``x > t`` (NaN goes to the TRUE exit)
or when ``not (x <= t)`` (NaN goes to the FALSE exit): for a present x both are exactly
``x <= t`` negated, in float64 as the other walks compare. Other trees keep their walk.

Arrays (``BitLayout``), tree i of the layout (``tree_bits[t] = i``):

* ``columns`` int64, ``thresholds`` float64, ``masks`` uint64 (n_tests,): its tests at
  ``starts[2i] .. starts[2i + 1] - 1`` (NaN goes TRUE) and ``starts[2i + 1] .. starts[2i +
  2] - 1`` (NaN goes FALSE); ``starts`` int64 (2 n_bits + 1,).
* ``leaves`` int32 (n_bits * 64,): ``leaves[64 i + j]`` = the result of exit j (global node
  index, -1: no prediction); -1 past its last exit (never the leftmost set bit: the masks
  of a tree never clear bits past its last exit, and its last exit is never cleared).
* ``tree_bits`` int64 (n_trees,): i, or -1 for a tree that keeps its walk; ``n_other``:
  the number of those that start with a test (0: the batch walk skips its row split).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from quickscore.kernels import bits_walk
from quickscore.kernels.options import NJIT
from quickscore.kernels.trees import TreeArrays

MAX_EXITS = 64
ALL = np.uint64(0xFFFFFFFFFFFFFFFF)


class BitLayout(NamedTuple):
    columns: np.ndarray
    thresholds: np.ndarray
    masks: np.ndarray
    starts: np.ndarray
    leaves: np.ndarray
    tree_bits: np.ndarray
    n_other: int


@njit(**NJIT)
def _nan_side(n, feature, true_next, false_next, missing_next, stack):
    """Which exit of test n a NaN takes: 1 TRUE, 0 FALSE, -1 neither. ``missing_next[n]`` may
    be a test or terminal below an exit (the lowering's jump threading skips tests on the same
    column, whose outcome a NaN already decided): it is accepted when every test on the way
    there tests the same column and sends a NaN to the same place, so that each of them,
    decided on its own, leads there too."""
    target = missing_next[n]
    if target == true_next[n]:
        return 1
    if target == false_next[n]:
        return 0
    for side in range(2):
        start = true_next[n] if side == 0 else false_next[n]
        sp = 0
        if start >= 0:
            stack[0] = start
            sp = 1
        while sp > 0:
            sp -= 1
            k = stack[sp]
            if k == target:
                return 1 - side
            if feature[k] != feature[n] or missing_next[k] != target:
                continue
            for child in (true_next[k], false_next[k]):
                if child == target:
                    return 1 - side
                if child >= 0 and sp < stack.shape[0]:
                    stack[sp] = child
                    sp += 1
    return -1


@njit(**NJIT)
def _lay_out(threshold, feature, true_next, false_next, missing_next, root, seen, stack, scratch, order, nan_true, masks_tmp, leaves_out):
    """One tree from ``root`` (a test), depth first, TRUE exit first: fills leaves_out[0 ..
    n_exits) and, per test in that order, order[q] (the test), nan_true[q] and masks_tmp[q];
    returns the number of tests, or -1 when the tree cannot be laid out (see the module
    docstring). ``stack`` int64 (4, MAX_EXITS): per level the test, its state (0: enter, 1:
    TRUE side done, 2: done), its q and its first exit; ``scratch``: ``_nan_side``'s stack."""
    n_exits = 0
    n_tests = 0
    stack[0, 0] = root
    stack[1, 0] = 0
    sp = 1
    while sp > 0:
        n = stack[0, sp - 1]
        st = stack[1, sp - 1]
        if st == 2:
            sp -= 1
            continue
        if st == 0:
            # <= 64 exits: <= 63 tests (order, nan_true, masks_tmp hold that many)
            if n_tests == MAX_EXITS - 1 or seen[n] or threshold[n] != threshold[n]:
                return -1
            side = _nan_side(n, feature, true_next, false_next, missing_next, scratch)
            if side < 0:
                return -1
            seen[n] = True
            stack[2, sp - 1] = n_tests
            stack[3, sp - 1] = n_exits
            order[n_tests] = n
            nan_true[n_tests] = side == 1
            n_tests += 1
            child = true_next[n]
        else:
            # the TRUE subtree's exits are first .. n_exits - 1: the mask clears them
            mk = ALL
            for j in range(stack[3, sp - 1], n_exits):
                mk &= ~(np.uint64(1) << np.uint64(j))
            masks_tmp[stack[2, sp - 1]] = mk
            child = false_next[n]
        stack[1, sp - 1] = st + 1
        if child < 0:
            if n_exits == MAX_EXITS:
                return -1
            leaves_out[n_exits] = -child - 2
            n_exits += 1
        else:
            if sp == MAX_EXITS:
                return -1
            stack[0, sp] = child
            stack[1, sp] = 0
            sp += 1
    return n_tests


@njit(**NJIT)
def _build(threshold, feature, true_next, false_next, missing_next, roots, columns, thresholds, masks, starts, leaves, tree_bits):
    n_nodes = threshold.shape[0]
    seen = np.zeros(n_nodes, dtype=np.bool_)
    stack = np.empty((4, MAX_EXITS), dtype=np.int64)
    scratch = np.empty(2 * MAX_EXITS, dtype=np.int64)
    order = np.empty(MAX_EXITS, dtype=np.int64)
    nan_true = np.empty(MAX_EXITS, dtype=np.bool_)
    masks_tmp = np.empty(MAX_EXITS, dtype=np.uint64)
    tree_leaves = np.empty(MAX_EXITS, dtype=np.int32)
    nb = 0
    pos = 0
    n_other = 0
    for t in range(roots.shape[0]):
        tree_bits[t] = -1
        root = roots[t]
        if root < 0:
            continue
        for j in range(MAX_EXITS):
            tree_leaves[j] = -1
        n = _lay_out(threshold, feature, true_next, false_next, missing_next, root, seen, stack, scratch, order, nan_true, masks_tmp, tree_leaves)
        if n < 0:
            n_other += 1
            continue
        tree_bits[t] = nb
        starts[2 * nb] = pos
        for group in range(2):  # NaN goes TRUE, then NaN goes FALSE
            for q in range(n):
                if nan_true[q] == (group == 0):
                    k = order[q]
                    columns[pos] = feature[k]
                    thresholds[pos] = threshold[k]
                    masks[pos] = masks_tmp[q]
                    pos += 1
            starts[2 * nb + 1 + group] = pos
        for j in range(MAX_EXITS):
            leaves[nb * MAX_EXITS + j] = tree_leaves[j]
        nb += 1
    return nb, pos, n_other


def bit_layout(arrays: TreeArrays) -> BitLayout | None:
    """The ``BitLayout`` of the trees that take the bitvector walk, or None (no such tree,
    or not every test is OP_LE); computed once per ``TreeArrays`` (cached on it)."""
    if "_bits" in arrays.__dict__:
        return arrays.__dict__["_bits"]
    out = None
    nodes = arrays.nodes
    n_trees = len(arrays.roots)
    first = np.sort(arrays.roots[arrays.roots >= 0])  # each tree's tests are contiguous
    small = bool((np.diff(np.append(first, len(nodes))) < MAX_EXITS).any())  # <= 63 tests
    if arrays.all_le and small:
        n = len(nodes)
        columns = np.empty(n, dtype=np.int64)
        thresholds = np.empty(n)
        masks = np.empty(n, dtype=np.uint64)
        starts = np.zeros(2 * n_trees + 1, dtype=np.int64)
        leaves = np.full(n_trees * MAX_EXITS, -1, dtype=np.int32)
        tree_bits = np.empty(n_trees, dtype=np.int64)
        nb, pos, n_other = _build(
            nodes["threshold"].copy(),
            nodes["feature"].astype(np.int64),
            nodes["true_next"].astype(np.int64),
            nodes["false_next"].astype(np.int64),
            nodes["missing_next"].astype(np.int64),
            arrays.roots.astype(np.int64),
            columns, thresholds, masks, starts, leaves, tree_bits,
        )
        if nb:
            bits_walk.compile_walk()
            out = BitLayout(columns[:pos].copy(), thresholds[:pos].copy(), masks[:pos].copy(), starts[: 2 * nb + 1].copy(), leaves[: nb * MAX_EXITS].copy(), tree_bits, int(n_other))
    arrays.__dict__["_bits"] = out
    return out
