"""The input plan: a MiningSchema turned into per-field steps that prepare a batch.

For each input field, in this order (as JPMML-Evaluator applies them):
parse into the dataType -> missing? -> valid? (invalidValueTreatment) -> outliers ->
missingValueReplacement / missingValueTreatment.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from quickscore.errors import InvalidMarkup, InvalidValue, MissingValue
from quickscore.ir import DataType, MiningField, OpType
from quickscore.runtime.frame import Frame
from quickscore.schema.fields import FieldDecl, isin
from quickscore.schema.values import Column, missing_mask, parse_column


def _fmt(v: Any) -> str:
    return "" if v is None else str(v)


@dataclass
class FieldStep:
    """How one MiningField prepares its column."""

    decl: FieldDecl
    mining: MiningField
    replacement: Any = None  # parsed missingValueReplacement
    invalid_replacement: Any = None  # parsed invalidValueReplacement

    @classmethod
    def build(cls, decl: FieldDecl, mining: MiningField) -> "FieldStep":
        what = "attribute {} of MiningField '" + mining.name + "'"
        rep = inv = None
        if mining.missing_value_replacement is not None:
            rep = decl.parse(mining.missing_value_replacement, what.format("missingValueReplacement"), mining.loc)
        if mining.invalid_value_treatment == "asValue":
            if mining.invalid_value_replacement is None:
                raise InvalidMarkup(
                    f"MiningField '{mining.name}' has invalidValueTreatment='asValue' but no invalidValueReplacement"
                    + (f" at {mining.loc}" if mining.loc else "")
                )
            inv = decl.parse(mining.invalid_value_replacement, what.format("invalidValueReplacement"), mining.loc)
        return cls(decl, mining, rep, inv)

    @property
    def op_type(self) -> OpType:
        return self.mining.op_type or self.decl.op_type

    @property
    def plain(self) -> bool:
        """A double field without treatments: float64 input is its column as it is (NaN =
        missing, nothing invalid, nothing replaced)."""
        plain = self.__dict__.get("_plain")
        if plain is None:
            decl, mf = self.decl, self.mining
            plain = self.__dict__["_plain"] = (
                decl.data_type is DataType.DOUBLE
                and not any(m == m for m in decl.missing)  # a NaN missing value changes nothing
                and not (decl.invalid or decl.valid or decl.intervals)
                and (mf.outliers == "asIs" or self.op_type is not OpType.CONTINUOUS)
                and self.replacement is None
                and mf.missing_value_treatment != "returnInvalid"
            )
        return plain

    def prepare_raw(self, raw: Any, n: int, frame: Frame) -> Column:
        """Prepare a top-level input column from raw values."""
        if self.plain and isinstance(raw, np.ndarray) and raw.dtype == np.float64:
            return Column(raw, DataType.DOUBLE, self.op_type)
        decl = self.decl
        col, missing, unparseable = parse_column(raw, n, decl.data_type, self.op_type)
        if decl.missing_raw:
            raw_arr = raw if isinstance(raw, np.ndarray) else np.asarray(raw, dtype=object)
            # Numeric input only meets the parsed missing values (``decl.missing``, compared in
            # _treat) and NaN; the spellings matter for text input.
            if raw_arr.dtype.kind == "O":
                missing |= np.fromiter((_fmt(v) in decl.missing_raw for v in raw_arr), dtype=bool, count=n)
        return self._treat(col, missing, unparseable, frame, raw)

    def prepare(self, col: Column, frame: Frame) -> Column:
        """Apply a nested model's MiningField to a column prepared by its parent."""
        col = Column(col.values, col.data_type, self.op_type)
        return self._treat(col, missing_mask(col.values), np.zeros(len(col.values), dtype=bool), frame, None)

    def _treat(self, col: Column, missing: np.ndarray, unparseable: np.ndarray, frame: Frame, raw: Any) -> Column:
        decl, mf = self.decl, self.mining
        values = col.values
        changed = False
        if decl.missing:
            missing = missing | isin(values, decl.missing)
        invalid = (unparseable | decl.validity(col)) & ~missing
        if invalid.any():
            treatment = mf.invalid_value_treatment
            if treatment in ("returnInvalid", "asIs") and unparseable.any() or treatment == "returnInvalid":
                # "asIs" keeps an invalid value; one that cannot even be read as the dataType cannot be kept.
                bad = invalid if treatment == "returnInvalid" else (invalid & unparseable)
                shown = raw if raw is not None else values
                for i in np.flatnonzero(bad).tolist():
                    message = f"Invalid value '{_fmt(shown[i])}' for field {decl.describe()} in MiningSchema"
                    frame.fail_at(i, message, InvalidValue)
            if treatment == "asMissing":
                values, changed = _set(values, invalid, None, changed)
                missing = missing | invalid
            elif treatment == "asValue":
                values, changed = _set(values, invalid, self.invalid_replacement, changed)
        if mf.outliers != "asIs" and col.numeric and self.op_type is OpType.CONTINUOUS:
            low = -np.inf if mf.low_value is None else mf.low_value
            high = np.inf if mf.high_value is None else mf.high_value
            present = ~missing & ~invalid
            if mf.outliers == "asMissingValues":
                out = present & ((values < low) | (values > high))
                values, changed = _set(values, out, None, changed)
                missing = missing | out
            elif mf.outliers == "asExtremeValues":
                values = np.where(present, np.clip(values, low, high), values)
                changed = True
        if missing.any():
            if self.replacement is not None:
                values, changed = _set(values, missing, self.replacement, changed)
            elif mf.missing_value_treatment == "returnInvalid":
                frame.fail(missing, f"Missing value for field {decl.describe()} in MiningSchema", MissingValue)
        return Column(values, col.data_type, self.op_type) if changed else col


def _set(values: np.ndarray, mask: np.ndarray, value: Any, changed: bool) -> tuple[np.ndarray, bool]:
    if not mask.any():
        return values, changed
    out = values if changed else values.copy()
    out[mask] = (np.nan if value is None else value) if out.dtype.kind == "f" else value
    return out, True


class InputPlan:
    """The active fields of the top-level model and how to prepare each from raw input."""

    def __init__(self, steps: list[FieldStep]):
        self.steps = steps
        self.names = [s.decl.name for s in steps]

    def prepare(self, columns: Mapping[str, Any], n: int) -> Frame:
        """A top-level frame from raw columns (missing fields read as all-missing)."""
        frame = Frame.top(n)
        for step in self.steps:
            raw = columns.get(step.decl.name)
            if raw is None:
                raw = np.full(n, None, dtype=object)
            frame.columns[step.decl.name] = step.prepare_raw(raw, n, frame)
        return frame
