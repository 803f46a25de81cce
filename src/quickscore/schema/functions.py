"""Built-in functions of Apply, column-wise: one numpy operation per batch.

Each built-in takes the argument columns and returns ``(values, dataType)``. Unless a
function is listed as missing-aware, PMML says: "If one of the input fields of a
function is a missing value, the result evaluates to a missing value" - the caller
applies that rule (and mapMissingTo) around the call.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from quickscore.ir.types import DataType, OpType
from quickscore.schema.values import Column, convert_column, missing_mask

Impl = Callable[[list[Column], int], tuple[np.ndarray, DataType]]

_NUMERIC_RANK = {DataType.INTEGER: 0, DataType.BOOLEAN: 0, DataType.FLOAT: 1, DataType.DOUBLE: 2}


@dataclass(frozen=True)
class Builtin:
    impl: Impl
    min_args: int
    max_args: int | None  # None: variadic
    missing_aware: bool = False  # the function itself handles missing arguments
    op_type: OpType = OpType.CONTINUOUS


def as_float(col: Column) -> np.ndarray:
    if col.numeric:
        return col.values
    return convert_column(col, DataType.DOUBLE).values


def widest(cols: list[Column], floor: DataType = DataType.INTEGER) -> DataType:
    rank = _NUMERIC_RANK[floor]
    for c in cols:
        rank = max(rank, _NUMERIC_RANK.get(c.data_type, 2))
    return {0: DataType.INTEGER, 1: DataType.FLOAT, 2: DataType.DOUBLE}[rank]


def _round_to(values: np.ndarray, data_type: DataType) -> np.ndarray:
    if data_type is DataType.FLOAT:
        return values.astype(np.float32).astype(np.float64)
    return values


def _arith(op: Callable[[np.ndarray, np.ndarray], np.ndarray], floor: DataType = DataType.INTEGER) -> Builtin:
    def impl(args: list[Column], n: int):
        dt = widest(args, floor)
        with np.errstate(all="ignore"):
            out = op(as_float(args[0]), as_float(args[1]))
        return _round_to(out, dt), dt

    return Builtin(impl, 2, 2)


def _integer_division(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.where(b == 0, np.nan, a / np.where(b == 0, 1, b))


def _unary(op: Callable[[np.ndarray], np.ndarray], keep_type: bool = False) -> Builtin:
    def impl(args: list[Column], n: int):
        dt = widest(args) if keep_type else DataType.DOUBLE
        if not keep_type and args[0].data_type is DataType.FLOAT:
            dt = DataType.FLOAT
        with np.errstate(all="ignore"):
            out = op(as_float(args[0]))
        return _round_to(out, dt), dt

    return Builtin(impl, 1, 1)


def _to_integer(op: Callable[[np.ndarray], np.ndarray]) -> Builtin:
    def impl(args: list[Column], n: int):
        with np.errstate(all="ignore"):
            return op(as_float(args[0])), DataType.INTEGER

    return Builtin(impl, 1, 1)


def _java_round(x: np.ndarray) -> np.ndarray:
    """Java's Math.round: half-way cases round up (towards +inf)."""
    return np.floor(x + 0.5)


def _aggregate(op: Callable[[np.ndarray], np.ndarray], keep_type: bool) -> Builtin:
    def impl(args: list[Column], n: int):
        stacked = np.column_stack([as_float(a) for a in args]) if args else np.zeros((n, 0))
        dt = widest(args) if keep_type else DataType.DOUBLE
        with np.errstate(all="ignore"):
            return _round_to(op(stacked), dt), dt

    return Builtin(impl, 1, None)


def _pow(args: list[Column], n: int):
    dt = widest(args)
    with np.errstate(all="ignore"):
        return _round_to(np.power(as_float(args[0]), as_float(args[1])), dt), dt


def _threshold(args: list[Column], n: int):
    x, t = as_float(args[0]), as_float(args[1])
    return np.where(x > t, 1.0, 0.0), DataType.INTEGER


def _modulo(args: list[Column], n: int):
    a, b = as_float(args[0]), as_float(args[1])
    with np.errstate(all="ignore"):
        # PMML: x - ( floor(x / y) * y ), i.e. the sign of the divisor.
        out = np.where(b == 0, np.nan, a - np.floor(a / np.where(b == 0, 1, b)) * b)
    return out, widest(args)


# --- comparisons and boolean logic (booleans are 1.0 / 0.0, NaN = missing) ----------------


def _comparable(args: list[Column]) -> tuple[np.ndarray, np.ndarray]:
    a, b = args
    if a.numeric and b.numeric:
        return a.values, b.values
    if a.numeric:
        return a.values, as_float(b)
    if b.numeric:
        return as_float(a), b.values
    return a.values, b.values


