"""Compile IR expressions into column-wise callables, once at load.

A compiled expression knows its result dataType/optype and maps a Frame to a Column.
Constants are parsed at load; constant sub-expressions of Apply are folded.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import Callable

import numpy as np

from quickscore.errors import (
    EvaluationError,
    InvalidMarkup,
    InvalidValue,
    UnsupportedMarkup,
)
from quickscore.ir import (
    Apply,
    Constant,
    DerivedField,
    Discretize,
    Expression,
    FieldRef,
    Loc,
    MapValues,
    NormContinuous,
    NormDiscrete,
    ParameterField,
    TextIndex,
)
from quickscore.ir.expressions import Aggregate, Lag
from quickscore.ir.types import DataType, OpType
from quickscore.runtime.frame import Frame
from quickscore.schema.fields import FieldDecl, in_interval, parse_typed
from quickscore.schema.functions import (
    ALIASES,
    BUILTINS,
    FIELD_FUNCTIONS,
    VENDOR_FUNCTIONS,
    as_float,
    if_type,
)
from quickscore.schema.scope import Scope
from quickscore.schema.values import (
    Column,
    ParseError,
    convert_column,
    empty_column,
    missing_mask,
    parse_value,
)


@dataclass
class Compiled:
    """A compiled expression: ``fn(frame) -> Column`` with its result type."""

    fn: Callable[[Frame], Column]
    data_type: DataType
    op_type: OpType
    constant: Column | None = None  # set when the value does not depend on the record

    def __call__(self, frame: Frame) -> Column:
        if self.constant is not None:
            return _broadcast(self.constant, frame.n)
        return self.fn(frame)


def _broadcast(col: Column, n: int) -> Column:
    return Column(np.repeat(col.values[:1], n), col.data_type, col.op_type)


def _where(loc: Loc | None) -> str:
    return f" at {loc}" if loc else ""


def _fill_missing(col: Column, value, data_type: DataType | None = None) -> Column:
    """Replace missing entries by a parsed value (mapMissingTo / defaultValue)."""
    miss = missing_mask(col.values)
    if not miss.any():
        return col
    values = col.values.copy()
    if values.dtype.kind == "f" and not isinstance(value, float):
        values = values.astype(object)
        values[np.isnan(values.astype(np.float64))] = None
    values[miss] = value
    return Column(values, data_type or col.data_type, col.op_type)


def _infer_constant_type(text: str) -> DataType:
    try:
        parse_value(text, DataType.INTEGER)
        return DataType.INTEGER
    except (ParseError, ValueError):
        pass
    try:
        parse_value(text, DataType.DOUBLE)
        return DataType.DOUBLE
    except (ParseError, ValueError):
        return DataType.STRING


def _constant(expr: Constant, scope: Scope) -> Compiled:
    if expr.value in scope.parameters and expr.data_type is None and not expr.missing:
        # Producer quirk (SAS Enterprise Miner): `<Constant>FMTWIDTH</Constant>` inside a
        # DefineFunction whose ParameterField is FMTWIDTH means a reference to that parameter.
        return _field_ref(FieldRef(field=expr.value, loc=expr.loc), scope)
    if expr.value is None and not expr.missing and (expr.data_type or DataType.STRING) is DataType.STRING:
        expr = Constant(value="", data_type=DataType.STRING, loc=expr.loc)  # <Constant dataType="string"/> is ""
    if expr.missing or expr.value is None:
        dt = expr.data_type or DataType.STRING
        values = np.array([np.nan]) if dt.is_numeric else np.array([None], dtype=object)
    else:
        dt = expr.data_type or _infer_constant_type(expr.value)
        v = parse_typed(expr.value, dt, "Constant", expr.loc)
        values = np.array([v], dtype=np.float64 if dt.is_numeric else object)
    op = OpType.CONTINUOUS if dt.is_numeric and dt is not DataType.BOOLEAN else OpType.CATEGORICAL
    col = Column(values, dt, op)
    return Compiled(lambda frame: _broadcast(col, frame.n), dt, op, constant=col)


def _field_ref(expr: FieldRef, scope: Scope) -> Compiled:
    decl = scope.lookup(expr.field, expr.loc)
    name = expr.field
    if expr.map_missing_to is None:
        return Compiled(lambda frame: frame.get(name), decl.data_type, decl.op_type)
    fill = decl.parse(expr.map_missing_to, "attribute mapMissingTo of FieldRef", expr.loc)
    return Compiled(lambda frame: _fill_missing(frame.get(name), fill), decl.data_type, decl.op_type)


def _norm_continuous(expr: NormContinuous, scope: Scope) -> Compiled:
    scope.lookup(expr.field, expr.loc)
    if len(expr.norms) < 2:
        raise InvalidMarkup(f"NormContinuous of field '{expr.field}' needs at least two LinearNorm elements{_where(expr.loc)}")
    orig = np.array([ln.orig for ln in expr.norms])
    norm = np.array([ln.norm for ln in expr.norms])
    if np.any(np.diff(orig) <= 0):
        raise InvalidMarkup(f"LinearNorm orig values of field '{expr.field}' are not strictly ascending{_where(expr.loc)}")
    name, outliers, fill = expr.field, expr.outliers, expr.map_missing_to

    def fn(frame: Frame) -> Column:
        x = as_float(frame.get(name))
        # Between two LinearNorms: linear interpolation; outside: per the outliers attribute.
        idx = np.clip(np.searchsorted(orig, x, side="right") - 1, 0, len(orig) - 2)
        with np.errstate(all="ignore"):
            y = norm[idx] + (x - orig[idx]) * (norm[idx + 1] - norm[idx]) / (orig[idx + 1] - orig[idx])
        low, high = x < orig[0], x > orig[-1]
        if outliers == "asMissingValues":
            y = np.where(low | high, np.nan, y)
        elif outliers == "asExtremeValues":
            y = np.where(low, norm[0], np.where(high, norm[-1], y))
        if fill is not None:
            y = np.where(np.isnan(x), fill, y)
        return Column(y, DataType.DOUBLE, OpType.CONTINUOUS)

    return Compiled(fn, DataType.DOUBLE, OpType.CONTINUOUS)


def _norm_discrete(expr: NormDiscrete, scope: Scope) -> Compiled:
    decl = scope.lookup(expr.field, expr.loc)
    target = decl.parse(expr.value, "attribute value of NormDiscrete", expr.loc)
    name, fill = expr.field, expr.map_missing_to

    def fn(frame: Frame) -> Column:
        values = frame.get(name).values
        miss = missing_mask(values)
        hit = np.asarray(values == target, dtype=bool)  # elementwise, also for object arrays
        y = np.where(miss, np.nan if fill is None else fill, hit.astype(np.float64))
        return Column(y, DataType.DOUBLE, OpType.CONTINUOUS)

    return Compiled(fn, DataType.DOUBLE, OpType.CONTINUOUS)


def _typed_array(values: list, data_type: DataType) -> np.ndarray:
    if data_type.is_numeric:
        return np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    return np.array(values, dtype=object)


def _discretize(expr: Discretize, scope: Scope) -> Compiled:
    """Discretize: the binValue of the first DiscretizeBin whose Interval holds the value;
    ``defaultValue`` where none does, ``mapMissingTo`` for a missing value. One vectorised
    interval test per bin."""
    scope.lookup(expr.field, expr.loc)
    dt = expr.data_type or DataType.STRING
    intervals = [b.interval for b in expr.bins]
    values = [parse_typed(b.bin_value, dt, "binValue of DiscretizeBin", expr.loc) for b in expr.bins]
    fill = None if expr.map_missing_to is None else parse_typed(expr.map_missing_to, dt, "mapMissingTo of Discretize", expr.loc)
    default = None if expr.default_value is None else parse_typed(expr.default_value, dt, "defaultValue of Discretize", expr.loc)
    # choices[k] is bin k's value; then the default, then the missing value's
    choices = _typed_array([*values, default, fill], dt)
    none, missing_index = len(values), len(values) + 1
    name = expr.field

    def fn(frame: Frame) -> Column:
        x = as_float(frame.get(name))
        index = np.full(len(x), none, dtype=np.intp)
        open_rows = ~np.isnan(x)
        for k, interval in enumerate(intervals):
            hit = open_rows & in_interval(x, interval)
            index[hit] = k
            open_rows &= ~hit
        index[np.isnan(x)] = missing_index
        return Column(choices[index], dt, OpType.CATEGORICAL)

    return Compiled(fn, dt, OpType.CATEGORICAL)


def _map_values(expr: MapValues, scope: Scope) -> Compiled:
    """MapValues: the outputColumn cell of the first InlineTable row whose input columns equal the
    fields' values (FieldColumnPair); ``defaultValue`` where no row does, ``mapMissingTo`` where an
    input is missing. Looked up for the whole batch at once (a hash index over the table rows)."""
    import pandas as pd

    dt = expr.data_type or DataType.STRING
    decls = [scope.lookup(p.field, expr.loc) for p in expr.field_column_pairs]
    if not decls:
        raise InvalidMarkup(f"MapValues without a FieldColumnPair{_where(expr.loc)}")
    table: dict[tuple, object] = {}
    for row in expr.table.dict_rows():
        try:
            key = tuple(d.parse(row[p.column], f"InlineTable cell '{p.column}'", expr.loc) for d, p in zip(decls, expr.field_column_pairs))
        except KeyError:
            continue  # a row without one of the input columns never matches
        if expr.output_column in row and key not in table:
            table[key] = parse_typed(row[expr.output_column], dt, f"InlineTable cell '{expr.output_column}'", expr.loc)
    fill = None if expr.map_missing_to is None else parse_typed(expr.map_missing_to, dt, "mapMissingTo of MapValues", expr.loc)
    default = None if expr.default_value is None else parse_typed(expr.default_value, dt, "defaultValue of MapValues", expr.loc)
    keys = list(table)
    choices = _typed_array([*table.values(), default, fill], dt)
    none, missing_index = len(keys), len(keys) + 1
    if len(decls) == 1:
        index = pd.Index([k[0] for k in keys], dtype=object)
    else:
        index = pd.MultiIndex.from_tuples(keys, names=None) if keys else None
    names = [p.field for p in expr.field_column_pairs]

    def fn(frame: Frame) -> Column:
        cols = [frame.get(nm).values for nm in names]
        miss = np.zeros(frame.n, dtype=bool)
        for c in cols:
            miss |= missing_mask(c)
        if index is None or len(keys) == 0:
            found = np.full(frame.n, -1, dtype=np.intp)
        elif len(cols) == 1:
            found = index.get_indexer(pd.Index(cols[0], dtype=object))
        else:
            found = index.get_indexer(pd.MultiIndex.from_arrays([pd.Index(c, dtype=object) for c in cols]))
        found = np.where(found < 0, none, found)
        found[miss] = missing_index
        return Column(choices[found], dt, OpType.CATEGORICAL)

    return Compiled(fn, dt, OpType.CATEGORICAL)


_PROBES = {
    DataType.STRING: "x",
    DataType.DATE: _dt.date(2000, 1, 1),
    DataType.TIME: _dt.time(12, 0, 0),
    DataType.DATE_TIME: _dt.datetime(2000, 1, 1, 12, 0, 0),
}


def _probe(a: Compiled) -> Column:
    if a.data_type.is_numeric:
        return Column(np.array([1.0]), a.data_type, a.op_type)
    return Column(np.array([_PROBES.get(a.data_type, "x")], dtype=object), a.data_type, a.op_type)


def _resolve(expr: Apply, scope: Scope):
    """The built-in an Apply calls, or None for a DefineFunction. A document's DefineFunction wins
    over a vendor function of the same name; PMML's own built-ins cannot be redefined."""
    builtin = BUILTINS.get(expr.function)
    if builtin is not None:
        return builtin
    if expr.function in scope.functions:
        return None
    builtin = VENDOR_FUNCTIONS.get(expr.function)
    if builtin is None:
        raise UnsupportedMarkup(f"Unsupported function '{expr.function}' in Apply{_where(expr.loc)}")
    return builtin


