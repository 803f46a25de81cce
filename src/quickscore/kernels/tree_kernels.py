"""numba kernels that walk ``TreeArrays`` (see ``quickscore.kernels.trees`` for the layout).

Every batch kernel works on a contiguous row range ``[r0, r1)`` of a C-contiguous float64
matrix ``X`` (n_rows, n_features) and writes only the rows of that range, so ranges can run
on several threads at once (the kernels release the GIL). Loop structure::

    for each block of `block` rows in [r0, r1):            # X block + gbuf stay in L2
        trees of <= 64 exits (bits.bit_layout), 256 rows at a time, transposed:
            every such tree's tests on 32 rows at once: a SIMD compare and a masked AND
            into each row's leaf bitvector; the exit is its lowest set bit (bits_walk)
        split the block's rows: clean (no NaN in any tested column) / dirty
        (skipped when the bitvector walk took every tree), then for the other trees:
        for t in trees (in order):                          # tree t's tests stay in cache
            walk the clean rows, 8 at a time (lanes.walk_rows_*_clean): a test has 2 exits,
                s = true_next if x <= threshold else false_next     (a select, no branch)
              or, for a depth-limited tree laid out as a complete tree (ensemble.sync_layout),
              16 rows in step for exactly its depth D: h = 2h + 1 + (x > threshold)
            walk the dirty rows, 8 at a time (lanes.walk_rows_*_nan): NaN -> missing_next
            gbuf[t, i] = g                                  # global node index, -1: none
        consume gbuf, tree-major, each row's trees in order: out / accumulate

``mixed`` is None when every test is OP_LE, True otherwise: a None-typed argument makes numba
compile a specialisation without the op dispatch (and without compiling the other walks).
A walk ends at a terminal exit ``s < 0``: ``g = -s - 2``. The 8 interleaved walks ("lanes")
hide the latency of the dependent loads of a walk (test -> x -> next test); the compact
16-byte ``fast`` records plus the ``features`` array halve the cache footprint of a tree.
The one-row entry points (``*_row``) walk 8 trees at a time instead (lanes.walk_trees_*).
Missing levels are only computed for rows with a NaN (``_walk_levels``); other rows have none.

The fused kernels (sums, votes, probabilities) accumulate per row in tree order with the
same operations as ``models/mining.py``, so results are bit-identical to it (sums and
probabilities into block-local rows, one per accumulator, copied out after the block).

Hot loads index with ``np.uint64``: numba adds a negative-index wraparound (a sign test and
an add) to every load with a signed index, and the walks are bound by instructions per test
(measured, 1 thread, process_time: W4 walk alone 268k -> 430k rows/s, W1 +8%, W3 +8%).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from quickscore.kernels import bits_walk, lanes
from quickscore.kernels._layout import OP_BITS, OP_EQ, OP_LE
from quickscore.kernels.lanes import _in_bits, _in_sorted
from quickscore.kernels.options import NJIT, NJIT_PARALLEL
from quickscore.kernels.row import add_value

BLOCK = 2048
BITS_ROWS = 256  # rows per pass of the bitvector walk (a multiple of bits_walk.LANES)

# numba's on-disk cache notices edits to this file only; the kernels here inline code from
# lanes.py, bits_walk.py and row.py (``add_value``) and constants from _layout.py. This hash of
# the four (kept current by ``python -m quickscore.kernels._codegen`` / ``_bits_codegen``,
# checked by a unit test) makes any change to them an edit of this file.
DEPENDENCY_FINGERPRINT = "72bf10634dddfe16"


@njit(**NJIT)
def _walk_levels(nodes, bitsets, set_values, xr, s):
    """Follow tests from ``s`` until a terminal, adding up the missing levels of the exits
    taken (any row, NaN allowed); returns (terminal code, levels)."""
    levels = 0
    while s >= 0:
        nd = nodes[s]
        x = xr[nd.feature]
        op = nd.op
        if x != x:
            levels += nd.lv_missing
            s = nd.missing_next
            continue
        if op == OP_LE:
            c = x <= nd.threshold
        elif op == OP_EQ:
            c = x == nd.threshold
        elif op == OP_BITS:
            c = _in_bits(bitsets, np.int64(nd.threshold), x)
        else:
            c = _in_sorted(set_values, np.int64(nd.threshold), x)
        if c:
            levels += nd.lv_true
            s = nd.true_next
        else:
            levels += nd.lv_false
            s = nd.false_next
    return s, levels


@njit(**NJIT)
def _clean(xr, used_cols):
    for j in used_cols:
        if xr[j] != xr[j]:
            return False
    return True


@njit(**NJIT)
def sync_depths(true_next, false_next, roots, max_depth, depth):
    """depth[t] = the tests on tree t's longest walk, when the tree qualifies for the in-step
    walk (see ``ensemble.sync_layout``), else 0. Exits point forward (tests are numbered depth
    first): a backward pass gives each test's longest walk, a forward pass each leaf's depth.
    A backward exit (not expected) leaves every tree on the plain walk."""
    n_tests = true_next.shape[0]
    n_trees = roots.shape[0]
    longest = np.zeros(n_tests, dtype=np.int64)
    for s in range(n_tests - 1, -1, -1):
        best = 0
        for e in (true_next[s], false_next[s]):
            if e >= 0:
                if e <= s:
                    return
                best = max(best, longest[e])
        longest[s] = best + 1
    level = np.zeros(n_tests, dtype=np.int64)
    tree = np.full(n_tests, -1, dtype=np.int64)
    leaf_levels = np.zeros(n_trees)
    n_leaves = np.zeros(n_trees)
    for t in range(n_trees):
        if roots[t] >= 0:
            level[roots[t]] = 1
            tree[roots[t]] = t
    for s in range(n_tests):
        t = tree[s]
        if t < 0:
            continue
        for e in (true_next[s], false_next[s]):
            if e < 0:
                leaf_levels[t] += level[s]
                n_leaves[t] += 1.0
            else:
                level[e] = max(level[e], level[s] + 1)
                tree[e] = t
    for t in range(n_trees):
        r = roots[t]
        if r < 0 or n_leaves[t] == 0.0:
            continue
        d = longest[r]
        # Walks about equally long: the mean leaf depth is at least 60% of the longest walk
        # (measured: XGBoost depth-8 trees 0.77-0.96, LightGBM 63-leaf trees 0.53-0.72). An
        # in-step test costs ~0.6 of a plain-walk test (W4 walks alone: 430k vs 268k rows/s),
        # so D steps in step beat a mean depth of 0.6 D on the plain walk (W3, depth <= 12:
        # 138 of 500 trees take it, 107k -> 111k rows/s; at 75%, 2 trees).
        if d <= max_depth and leaf_levels[t] >= 0.6 * d * n_leaves[t]:
            depth[t] = d


@njit(**NJIT)
def sync_heaps(threshold, true_next, false_next, features, roots, depth, hoff, loff, h_threshold, h_feature, leaves):
    """Lay out each tree with depth[t] > 0 as a complete tree (``ensemble.sync_layout``):
    test s at heap slot h puts its threshold / column at hoff[t] + h and its TRUE / FALSE
    exits at 2h+1 / 2h+2; a terminal g reached at slot h of level l < D continues right
    (pass-through slots keep threshold NaN: ``x <= NaN`` is FALSE for every x, NaN in a column
    the tree does not test included) to level D, where leaves[loff[t] + h - (2**D - 1)] = g.
    Reads the plain graph only through exits that point forward, so it ends."""
    for t in range(roots.shape[0]):
        D = depth[t]
        if D == 0:
            continue
        first_leaf = (1 << D) - 1
        stack_s = np.empty(2 * D + 2, dtype=np.int64)
        stack_h = np.empty(2 * D + 2, dtype=np.int64)
        stack_l = np.empty(2 * D + 2, dtype=np.int64)
        sp = 0
        stack_s[0] = roots[t]
        stack_h[0] = 0
        stack_l[0] = 0
        sp = 1
        while sp > 0:
            sp -= 1
            s = stack_s[sp]
            h = stack_h[sp]
            lvl = stack_l[sp]
            if s < 0:
                while lvl < D:  # pass-through tests: FALSE for every x (threshold NaN)
                    h = 2 * h + 2
                    lvl += 1
                leaves[loff[t] + h - first_leaf] = -s - 2
                continue
            h_threshold[hoff[t] + h] = threshold[s]
            h_feature[hoff[t] + h] = features[s]
            stack_s[sp] = false_next[s]
            stack_h[sp] = 2 * h + 2
            stack_l[sp] = lvl + 1
            stack_s[sp + 1] = true_next[s]
            stack_h[sp + 1] = 2 * h + 1
            stack_l[sp + 1] = lvl + 1
            sp += 2


@njit(**NJIT)
def _walk_rows_sync(sync, t, Xf, d, rows, m, gt, b0):
    """Tree t in its complete-tree layout (``ensemble.sync_layout``): rows[:m] (clean: no
    NaN), 16 lanes in step (measured: 8 lanes 260k, 12-16 lanes 280k rows/s on W4), exactly
    D steps each, no end-of-walk test and no exit loads:
        h = 2h + 1 if x[feature] <= threshold else 2h + 2
    then gt[r - b0] = the terminal at h on the last level.

    Indices are unsigned (np.uint64): numba then leaves out the negative-index wraparound
    (a sign test and an add per load); measured 268k -> 430k rows/s for the walk alone on W4.
    """
    heap, leaves = sync[0], sync[1]
    D = sync[4][t]
    hb = np.uint64(sync[2][t])
    lb = np.uint64(sync[3][t] - ((1 << D) - 1))
    one = np.uint64(1)
    two = np.uint64(2)
    i = 0
    while i + 16 <= m:
        o0 = np.uint64(rows[i + 0] * d)
        o1 = np.uint64(rows[i + 1] * d)
        o2 = np.uint64(rows[i + 2] * d)
        o3 = np.uint64(rows[i + 3] * d)
        o4 = np.uint64(rows[i + 4] * d)
        o5 = np.uint64(rows[i + 5] * d)
        o6 = np.uint64(rows[i + 6] * d)
        o7 = np.uint64(rows[i + 7] * d)
        o8 = np.uint64(rows[i + 8] * d)
        o9 = np.uint64(rows[i + 9] * d)
        o10 = np.uint64(rows[i + 10] * d)
        o11 = np.uint64(rows[i + 11] * d)
        o12 = np.uint64(rows[i + 12] * d)
        o13 = np.uint64(rows[i + 13] * d)
        o14 = np.uint64(rows[i + 14] * d)
        o15 = np.uint64(rows[i + 15] * d)
        h0 = h1 = h2 = h3 = h4 = h5 = h6 = h7 = h8 = h9 = h10 = h11 = h12 = h13 = h14 = h15 = np.uint64(0)
        for _ in range(D):
            n0 = heap[hb + h0]
            n1 = heap[hb + h1]
            n2 = heap[hb + h2]
            n3 = heap[hb + h3]
            n4 = heap[hb + h4]
            n5 = heap[hb + h5]
            n6 = heap[hb + h6]
            n7 = heap[hb + h7]
            n8 = heap[hb + h8]
            n9 = heap[hb + h9]
            n10 = heap[hb + h10]
            n11 = heap[hb + h11]
            n12 = heap[hb + h12]
            n13 = heap[hb + h13]
            n14 = heap[hb + h14]
            n15 = heap[hb + h15]
            h0 = two * h0 + (one if Xf[o0 + np.uint64(n0.feature)] <= n0.threshold else two)
            h1 = two * h1 + (one if Xf[o1 + np.uint64(n1.feature)] <= n1.threshold else two)
            h2 = two * h2 + (one if Xf[o2 + np.uint64(n2.feature)] <= n2.threshold else two)
            h3 = two * h3 + (one if Xf[o3 + np.uint64(n3.feature)] <= n3.threshold else two)
            h4 = two * h4 + (one if Xf[o4 + np.uint64(n4.feature)] <= n4.threshold else two)
            h5 = two * h5 + (one if Xf[o5 + np.uint64(n5.feature)] <= n5.threshold else two)
            h6 = two * h6 + (one if Xf[o6 + np.uint64(n6.feature)] <= n6.threshold else two)
            h7 = two * h7 + (one if Xf[o7 + np.uint64(n7.feature)] <= n7.threshold else two)
            h8 = two * h8 + (one if Xf[o8 + np.uint64(n8.feature)] <= n8.threshold else two)
            h9 = two * h9 + (one if Xf[o9 + np.uint64(n9.feature)] <= n9.threshold else two)
            h10 = two * h10 + (one if Xf[o10 + np.uint64(n10.feature)] <= n10.threshold else two)
            h11 = two * h11 + (one if Xf[o11 + np.uint64(n11.feature)] <= n11.threshold else two)
            h12 = two * h12 + (one if Xf[o12 + np.uint64(n12.feature)] <= n12.threshold else two)
            h13 = two * h13 + (one if Xf[o13 + np.uint64(n13.feature)] <= n13.threshold else two)
            h14 = two * h14 + (one if Xf[o14 + np.uint64(n14.feature)] <= n14.threshold else two)
            h15 = two * h15 + (one if Xf[o15 + np.uint64(n15.feature)] <= n15.threshold else two)
        gt[rows[i + 0] - b0] = leaves[lb + h0]
        gt[rows[i + 1] - b0] = leaves[lb + h1]
        gt[rows[i + 2] - b0] = leaves[lb + h2]
        gt[rows[i + 3] - b0] = leaves[lb + h3]
        gt[rows[i + 4] - b0] = leaves[lb + h4]
        gt[rows[i + 5] - b0] = leaves[lb + h5]
        gt[rows[i + 6] - b0] = leaves[lb + h6]
        gt[rows[i + 7] - b0] = leaves[lb + h7]
        gt[rows[i + 8] - b0] = leaves[lb + h8]
        gt[rows[i + 9] - b0] = leaves[lb + h9]
        gt[rows[i + 10] - b0] = leaves[lb + h10]
        gt[rows[i + 11] - b0] = leaves[lb + h11]
        gt[rows[i + 12] - b0] = leaves[lb + h12]
        gt[rows[i + 13] - b0] = leaves[lb + h13]
        gt[rows[i + 14] - b0] = leaves[lb + h14]
        gt[rows[i + 15] - b0] = leaves[lb + h15]
        i += 16
    while i < m:
        o0 = np.uint64(rows[i] * d)
        h0 = np.uint64(0)
        for _ in range(D):
            n0 = heap[hb + h0]
            h0 = two * h0 + (one if Xf[o0 + np.uint64(n0.feature)] <= n0.threshold else two)
        gt[rows[i] - b0] = leaves[lb + h0]
        i += 1


@njit(**NJIT)
def _walk_block(nodes, fast, features, bitsets, set_values, mixed, roots, used_cols, sync, w32, bits, X, Xf, Xb, xt, slot, b0, b1, clean, dirty, gbuf, lbuf, want_levels):
    """gbuf[t, i] = tree t's result (global node index, -1 none) for row b0 + i, i < b1 - b0;
    with want_levels, lbuf[t, i] = its missing levels (0 for rows without NaN: only an
    UNKNOWN predicate, i.e. a NaN, can lead to a defaultChild jump). Clean rows of a tree
    with ``sync[4][t] > 0`` take the in-step walk ``_walk_rows_sync``. With ``w32`` (the
    FAST32_DTYPE records of ``ensemble.walk32``; None: no float32 walk) the clean rows are
    those whose tested values a float32 holds exactly (``_split32``), walked on the block's
    float32 order keys Xb; every other row (NaN, or a value float32 does not hold) is dirty.
    With ``bits`` (a ``bits.BitLayout``; None: no tree takes it), the trees it lays out take
    the bitvector walk on every row of the block, NaN or not (``_walk_bits_block``), unless
    missing levels are wanted; the row split is skipped when no other tree needs it."""
    m = b1 - b0
    d = X.shape[1]
    n_trees = roots.shape[0]
    nc = 0
    nd = 0
    use_bits = bits is not None and not want_levels
    if use_bits:
        _walk_bits_block(bits, used_cols, X, xt, slot, b0, b1, gbuf)
    if use_bits and bits[6] == 0:
        pass  # no other tree walks a row: no split
    elif w32 is not None:
        nc, nd = _split32(X, Xb, np.empty(d, dtype=np.float32), used_cols, b0, b1, clean, dirty)
    else:
        for r in range(b0, b1):
            if _clean(X[r], used_cols):
                clean[nc] = r
                nc += 1
            else:
                dirty[nd] = r
                nd += 1
    if want_levels:
        for t in range(n_trees):
            for i in range(m):
                lbuf[t, i] = 0
    for t in range(n_trees):
        root = roots[t]
        gt = gbuf[t]
        if root < 0:
            for i in range(m):
                gt[i] = -root - 2
            continue
        if use_bits and bits[5][t] >= 0:
            continue
        if nc > 0:
            if mixed is None and sync[4][t] > 0:
                _walk_rows_sync(sync, t, Xf, d, clean, nc, gt, b0)
            elif w32 is not None:
                lanes.walk_rows_le32_clean(w32, Xb, d, clean, nc, root, gt, b0)
            elif mixed is None:
                lanes.walk_rows_le_clean(nodes, fast, features, bitsets, set_values, Xf, d, clean, nc, root, gt, b0)
            else:
                lanes.walk_rows_any_clean(nodes, fast, features, bitsets, set_values, Xf, d, clean, nc, root, gt, b0)
        if nd == 0:
            continue
        if want_levels:
            for j in range(nd):
                r = dirty[j]
                s, lv = _walk_levels(nodes, bitsets, set_values, X[r], root)
                gt[r - b0] = -s - 2
                lbuf[t, r - b0] = lv
        elif mixed is None:
            lanes.walk_rows_le_nan(nodes, fast, features, bitsets, set_values, Xf, d, dirty, nd, root, gt, b0)
        else:
            lanes.walk_rows_any_nan(nodes, fast, features, bitsets, set_values, Xf, d, dirty, nd, root, gt, b0)


@njit(**NJIT)
def _walk_bits_block(bits, used_cols, X, xt, slot, b0, b1, gbuf):
    """gbuf[t, i] for the trees of the ``bits.BitLayout`` and rows b0 + i < b1: BITS_ROWS
    rows at a time, transposed into xt (column j's rows at xt[j * BITS_ROWS ..], the last
    row repeated up to a multiple of ``bits_walk.LANES``), then every laid-out tree on them
    (``bits_walk.walk_bits``): the tests of all such trees (24 bytes each; W3: 744 KB) stream
    from L2 while the rows stay in L1 (measured on W3, 32-row lanes: 256-row passes ~1.7x
    faster than whole 2048-row blocks)."""
    columns, thresholds, masks, starts, leaves, tree_bits, n_other = bits
    for s in range(b0, b1, BITS_ROWS):
        e = min(s + BITS_ROWS, b1)
        m = e - s
        mp = (m + bits_walk.LANES - 1) // bits_walk.LANES * bits_walk.LANES
        for j in used_cols:
            o = j * BITS_ROWS
            for r in range(m):
                xt[o + r] = X[s + r, j]
            for r in range(m, mp):
                xt[o + r] = X[e - 1, j]
        for t in range(tree_bits.shape[0]):
            i = tree_bits[t]
            if i >= 0:
                bits_walk.walk_bits(xt, BITS_ROWS, columns, thresholds, masks, starts, leaves, i, slot, gbuf[t], s - b0, m)


@njit(**NJIT)
def _split32(X, Xs, tmp, used_cols, b0, b1, clean, dirty):
    """The float32 walk's split of rows [b0, b1) (``ensemble.walk32``): a row is clean when
    each tested value x converts to float32 exactly (``float64(float32(x)) == x``: no NaN, no
    value a float32 does not hold); its values then go to Xs[(r - b0) * d + j] as
    ``order32(float32(x) + 0.0) << 32`` (``_layout.FAST32_DTYPE``). Other rows are dirty (the
    float64 walk that handles NaN, whatever else the row holds). ``tmp``: a float32 scratch of
    ``d`` values, read back as int32 bits. Returns (nc, nd)."""
    d = X.shape[1]
    bits = tmp.view(np.int32)
    nc = 0
    nd = 0
    for r in range(b0, b1):
        exact = True
        for j in used_cols:
            x = X[r, j]
            y = np.float32(x)
            exact &= np.float64(y) == x
            tmp[j] = y + np.float32(0.0)
        if exact:
            o = (r - b0) * d
            for j in used_cols:
                b = np.int64(bits[j])
                Xs[o + j] = (b ^ ((b >> 31) & 0x7FFFFFFF)) << 32
            clean[nc] = r
            nc += 1
        else:
            dirty[nd] = r
            nd += 1
    return nc, nd


@njit(**NJIT)
def _buffers(n_trees, block, want_levels, w32, bits, d):
    gbuf = np.empty((n_trees, block), dtype=np.int32)
    lbuf = np.empty((n_trees, block) if want_levels else (1, 1), dtype=np.int32)
    clean = np.empty(block, dtype=np.int64)
    dirty = np.empty(block, dtype=np.int64)
    Xb = np.empty(block * d if w32 is not None else 1, dtype=np.int64)
    # the bitvector walk's transposed rows (BITS_ROWS per pass) and exit slots
    xt = np.empty(BITS_ROWS * d if bits is not None else 1)
    slot = np.empty(BITS_ROWS, dtype=np.int64)
    return gbuf, lbuf, clean, dirty, Xb, xt, slot


# --- leaf indices -------------------------------------------------------------------------------


@njit(**NJIT)
def leaves_range(nodes, fast, features, bitsets, set_values, mixed, roots, used_cols, sync, w32, bits, offsets, X, out, levels, want_levels, r0, r1, block):
    """out[r, t] = tree t's result node (pre-order index within the tree, -1 none) for r in
    [r0, r1); with want_levels also levels[r, t] = the walk's missing levels."""
    n_trees = roots.shape[0]
    block = max(1, min(block, r1 - r0))
    gbuf, lbuf, clean, dirty, Xb, xt, slot = _buffers(n_trees, block, want_levels, w32, bits, X.shape[1])
    Xf = X.reshape(-1)
    for b0 in range(r0, r1, block):
        b1 = min(b0 + block, r1)
        _walk_block(nodes, fast, features, bitsets, set_values, mixed, roots, used_cols, sync, w32, bits, X, Xf, Xb, xt, slot, b0, b1, clean, dirty, gbuf, lbuf, want_levels)
        for i in range(b1 - b0):
            r = b0 + i
            for t in range(n_trees):
                g = gbuf[t, i]
                out[r, t] = g - offsets[t] if g >= 0 else -1
                if want_levels:
                    levels[r, t] = lbuf[t, i]


