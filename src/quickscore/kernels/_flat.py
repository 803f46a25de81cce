"""Vectorised lowering of FlatTrees (``ir.FlatTree``) into ``TreeArrays``.

The common shape of big forests - every predicate a SimplePredicate on a double, float or
integer field, or True / False; missingValueStrategy none, nullPrediction or lastPrediction;
no defaultChild - is lowered with numpy over whole trees, into the decision graph that
``trees._Builder`` would build for it (same tests, same exits; see ``trees``), without jump
threading. ``lower_flat`` returns None for any other tree; ``trees.lower_trees`` then runs
the general builder.

For a node P with children c1..ck (document order), ``_Builder._node`` chains one test per
child: test(ci) TRUE -> enter ci; FALSE -> the next child's test; after the last child the
noTrueChildStrategy outcome; UNKNOWN -> the missingValueStrategy outcome (none: as FALSE).
A True child needs no test (the chain enters it; children after it are unreachable); a
False child is skipped. So:

* ``entry(n)``: a leaf -> terminal(n); else the first child that is not False: its test
  (SimplePredicate) or ``entry`` (True); none -> the no-true-child outcome of n.
* the FALSE exit of test(ci): the next sibling after ci that is not False, as above; none ->
  the no-true-child outcome of P.
* the UNKNOWN exit: none -> the FALSE exit; lastPrediction -> terminal(P); nullPrediction ->
  terminal(-1).
* the root's predicate: TRUE -> entry(root), FALSE / UNKNOWN -> terminal(-1).

Tests are numbered in pre-order of their nodes (so a TRUE exit mostly moves forward).
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np

from quickscore.ir import DataType, TreeModel
from quickscore.ir.flat import OPERATOR_CODES, PRED_FALSE, PRED_OBJECT, PRED_SIMPLE, PRED_TRUE, FlatTree
from quickscore.kernels._layout import FAST_DTYPE, MAX_COLUMNS, NODE_DTYPE, OP_EQ, OP_LE, OP_SHIFT

_NUMBERS = (DataType.DOUBLE, DataType.FLOAT, DataType.INTEGER)
_STRATEGIES = ("none", "nullPrediction", "lastPrediction")
_EQ, _NE, _LT, _LE, _GT, _GE, _MISSING, _NOT_MISSING = (
    OPERATOR_CODES[o] for o in ("equal", "notEqual", "lessThan", "lessOrEqual", "greaterThan", "greaterOrEqual", "isMissing", "isNotMissing")
)


class _NotFlat(Exception):
    """This tree needs the general builder."""


def lower_flat(trees: Sequence[TreeModel], fields: Mapping) -> "tuple[dict, frozenset] | None":
    """The TreeArrays fields for ``trees`` (all with a FlatTree), or None (use the builder)."""
    parts = []
    used: set[str] = set()
    node_base = 0
    test_base = 0
    try:
        for model in trees:
            flat = model.flat
            if flat is None or model.missing_value_strategy not in _STRATEGIES:
                return None
            if model.no_true_child_strategy not in ("returnNullPrediction", "returnLastPrediction"):
                return None
            part = _tree(flat, model, fields, node_base, test_base, used)
            parts.append(part)
            node_base += flat.n_nodes
            test_base += len(part[0])
    except _NotFlat:
        return None
    if node_base >= 2**31 - 2:
        return None
    n_features = max((e.column for e in fields.values()), default=-1) + 1
    if n_features > MAX_COLUMNS:
        return None
    m = test_base
    nodes = np.zeros(m, dtype=NODE_DTYPE)
    if parts:
        for name, k in (("feature", 1), ("op", 2), ("threshold", 3), ("true_next", 4), ("false_next", 5), ("missing_next", 6)):
            nodes[name] = np.concatenate([p[k] for p in parts]) if m else []
    fast = np.zeros(m, dtype=FAST_DTYPE)
    for name in ("threshold", "true_next", "false_next"):
        fast[name] = nodes[name]
    features = nodes["feature"].astype(np.int32) | (nodes["op"].astype(np.int32) << OP_SHIFT)
    offsets = np.zeros(len(trees) + 1, dtype=np.int32)
    np.cumsum([model.flat.n_nodes for model in trees], out=offsets[1:])
    return dict(
        nodes=nodes,
        bitsets=np.array([0], dtype=np.uint64),
        set_values=np.array([0.0], dtype=np.float64),
        roots=np.array([p[7] for p in parts], dtype=np.int32),
        node_offsets=offsets,
        fast=fast,
        features=features,
        all_le=bool((nodes["op"] == OP_LE).all()),
        used_cols=np.unique(nodes["feature"]).astype(np.int64),
        n_features=n_features,
        fields=dict(fields),
        used=frozenset(used),
        categories={},
    ), frozenset(used)


def distinct(values: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The distinct values (ascending) of an int array with values in [0, size), and the
    position of each element's value among them (``np.unique`` without sorting)."""
    present = np.zeros(size, dtype=bool)
    present[values] = True
    uniq = np.flatnonzero(present)
    position = np.cumsum(present) - 1
    return uniq, position[values]