def _apply(expr: Apply, scope: Scope) -> Compiled:
    name = ALIASES.get(expr.function, expr.function)
    if name in FIELD_FUNCTIONS:
        return _finish(expr, scope, *_validity(expr, scope, name == "isValid"))
    if name == "if":
        return _finish(expr, scope, *_lazy_if(expr, scope))
    builtin = _resolve(expr, scope)
    args = [compile_expression(a, scope) for a in expr.args]
    if builtin is None:
        return _user_function(expr, args, scope)
    if len(args) < builtin.min_args or (builtin.max_args is not None and len(args) > builtin.max_args):
        most = builtin.max_args if builtin.max_args is not None else "n"
        raise InvalidMarkup(f"Function '{expr.function}' takes {builtin.min_args}..{most} arguments, got {len(args)}{_where(expr.loc)}")
    # The result type, once, from a one-row evaluation on typed placeholders.
    try:
        result_type = builtin.impl([_probe(a) for a in args], 1)[1]
    except (TypeError, ValueError, IndexError, AttributeError, OverflowError):
        result_type = DataType.DOUBLE
    op = builtin.op_type if result_type is not DataType.STRING else OpType.CATEGORICAL
    missing_aware = builtin.missing_aware

    def raw(frame: Frame) -> tuple[Column, np.ndarray, np.ndarray]:
        cols = [a(frame) for a in args]
        any_missing = np.zeros(frame.n, dtype=bool)
        if not missing_aware:
            for c in cols:
                any_missing |= missing_mask(c.values)
        try:
            out = builtin.impl(cols, frame.n)
        except _ROW_ERRORS:
            out = _row_by_row(builtin, cols, frame.n, result_type)
        values, dt = out[0], out[1]
        if len(out) > 2:
            invalid = out[2] & ~any_missing
        else:
            invalid = missing_mask(values) & ~any_missing
        return Column(values, dt, op), any_missing, invalid

    return _finish(expr, scope, raw, result_type, op, all(a.constant is not None for a in args))