@njit(**NJIT)
def leaves_row(nodes, fast, features, bitsets, set_values, mixed, roots, used_cols, sync, w32, offsets, x, out):
    """One row (1-D x): out[t] = tree t's result node (within-tree pre-order index, -1 none)."""
    _row_nodes(nodes, fast, features, bitsets, set_values, mixed, roots, used_cols, x, out)
    for t in range(roots.shape[0]):
        g = out[t]
        out[t] = g - offsets[t] if g >= 0 else -1


# --- fused aggregations ----------------------------------------------------------------------------


@njit(**NJIT)
def sum_range(nodes, fast, features, bitsets, set_values, mixed, roots, used_cols, sync, w32, bits, X, values, weights, weighted, f32, total, wsum, count, wmiss, r0, r1, block):
    """Per row r in [r0, r1), over trees in order, of v = values[g] (g = the result's global node index):

    * total[r]: 0 + v_1 (* w_1) + v_2 (* w_2) ... over trees whose value is not missing
      (g = -1 or values[g] NaN), accumulated in float32 (v and w cast to float32 first)
      when ``f32``, else in float64; ``* w`` only when ``weighted``.
    * wsum[r]: the sum of (w if weighted else 1.0) over those trees; count[r]: their number.
    * wmiss[r]: the sum of w over trees whose value is missing.

    Accumulation is tree-major over the block (a tree's values stay in cache), which keeps
    each row's additions in tree order (``_sum_block``).
    """
    n_trees = roots.shape[0]
    block = max(1, min(block, r1 - r0))
    gbuf, lbuf, clean, dirty, Xb, xt, slot = _buffers(n_trees, block, False, w32, bits, X.shape[1])
    acc = np.empty((4, block))
    acc32 = np.empty(block, dtype=np.float32)
    Xf = X.reshape(-1)
    for b0 in range(r0, r1, block):
        b1 = min(b0 + block, r1)
        m = b1 - b0
        _walk_block(nodes, fast, features, bitsets, set_values, mixed, roots, used_cols, sync, w32, bits, X, Xf, Xb, xt, slot, b0, b1, clean, dirty, gbuf, lbuf, False)
        _sum_block(gbuf, values, weights, weighted, f32, acc, acc32, m)
        for i in range(m):
            r = b0 + i
            total[r] = np.float64(acc32[i]) if f32 else acc[0, i]
            wsum[r] = acc[1, i]
            count[r] = acc[2, i]
            wmiss[r] = acc[3, i]


