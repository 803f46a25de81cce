"""Field declarations resolved at load: type, valid/invalid/missing values, intervals."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from quickscore.errors import InvalidMarkup
from quickscore.ir import DataField, DerivedField, Interval, Loc
from quickscore.ir.types import DataType, OpType
from quickscore.schema.values import Column, ParseError, missing_mask, parse_value


def parse_typed(text: str, data_type: DataType, what: str, loc: Loc | None = None):
    """Parse a value written in the model file; InvalidMarkup naming ``what`` if impossible."""
    try:
        return parse_value(text, data_type)
    except (ParseError, ValueError, TypeError):
        where = f" at {loc}" if loc else ""
        raise InvalidMarkup(f"Invalid value '{text}' for {what} ({data_type.value}){where}") from None


@dataclass
class FieldDecl:
    """What is known about a field at load: enough to type, validate and compare its values."""

    name: str
    data_type: DataType
    op_type: OpType
    valid: tuple = ()  # parsed valid values, in order (the ordering of ordinal fields)
    invalid: frozenset = frozenset()
    missing: frozenset = frozenset()
    missing_raw: frozenset = frozenset()  # the file's spellings of missing values
    intervals: tuple[Interval, ...] = ()
    display: dict = field(default_factory=dict)
    loc: Loc | None = None

    @classmethod
    def from_data_field(cls, f: DataField) -> "FieldDecl":
        def parsed(texts):
            out = []
            for t in texts:
                try:
                    out.append(parse_value(t, f.data_type))
                except (ParseError, ValueError, TypeError):
                    pass  # a spelling that is not of the dataType (e.g. "NA" for a double) matches raw only
            return out

        return cls(
            name=f.name,
            data_type=f.data_type,
            op_type=f.op_type,
            valid=tuple(parse_typed(v, f.data_type, f"Value of DataField '{f.name}'", f.loc) for v in f.values),
            invalid=frozenset(parsed(f.invalid_values)),
            missing=frozenset(parsed(f.missing_values)),
            missing_raw=frozenset(f.missing_values),
            intervals=f.intervals,
            display={parse_value(k, f.data_type): v for k, v in f.display_values if _parses(k, f.data_type)},
            loc=f.loc,
        )

    @classmethod
    def from_derived_field(cls, f: DerivedField) -> "FieldDecl":
        return cls(
            name=f.name,
            data_type=f.data_type,
            op_type=f.op_type,
            valid=tuple(parse_typed(v, f.data_type, f"Value of DerivedField '{f.name}'", f.loc) for v in f.values),
            loc=f.loc,
        )

    def describe(self) -> str:
        return f"'{self.name}' ({self.data_type.value}, {self.op_type.value})"

    def parse(self, text: str, what: str, loc: Loc | None = None):
        return parse_typed(text, self.data_type, what, loc)

    def parse_operand(self, text: str, what: str, loc: Loc | None = None):
        """A value this field is compared with. Integer fields compare as numbers, so a
        threshold like '70.5' on an integer field is read as a double (as JPMML-Evaluator does)."""
        data_type = DataType.DOUBLE if self.data_type is DataType.INTEGER else self.data_type
        if data_type is DataType.BOOLEAN and not _parses(text, data_type):
            data_type = DataType.DOUBLE  # e.g. Rattle's `flag <= 0.5`: false = 0, true = 1
        return parse_typed(text, data_type, what, loc)

    def validity(self, col: Column) -> np.ndarray:
        """Boolean mask of present values that are invalid per the data dictionary."""
        values = col.values
        bad = np.zeros(len(values), dtype=bool)
        if not (self.invalid or self.valid or self.intervals):
            return bad
        present = ~missing_mask(values)
        if self.invalid:
            bad |= present & isin(values, self.invalid)
        has_spec = bool(self.valid) or (bool(self.intervals) and self.op_type is OpType.CONTINUOUS)
        if has_spec:
            ok = isin(values, self.valid) if self.valid else np.zeros(len(values), dtype=bool)
            if self.intervals and col.numeric:
                for iv in self.intervals:
                    ok |= in_interval(values, iv)
            bad |= present & ~ok
        return bad


def _parses(text: str, data_type: DataType) -> bool:
    try:
        parse_value(text, data_type)
        return True
    except (ParseError, ValueError, TypeError):
        return False


def isin(values: np.ndarray, members) -> np.ndarray:
    """Membership test for a column (numeric or object); missing is never a member."""
    if values.dtype.kind == "f":
        arr = np.array([m for m in members if isinstance(m, float)], dtype=np.float64)
        return np.isin(values, arr)
    s = set(members)
    return np.fromiter((v is not None and v in s for v in values), dtype=bool, count=len(values))


def in_interval(x: np.ndarray, iv: Interval) -> np.ndarray:
    """Vectorised Interval membership (NaN is outside every interval)."""
    ok = ~np.isnan(x)
    if iv.left is not None:
        ok &= (x > iv.left) if iv.closure.startswith("open") else (x >= iv.left)
    if iv.right is not None:
        ok &= (x < iv.right) if iv.closure.endswith("Open") else (x <= iv.right)
    return ok
