"""Compile IR expressions into column-wise callables, once at load.

A compiled expression knows its result dataType/optype and maps a Frame to a Column.
Constants are parsed at load; constant sub-expressions of Apply are folded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from quickscore.errors import InvalidMarkup, InvalidValue, UnsupportedMarkup
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
from quickscore.ir.types import DataType, OpType
from quickscore.runtime.frame import Frame
from quickscore.schema.fields import FieldDecl, in_interval, parse_typed
from quickscore.schema.functions import BUILTINS, as_float
from quickscore.schema.scope import Scope
from quickscore.schema.values import Column, ParseError, convert_column, missing_mask, parse_value


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
        hit = (values == target) if values.dtype.kind == "f" else np.fromiter((v == target for v in values), bool, len(values))
        y = np.where(miss, np.nan if fill is None else fill, hit.astype(np.float64))
        return Column(y, DataType.DOUBLE, OpType.CONTINUOUS)

    return Compiled(fn, DataType.DOUBLE, OpType.CONTINUOUS)


def _typed_array(values: list, data_type: DataType) -> np.ndarray:
    if data_type.is_numeric:
        return np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    return np.array(values, dtype=object)


def _discretize(expr: Discretize, scope: Scope) -> Compiled:
    scope.lookup(expr.field, expr.loc)
    dt = expr.data_type or DataType.STRING
    bins = [(b.interval, parse_typed(b.bin_value, dt, "binValue of DiscretizeBin", expr.loc)) for b in expr.bins]
    fill = None if expr.map_missing_to is None else parse_typed(expr.map_missing_to, dt, "mapMissingTo of Discretize", expr.loc)
    default = None if expr.default_value is None else parse_typed(expr.default_value, dt, "defaultValue of Discretize", expr.loc)
    name = expr.field

    def fn(frame: Frame) -> Column:
        x = as_float(frame.get(name))
        out = [default] * len(x)
        done = np.isnan(x)
        for interval, value in bins:
            hit = ~done & in_interval(x, interval)
            for i in np.flatnonzero(hit).tolist():
                out[i] = value
            done |= hit
        for i in np.flatnonzero(np.isnan(x)).tolist():
            out[i] = fill
        return Column(_typed_array(out, dt), dt, OpType.CATEGORICAL)

    return Compiled(fn, dt, OpType.CATEGORICAL)


def _map_values(expr: MapValues, scope: Scope) -> Compiled:
    dt = expr.data_type or DataType.STRING
    decls = [scope.lookup(p.field, expr.loc) for p in expr.field_column_pairs]
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
    names = [p.field for p in expr.field_column_pairs]

    def fn(frame: Frame) -> Column:
        cols = [frame.get(nm).values for nm in names]
        miss = np.zeros(frame.n, dtype=bool)
        for c in cols:
            miss |= missing_mask(c)
        out = []
        for i in range(frame.n):
            if miss[i]:
                out.append(fill)
            else:
                out.append(table.get(tuple(c[i] for c in cols), default))
        return Column(_typed_array(out, dt), dt, OpType.CATEGORICAL)

    return Compiled(fn, dt, OpType.CATEGORICAL)


def _apply(expr: Apply, scope: Scope) -> Compiled:
    args = [compile_expression(a, scope) for a in expr.args]
    builtin = BUILTINS.get(expr.function)
    if builtin is None:
        function = scope.functions.get(expr.function)
        if function is None:
            raise UnsupportedMarkup(f"Unsupported function '{expr.function}' in Apply{_where(expr.loc)}")
        return _user_function(expr, args, scope)
    if len(args) < builtin.min_args or (builtin.max_args is not None and len(args) > builtin.max_args):
        raise InvalidMarkup(f"Function '{expr.function}' takes {builtin.min_args}..{builtin.max_args or 'n'} arguments, got {len(args)}{_where(expr.loc)}")
    function, treatment = expr.function, expr.invalid_value_treatment
    # Infer the result type once, from a one-row evaluation on typed placeholders.
    probe = [Column(np.array([1.0]) if a.data_type.is_numeric else np.array(["x"], dtype=object), a.data_type, a.op_type) for a in args]
    try:
        _, result_type = builtin.impl(probe, 1)
    except (TypeError, ValueError, IndexError):
        result_type = DataType.DOUBLE
    op = builtin.op_type if result_type is not DataType.STRING else OpType.CATEGORICAL
    map_missing = None if expr.map_missing_to is None else parse_typed(expr.map_missing_to, result_type, "mapMissingTo of Apply", expr.loc)
    default = None if expr.default_value is None else parse_typed(expr.default_value, result_type, "defaultValue of Apply", expr.loc)

    def fn(frame: Frame) -> Column:
        cols = [a(frame) for a in args]
        any_missing = np.zeros(frame.n, dtype=bool)
        for c in cols:
            any_missing |= missing_mask(c.values)
        values, dt = builtin.impl(cols, frame.n)
        result_missing = missing_mask(values)
        if not builtin.missing_aware:
            # "If one of the input fields of a function is a missing value, the result evaluates to missing."
            if any_missing.any():
                values = values.copy()
                values[any_missing] = np.nan if values.dtype.kind == "f" else None
            invalid = result_missing & ~any_missing
            if invalid.any():
                if treatment == "returnInvalid":
                    frame.fail(invalid, f"Function '{function}' has no valid result for its arguments{_where(expr.loc)}", InvalidValue)
        col = Column(values, dt, op)
        if map_missing is not None and any_missing.any():
            col = _fill_missing_rows(col, any_missing, map_missing)
        if default is not None:
            rest = missing_mask(col.values) & ~any_missing
            if rest.any():
                col = _fill_missing_rows(col, rest, default)
        return col

    compiled = Compiled(fn, result_type, op)
    if all(a.constant is not None for a in args):
        folding = Frame.top(1)
        col = compiled.fn(folding)
        if not folding.sink.failed().any():
            compiled.constant = col
    return compiled


def _fill_missing_rows(col: Column, mask: np.ndarray, value) -> Column:
    values = col.values.copy()
    if values.dtype.kind == "f" and not isinstance(value, float):
        values = values.astype(object)
    values[mask] = value
    return Column(values, col.data_type, col.op_type)


def _user_function(expr: Apply, args: list[Compiled], scope: Scope) -> Compiled:
    """Apply of a DefineFunction: bind ParameterFields to the argument columns, evaluate the body."""
    definition = scope.functions[expr.function]
    if len(args) != len(definition.parameters):
        raise InvalidMarkup(f"Function '{expr.function}' takes {len(definition.parameters)} arguments, got {len(args)}{_where(expr.loc)}")
    body = scope.compiled_functions.get(expr.function)
    if body is None:
        if expr.function in scope.compiling:
            raise UnsupportedMarkup(f"Function '{expr.function}' calls itself recursively{_where(definition.loc)}")
        scope.compiling.add(expr.function)
        try:
            fn_scope = Scope(
                {p.name: _param_decl(p, a) for p, a in zip(definition.parameters, args)},
                functions=scope.functions,
                parameters=frozenset(p.name for p in definition.parameters),
            )
            fn_scope.compiled_functions = scope.compiled_functions
            fn_scope.compiling = scope.compiling
            body = compile_expression(definition.expression, fn_scope)
        finally:
            scope.compiling.discard(expr.function)
        scope.compiled_functions[expr.function] = body
    params = [p for p in definition.parameters]
    dt = definition.data_type or body.data_type  # type: ignore[attr-defined]

    def fn(frame: Frame) -> Column:
        inner = Frame(frame.n, frame.sink, frame.row_ids)
        for p, a in zip(params, args):
            col = a(frame)
            if p.data_type is not None:
                col = convert_column(col, p.data_type)
            inner.columns[p.name] = col
        return convert_column(body(inner), dt, definition.op_type)  # type: ignore[operator]

    return Compiled(fn, dt, definition.op_type)


def _param_decl(p: ParameterField, arg: Compiled) -> FieldDecl:
    return FieldDecl(p.name, p.data_type or arg.data_type, p.op_type or arg.op_type)


def _text_index(expr: TextIndex, scope: Scope) -> Compiled:
    from quickscore.schema.text import TextIndexEvaluator

    scope.lookup(expr.text_field, expr.loc)
    evaluator = TextIndexEvaluator(expr, compile_expression(expr.term, scope))
    dt = DataType.DOUBLE if expr.local_term_weights == "logarithmic" else DataType.INTEGER
    return Compiled(evaluator, dt, OpType.CONTINUOUS)


_COMPILERS = {
    Constant: _constant,
    FieldRef: _field_ref,
    NormContinuous: _norm_continuous,
    NormDiscrete: _norm_discrete,
    Discretize: _discretize,
    MapValues: _map_values,
    Apply: _apply,
    TextIndex: _text_index,
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
    dt, op = f.data_type, f.op_type

    def fn(frame: Frame) -> Column:
        return convert_column(compiled(frame), dt, op)

    return fn