@njit(**NJIT)
def _sum_block(gbuf, values, weights, weighted, f32, acc, acc32, m):
    """``sum_range``'s accumulation for one block of m rows, tree-major, into block-local
    rows: acc32[i] (f32) or acc[0, i] the total, then acc[1..3, i] wsum, count, wmiss. The
    float32 / float64 and weighted cases are chosen per tree, outside the row loop. An
    unweighted tree multiplies by 1.0 (``v * 1.0 == v`` exactly for every non-NaN v, in
    float32 as in float64), so it adds what ``total + v`` adds."""
    for j in range(4):
        for i in range(m):
            acc[j, i] = 0.0
    for i in range(m):
        acc32[i] = 0.0
    for t in range(gbuf.shape[0]):
        w = weights[t]
        mult = w if weighted else 1.0
        if f32:
            _sum_tree32(gbuf[t], values, w, np.float32(mult), mult, acc32, acc[1], acc[2], acc[3], m)
        else:
            _sum_tree64(gbuf[t], values, w, mult, acc[0], acc[1], acc[2], acc[3], m)


@njit(**NJIT)
def _sum_tree64(gt, values, w, mult, a, ws, cnt, wm, m):
    for i in range(m):
        g = gt[i]
        v = values[np.uint64(g)] if g >= 0 else np.nan
        if v != v:
            wm[i] += w
            continue
        a[i] = a[i] + v * mult
        ws[i] += mult
        cnt[i] += 1.0