def _compare(op: Callable[[object, object], bool], vec: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> Builtin:
    def impl(args: list[Column], n: int):
        a, b = _comparable(args)
        if a.dtype.kind == "f" and b.dtype.kind == "f":
            return vec(a, b).astype(np.float64), DataType.BOOLEAN
        out = np.fromiter((1.0 if op(x, y) else 0.0 for x, y in zip(a, b)), dtype=np.float64, count=n)
        return out, DataType.BOOLEAN

    return Builtin(impl, 2, 2, op_type=OpType.CATEGORICAL)


def _and(args: list[Column], n: int):
    vals = [as_float(a) for a in args]
    any_false = np.zeros(n, dtype=bool)
    all_known = np.ones(n, dtype=bool)
    for v in vals:
        any_false |= v == 0.0
        all_known &= ~np.isnan(v)
    return np.where(any_false, 0.0, np.where(all_known, 1.0, np.nan)), DataType.BOOLEAN


def _or(args: list[Column], n: int):
    vals = [as_float(a) for a in args]
    any_true = np.zeros(n, dtype=bool)
    all_known = np.ones(n, dtype=bool)
    for v in vals:
        any_true |= v == 1.0
        all_known &= ~np.isnan(v)
    return np.where(any_true, 1.0, np.where(all_known, 0.0, np.nan)), DataType.BOOLEAN


def _not(args: list[Column], n: int):
    v = as_float(args[0])
    return np.where(np.isnan(v), np.nan, 1.0 - v), DataType.BOOLEAN


def _is_missing(args: list[Column], n: int):
    return missing_mask(args[0].values).astype(np.float64), DataType.BOOLEAN


def _is_not_missing(args: list[Column], n: int):
    return (~missing_mask(args[0].values)).astype(np.float64), DataType.BOOLEAN


def _is_in(negate: bool) -> Builtin:
    def impl(args: list[Column], n: int):
        x = args[0]
        members = [_comparable([x, a])[1] for a in args[1:]]
        hit = np.zeros(n, dtype=bool)
        for m in members:
            hit |= np.asarray(x.values == m, dtype=bool) if x.numeric else np.array([a == b for a, b in zip(x.values, m)])
        return (hit != negate).astype(np.float64), DataType.BOOLEAN

    return Builtin(impl, 2, None, op_type=OpType.CATEGORICAL)


def _if(args: list[Column], n: int):
    cond = as_float(args[0])
    then = args[1]
    other = args[2] if len(args) > 2 else None
    if then.numeric and (other is None or other.numeric):
        dt = then.data_type if other is None else widest([then, other], DataType.INTEGER) if then.data_type in _NUMERIC_RANK and other.data_type in _NUMERIC_RANK else then.data_type
        out = np.where(cond == 1.0, then.values, other.values if other is not None else np.nan)
        out[np.isnan(cond)] = np.nan
        return out, dt
    then_v = then.values if not then.numeric else convert_column(then, DataType.STRING).values
    other_v = None
    if other is not None:
        other_v = other.values if not other.numeric else convert_column(other, DataType.STRING).values
    out = np.full(n, None, dtype=object)
    t = cond == 1.0
    out[t] = then_v[t]
    if other_v is not None:
        f = cond == 0.0
        out[f] = other_v[f]
    return out, then.data_type if not then.numeric else DataType.STRING


# --- strings ---------------------------------------------------------------------------


def _strings(col: Column) -> np.ndarray:
    return col.values if not col.numeric else convert_column(col, DataType.STRING).values


def _str_map(fn: Callable[..., object], n_args: int, result: DataType = DataType.STRING) -> Builtin:
    def impl(args: list[Column], n: int):
        s = _strings(args[0])
        rest = [a.values for a in args[1:]]
        absent = np.nan if result.is_numeric else None
        missing = missing_mask(s)
        for a in args[1:]:
            missing |= missing_mask(a.values)
        values = [absent if missing[i] else fn(v, *[r[i] for r in rest]) for i, v in enumerate(s)]
        out = np.array(values, dtype=np.float64 if result.is_numeric else object)
        return out, result

    return Builtin(impl, n_args, n_args, op_type=OpType.CONTINUOUS if result.is_numeric else OpType.CATEGORICAL)


def _substring(s: str, pos: float, length: float) -> str:
    start = int(pos) - 1
    return s[start : start + int(length)]


def _regex_cache():
    from quickscore.schema.text import compile_regex, java_replacement

    patterns: dict[str, object] = {}
    replacements: dict[str, object] = {}

    def pattern(p: str):
        if p not in patterns:
            patterns[p] = compile_regex(p, True, "function argument")
        return patterns[p]

    def replacement(r: str):
        if r not in replacements:
            replacements[r] = java_replacement(r)
        return replacements[r]

    return pattern, replacement


def _replace(args: list[Column], n: int):
    """replace(input, pattern, replacement): every match of the (Perl/Java-style) pattern replaced;
    ``$1`` in the replacement is a group."""
    pattern, replacement = _regex_cache()
    s, p, r = (_strings(a) for a in args)
    out = np.array([None if None in (x, pp, rr) else pattern(pp).sub(replacement(rr), x) for x, pp, rr in zip(s, p, r)], dtype=object)
    return out, DataType.STRING


def _matches(args: list[Column], n: int):
    """matches(input, pattern): true when the pattern matches a part of the input (Java's find())."""
    pattern, _ = _regex_cache()
    s, p = (_strings(a) for a in args)
    out = np.array([np.nan if None in (x, pp) else float(pattern(pp).search(x) is not None) for x, pp in zip(s, p)])
    return out, DataType.BOOLEAN


def _concat(args: list[Column], n: int):
    parts = [_strings(a) for a in args]
    out = np.array(["".join(p[i] for p in parts if p[i] is not None) for i in range(n)], dtype=object)
    return out, DataType.STRING


BUILTINS: dict[str, Builtin] = {
    "+": _arith(np.add),
    "-": _arith(np.subtract),
    "*": _arith(np.multiply),
    "/": _arith(_integer_division, DataType.DOUBLE),
    "min": _aggregate(lambda m: np.min(m, axis=1), True),
    "max": _aggregate(lambda m: np.max(m, axis=1), True),
    "sum": _aggregate(lambda m: np.sum(m, axis=1), True),
    "product": _aggregate(lambda m: np.prod(m, axis=1), True),
    "avg": _aggregate(lambda m: np.mean(m, axis=1), False),
    "median": _aggregate(lambda m: np.median(m, axis=1), False),
    "log10": _unary(np.log10),
    "ln": _unary(np.log),
    "sqrt": _unary(np.sqrt),
    "exp": _unary(np.exp),
    "expm1": _unary(np.expm1),
    "log1p": _unary(np.log1p),
    "abs": _unary(np.abs, keep_type=True),
    "floor": _to_integer(np.floor),
    "ceil": _to_integer(np.ceil),
    "round": _to_integer(_java_round),
    "rint": _unary(np.rint),
    "pow": Builtin(_pow, 2, 2),
    "threshold": Builtin(_threshold, 2, 2),
    "modulo": Builtin(_modulo, 2, 2),
    "hypot": _arith(np.hypot, DataType.DOUBLE),
    "sin": _unary(np.sin),
    "cos": _unary(np.cos),
    "tan": _unary(np.tan),
    "asin": _unary(np.arcsin),
    "acos": _unary(np.arccos),
    "atan": _unary(np.arctan),
    "atan2": _arith(np.arctan2, DataType.DOUBLE),
    "sinh": _unary(np.sinh),
    "cosh": _unary(np.cosh),
    "tanh": _unary(np.tanh),
    "equal": _compare(lambda a, b: a == b, np.equal),
    "notEqual": _compare(lambda a, b: a != b, np.not_equal),
    "lessThan": _compare(lambda a, b: a < b, np.less),
    "lessOrEqual": _compare(lambda a, b: a <= b, np.less_equal),
    "greaterThan": _compare(lambda a, b: a > b, np.greater),
    "greaterOrEqual": _compare(lambda a, b: a >= b, np.greater_equal),
    "and": Builtin(_and, 2, None, missing_aware=True, op_type=OpType.CATEGORICAL),
    "or": Builtin(_or, 2, None, missing_aware=True, op_type=OpType.CATEGORICAL),
    "not": Builtin(_not, 1, 1, op_type=OpType.CATEGORICAL),
    "isMissing": Builtin(_is_missing, 1, 1, missing_aware=True, op_type=OpType.CATEGORICAL),
    "isNotMissing": Builtin(_is_not_missing, 1, 1, missing_aware=True, op_type=OpType.CATEGORICAL),
    "isIn": _is_in(False),
    "isNotIn": _is_in(True),
    "if": Builtin(_if, 2, 3, missing_aware=True, op_type=OpType.CATEGORICAL),
    "uppercase": _str_map(lambda s: s.upper(), 1),
    "lowercase": _str_map(lambda s: s.lower(), 1),
    "trimBlanks": _str_map(lambda s: s.strip(), 1),
    "stringLength": _str_map(lambda s: float(len(s)), 1, DataType.INTEGER),
    "substring": _str_map(_substring, 3),
    "concat": Builtin(_concat, 1, None, missing_aware=True, op_type=OpType.CATEGORICAL),
    "replace": Builtin(_replace, 3, 3, op_type=OpType.CATEGORICAL),
    "matches": Builtin(_matches, 2, 2, op_type=OpType.CATEGORICAL),
}

# Aliases written by real producers.
BUILTINS["x-hypot"] = BUILTINS["hypot"]


