"""Predicates compiled into column-wise three-valued tests.

A compiled predicate maps a Frame to ``(true, unknown)`` boolean masks; a row is FALSE
where neither is set. PMML: "SimplePredicate ... if the value of the field is missing,
the result is UNKNOWN" except for the operators isMissing / isNotMissing.
"""

from __future__ import annotations

import operator
from typing import Callable

import numpy as np

from quickscore.errors import InvalidMarkup, UnsupportedMarkup
from quickscore.ir import CompoundPredicate, FalsePredicate, Predicate, SimplePredicate, SimpleSetPredicate, TruePredicate
from quickscore.ir.types import OpType
from quickscore.runtime.frame import Frame
from quickscore.schema.fields import isin
from quickscore.schema.scope import Scope
from quickscore.schema.values import missing_mask

Tri = tuple[np.ndarray, np.ndarray]
CompiledPredicate = Callable[[Frame, "np.ndarray | None"], Tri]


def _values(frame: Frame, name: str, rows: np.ndarray | None) -> np.ndarray:
    values = frame.get(name).values
    return values if rows is None else values[rows]


def _size(frame: Frame, rows: np.ndarray | None) -> int:
    return frame.n if rows is None else len(rows)

_OPS = {
    "equal": operator.eq,
    "notEqual": operator.ne,
    "lessThan": operator.lt,
    "lessOrEqual": operator.le,
    "greaterThan": operator.gt,
    "greaterOrEqual": operator.ge,
}


def _where(p) -> str:
    return f" at {p.loc}" if getattr(p, "loc", None) else ""


def _simple(p: SimplePredicate, scope: Scope) -> CompiledPredicate:
    decl = scope.lookup(p.field, p.loc)
    name = p.field
    if p.operator == "isMissing":
        return lambda frame, rows=None: (missing_mask(_values(frame, name, rows)), np.zeros(_size(frame, rows), dtype=bool))
    if p.operator == "isNotMissing":
        return lambda frame, rows=None: (~missing_mask(_values(frame, name, rows)), np.zeros(_size(frame, rows), dtype=bool))
    op = _OPS.get(p.operator)
    if op is None:
        raise InvalidMarkup(f"Invalid operator '{p.operator}' of SimplePredicate{_where(p)}")
    if p.value is None:
        raise InvalidMarkup(f"SimplePredicate on field '{p.field}' with operator '{p.operator}' has no value{_where(p)}")
    value = decl.parse_operand(p.value, f"attribute value of SimplePredicate on field '{p.field}'", p.loc)
    if decl.op_type is OpType.ORDINAL and decl.valid and p.operator not in ("equal", "notEqual") and not decl.data_type.is_numeric:
        # Ordinal values compare by their position in the DataField's Value order.
        order = {v: i for i, v in enumerate(decl.valid)}
        if value not in order:
            raise InvalidMarkup(f"Value '{p.value}' is not a value of ordinal field '{p.field}'{_where(p)}")
        rank = float(order[value])

        def ordinal(frame: Frame, rows: np.ndarray | None = None) -> Tri:
            values = _values(frame, name, rows)
            x = np.array([np.nan if v is None else float(order.get(v, np.nan)) for v in values])
            unknown = np.isnan(x)
            with np.errstate(invalid="ignore"):
                return op(x, rank) & ~unknown, unknown

        return ordinal

    def simple(frame: Frame, rows: np.ndarray | None = None) -> Tri:
        values = _values(frame, name, rows)
        if values.dtype.kind == "f" and isinstance(value, float):
            unknown = np.isnan(values)
            return op(values, value) & ~unknown, unknown
        unknown = missing_mask(values)
        hit = np.fromiter((v is not None and op(v, value) for v in values), dtype=bool, count=len(values))
        return hit & ~unknown, unknown

    return simple


def _set(p: SimpleSetPredicate, scope: Scope) -> CompiledPredicate:
    decl = scope.lookup(p.field, p.loc)
    members = frozenset(decl.parse_operand(v, f"Array element of SimpleSetPredicate on field '{p.field}'", p.loc) for v in p.values)
    negate = p.boolean_operator == "isNotIn"
    if p.boolean_operator not in ("isIn", "isNotIn"):
        raise InvalidMarkup(f"Invalid booleanOperator '{p.boolean_operator}' of SimpleSetPredicate{_where(p)}")
    name = p.field

    def fn(frame: Frame, rows: np.ndarray | None = None) -> Tri:
        values = _values(frame, name, rows)
        unknown = missing_mask(values)
        hit = isin(values, members)
        return (hit != negate) & ~unknown, unknown

    return fn


def _compound(p: CompoundPredicate, scope: Scope) -> CompiledPredicate:
    parts = [compile_predicate(c, scope) for c in p.predicates]
    kind = p.boolean_operator
    if kind not in ("and", "or", "xor", "surrogate"):
        raise InvalidMarkup(f"Invalid booleanOperator '{kind}' of CompoundPredicate{_where(p)}")
    if len(parts) < 2 and kind != "surrogate":
        raise InvalidMarkup(f"CompoundPredicate '{kind}' needs at least two predicates{_where(p)}")

    def fn(frame: Frame, rows: np.ndarray | None = None) -> Tri:
        results = [part(frame, rows) for part in parts]
        n = _size(frame, rows)
        if kind == "and":
            # FALSE if any is FALSE; TRUE if all are TRUE; else UNKNOWN.
            any_false = np.zeros(n, dtype=bool)
            all_true = np.ones(n, dtype=bool)
            for t, u in results:
                any_false |= ~t & ~u
                all_true &= t
            return all_true, ~any_false & ~all_true
        if kind == "or":
            any_true = np.zeros(n, dtype=bool)
            all_false = np.ones(n, dtype=bool)
            for t, u in results:
                any_true |= t
                all_false &= ~t & ~u
            return any_true, ~any_true & ~all_false
        if kind == "xor":
            parity = np.zeros(n, dtype=bool)
            unknown = np.zeros(n, dtype=bool)
            for t, u in results:
                parity ^= t
                unknown |= u
            return parity & ~unknown, unknown
        # surrogate: the first predicate that is not UNKNOWN decides.
        true = np.zeros(n, dtype=bool)
        undecided = np.ones(n, dtype=bool)
        for t, u in results:
            true |= undecided & t
            undecided &= u
        return true, undecided

    return fn


def _true(p: TruePredicate, scope: Scope) -> CompiledPredicate:
    return lambda frame, rows=None: (np.ones(_size(frame, rows), dtype=bool), np.zeros(_size(frame, rows), dtype=bool))


def _false(p: FalsePredicate, scope: Scope) -> CompiledPredicate:
    return lambda frame, rows=None: (np.zeros(_size(frame, rows), dtype=bool), np.zeros(_size(frame, rows), dtype=bool))


_COMPILERS = {
    SimplePredicate: _simple,
    SimpleSetPredicate: _set,
    CompoundPredicate: _compound,
    TruePredicate: _true,
    FalsePredicate: _false,
}


def compile_predicate(p: Predicate, scope: Scope) -> CompiledPredicate:
    compiler = _COMPILERS.get(type(p))
    if compiler is None:
        raise UnsupportedMarkup(f"Unsupported predicate {type(p).__name__}{_where(p)}")
    return compiler(p, scope)  # type: ignore[operator]