@njit(**NJIT)
def _sum_tree32(gt, values, w, mult32, mult, a32, ws, cnt, wm, m):
    for i in range(m):
        g = gt[i]
        v = values[np.uint64(g)] if g >= 0 else np.nan
        if v != v:
            wm[i] += w
            continue
        a32[i] = a32[i] + np.float32(v) * mult32
        ws[i] += mult
        cnt[i] += 1.0


@njit(**NJIT)
def votes_range(nodes, fast, features, bitsets, set_values, mixed, roots, used_cols, sync, w32, bits, X, classes, weights, weighted, votes, first, mvotes, wmiss, nmiss, r0, r1, block):
    """Per row, in tree order: votes[r, classes[g]] += (w if weighted else 1.0) for trees with a
    class (classes[g] >= 0), and first[r, c] = the first tree that voted for class c (n_trees:
    none); for the others (g = -1 or classes[g] < 0) mvotes[r] += the same, wmiss[r] += w
    and nmiss[r] += 1. (Tree-major over the block, as ``sum_range``.)"""
    n_trees = roots.shape[0]
    k = votes.shape[1]
    block = max(1, min(block, r1 - r0))
    gbuf, lbuf, clean, dirty, Xb, xt, slot = _buffers(n_trees, block, False, w32, bits, X.shape[1])
    Xf = X.reshape(-1)
    for b0 in range(r0, r1, block):
        b1 = min(b0 + block, r1)
        m = b1 - b0
        _walk_block(nodes, fast, features, bitsets, set_values, mixed, roots, used_cols, sync, w32, bits, X, Xf, Xb, xt, slot, b0, b1, clean, dirty, gbuf, lbuf, False)
        for r in range(b0, b1):
            for j in range(k):
                votes[r, j] = 0.0
                first[r, j] = n_trees
            mvotes[r] = 0.0
            wmiss[r] = 0.0
            nmiss[r] = 0.0
        for t in range(n_trees):
            w = weights[t]
            vote = w if weighted else 1.0
            for i in range(m):
                g = gbuf[t, i]
                r = b0 + i
                c = classes[g] if g >= 0 else -1
                if c < 0:
                    mvotes[r] += vote
                    wmiss[r] += w
                    nmiss[r] += 1.0
                else:
                    votes[r, c] += vote
                    if first[r, c] == n_trees:
                        first[r, c] = t


