"""Typed columns: how a field's values are held at run time, and parsing into a dataType.

A column is one numpy array per field:

* numeric dataTypes (integer, float, double, boolean, dateDaysSince[..], timeSeconds,
  dateTimeSecondsSince[..]) -> ``float64``, NaN = missing. ``float`` values are rounded
  to float32 first (PMML float semantics), integers are exact up to 2**53, booleans are
  1.0 / 0.0.
* string -> ``object`` array of ``str``, None = missing.
* date, time, dateTime -> ``object`` array of ``datetime.date/time/datetime``, None = missing.
"""

from __future__ import annotations

import datetime as _dt
import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from quickscore.ir.types import DataType, OpType

_TRUE = {"true", "1", "1.0", "yes"}
_FALSE = {"false", "0", "0.0", "no"}
_EPOCHS = {"0": _dt.date(1, 1, 1), "1960": _dt.date(1960, 1, 1), "1970": _dt.date(1970, 1, 1), "1980": _dt.date(1980, 1, 1)}
EPOCHS = _EPOCHS

# PMML (Transformations, dates and times): dates are written as XML Schema / ISO 8601 "YYYY-MM-DD",
# times "hh:mm:ss" (fractional seconds allowed), dateTimes "YYYY-MM-DDThh:mm:ss" - the extended
# format only (as Java's ISO_LOCAL_DATE / ISO_LOCAL_TIME / ISO_LOCAL_DATE_TIME read them, minutes
# and seconds optional in a time). Python's fromisoformat reads more (20200101, 2020-W01-1, a
# blank instead of T), which PMML does not.
_DATE_RE = re.compile(r"[+-]?\d{4,}-\d{2}-\d{2}")
_TIME_RE = re.compile(r"\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?")
_DATETIME_RE = re.compile(_DATE_RE.pattern + "T" + _TIME_RE.pattern)


def _time_of(text: str) -> _dt.time:
    hms, _, frac = text.partition(".")
    parts = [int(p) for p in hms.split(":")]
    micro = int((frac + "000000")[:6]) if frac else 0
    return _dt.time(parts[0], parts[1], parts[2] if len(parts) > 2 else 0, micro)


@dataclass
class Column:
    """A field's values for the rows of a batch, with its type."""

    values: np.ndarray
    data_type: DataType
    op_type: OpType

    @property
    def numeric(self) -> bool:
        return self.values.dtype.kind == "f"

    def missing(self) -> np.ndarray:
        return missing_mask(self.values)

    def take(self, rows: np.ndarray) -> "Column":
        return Column(self.values[rows], self.data_type, self.op_type)


def missing_mask(values: np.ndarray) -> np.ndarray:
    if values.dtype.kind == "f":
        return np.isnan(values)
    return np.fromiter((v is None for v in values), dtype=bool, count=len(values))


def empty_column(n: int, data_type: DataType, op_type: OpType) -> Column:
    if data_type.is_numeric:
        return Column(np.full(n, np.nan), data_type, op_type)
    return Column(np.full(n, None, dtype=object), data_type, op_type)


def is_missing_scalar(v: Any) -> bool:
    """None, NaN and pandas NA/NaT are missing input. (The empty string is a value for a string
    field, as in JPMML-Evaluator; :func:`parse_column` reads it as missing for other types.)"""
    if v is None:
        return True
    if isinstance(v, float):
        return math.isnan(v)
    if isinstance(v, str):
        return False
    try:
        import pandas as pd

        return bool(pd.isna(v)) if not isinstance(v, (list, tuple, np.ndarray)) else False
    except (TypeError, ValueError):
        return False


class ParseError(ValueError):
    """A value cannot be read as the requested dataType."""


def _to_float(v: Any) -> float:
    if isinstance(v, (bool, np.bool_)):
        return 1.0 if v else 0.0
    if isinstance(v, (int, float, np.integer, np.floating)):
        return float(v)
    if isinstance(v, str):
        s = v.strip()
        if "_" in s or not s:
            raise ParseError(v)
        try:
            return float(s)
        except ValueError:
            raise ParseError(v) from None
    raise ParseError(v)