# What a function may raise on arguments it cannot work with (types it cannot combine, numbers
# beyond a calendar, ...): the records concerned get an invalid result, never a crash.
_ROW_ERRORS = (TypeError, ValueError, OverflowError, ArithmeticError, IndexError, AttributeError)


def _row_by_row(builtin, cols: list[Column], n: int, result_type: DataType) -> tuple:
    """A function that failed on the batch, again one record at a time: the records it fails on
    are invalid, the others get their values."""
    values = np.full(n, np.nan) if result_type.is_numeric else np.full(n, None, dtype=object)
    invalid = np.zeros(n, dtype=bool)
    for i in range(n):
        rows = np.array([i])
        try:
            out = builtin.impl([c.take(rows) for c in cols], 1)
        except _ROW_ERRORS:
            invalid[i] = True
            continue
        v = out[0][0]
        if result_type.is_numeric and not isinstance(v, (float, int, np.floating, np.integer)):
            invalid[i] = True
            continue
        values[i] = v
        invalid[i] = bool(out[2][0]) if len(out) > 2 else missing_mask(out[0])[0]
    return values, result_type, invalid


def _finish(expr: Apply, scope: Scope, raw, result_type: DataType, op: OpType, constant: bool) -> Compiled:
    """Wrap a function's raw result with PMML's rules for Apply.

    "If one of the input fields of a function is a missing value, the result evaluates to a
    missing value" - or to ``mapMissingTo`` when given. An invalid result follows
    ``invalidValueTreatment``: returnInvalid fails the record, asMissing makes it missing, asIs
    keeps the computed value (e.g. +-Infinity for a division by zero). ``defaultValue`` replaces
    a missing result of the function itself.
    """
    treatment, function = expr.invalid_value_treatment, expr.function
    map_missing = None if expr.map_missing_to is None else parse_typed(expr.map_missing_to, result_type, "attribute mapMissingTo of Apply", expr.loc)
    default = None if expr.default_value is None else parse_typed(expr.default_value, result_type, "attribute defaultValue of Apply", expr.loc)
    message = f"Function '{function}' has no valid result for its arguments{_where(expr.loc)}"

    def fn(frame: Frame) -> Column:
        col, any_missing, invalid = raw(frame)
        values = col.values
        changed = False
        if any_missing.any() or (invalid.any() and treatment != "asIs"):
            values = values.copy()
            changed = True
            empty = np.nan if values.dtype.kind == "f" else None
            values[any_missing] = empty
            if treatment != "asIs":
                values[invalid] = empty
        if invalid.any() and treatment == "returnInvalid":
            frame.fail(invalid, message, InvalidValue)
        if changed:
            col = Column(values, col.data_type, col.op_type)
        if map_missing is not None and any_missing.any():
            col = _fill_missing_rows(col, any_missing, map_missing)
        if default is not None:
            rest = missing_mask(col.values) & ~any_missing
            if rest.any():
                col = _fill_missing_rows(col, rest, default)
        return col

    compiled = Compiled(fn, result_type, op)
    if constant:
        folding = Frame.top(1)
        col = compiled.fn(folding)
        if not folding.sink.failed().any():
            compiled.constant = col
    return compiled