@njit(**NJIT)
def proba_range(nodes, fast, features, bitsets, set_values, mixed, roots, used_cols, sync, w32, bits, X, probs, weights, weighted, total, wsum, wmiss, nmiss, r0, r1, block):
    """Per row, in tree order: total[r, :] += w' * probs[g, :] and wsum[r] += w' (w' = w if
    weighted else 1.0) for trees with probabilities; wmiss[r] += w and nmiss[r] += 1 for the
    others (g = -1 or probs[g, 0] NaN). (Tree-major over the block, as ``sum_range``, into
    block-local accumulators ``_proba_block``.)"""
    n_trees = roots.shape[0]
    k = total.shape[1]
    block = max(1, min(block, r1 - r0))
    gbuf, lbuf, clean, dirty, Xb, xt, slot = _buffers(n_trees, block, False, w32, bits, X.shape[1])
    acc = np.empty((k + 3, block))
    Xf = X.reshape(-1)
    for b0 in range(r0, r1, block):
        b1 = min(b0 + block, r1)
        _walk_block(nodes, fast, features, bitsets, set_values, mixed, roots, used_cols, sync, w32, bits, X, Xf, Xb, xt, slot, b0, b1, clean, dirty, gbuf, lbuf, False)
        _proba_block(gbuf, probs, weights, weighted, acc, b1 - b0)
        for i in range(b1 - b0):
            r = b0 + i
            for j in range(k):
                total[r, j] = acc[j, i]
            wsum[r] = acc[k, i]
            wmiss[r] = acc[k + 1, i]
            nmiss[r] = acc[k + 2, i]