def first_seen(values: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The distinct values of an int array with values in [0, size), in order of first
    appearance, and the position of each one's first appearance."""
    uniq, _ = distinct(values, size)
    if len(uniq) <= 64:  # few distinct values (class labels, fields): find each one's first position
        first = np.array([int(np.argmax(values == u)) for u in uniq.tolist()], dtype=np.int64)
    else:
        _, first = np.unique(values, return_index=True)
    order = np.argsort(first, kind="stable")
    return uniq[order], first[order]


def _terminal(g: np.ndarray | int):
    return -(g + 2)


def _tree(flat: FlatTree, model: TreeModel, fields: Mapping, node_base: int, test_base: int, used: set) -> tuple:
    n = flat.n_nodes
    kind = flat.pred_kind
    if (kind == PRED_OBJECT).any() or (flat.default_child is not None and (flat.default_child >= 0).any()):
        raise _NotFlat
    simple = kind == PRED_SIMPLE
    is_true = kind == PRED_TRUE
    is_false = kind == PRED_FALSE

    # --- predicate values: the field's column, the op, the threshold -------------------------
    sp = np.flatnonzero(simple)
    field_idx = flat.pred_field[sp]
    strings = flat.strings
    uniq_fields, _ = distinct(field_idx, len(strings))
    column_of = np.zeros(len(strings), dtype=np.int64)
    is_float32 = np.zeros(len(strings), dtype=bool)
    for j in uniq_fields.tolist():
        name = strings[j]
        enc = fields.get(name)
        if enc is None or enc.data_type not in _NUMBERS:
            raise _NotFlat
        column_of[j] = enc.column
        is_float32[j] = enc.data_type is DataType.FLOAT
        used.add(name)
    ops = flat.pred_op[sp].astype(np.int64)
    values = flat.pred_value[sp]
    needs_value = (ops != _MISSING) & (ops != _NOT_MISSING)
    if (values[needs_value] < 0).any():
        raise _NotFlat
    v = np.full(len(sp), np.nan)
    if needs_value.any():
        uniq_values, inverse = distinct(values[needs_value], len(strings))
        texts = strings.take(uniq_values.tolist())
        if "_" in "".join(texts):  # Python's float() reads 1_000; PMML numbers do not
            raise _NotFlat
        try:  # exactly schema.values._to_float (float() ignores surrounding blanks)
            parsed = np.fromiter(map(float, texts), dtype=np.float64, count=len(texts))
        except ValueError:
            raise _NotFlat from None
        v[needs_value] = parsed[inverse]
    f32 = is_float32[field_idx]
    if f32.any():
        with np.errstate(over="ignore"):
            v[f32] = v[f32].astype(np.float32).astype(np.float64)
    below = np.nextafter(v, -math.inf)
    below[v == -math.inf] = np.nan  # x < -inf: never
    ordering = (ops == _LT) | (ops == _LE) | (ops == _GT) | (ops == _GE)
    nan_value = np.isnan(v) & needs_value
    threshold = np.where((ops == _LT) | (ops == _GE), below, v)
    threshold[~needs_value] = np.nan
    op_code = np.where((ops == _EQ) | (ops == _NE), OP_EQ, OP_LE)
    # TRUE / FALSE exits swapped: x > t is NOT (x <= t), x >= t is NOT (x <= below(t)), x != t
    # is NOT (x == t); comparisons with a NaN value are never TRUE (not swapped).
    swap = ((ops == _GT) | (ops == _GE)) & ~nan_value | (ops == _NE)
    threshold[ordering & nan_value] = np.nan

    # --- structure: children grouped by parent, in document order ----------------------------
    parent = flat.parent.astype(np.int64)
    ch = np.argsort(parent[1:], kind="stable") + 1  # children of each node, grouped, in order
    gp = parent[ch]
    m = len(ch)
    pos = np.arange(m)
    new_group = np.ones(m, dtype=bool)
    new_group[1:] = gp[1:] != gp[:-1]
    gstart = np.maximum.accumulate(np.where(new_group, pos, 0)) if m else pos
    group_starts = np.flatnonzero(new_group)
    gend_per_group = np.append(group_starts[1:], m).astype(np.int64)
    gend = np.repeat(gend_per_group, np.diff(np.append(group_starts, m))) if m else pos
    n_children = np.bincount(parent[1:], minlength=n) if n > 1 else np.zeros(n, dtype=np.int64)

    # live nodes: not False, no True sibling before, every ancestor live
    t_in = is_true[ch].astype(np.int64)
    cs = np.cumsum(t_in) - t_in
    blocked = (cs - cs[gstart]) > 0 if m else np.zeros(0, dtype=bool)
    dead = is_false.copy()
    dead[ch[blocked]] = True
    anc = parent.copy()
    while True:
        has = np.flatnonzero(anc >= 0)
        if has.size == 0:
            break
        dead[has] |= dead[anc[has]]
        anc[has] = anc[anc[has]]
    tests = np.flatnonzero(simple & ~dead)
    test_id = np.full(n, -1, dtype=np.int64)
    test_id[tests] = np.arange(len(tests)) + test_base
    g = np.arange(n) + node_base  # global node indices

    # per child position: the first position at or after it, in its group, that is not False
    big = m + 1
    cand = np.where(~is_false[ch], pos, big)
    suffix = np.minimum.accumulate(cand[::-1])[::-1] if m else cand
    next_pos = np.append(suffix[1:], big)  # the first after it
    next_pos = np.where(next_pos < gend, next_pos, -1)
    first_child = np.full(n, -1, dtype=np.int64)  # each node's first child that is not False
    if m:
        fv = suffix[group_starts]
        ok = fv < gend_per_group
        first_child[gp[group_starts[ok]]] = ch[fv[ok]]

    has_score = flat.score >= 0
    return_last = model.no_true_child_strategy == "returnLastPrediction"
    no_true = np.where(has_score & return_last, _terminal(g), -1)

    # entry(n): follow True first children down (pointer jumping), then a test or a terminal
    jump = np.arange(n)
    via_true = (first_child >= 0) & is_true[np.maximum(first_child, 0)]
    jump[via_true] = first_child[via_true]
    while True:
        nxt = jump[jump]
        if np.array_equal(nxt, jump):
            break
        jump = nxt
    fc = first_child[jump]
    entry = np.where(n_children[jump] == 0, _terminal(g[jump]), np.where(fc >= 0, test_id[np.maximum(fc, 0)], no_true[jump]))

    # exits of each child's test
    node_pos = np.zeros(n, dtype=np.int64)
    node_pos[ch] = pos
    strategy = model.missing_value_strategy
    t_nodes = tests
    t_parent = parent[t_nodes]
    is_root = t_parent < 0
    npos = np.where(is_root, -1, next_pos[node_pos[t_nodes]]) if m else np.full(len(t_nodes), -1)
    sib = np.where(npos >= 0, ch[np.maximum(npos, 0)], -1) if m else npos
    sib_code = np.where(is_true[np.maximum(sib, 0)], entry[np.maximum(sib, 0)], test_id[np.maximum(sib, 0)])
    fail = np.where(sib >= 0, sib_code, no_true[np.maximum(t_parent, 0)])
    if strategy == "none":
        unknown = fail
    elif strategy == "lastPrediction":
        unknown = _terminal(g[np.maximum(t_parent, 0)])
    else:
        unknown = np.full(len(t_nodes), -1)
    fail = np.where(is_root, -1, fail)
    unknown = np.where(is_root, -1, unknown)
    passed = entry[t_nodes]

    # per-test op wiring
    k = np.searchsorted(sp, t_nodes)
    o = ops[k]
    t_swap = swap[k]
    true_next = np.where(t_swap, fail, passed)
    false_next = np.where(t_swap, passed, fail)
    missing_next = unknown.copy()
    is_missing = o == _MISSING
    true_next[is_missing] = fail[is_missing]
    false_next[is_missing] = fail[is_missing]
    missing_next[is_missing] = passed[is_missing]
    not_missing = o == _NOT_MISSING
    true_next[not_missing] = passed[not_missing]
    false_next[not_missing] = passed[not_missing]
    missing_next[not_missing] = fail[not_missing]
    thr = threshold[k]
    never = np.isnan(thr)
    true_next[never] = false_next[never]  # never taken for a present x (as trees._thread leaves it)

    root_kind = kind[0]
    if root_kind == PRED_SIMPLE:
        root = int(test_id[0])
    elif root_kind == PRED_TRUE:
        root = int(entry[0])
    else:
        root = -1
    columns = column_of[field_idx[k]]
    return (
        t_nodes, columns.astype(np.int32), op_code[k].astype(np.int8), thr,
        true_next.astype(np.int32), false_next.astype(np.int32), missing_next.astype(np.int32), root,
    )