def _validity(expr: Apply, scope: Scope, valid: bool):
    """isValid(field) / isNotValid(field): whether a present value is valid (or invalid) per the
    field's declaration (its Values and Intervals); a missing value is neither."""
    if len(expr.args) != 1 or not isinstance(expr.args[0], FieldRef):
        raise InvalidMarkup(f"Function '{expr.function}' takes one FieldRef argument{_where(expr.loc)}")
    name = expr.args[0].field
    decl = scope.lookup(name, expr.loc)

    def raw(frame: Frame):
        col = frame.get(name)
        present = ~missing_mask(col.values)
        bad = decl.validity(col)
        hit = present & (~bad if valid else bad)
        none = np.zeros(frame.n, dtype=bool)
        return Column(hit.astype(np.float64), DataType.BOOLEAN, OpType.CATEGORICAL), none, none

    return raw, DataType.BOOLEAN, OpType.CATEGORICAL, False


def _lazy_if(expr: Apply, scope: Scope):
    """if(condition, then[, else]), each branch evaluated only on the rows that take it (so a
    guarded recursive DefineFunction ends, and a branch's invalid values do not fail other rows).
    "The ELSE part is optional. If the ELSE part is absent, then a missing value is returned";
    a missing condition gives a missing value."""
    if not 2 <= len(expr.args) <= 3:
        raise InvalidMarkup(f"Function 'if' takes 2..3 arguments, got {len(expr.args)}{_where(expr.loc)}")
    cond = compile_expression(expr.args[0], scope)
    depth = getattr(scope, "if_depth", 0)
    scope.if_depth = depth + 1  # type: ignore[attr-defined]
    try:
        branches = [compile_expression(a, scope) for a in expr.args[1:]]
    finally:
        scope.if_depth = depth  # type: ignore[attr-defined]
    dt = if_type(branches[0].data_type, branches[1].data_type if len(branches) > 1 else None)
    op = branches[0].op_type if len(branches) == 1 or branches[0].op_type is branches[1].op_type else OpType.CATEGORICAL
    if dt is DataType.STRING:
        op = OpType.CATEGORICAL

    def raw(frame: Frame):
        c = as_float(cond(frame))
        out = np.full(frame.n, np.nan) if dt.is_numeric else np.full(frame.n, None, dtype=object)
        for branch, value in zip(branches, (1.0, 0.0)):
            rows = np.flatnonzero(c == value)
            if len(rows) == 0:
                continue
            sub = frame if len(rows) == frame.n else frame.child(rows)
            sub.call_depth = getattr(frame, "call_depth", 0)  # type: ignore[attr-defined]
            out[rows] = convert_column(branch(sub), dt).values
        none = np.zeros(frame.n, dtype=bool)
        return Column(out, dt, op), none, none

    constant = cond.constant is not None and all(b.constant is not None for b in branches)
    return raw, dt, op, constant


