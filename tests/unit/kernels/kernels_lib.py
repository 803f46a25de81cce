"""Helpers of the kernel tests: reference evaluations of IR trees.

Two references for ``leaf_indices``:

* ``reference_leaves``: ``quickscore.models.tree.TreeCore.leaves`` (the project's reference
  evaluator) on a hand-built scope / frame;
* ``rowwise_leaves``: a deliberately plain per-row evaluator written here from the PMML
  TreeModel semantics in the docstring of ``models/tree.py`` (three-valued predicates of
  ``schema/predicates.py``).
"""

from __future__ import annotations

import math
import operator

import numpy as np

from quickscore.ir import (
    CompoundPredicate,
    DataType,
    FalsePredicate,
    Node,
    OpType,
    SimplePredicate,
    SimpleSetPredicate,
    TreeModel,
    TruePredicate,
)
from quickscore.kernels.trees import FieldEncoding, TreeArrays
from quickscore.models.base import Context
from quickscore.models.tree import TreeCore
from quickscore.runtime.frame import Frame
from quickscore.schema.fields import FieldDecl
from quickscore.schema.scope import Scope
from quickscore.schema.values import Column

# --- building IR ------------------------------------------------------------------------------


def N(predicate, *children, score=None, id=None, default=None, record_count=None) -> Node:
    return Node(predicate=predicate, children=tuple(children), score=score, id=id, default_child=default, record_count=record_count)


def SP(field: str, op: str, value: str | None = None) -> SimplePredicate:
    return SimplePredicate(field=field, operator=op, value=value)


def SS(field: str, op: str, *values: str) -> SimpleSetPredicate:
    return SimpleSetPredicate(field=field, boolean_operator=op, values=tuple(values))


def CP(op: str, *parts) -> CompoundPredicate:
    return CompoundPredicate(boolean_operator=op, predicates=tuple(parts))


T = TruePredicate()
F = FalsePredicate()


def tree(root: Node, strategy: str = "none", no_true: str = "returnNullPrediction") -> TreeModel:
    return TreeModel(function_name="classification", mining_schema=(), root=root, missing_value_strategy=strategy, no_true_child_strategy=no_true)


# --- fields and columns ---------------------------------------------------------------------------


def encodings(types: dict[str, DataType], categories: dict[str, tuple] | None = None) -> dict[str, FieldEncoding]:
    categories = categories or {}
    return {name: FieldEncoding(j, dt, tuple(categories.get(name, ()))) for j, (name, dt) in enumerate(types.items())}


def column(values, data_type: DataType) -> np.ndarray:
    """A column as schema.values holds it."""
    if data_type.is_numeric:
        x = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
        if data_type is DataType.FLOAT:
            with np.errstate(over="ignore"):
                x = x.astype(np.float32).astype(np.float64)
        return x
    out = np.empty(len(values), dtype=object)
    out[:] = list(values)
    return out


# --- reference 1: TreeCore ------------------------------------------------------------------------


def _scope(types: dict[str, DataType]) -> Scope:
    return Scope({n: FieldDecl(n, dt, OpType.CONTINUOUS if dt.is_numeric else OpType.CATEGORICAL) for n, dt in types.items()})


def reference_leaves(model: TreeModel, types: dict[str, DataType], columns: dict[str, np.ndarray], n: int):
    """TreeCore.leaves: (node index per row, -1 none; missing levels per row)."""
    # engine="reference": TreeCore itself runs on these kernels by default.
    core = TreeCore(model, Context(model, _scope(types), None, None, True, engine="reference"))
    assert core.arrays is None
    frame = Frame.top(n)
    for name, dt in types.items():
        frame.columns[name] = Column(columns[name], dt, OpType.CONTINUOUS if dt.is_numeric else OpType.CATEGORICAL)
    result, levels = core.leaves(frame)
    return result, levels, frame.sink.failed()


# --- reference 2: a plain per-row evaluator ----------------------------------------------------------

TRUE, FALSE, UNKNOWN = "T", "F", "U"
_OPS = {
    "equal": operator.eq,
    "notEqual": operator.ne,
    "lessThan": operator.lt,
    "lessOrEqual": operator.le,
    "greaterThan": operator.gt,
    "greaterOrEqual": operator.ge,
}


