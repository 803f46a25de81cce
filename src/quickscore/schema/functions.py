"""Built-in functions of Apply, column-wise: one numpy operation per batch where the data allow.

Each built-in takes the argument columns and returns ``(values, dataType)`` or
``(values, dataType, invalid)``: the result column (NaN / None where it has no value) and,
optionally, the rows whose result is *invalid* (an error of the arguments, such as the logarithm
of a negative number: the caller applies the Apply's invalidValueTreatment there). Without an
explicit mask, a missing result for arguments that are all present is invalid.

PMML 4.4, Built-in functions: "Except as noted below, any missing inputs to a built-in function
will result in a missing value being returned." The caller applies that rule (and mapMissingTo)
around every function not marked ``missing_aware``; the missing-aware ones are those the spec
notes: the aggregates ("Missing values in the input to an aggregate function are simply
ignored"), isMissing / isNotMissing / isValid / isNotValid, ``if`` (whose branches may be
missing) and concat (which skips missing parts, as JPMML-Evaluator does).

Types follow JPMML-Evaluator's TypeUtil (the reference implementation): integer < float <
double; + - * and the aggregates min, max, sum, product keep the widest argument type, so two
integers give an integer (``/`` of two integers is Java's integer division, truncated towards
zero); avg, median and the floating-point math functions (log10, ln, sqrt, exp, ...) turn
integer into double and keep float; floor, ceil and round give integers.
"""

from __future__ import annotations

import datetime as _dt
import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pandas as pd

from quickscore.ir.types import DataType, OpType
from quickscore.schema.values import Column, convert_column, missing_mask

Impl = Callable[[list[Column], int], tuple]

_NUMERIC_RANK = {DataType.INTEGER: 0, DataType.BOOLEAN: 0, DataType.FLOAT: 1, DataType.DOUBLE: 2}
_RANKED = {0: DataType.INTEGER, 1: DataType.FLOAT, 2: DataType.DOUBLE}


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


def numbers(col: Column) -> tuple[np.ndarray, np.ndarray]:
    """A column as numbers, and the rows whose (present) value is not a number: "a non-numeric
    string where a number is expected" is an invalid argument."""
    if col.numeric:
        return col.values, np.zeros(len(col.values), dtype=bool)
    values = convert_column(col, DataType.DOUBLE).values
    return values, np.isnan(values) & ~missing_mask(col.values)


def widest(cols: list[Column], floor: DataType = DataType.INTEGER) -> DataType:
    rank = _NUMERIC_RANK[floor]
    for c in cols:
        rank = max(rank, _NUMERIC_RANK.get(c.data_type, 2))
    return _RANKED[rank]


def _floating(cols: list[Column]) -> DataType:
    """integer -> double, float stays float (JPMML's ``integerToDouble`` of the widest type)."""
    dt = widest(cols)
    return DataType.DOUBLE if dt is DataType.INTEGER else dt


def _round_to(values: np.ndarray, data_type: DataType) -> np.ndarray:
    if data_type is DataType.FLOAT:
        with np.errstate(over="ignore", invalid="ignore"):
            return values.astype(np.float32).astype(np.float64)
    return values


# --- arithmetic ----------------------------------------------------------------------------------