def _fill_missing_rows(col: Column, mask: np.ndarray, value) -> Column:
    values = col.values.copy()
    if values.dtype.kind == "f" and not isinstance(value, float):
        values = values.astype(object)
    values[mask] = value
    return Column(values, col.data_type, col.op_type)


_MAX_DEPTH = 32  # nested calls of one DefineFunction (a guarded recursion deeper than this fails the rows)


def _user_function(expr: Apply, args: list[Compiled], scope: Scope) -> Compiled:
    """Apply of a DefineFunction: bind ParameterFields to the argument columns, evaluate the body.

    A function may call itself (directly or through others) only inside a branch of ``if``: a
    recursion that no condition can stop is refused at load. A guarded recursion deeper than
    ``_MAX_DEPTH`` calls fails the rows that reach that depth.
    """
    definition = scope.functions[expr.function]
    if len(args) != len(definition.parameters):
        raise InvalidMarkup(f"Function '{expr.function}' takes {len(definition.parameters)} arguments, got {len(args)}{_where(expr.loc)}")
    compiled_functions = scope.compiled_functions
    name = expr.function
    # a body is compiled once per function and argument types (its static typing depends on them)
    key = (name, tuple((p.data_type or a.data_type).value for p, a in zip(definition.parameters, args)))
    if key not in compiled_functions:
        if name in scope.compiling:
            if not getattr(scope, "if_depth", 0):
                raise InvalidMarkup(
                    f"Function '{name}' calls itself without a condition that could end the recursion (infinite recursion){_where(expr.loc)}"
                )
        else:
            scope.compiling.add(name)
            try:
                fn_scope = Scope(
                    {p.name: _param_decl(p, a) for p, a in zip(definition.parameters, args)},
                    functions=scope.functions,
                    parameters=frozenset(p.name for p in definition.parameters),
                )
                fn_scope.compiled_functions = compiled_functions
                fn_scope.compiling = scope.compiling
                fn_scope.if_depth = getattr(scope, "if_depth", 0)  # type: ignore[attr-defined]
                body = compile_expression(definition.expression, fn_scope)
            finally:
                scope.compiling.discard(name)
            compiled_functions[key] = compiled_functions[name] = body
    params = list(definition.parameters)
    known = compiled_functions.get(key) or compiled_functions.get(name)
    body_type = known.data_type if known is not None else None  # type: ignore[attr-defined]
    dt = definition.data_type or body_type or DataType.DOUBLE

    def fn(frame: Frame) -> Column:
        depth = getattr(frame, "call_depth", 0)
        if depth >= _MAX_DEPTH:
            frame.fail(np.ones(frame.n, dtype=bool), f"Function '{name}' recursion deeper than {_MAX_DEPTH} calls{_where(expr.loc)}", EvaluationError)
            return empty_column(frame.n, dt, definition.op_type)
        inner = Frame(frame.n, frame.sink, frame.row_ids)
        inner.call_depth = depth + 1  # type: ignore[attr-defined]
        for p, a in zip(params, args):
            col = a(frame)
            if p.data_type is not None:
                col = convert_column(col, p.data_type)
            inner.columns[p.name] = col
        body = compiled_functions.get(key) or compiled_functions[name]  # a recursive call binds late
        return convert_column(body(inner), dt, definition.op_type)  # type: ignore[operator]

    return Compiled(fn, dt, definition.op_type)