def _to_int(v: Any) -> float:
    x = _to_float(v)
    if not math.isfinite(x) or x != math.floor(x):
        raise ParseError(v)
    return x


def _to_bool(v: Any) -> float:
    if isinstance(v, str):
        s = v.strip().lower()
        if s in _TRUE:
            return 1.0
        if s in _FALSE:
            return 0.0
        raise ParseError(v)
    x = _to_float(v)
    if x in (0.0, 1.0):
        return x
    raise ParseError(v)


def _to_float32(v: Any) -> float:
    with np.errstate(over="ignore"):  # beyond float32's range is +-inf, as Java's (float) cast
        return float(np.float32(_to_float(v)))


def format_number(x: float) -> str:
    """A number as PMML/Java would print it for a string context: integral values without '.0'."""
    if math.isfinite(x) and x == math.floor(x) and abs(x) < 2**63:
        return str(int(x))
    return repr(float(x))


def _to_str(v: Any) -> str:
    if isinstance(v, str):
        return v
    if isinstance(v, (bool, np.bool_)):
        return "true" if v else "false"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        return format_number(float(v))
    return str(v)


def _parse_date(v: Any) -> _dt.date:
    if isinstance(v, _dt.datetime):
        return v.date()
    if isinstance(v, _dt.date):
        return v
    text = str(v).strip()
    if not _DATE_RE.fullmatch(text):
        raise ParseError(v)
    try:
        return _dt.date.fromisoformat(text)
    except ValueError:
        raise ParseError(v) from None


def _parse_time(v: Any) -> _dt.time:
    if isinstance(v, _dt.time):
        return v
    text = str(v).strip()
    if not _TIME_RE.fullmatch(text):
        raise ParseError(v)
    try:
        return _time_of(text)
    except ValueError:
        raise ParseError(v) from None


def _parse_datetime(v: Any) -> _dt.datetime:
    if isinstance(v, _dt.datetime):
        return v
    if isinstance(v, _dt.date):
        return _dt.datetime(v.year, v.month, v.day)
    text = str(v).strip()
    if not _DATETIME_RE.fullmatch(text):
        raise ParseError(v)
    day, _, time = text.partition("T")
    try:
        return _dt.datetime.combine(_parse_date(day), _time_of(time))
    except ValueError:
        raise ParseError(v) from None


def _days_since(epoch: str):
    origin = _EPOCHS[epoch]

    def parse(v: Any) -> float:
        if isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool):
            return float(v)
        return float((_parse_date(v) - origin).days)

    return parse


def _seconds_since(epoch: str):
    origin = _dt.datetime.combine(_EPOCHS[epoch], _dt.time())

    def parse(v: Any) -> float:
        if isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool):
            return float(v)
        return (_parse_datetime(v) - origin).total_seconds()

    return parse


def _time_seconds(v: Any) -> float:
    if isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool):
        return float(v)
    t = _parse_time(v)
    return t.hour * 3600 + t.minute * 60 + t.second + t.microsecond / 1e6


PARSERS = {
    DataType.STRING: _to_str,
    DataType.INTEGER: _to_int,
    DataType.FLOAT: _to_float32,
    DataType.DOUBLE: _to_float,
    DataType.BOOLEAN: _to_bool,
    DataType.DATE: _parse_date,
    DataType.TIME: _parse_time,
    DataType.DATE_TIME: _parse_datetime,
    DataType.TIME_SECONDS: _time_seconds,
    **{DataType(f"dateDaysSince[{e}]"): _days_since(e) for e in _EPOCHS},
    **{DataType(f"dateTimeSecondsSince[{e}]"): _seconds_since(e) for e in _EPOCHS},
}


def parse_value(v: Any, data_type: DataType) -> Any:
    """Parse one non-missing value into ``data_type``'s run-time representation; ParseError if impossible."""
    return PARSERS[data_type](v)