@njit(**NJIT)
def _proba_block(gbuf, probs, weights, weighted, acc, m):
    """``proba_range``'s accumulation for one block of m rows, tree-major: acc[j, i] for
    class j < k, then wsum, wmiss, nmiss (k = probs.shape[1]). Contiguous rows per class,
    unsigned indices (no wraparound) and the class count dispatched outside the loops:
    measured on W1 0.0223 -> 0.0203 s per 100k rows for this pass alone (a k == 3 case
    inside the row loop made it 0.0268). Each row's additions stay in tree order, so the
    sums are those of the row-by-row loop."""
    k = probs.shape[1]
    for j in range(k + 3):
        for i in range(m):
            acc[j, i] = 0.0
    for t in range(gbuf.shape[0]):
        w = weights[t]
        if k == 2:  # the common class counts, unrolled (measured ~25% faster than the loop)
            _proba_tree2(gbuf[t], probs, w, w if weighted else 1.0, acc[0], acc[1], acc[2], acc[3], acc[4], m)
        elif k == 3:
            _proba_tree3(gbuf[t], probs, w, w if weighted else 1.0, acc[0], acc[1], acc[2], acc[3], acc[4], acc[5], m)
        else:
            _proba_tree_k(gbuf[t], probs, w, w if weighted else 1.0, acc, m)