def _param_decl(p: ParameterField, arg: Compiled) -> FieldDecl:
    return FieldDecl(p.name, p.data_type or arg.data_type, p.op_type or arg.op_type)


def _text_index(expr: TextIndex, scope: Scope) -> Compiled:
    from quickscore.schema.text import TextIndexEvaluator

    scope.lookup(expr.text_field, expr.loc)
    evaluator = TextIndexEvaluator(expr, compile_expression(expr.term, scope))
    dt = DataType.DOUBLE if expr.local_term_weights in ("logarithmic", "augmentedNormalizedTermFrequency") else DataType.INTEGER
    return Compiled(evaluator, dt, OpType.CONTINUOUS)


def _group_codes(frame: Frame, names: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Per row, a code of its block/group (the values of ``names``) and whether any is missing."""
    import pandas as pd

    if not names:
        return np.zeros(frame.n, dtype=np.intp), np.zeros(frame.n, dtype=bool)
    cols = [frame.get(nm).values for nm in names]
    missing = np.zeros(frame.n, dtype=bool)
    for c in cols:
        missing |= missing_mask(c)
    keys = pd.MultiIndex.from_arrays([pd.Index(c, dtype=object) for c in cols]) if len(cols) > 1 else pd.Index(cols[0], dtype=object)
    codes, _ = pd.factorize(keys)
    return np.asarray(codes, dtype=np.intp), missing


def _shift_within(codes: np.ndarray, k: int) -> np.ndarray:
    """For each row, the row ``k`` places earlier among the rows of its group (-1 if none)."""
    order = np.argsort(codes, kind="stable")
    sorted_codes = codes[order]
    pos = np.arange(len(codes))
    prev = pos - k
    ok = prev >= 0
    ok[ok] &= sorted_codes[prev[ok]] == sorted_codes[ok]
    out = np.full(len(codes), -1, dtype=np.intp)
    out[order[ok]] = order[prev[ok]]
    return out


_LAG_AGGREGATES = {
    "avg": np.nanmean, "max": np.nanmax, "median": np.nanmedian, "min": np.nanmin, "product": np.nanprod,
    "sum": np.nansum, "stddev": lambda m, axis: np.nanstd(m, axis=axis, ddof=1),
}


def _lag(expr: Lag, scope: Scope) -> Compiled:
    """Lag: "the value of the field n records back" in the record stream, within the block of
    records that share the values of the BlockIndicator fields. quickscore's record stream is the
    batch, in row order (a one-record call has no previous record: missing). With ``aggregate``,
    the aggregate of the values ``n`` .. ``n + m - 1`` records back (missing ones ignored)."""
    decl = scope.lookup(expr.field, expr.loc)
    for b in expr.block_indicators:
        scope.lookup(b, expr.loc)
    if expr.n < 1:
        raise InvalidMarkup(f"Lag of field '{expr.field}' has n={expr.n}, expected a positive integer{_where(expr.loc)}")
    window = 1
    if expr.aggregate != "none":
        if expr.m is None or expr.m < 1:
            raise InvalidMarkup(f"Lag of field '{expr.field}' with aggregate='{expr.aggregate}' needs a positive m{_where(expr.loc)}")
        if not decl.data_type.is_numeric:
            raise InvalidMarkup(f"Lag aggregate '{expr.aggregate}' of the non-numeric field '{expr.field}'{_where(expr.loc)}")
        window = expr.m
    dt = decl.data_type if expr.aggregate in ("none", "min", "max", "sum", "product") else DataType.DOUBLE
    name, blocks, n, how = expr.field, expr.block_indicators, expr.n, expr.aggregate

    def fn(frame: Frame) -> Column:
        values = frame.get(name).values
        codes, _ = _group_codes(frame, blocks)
        if how == "none":
            prev = _shift_within(codes, n)
            out = np.full(frame.n, np.nan) if values.dtype.kind == "f" else np.full(frame.n, None, dtype=object)
            hit = prev >= 0
            out[hit] = values[prev[hit]]
            return Column(out, dt, decl.op_type)
        stacked = np.full((frame.n, window), np.nan)
        for j in range(window):
            prev = _shift_within(codes, n + j)
            hit = prev >= 0
            stacked[hit, j] = values[prev[hit]]
        with np.errstate(all="ignore"):
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                out = _LAG_AGGREGATES[how](stacked, axis=1)
        out = np.where(np.isnan(stacked).all(axis=1), np.nan, out)
        return Column(out, dt, OpType.CONTINUOUS)

    return Compiled(fn, dt, decl.op_type if how == "none" else OpType.CONTINUOUS)


_GROUP_FUNCTIONS = {"count": "count", "sum": "sum", "average": "mean", "min": "min", "max": "max"}


def _aggregate_expr(expr: Aggregate, scope: Scope) -> Compiled:
    """Aggregate: count, sum, average, min or max of ``field`` over the records that share the value
    of ``groupField`` - the records of the batch (a transaction stream scored in one batch). An
    Aggregate without groupField (over the whole, unbounded record stream), with sqlWhere, or with
    function="multiset" (a set-valued result) has no per-batch meaning here and is refused."""
    if expr.function not in _GROUP_FUNCTIONS:
        raise UnsupportedMarkup(f"Aggregate function '{expr.function}' (a set-valued result) is not supported{_where(expr.loc)}")
    if expr.group_field is None:
        raise UnsupportedMarkup(
            f"Aggregate of field '{expr.field}' without groupField aggregates the whole record stream, which a batch does not hold{_where(expr.loc)}"
        )
    if expr.sql_where is not None:
        raise UnsupportedMarkup(f"Aggregate with sqlWhere is not supported{_where(expr.loc)}")
    decl = scope.lookup(expr.field, expr.loc)
    scope.lookup(expr.group_field, expr.loc)
    if expr.function != "count" and not decl.data_type.is_numeric:
        raise InvalidMarkup(f"Aggregate '{expr.function}' of the non-numeric field '{expr.field}'{_where(expr.loc)}")
    dt = DataType.INTEGER if expr.function == "count" else (DataType.DOUBLE if expr.function == "average" else decl.data_type)
    name, group, how = expr.field, (expr.group_field,), _GROUP_FUNCTIONS[expr.function]

    def fn(frame: Frame) -> Column:
        import pandas as pd

        values = frame.get(name).values
        codes, missing_group = _group_codes(frame, group)
        present = ~missing_mask(values)
        series = pd.Series(present.astype(np.float64) if how == "count" else values.astype(np.float64))
        if how == "count":
            out = series.groupby(codes).transform("sum").to_numpy(dtype=np.float64)
        else:
            out = series.groupby(codes).transform(how).to_numpy(dtype=np.float64)
        out = np.where(missing_group, np.nan, out)
        return Column(out, dt, OpType.CONTINUOUS)

    return Compiled(fn, dt, OpType.CONTINUOUS)


_COMPILERS = {
    Constant: _constant,
    FieldRef: _field_ref,
    NormContinuous: _norm_continuous,
    NormDiscrete: _norm_discrete,
    Discretize: _discretize,
    MapValues: _map_values,
    Apply: _apply,
    TextIndex: _text_index,
    Lag: _lag,
    Aggregate: _aggregate_expr,
}


def compile_expression(expr: Expression, scope: Scope) -> Compiled:
    compiler = _COMPILERS.get(type(expr))
    if compiler is None:
        raise UnsupportedMarkup(f"Unsupported expression {type(expr).__name__}{_where(getattr(expr, 'loc', None))}")
    return compiler(expr, scope)  # type: ignore[operator]


def compile_derived_fields(fields: tuple[DerivedField, ...], scope: Scope) -> list[tuple[str, Callable[[Frame], Column]]]:
    """Declare derived fields in ``scope`` and compile them (in any order: they may refer to each other)."""
    for f in fields:
        scope.declare(FieldDecl.from_derived_field(f))
    out = []
    for f in fields:
        compiled = compile_expression(f.expression, scope)
        out.append((f.name, _retype(compiled, f)))
    return out


def _retype(compiled: Compiled, f: DerivedField) -> Callable[[Frame], Column]:
    """The expression's value in the DerivedField's dataType. A number that is not an integer has
    no integer value: those records fail (InvalidValue), as in the reference implementation, rather
    than being truncated silently."""
    dt, op = f.data_type, f.op_type
    check_integer = dt is DataType.INTEGER and compiled.data_type is not DataType.INTEGER
    where = f" at {f.loc}" if f.loc else ""

    def fn(frame: Frame) -> Column:
        col = compiled(frame)
        if check_integer and col.numeric:
            v = col.values
            with np.errstate(invalid="ignore"):
                bad = ~np.isnan(v) & ((v != np.floor(v)) | np.isinf(v))
            if bad.any():
                for i in np.flatnonzero(bad).tolist():
                    frame.fail_at(i, f"DerivedField '{f.name}' (integer) cannot hold the value {float(v[i])!r}{where}", InvalidValue)
                col = Column(np.where(bad, np.nan, v), col.data_type, col.op_type)
        return convert_column(col, dt, op)

    return fn