def parse_column(raw: Any, n: int, data_type: DataType, op_type: OpType) -> tuple[Column, np.ndarray, np.ndarray]:
    """Turn raw input values into a typed column.

    Returns ``(column, missing, unparseable)``: ``missing`` marks missing input, ``unparseable``
    marks present values that cannot be read as ``data_type`` (they are invalid; the column
    holds missing there).
    """
    arr = raw if isinstance(raw, np.ndarray) else np.asarray(raw, dtype=object)
    if data_type.is_numeric and arr.dtype.kind in "fiub":
        # float64 input is used as it is (nothing downstream writes into a column in place).
        values = arr if arr.dtype == np.float64 else arr.astype(np.float64)
        if data_type is DataType.FLOAT and values.ndim == 1:
            # PMML 4.4, DataDictionary: "float: 32-bit floating-point number". The values are
            # rounded to float32 (out of range -> +-inf) and held as float64, as
            # values.astype(np.float32).astype(np.float64) and np.isnan would give them, in
            # one pass (kernels.columns.round32).
            from quickscore.kernels.columns import round32

            rounded, missing = np.empty(len(values)), np.empty(len(values), dtype=bool)
            round32(values, rounded, missing)
            values = rounded
        else:
            if data_type is DataType.FLOAT:
                with np.errstate(over="ignore"):
                    values = values.astype(np.float32).astype(np.float64)
            missing = np.isnan(values)
        bad = np.zeros(n, dtype=bool)
        if data_type is DataType.INTEGER:
            bad = ~missing & ((values != np.floor(values)) | ~np.isfinite(values))
        elif data_type is DataType.BOOLEAN:
            bad = ~missing & (values != 0.0) & (values != 1.0)
        if bad.any():
            values = values.copy()
            values[bad] = np.nan
        return Column(values, data_type, op_type), missing, bad
    if arr.dtype.kind == "M" and data_type.is_temporal_object:
        arr = arr.astype(object)
    parser = PARSERS[data_type]
    out = np.full(n, np.nan) if data_type.is_numeric else np.full(n, None, dtype=object)
    missing = np.zeros(n, dtype=bool)
    bad = np.zeros(n, dtype=bool)
    blank_is_missing = data_type is not DataType.STRING
    for i, v in enumerate(arr.tolist() if arr.dtype != object else arr):
        if is_missing_scalar(v) or (blank_is_missing and isinstance(v, str) and not v.strip()):
            missing[i] = True
            continue
        try:
            out[i] = parser(v)
        except (ParseError, ValueError, TypeError, OverflowError):
            bad[i] = True
    return Column(out, data_type, op_type), missing, bad


def convert_column(col: Column, data_type: DataType, op_type: OpType | None = None) -> Column:
    """Re-type a column (e.g. an expression result into a DerivedField's dataType)."""
    op = op_type or col.op_type
    if col.data_type is data_type:
        return Column(col.values, data_type, op)
    if data_type.is_numeric and col.numeric:
        values = col.values
        if data_type is DataType.FLOAT:
            values = values.astype(np.float32).astype(np.float64)
        elif data_type is DataType.INTEGER:
            values = np.trunc(values)
        return Column(values, data_type, op)
    n = len(col.values)
    src = col.values
    if col.numeric and col.data_type is DataType.BOOLEAN and data_type is DataType.STRING:
        out = np.array([None if math.isnan(v) else ("true" if v else "false") for v in src], dtype=object)
        return Column(out, data_type, op)
    if col.numeric and data_type is DataType.STRING and col.data_type in (DataType.DOUBLE, DataType.FLOAT):
        # A computed double as text, the way the reference implementation (Java's Double.toString)
        # writes it: 3.0 -> "3.0", 1e-9 -> "1.0E-9". (Raw input values keep _to_str: 3.0 -> "3".)
        from quickscore.schema.javafmt import double_text

        single = col.data_type is DataType.FLOAT
        out = np.array([None if math.isnan(v) else double_text(v, single) for v in src], dtype=object)
        return Column(out, data_type, op)
    converted, missing, bad = parse_column(
        src if src.dtype == object else np.array([None if math.isnan(v) else v for v in src], dtype=object),
        n,
        data_type,
        op,
    )
    return converted