@njit(**NJIT)
def _proba_tree2(gt, probs, w, ww, a0, a1, aw, am, an, m):
    """One tree's share of ``_proba_block``, 2 classes."""
    for i in range(m):
        g = gt[i]
        ug = np.uint64(g)
        p0 = probs[ug, np.uint64(0)] if g >= 0 else np.nan
        if p0 != p0:
            am[i] += w
            an[i] += 1.0
            continue
        a0[i] += ww * p0
        a1[i] += ww * probs[ug, np.uint64(1)]
        aw[i] += ww


@njit(**NJIT)
def _proba_tree3(gt, probs, w, ww, a0, a1, a2, aw, am, an, m):
    """One tree's share of ``_proba_block``, 3 classes."""
    for i in range(m):
        g = gt[i]
        ug = np.uint64(g)
        p0 = probs[ug, np.uint64(0)] if g >= 0 else np.nan
        if p0 != p0:
            am[i] += w
            an[i] += 1.0
            continue
        a0[i] += ww * p0
        a1[i] += ww * probs[ug, np.uint64(1)]
        a2[i] += ww * probs[ug, np.uint64(2)]
        aw[i] += ww


@njit(**NJIT)
def _proba_tree_k(gt, probs, w, ww, acc, m):
    """One tree's share of ``_proba_block``, any class count."""
    k = probs.shape[1]
    for i in range(m):
        g = gt[i]
        ug = np.uint64(g)
        p0 = probs[ug, np.uint64(0)] if g >= 0 else np.nan
        if p0 != p0:
            acc[k + 1, i] += w
            acc[k + 2, i] += 1.0
            continue
        for j in range(k):
            acc[j, i] += ww * probs[ug, j]
        acc[k, i] += ww