def _missing(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def evaluate(p, row: dict, types: dict[str, DataType]) -> str:
    if isinstance(p, TruePredicate):
        return TRUE
    if isinstance(p, FalsePredicate):
        return FALSE
    if isinstance(p, SimplePredicate):
        v = row[p.field]
        if p.operator == "isMissing":
            return TRUE if _missing(v) else FALSE
        if p.operator == "isNotMissing":
            return FALSE if _missing(v) else TRUE
        if _missing(v):
            return UNKNOWN
        dt = types[p.field]
        value = FieldDecl(p.field, dt, OpType.CONTINUOUS).parse_operand(p.value, "test")
        return TRUE if _OPS[p.operator](v, value) else FALSE
    if isinstance(p, SimpleSetPredicate):
        v = row[p.field]
        if _missing(v):
            return UNKNOWN
        dt = types[p.field]
        members = [FieldDecl(p.field, dt, OpType.CONTINUOUS).parse_operand(m, "test") for m in p.values]
        hit = any(v == m for m in members)
        return TRUE if hit == (p.boolean_operator == "isIn") else FALSE
    values = [evaluate(q, row, types) for q in p.predicates]
    kind = p.boolean_operator
    if kind == "and":
        return FALSE if FALSE in values else TRUE if all(v == TRUE for v in values) else UNKNOWN
    if kind == "or":
        return TRUE if TRUE in values else FALSE if all(v == FALSE for v in values) else UNKNOWN
    if kind == "xor":
        if UNKNOWN in values:
            return UNKNOWN
        return TRUE if values.count(TRUE) % 2 else FALSE
    for v in values:  # surrogate
        if v != UNKNOWN:
            return v
    return UNKNOWN


def rowwise_leaves(model: TreeModel, types: dict[str, DataType], columns: dict[str, np.ndarray], n: int):
    """Per row: (result node pre-order index or -1, missing levels, error) following models/tree.py
    (a child chosen by a surrogate whose first predicate is UNKNOWN adds a missing level)."""
    index: dict[int, int] = {}

    def number(node: Node) -> None:
        index[id(node)] = len(index)
        for c in node.children:
            number(c)

    number(model.root)
    strategy = model.missing_value_strategy
    return_last = model.no_true_child_strategy == "returnLastPrediction"
    out = np.full(n, -1, dtype=np.int64)
    levels = np.zeros(n, dtype=np.int64)
    errors = np.zeros(n, dtype=bool)
    for r in range(n):
        row = {name: (None if col[r] is None else col[r]) for name, col in columns.items()}
        for name in row:
            if isinstance(row[name], (float, np.floating)):
                row[name] = float(row[name])
        if evaluate(model.root.predicate, row, types) != TRUE:
            continue
        node = model.root
        lv = 0
        while True:
            if not node.children:
                out[r] = index[id(node)]
                break
            nxt = None
            stop = False
            for child in node.children:
                v = evaluate(child.predicate, row, types)
                if v == TRUE:
                    nxt = child
                    break
                if v == UNKNOWN and strategy != "none":
                    if strategy == "lastPrediction":
                        out[r] = index[id(node)]
                    elif strategy == "defaultChild":
                        d = next((c for c in node.children if c.id == node.default_child), None) if node.default_child else None
                        if d is None:
                            errors[r] = True
                        else:
                            lv += 1
                            nxt = d
                    stop = nxt is None
                    break
            if nxt is not None:
                p = nxt.predicate
                if v == TRUE and isinstance(p, CompoundPredicate) and p.boolean_operator == "surrogate" and p.predicates:
                    # A child chosen by a surrogate's alternative: one missing level (JPMML-Evaluator).
                    if evaluate(p.predicates[0], row, types) == UNKNOWN:
                        lv += 1
                node = nxt
                continue
            if not stop and return_last and node.score is not None:
                out[r] = index[id(node)]
            break
        levels[r] = lv
    return out, levels, errors


# --- running the kernels ---------------------------------------------------------------------------


def matrix(arrays: TreeArrays, columns: dict[str, np.ndarray], n: int) -> np.ndarray:
    return arrays.encode(columns, n)


def with_layout(arrays: TreeArrays, key: str, value, fn):
    """fn() with the per-arrays cached layout ``key`` (e.g. "_walk32", "_bits": see
    kernels.ensemble.walk32, kernels.bits.bit_layout) replaced by ``value`` (None: the kernels
    take their other walk), restored afterwards."""
    saved = arrays.__dict__[key]
    arrays.__dict__[key] = value
    try:
        return fn()
    finally:
        arrays.__dict__[key] = saved