def _arith(op: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> Builtin:
    def impl(args: list[Column], n: int):
        dt = widest(args)
        with np.errstate(all="ignore"):
            out = op(as_float(args[0]), as_float(args[1]))
        return _round_to(out, dt), dt

    return Builtin(impl, 2, 2)


def _divide(args: list[Column], n: int):
    """a / b. Of two integers: Java's integer division (truncated towards zero), as the reference
    implementation computes it. A zero divisor has no valid result: the Apply's invalidValueTreatment
    applies (asIs keeps the IEEE +-Infinity; JPMML-Evaluator always returns that)."""
    a, b = as_float(args[0]), as_float(args[1])
    dt = widest(args)
    zero = b == 0
    with np.errstate(all="ignore"):
        if dt is DataType.INTEGER:
            safe = np.where(zero, 1.0, b)
            out = np.where(zero, np.nan, (a - np.fmod(a, safe)) / safe)
        else:
            out = _round_to(a / b, dt)  # the IEEE value (+-inf) is what invalidValueTreatment="asIs" keeps
    return out, dt, zero | np.isnan(out)


def _aggregate(op: Callable[[np.ndarray], np.ndarray], floating: bool) -> Builtin:
    """min, max, sum, avg, median, product: "Missing values in the input to an aggregate function
    are simply ignored"; with no value at all the result is missing."""

    def impl(args: list[Column], n: int):
        parsed = [numbers(a) for a in args]
        stacked = np.column_stack([v for v, _ in parsed]) if args else np.zeros((n, 0))
        bad = np.zeros(n, dtype=bool)
        for _, b in parsed:
            bad |= b
        dt = _floating(args) if floating else widest(args)
        present = ~np.isnan(stacked)
        none = ~present.any(axis=1)
        with np.errstate(all="ignore"):
            out = op(stacked)
        out = np.where(none | bad, np.nan, _round_to(out, dt))
        return out, dt, bad | (np.isnan(out) & ~none)

    return Builtin(impl, 1, None, missing_aware=True)


def _nanop(fn: Callable) -> Callable[[np.ndarray], np.ndarray]:
    def op(m: np.ndarray) -> np.ndarray:
        if m.shape[1] == 0:
            return np.full(m.shape[0], np.nan)
        with np.errstate(all="ignore"):
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                return fn(m, axis=1)

    return op


def _math(op: Callable[[np.ndarray], np.ndarray], keep_type: bool = False) -> Builtin:
    """A one-argument math function: NaN results are invalid (JPMML: "returned invalid value")."""

    def impl(args: list[Column], n: int):
        dt = widest(args) if keep_type else _floating(args)
        with np.errstate(all="ignore"):
            out = op(as_float(args[0]))
        return _round_to(out, dt), dt

    return Builtin(impl, 1, 1)


def _rounding(op: Callable[[np.ndarray], np.ndarray]) -> Builtin:
    """floor, ceil, round: an integer result; +-Infinity has none."""

    def impl(args: list[Column], n: int):
        with np.errstate(all="ignore"):
            out = op(as_float(args[0]))
        out = np.where(np.isfinite(out), out, np.nan)
        return out, DataType.INTEGER

    return Builtin(impl, 1, 1)


def _java_round(x: np.ndarray) -> np.ndarray:
    """Java's Math.round: half-way cases round up (towards +inf)."""
    out = np.floor(x + 0.5)
    # x + 0.5 may round up for the double just below 0.5 (0.49999999999999994); Math.round does not
    return np.where(out - 0.5 > x, out - 1.0, out)  # out - 0.5 is exact


def _java_pow(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Java's Math.pow: unlike C99, pow(+-1, +-Infinity) is NaN."""
    with np.errstate(all="ignore"):
        out = np.power(a, b)
    return np.where((np.abs(a) == 1.0) & np.isinf(b), np.nan, out)


def _pow(args: list[Column], n: int):
    """pow(x, y). Of two integers the result is an integer (an exact power; a negative exponent
    has no integer result and is invalid, as in the reference implementation)."""
    dt = widest(args)
    a, b = as_float(args[0]), as_float(args[1])
    out = _java_pow(a, b)
    if dt is DataType.INTEGER:
        out = np.where(b < 0, np.nan, out)
    return _round_to(out, dt), dt


def _threshold(args: list[Column], n: int):
    """threshold(x, y): 1 if x > y else 0."""
    (x, bx), (t, bt) = numbers(args[0]), numbers(args[1])
    bad = bx | bt
    return np.where(bad, np.nan, np.where(x > t, 1.0, 0.0)), widest(args), bad


def _modulo(args: list[Column], n: int):
    """modulo(x, y) = x - (floor(x / y) * y): the sign of the divisor. A zero divisor is invalid."""
    a, b = as_float(args[0]), as_float(args[1])
    zero = b == 0
    with np.errstate(all="ignore"):
        safe = np.where(zero, 1.0, b)
        out = np.where(zero, np.nan, a - np.floor(a / safe) * safe)
    return _round_to(out, widest(args)), widest(args)


def _double2(op: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> Builtin:
    def impl(args: list[Column], n: int):
        with np.errstate(all="ignore"):
            return op(as_float(args[0]), as_float(args[1])), DataType.DOUBLE

    return Builtin(impl, 2, 2)


# --- the normal distribution (commons-math3 NormalDistribution / Erf, as JPMML uses them) --------

_KERNELS: dict[str, Callable] = {}


def _kernel(name: str) -> Callable:
    """numba-vectorised erf / erfc / ndtri, compiled on first use (no Python call per row)."""
    fn = _KERNELS.get(name)
    if fn is not None:
        return fn
    from numba import vectorize

    if name == "erf":

        @vectorize(["float64(float64)"], cache=True)
        def fn(x):  # pragma: no cover - compiled
            return math.erf(x)

    elif name == "erfc":

        @vectorize(["float64(float64)"], cache=True)
        def fn(x):  # pragma: no cover - compiled
            return math.erfc(x)

    else:

        @vectorize(["float64(float64)"], cache=True)
        def fn(p):  # pragma: no cover - compiled
            # The standard normal quantile: Acklam's rational approximation (relative error below
            # 1.2e-9), then two Halley steps on the CDF 0.5 erfc(-x / sqrt 2), accurate in both tails.
            if math.isnan(p) or p < 0.0 or p > 1.0:
                return math.nan
            if p == 0.0:
                return -math.inf
            if p == 1.0:
                return math.inf
            q = min(p, 1.0 - p)
            if q < 0.02425:
                t = math.sqrt(-2.0 * math.log(q))
                x = (((((-7.784894002430293e-03 * t - 3.223964580411365e-01) * t - 2.400758277161838e+00) * t
                       - 2.549732539343734e+00) * t + 4.374664141464968e+00) * t + 2.938163982698783e+00) / \
                    ((((7.784695709041462e-03 * t + 3.224671290700398e-01) * t + 2.445134137142996e+00) * t
                      + 3.754408661907416e+00) * t + 1.0)
            else:
                t = q - 0.5
                r = t * t
                x = (((((-3.969683028665376e+01 * r + 2.209460984245205e+02) * r - 2.759285104469687e+02) * r
                       + 1.383577518672690e+02) * r - 3.066479806614716e+01) * r + 2.506628277459239e+00) * t / \
                    (((((-5.447609879822406e+01 * r + 1.615858368580409e+02) * r - 1.556989798598866e+02) * r
                       + 6.680131188771972e+01) * r - 1.328068155288572e+01) * r + 1.0)
            # x is the quantile of q <= 0.5 (x <= 0); refine on the lower tail, where q is exact
            for _ in range(2):
                if q >= 0.25:  # central: CDF - q = 0.5 erf(x / sqrt 2) - (q - 0.5), q - 0.5 exact
                    e = 0.5 * math.erf(x / 1.4142135623730951) - (q - 0.5)
                else:
                    e = 0.5 * math.erfc(-x / 1.4142135623730951) - q
                u = e * 2.5066282746310002 * math.exp(x * x / 2.0)
                x = x - u / (1.0 + x * u / 2.0)
            return x if p <= 0.5 else -x

    _KERNELS[name] = fn
    return fn


_SQRT2 = math.sqrt(2.0)
_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


def _cdf(x: np.ndarray, mu: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    # NormalDistribution.cumulativeProbability: |x - mu| > 40 sigma -> 0 or 1; else 0.5 erfc(-dev / (sigma sqrt 2))
    dev = x - mu
    with np.errstate(all="ignore"):
        out = 0.5 * _kernel("erfc")(-dev / (sigma * _SQRT2))
        out = np.where(np.abs(dev) > 40 * sigma, np.where(dev < 0, 0.0, 1.0), out)
    return np.where(sigma > 0, out, np.nan)


def _pdf(x: np.ndarray, mu: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    # NormalDistribution.density: exp(-0.5 x1^2 - (log sigma + 0.5 log 2 pi)), x1 = (x - mu) / sigma
    with np.errstate(all="ignore"):
        x1 = (x - mu) / sigma
        out = np.exp(-0.5 * x1 * x1 - (np.log(sigma) + _HALF_LOG_2PI))
    return np.where(sigma > 0, out, np.nan)


def _idf(p: np.ndarray, mu: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    # mu + sigma * the standard normal quantile of p, p in [0, 1]. (commons-math, and so JPMML,
    # computes mu + sigma sqrt(2) erfInv(2p - 1), which loses the digits of p that 2p - 1 rounds
    # away: relative errors up to 1e-7 in the tails; this is exact to the last bits.)
    with np.errstate(all="ignore"):
        out = mu + sigma * _kernel("ndtri")(p)
    return np.where((sigma > 0) & (p >= 0) & (p <= 1), out, np.nan)


def _erf(x: np.ndarray) -> np.ndarray:
    # Erf.erf: |x| > 40 -> +-1
    with np.errstate(all="ignore"):
        return np.where(np.abs(x) > 40, np.sign(x), _kernel("erf")(x))


def _normal(fn: Callable, standard: bool) -> Builtin:
    def impl(args: list[Column], n: int):
        x = as_float(args[0])
        if standard:
            return fn(x, np.zeros(n), np.ones(n)), DataType.DOUBLE
        return fn(x, as_float(args[1]), as_float(args[2])), DataType.DOUBLE

    k = 1 if standard else 3
    return Builtin(impl, k, k)


# --- comparisons and boolean logic (booleans are 1.0 / 0.0, NaN = missing) ----------------------


def _comparable(args: list[Column]) -> tuple[np.ndarray, np.ndarray]:
    """Both sides as comparable arrays: the right side is read as the left side's type (as the
    reference implementation does); values that cannot be read are missing."""
    a, b = args
    if a.numeric and b.numeric:
        return a.values, b.values
    if a.numeric and b.data_type is DataType.STRING:
        return a.values, numbers(b)[0]  # "abc" is no number: NaN, an invalid comparison
    if b.numeric and a.data_type is DataType.STRING:
        return a.values, strings(b)  # compared as text, as the left side is
    if a.data_type.is_temporal_object or b.data_type.is_temporal_object:
        if a.data_type is not b.data_type:
            if a.data_type.is_temporal_object:
                b = convert_column(b if not b.numeric else Column(strings(b), DataType.STRING, b.op_type), a.data_type)
            else:
                a = convert_column(a if not a.numeric else Column(strings(a), DataType.STRING, a.op_type), b.data_type)
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
            bad = np.isnan(a) | np.isnan(b)  # an argument that is not a number (missing ones are handled before)
            return np.where(bad, np.nan, vec(a, b).astype(np.float64)), DataType.BOOLEAN, bad
        out = np.fromiter((np.nan if x is None or y is None else (1.0 if op(x, y) else 0.0) for x, y in zip(a, b)), dtype=np.float64, count=n)
        return out, DataType.BOOLEAN

    return Builtin(impl, 2, 2, op_type=OpType.CATEGORICAL)


def _boolean(col: Column) -> np.ndarray:
    return as_float(col)


def _and(args: list[Column], n: int):
    out = np.ones(n)
    for a in args:
        out = np.minimum(out, _boolean(a))
    return out, DataType.BOOLEAN


def _or(args: list[Column], n: int):
    out = np.zeros(n)
    for a in args:
        out = np.maximum(out, _boolean(a))
    return out, DataType.BOOLEAN


def _not(args: list[Column], n: int):
    v = _boolean(args[0])
    return 1.0 - v, DataType.BOOLEAN


def _is_missing(args: list[Column], n: int):
    return missing_mask(args[0].values).astype(np.float64), DataType.BOOLEAN


def _is_not_missing(args: list[Column], n: int):
    return (~missing_mask(args[0].values)).astype(np.float64), DataType.BOOLEAN


def _is_in(negate: bool) -> Builtin:
    def impl(args: list[Column], n: int):
        x = args[0]
        hit = np.zeros(n, dtype=bool)
        for a in args[1:]:
            left, right = _comparable([x, a])
            if left.dtype.kind == "f" and right.dtype.kind == "f":
                hit |= left == right
            else:
                hit |= np.asarray(left == right, dtype=bool)  # elementwise (None equals no value)
        return (hit != negate).astype(np.float64), DataType.BOOLEAN

    return Builtin(impl, 2, None, op_type=OpType.CATEGORICAL)


def _if(args: list[Column], n: int):
    """if(condition, then[, else]): "The ELSE part is optional. If the ELSE part is absent, then a
    missing value is returned" (when the condition is false). A missing condition gives a missing
    result. (Apply compiles ``if`` lazily, evaluating each branch only on its rows; this eager form
    serves constant folding.)"""
    cond = as_float(args[0])
    then = args[1]
    other = args[2] if len(args) > 2 else None
    dt = if_type(then, other)
    then_v = convert_column(then, dt).values
    other_v = convert_column(other, dt).values if other is not None else None
    out = np.full(n, np.nan) if dt.is_numeric else np.full(n, None, dtype=object)
    t = cond == 1.0
    out[t] = then_v[t]
    if other_v is not None:
        f = cond == 0.0
        out[f] = other_v[f]
    return out, dt, np.zeros(n, dtype=bool)


def if_type(then: Column | DataType, other: Column | DataType | None) -> DataType:
    """The result type of ``if``: the branches' common type (numbers widen; else the THEN type)."""
    t = then if isinstance(then, DataType) else then.data_type
    if other is None:
        return t
    o = other if isinstance(other, DataType) else other.data_type
    if t in _NUMERIC_RANK and o in _NUMERIC_RANK and DataType.BOOLEAN not in (t, o):
        return _RANKED[max(_NUMERIC_RANK[t], _NUMERIC_RANK[o])]
    if t is o:
        return t
    return DataType.STRING if not (t.is_numeric and o.is_numeric) else DataType.DOUBLE


# --- strings ---------------------------------------------------------------------------------------


def strings(col: Column) -> np.ndarray:
    """A column as text, as Java writes values: integers without a fraction, doubles as
    Double.toString ("1.0", "1.0E-9"), booleans "true"/"false"."""
    if not col.numeric and not col.data_type.is_temporal_object:
        return col.values
    if col.data_type is DataType.BOOLEAN:
        return np.array([None if math.isnan(v) else ("true" if v else "false") for v in col.values], dtype=object)
    if col.numeric:
        from quickscore.schema.javafmt import number_text

        kind = col.data_type.value if col.data_type in (DataType.INTEGER, DataType.FLOAT) else "double"
        return per_distinct(col.values, lambda v: number_text(v, kind), None)
    return np.array([None if v is None else v.isoformat() for v in col.values], dtype=object)


def per_distinct(values: np.ndarray, fn: Callable[[Any], object], absent: object) -> np.ndarray:
    """``fn`` of each value of a column, computed once per distinct value (one hash
    factorisation of the batch, then a take): a text column has few distinct values, and
    Java's text semantics need a Python call per value. Missing values (None, NaN) give
    ``absent``."""
    if values.dtype.kind == "f":
        # By bit pattern: hashing would merge -0.0 with 0.0, which Java writes apart.
        codes, uniques = pd.factorize(np.ascontiguousarray(values, dtype=np.float64).view(np.int64))
        codes[np.isnan(values)] = -1
        uniques = uniques.view(np.float64)
    else:
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
    numeric = isinstance(absent, float)
    table = np.empty(len(uniques) + 1, dtype=np.float64 if numeric else object)
    for i, u in enumerate(uniques.tolist()):
        if u == u:  # a NaN's slot is never taken (its rows are -1)
            table[i] = fn(u)
    table[-1] = absent
    return table[codes]


def _str_map(fn: Callable[..., object], n_args: int, result: DataType = DataType.STRING) -> Builtin:
    def impl(args: list[Column], n: int):
        s = strings(args[0])
        rest = [a.values for a in args[1:]]
        absent = np.nan if result.is_numeric else None
        if not rest:
            return per_distinct(s, fn, absent), result
        missing = missing_mask(s)
        for a in args[1:]:
            missing |= missing_mask(a.values)
        values = [absent if missing[i] else fn(v, *[r[i] for r in rest]) for i, v in enumerate(s)]
        out = np.array(values, dtype=np.float64 if result.is_numeric else object)
        return out, result

    return Builtin(impl, n_args, n_args, op_type=OpType.CONTINUOUS if result.is_numeric else OpType.CATEGORICAL)


_JAVA_BLANKS = "".join(chr(c) for c in range(33))


def _trim(s: str) -> str:
    """trimBlanks: "Removes leading and trailing blanks" (Java's String.trim: characters <= U+0020)."""
    return s.strip(_JAVA_BLANKS)


def _substring(args: list[Column], n: int):
    """substring(input, startPos, length): "The first character of a string is located at position
    1 (not position 0)". A position below 1 or a negative length is invalid; a part beyond the end
    of the input is cut off."""
    s = strings(args[0])
    pos, length = as_float(args[1]), as_float(args[2])
    out = np.full(n, None, dtype=object)
    invalid = np.zeros(n, dtype=bool)
    for i in range(n):
        if s[i] is None or math.isnan(pos[i]) or math.isnan(length[i]):
            continue
        if not (math.isfinite(pos[i]) and math.isfinite(length[i])):
            invalid[i] = True
            continue
        p, k = int(pos[i]), int(min(length[i], 2**62))
        if p < 1 or k < 0:
            invalid[i] = True
            continue
        out[i] = s[i][p - 1 : p - 1 + k]
    return out, DataType.STRING, invalid


def _regex_cache():
    from quickscore.schema.text import compile_regex, java_replacement

    patterns: dict[str, object] = {}
    replacements: dict[str, object] = {}

    def pattern(p: str):
        if p not in patterns:
            patterns[p] = compile_regex(p, True, "function argument", ascii=True)
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
    s, p, r = (strings(a) for a in args)
    out = np.array([None if None in (x, pp, rr) else pattern(pp).sub(replacement(rr), x) for x, pp, rr in zip(s, p, r)], dtype=object)
    return out, DataType.STRING


def _matches(args: list[Column], n: int):
    """matches(input, pattern): "The string is considered to match the pattern if any substring
    matches the pattern" (Java's Matcher.find)."""
    pattern, _ = _regex_cache()
    s, p = (strings(a) for a in args)
    out = np.array([np.nan if None in (x, pp) else float(pattern(pp).search(x) is not None) for x, pp in zip(s, p)])
    return out, DataType.BOOLEAN


def _concat(args: list[Column], n: int):
    """concat(a, b, ...): the parts' text, missing parts left out (as JPMML-Evaluator does)."""
    parts = [strings(a) for a in args]
    out = np.array(["".join(p[i] for p in parts if p[i] is not None) for i in range(n)], dtype=object)
    return out, DataType.STRING


def _format_number(args: list[Column], n: int):
    """formatNumber(input, pattern): Java's String.format(pattern, input) (see schema.javafmt)."""
    from quickscore.schema.javafmt import FormatError, format_number

    x, pattern = args[0], strings(args[1])
    kind = "integer" if x.data_type is DataType.INTEGER else ("float" if x.data_type is DataType.FLOAT else "double")
    values = as_float(x)
    out = np.full(n, None, dtype=object)
    invalid = np.zeros(n, dtype=bool)
    for i in range(n):
        if math.isnan(values[i]) or pattern[i] is None:
            continue
        try:
            out[i] = format_number(pattern[i], float(values[i]), kind)
        except FormatError:
            invalid[i] = True
    return out, DataType.STRING, invalid


# --- dates and times ---------------------------------------------------------------------------------


def _instants(col: Column) -> np.ndarray:
    """Date, time and dateTime values as datetime objects (a date at midnight); numeric
    dateDaysSince[Y] / dateTimeSecondsSince[Y] / timeSeconds values converted from their epoch."""
    from quickscore.schema.values import EPOCHS

    dt = col.data_type
    out = np.full(len(col.values), None, dtype=object)
    if dt is DataType.DATE_TIME:
        return col.values
    if dt is DataType.DATE:
        for i, v in enumerate(col.values):
            if v is not None:
                out[i] = _dt.datetime(v.year, v.month, v.day)
        return out
    if dt is DataType.TIME:
        for i, v in enumerate(col.values):
            if v is not None:
                out[i] = _dt.datetime.combine(_dt.date(1970, 1, 1), v)
        return out
    value = dt.value
    if col.numeric and "[" in value:
        epoch = _dt.datetime.combine(EPOCHS[value[value.index("[") + 1 : -1]], _dt.time())
        unit = 86400.0 if value.startswith("dateDaysSince") else 1.0
        for i, v in enumerate(col.values):
            if not math.isnan(v):
                try:
                    out[i] = epoch + _dt.timedelta(seconds=v * unit)
                except OverflowError:
                    pass
        return out
    if dt is DataType.TIME_SECONDS:
        for i, v in enumerate(col.values):
            if not math.isnan(v):
                out[i] = _dt.datetime(1970, 1, 1) + _dt.timedelta(seconds=v)
        return out
    # text: parse as a dateTime, else a date, else a time
    from quickscore.schema.values import ParseError, parse_value

    for i, v in enumerate(strings(col)):
        if v is None:
            continue
        for parse in (DataType.DATE_TIME, DataType.DATE, DataType.TIME):
            try:
                out[i] = _instants(Column(np.array([parse_value(v, parse)], dtype=object), parse, OpType.CONTINUOUS))[0]
                break
            except (ParseError, ValueError, TypeError):
                continue
    return out


def _days_before_year(year: np.ndarray) -> np.ndarray:
    """Days from 0001-01-01 to January 1st of ``year`` in the proleptic Gregorian calendar (any
    year, also 0 and negative ones, as Java's LocalDate counts them)."""
    y = year - 1
    return y * 365 + np.floor_divide(y, 4) - np.floor_divide(y, 100) + np.floor_divide(y, 400)


def _ordinals(when: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per instant: the day number (0001-01-01 = 0) and the seconds into that day (NaN if none)."""
    days = np.array([np.nan if w is None else float(w.toordinal() - 1) for w in when])
    secs = np.array([np.nan if w is None else float(w.hour * 3600 + w.minute * 60 + w.second) for w in when])
    return days, secs


def _years(col: Column) -> np.ndarray:
    years = np.floor(as_float(col))
    return np.where(np.abs(years) < 1e9, years, np.nan)  # beyond that no calendar is meant


def _date_days_since_year(args: list[Column], n: int):
    """dateDaysSinceYear(date, year): the days from January 1st of ``year`` to the date."""
    days, _ = _ordinals(_instants(args[0]))
    years = _years(args[1])
    return days - _days_before_year(years), DataType.INTEGER


def _date_seconds_since_year(args: list[Column], n: int):
    """dateSecondsSinceYear(dateTime, year): the seconds from January 1st of ``year``, 00:00:00."""
    days, secs = _ordinals(_instants(args[0]))
    years = _years(args[1])
    return (days - _days_before_year(years)) * 86400.0 + secs, DataType.INTEGER


def _date_seconds_since_midnight(args: list[Column], n: int):
    """dateSecondsSinceMidnight(time or dateTime): the seconds since 00:00:00 of the day."""
    when = _instants(args[0])
    out = np.array([np.nan if w is None else float(w.hour * 3600 + w.minute * 60 + w.second) for w in when])
    return out, DataType.INTEGER


def _format_datetime(args: list[Column], n: int):
    """formatDatetime(input, pattern): the pattern's ``%X`` conversions are Java's ``%tX`` ones."""
    from quickscore.schema.javafmt import FormatError, format_datetime

    when, pattern = _instants(args[0]), strings(args[1])
    out = np.full(n, None, dtype=object)
    invalid = np.zeros(n, dtype=bool)
    for i in range(n):
        if when[i] is None or pattern[i] is None:
            continue
        try:
            out[i] = format_datetime(pattern[i], when[i])
        except FormatError:
            invalid[i] = True
    return out, DataType.STRING, invalid


# --- vendor functions -----------------------------------------------------------------------------


def _cut_to_width(args: list[Column], n: int, finish: Callable[[str], str]):
    """``finish(text[:width])`` per row: missing where either is missing; a width that is not a
    count (negative, too large) is invalid."""
    width = as_float(args[0])
    s = strings(args[1])
    invalid = ~np.isnan(width) & ~((width >= 0) & (width < 2**62))
    res = np.array([None if s[i] is None or math.isnan(width[i]) or invalid[i] else finish(s[i][: int(width[i])]) for i in range(n)], dtype=object)
    return res, DataType.STRING, invalid


def _sas_string_normalize(args: list[Column], n: int):
    """SAS-EM-String-Normalize(width, text) = trimBlanks(uppercase(substring(text, 1, width))).

    Source: the DefineFunction SAS Enterprise Miner 9.4 writes into its PMML exports (e.g.
    jpmml-evaluator pmml-sas/src/test/resources/pmml/LogisticRegressionIris.pmml); a document's own
    DefineFunction of that name takes precedence.
    """
    return _cut_to_width(args, n, lambda text: _trim(text.upper()))


def _sas_char(args: list[Column], n: int):
    """SAS-FORMAT-$CHARw(width, text) = substring(text, 1, width): the text cut to the width.

    Source: the DefineFunction SAS Enterprise Miner 9.4 writes into its PMML exports (e.g.
    jpmml-evaluator pmml-sas/src/test/resources/pmml/LogisticRegressionIris.pmml); a document's own
    DefineFunction of that name takes precedence.
    """
    return _cut_to_width(args, n, lambda text: text)


# --- the table ---------------------------------------------------------------------------------------

BUILTINS: dict[str, Builtin] = {
    # arithmetic
    "+": _arith(np.add),
    "-": _arith(np.subtract),
    "*": _arith(np.multiply),
    "/": Builtin(_divide, 2, 2),
    "min": _aggregate(_nanop(np.nanmin), False),
    "max": _aggregate(_nanop(np.nanmax), False),
    "sum": _aggregate(_nanop(np.nansum), False),
    "product": _aggregate(_nanop(np.nanprod), False),
    "avg": _aggregate(_nanop(np.nanmean), True),
    "median": _aggregate(_nanop(np.nanmedian), True),
    # math
    "log10": _math(np.log10),
    "ln": _math(np.log),
    "sqrt": _math(np.sqrt),
    "exp": _math(np.exp),
    "expm1": _math(np.expm1),
    "ln1p": _math(np.log1p),
    "abs": _math(np.abs, keep_type=True),
    "rint": _math(np.rint, keep_type=True),
    "floor": _rounding(np.floor),
    "ceil": _rounding(np.ceil),
    "round": _rounding(_java_round),
    "pow": Builtin(_pow, 2, 2),
    "threshold": Builtin(_threshold, 2, 2),
    "modulo": Builtin(_modulo, 2, 2),
    "hypot": _double2(np.hypot),
    "sin": _math(np.sin),
    "cos": _math(np.cos),
    "tan": _math(np.tan),
    "asin": _math(np.arcsin),
    "acos": _math(np.arccos),
    "atan": _math(np.arctan),
    "sinh": _math(np.sinh),
    "cosh": _math(np.cosh),
    "tanh": _math(np.tanh),
    "atan2": _double2(np.arctan2),
    "normalCDF": _normal(_cdf, False),
    "normalPDF": _normal(_pdf, False),
    "normalIDF": _normal(_idf, False),
    "stdNormalCDF": _normal(_cdf, True),
    "stdNormalPDF": _normal(_pdf, True),
    "stdNormalIDF": _normal(_idf, True),
    "erf": Builtin(lambda args, n: (_erf(as_float(args[0])), DataType.DOUBLE), 1, 1),
    # boolean
    "isMissing": Builtin(_is_missing, 1, 1, missing_aware=True, op_type=OpType.CATEGORICAL),
    "isNotMissing": Builtin(_is_not_missing, 1, 1, missing_aware=True, op_type=OpType.CATEGORICAL),
    "equal": _compare(lambda a, b: a == b, np.equal),
    "notEqual": _compare(lambda a, b: a != b, np.not_equal),
    "lessThan": _compare(lambda a, b: a < b, np.less),
    "lessOrEqual": _compare(lambda a, b: a <= b, np.less_equal),
    "greaterThan": _compare(lambda a, b: a > b, np.greater),
    "greaterOrEqual": _compare(lambda a, b: a >= b, np.greater_equal),
    "and": Builtin(_and, 2, None, op_type=OpType.CATEGORICAL),
    "or": Builtin(_or, 2, None, op_type=OpType.CATEGORICAL),
    "not": Builtin(_not, 1, 1, op_type=OpType.CATEGORICAL),
    "isIn": _is_in(False),
    "isNotIn": _is_in(True),
    "if": Builtin(_if, 2, 3, missing_aware=True, op_type=OpType.CATEGORICAL),
    # strings
    "uppercase": _str_map(lambda s: s.upper(), 1),
    "lowercase": _str_map(lambda s: s.lower(), 1),
    "trimBlanks": _str_map(_trim, 1),
    "stringLength": _str_map(lambda s: float(len(s)), 1, DataType.INTEGER),
    "substring": Builtin(_substring, 3, 3, op_type=OpType.CATEGORICAL),
    "concat": Builtin(_concat, 2, None, missing_aware=True, op_type=OpType.CATEGORICAL),
    "replace": Builtin(_replace, 3, 3, op_type=OpType.CATEGORICAL),
    "matches": Builtin(_matches, 2, 2, op_type=OpType.CATEGORICAL),
    "formatNumber": Builtin(_format_number, 2, 2, op_type=OpType.CATEGORICAL),
    "formatDatetime": Builtin(_format_datetime, 2, 2, op_type=OpType.CATEGORICAL),
    # dates
    "dateDaysSinceYear": Builtin(_date_days_since_year, 2, 2),
    "dateSecondsSinceYear": Builtin(_date_seconds_since_year, 2, 2),
    "dateSecondsSinceMidnight": Builtin(_date_seconds_since_midnight, 1, 1),
}

#: Functions whose value depends on a field's declaration, not only on its value (the argument
#: must be a FieldRef): compiled in schema.expressions.
FIELD_FUNCTIONS = frozenset({"isValid", "isNotValid"})

#: Names real producers write for the built-ins: the ``x-`` spellings JPMML's converters write
#: for functions that became built-ins in PMML 4.4 (JPMML-Model's PMMLFunctions), ``x-atan2``
#: (JPMML's extension; PMML 4.4 has no atan2), and ``log1p`` (the C name of ln1p).
ALIASES: dict[str, str] = {
    **{f"x-{name}": name for name in ("acos", "asin", "atan", "cos", "cosh", "expm1", "hypot", "ln1p", "modulo",
                                      "rint", "sin", "sinh", "tan", "tanh", "atan2", "stringLength",
                                      "normalCDF", "normalPDF", "normalIDF", "stdNormalCDF", "stdNormalPDF",
                                      "stdNormalIDF", "erf", "isValid", "isNotValid")},
    "log1p": "ln1p",
}
for _alias, _name in ALIASES.items():
    if _name in BUILTINS:
        BUILTINS[_alias] = BUILTINS[_name]

#: Vendor functions found in real files (SAS Enterprise Miner). A document's DefineFunction of the
#: same name wins over these.
VENDOR_FUNCTIONS: dict[str, Builtin] = {
    "SAS-EM-String-Normalize": Builtin(_sas_string_normalize, 2, 2, op_type=OpType.CATEGORICAL),
    "SAS-FORMAT-$CHARw": Builtin(_sas_char, 2, 2, op_type=OpType.CATEGORICAL),
}