@njit(**NJIT_PARALLEL)
def leaves_prange(nodes, fast, features, bitsets, set_values, mixed, roots, used_cols, sync, w32, bits, offsets, X, out, block):
    """``leaves_range`` over all rows with row blocks spread by numba's prange (for comparison
    with the ThreadPoolExecutor dispatch of ``ensemble``; compiled on first use only)."""
    n = X.shape[0]
    n_blocks = (n + block - 1) // block
    for b in prange(n_blocks):
        levels = np.empty((1, 1), dtype=np.int32)
        leaves_range(nodes, fast, features, bitsets, set_values, mixed, roots, used_cols, sync, w32, bits, offsets, X, out, levels, False, b * block, min(n, (b + 1) * block), block)


# --- one row -----------------------------------------------------------------------------------------


@njit(**NJIT)
def _row_nodes(nodes, fast, features, bitsets, set_values, mixed, roots, used_cols, x, g):
    """g[t] = tree t's result for the row x (global node index, -1 none); 8 trees at a time."""
    if _clean(x, used_cols):
        if mixed is None:
            lanes.walk_trees_le_clean(nodes, fast, features, bitsets, set_values, x, roots, g)
        else:
            lanes.walk_trees_any_clean(nodes, fast, features, bitsets, set_values, x, roots, g)
    elif mixed is None:
        lanes.walk_trees_le_nan(nodes, fast, features, bitsets, set_values, x, roots, g)
    else:
        lanes.walk_trees_any_nan(nodes, fast, features, bitsets, set_values, x, roots, g)


@njit(**NJIT)
def sum_row(nodes, fast, features, bitsets, set_values, mixed, roots, used_cols, sync, w32, x, values, weights, weighted, f32, g):
    """``sum_range`` for one row x; g: an int32 (n_trees,) scratch. Returns (total, wsum, count, wmiss)."""
    _row_nodes(nodes, fast, features, bitsets, set_values, mixed, roots, used_cols, x, g)
    acc32 = np.float32(0.0)
    acc = 0.0
    wsum = 0.0
    count = 0.0
    wmiss = 0.0
    for t in range(roots.shape[0]):
        v = values[g[t]] if g[t] >= 0 else np.nan
        acc32, acc, wsum, count, wmiss = add_value(v, weights[t], weighted, f32, acc32, acc, wsum, count, wmiss)
    return (np.float64(acc32) if f32 else acc), wsum, count, wmiss


@njit(**NJIT)
def proba_row(nodes, fast, features, bitsets, set_values, mixed, roots, used_cols, sync, w32, x, probs, weights, weighted, g, total):
    """``proba_range`` for one row x: total (k,) is written; returns (wsum, wmiss, nmiss)."""
    _row_nodes(nodes, fast, features, bitsets, set_values, mixed, roots, used_cols, x, g)
    k = total.shape[0]
    for j in range(k):
        total[j] = 0.0
    wsum = 0.0
    wmiss = 0.0
    nmiss = 0.0
    for t in range(roots.shape[0]):
        w = weights[t]
        gt = g[t]
        if gt < 0 or probs[gt, 0] != probs[gt, 0]:
            wmiss += w
            nmiss += 1.0
            continue
        ww = w if weighted else 1.0
        for j in range(k):
            total[j] += ww * probs[gt, j]
        wsum += ww
    return wsum, wmiss, nmiss


@njit(**NJIT)
def votes_row(nodes, fast, features, bitsets, set_values, mixed, roots, used_cols, sync, w32, x, classes, weights, weighted, g, votes, first):
    """``votes_range`` for one row x: votes (k,) and first (k,) are written; returns (mvotes, wmiss, nmiss)."""
    _row_nodes(nodes, fast, features, bitsets, set_values, mixed, roots, used_cols, x, g)
    n_trees = roots.shape[0]
    for j in range(votes.shape[0]):
        votes[j] = 0.0
        first[j] = n_trees
    mvotes = 0.0
    wmiss = 0.0
    nmiss = 0.0
    for t in range(n_trees):
        w = weights[t]
        vote = w if weighted else 1.0
        c = classes[g[t]] if g[t] >= 0 else -1
        if c < 0:
            mvotes += vote
            wmiss += w
            nmiss += 1.0
        else:
            votes[c] += vote
            if first[c] == n_trees:
                first[c] = t
    return mvotes, wmiss, nmiss
