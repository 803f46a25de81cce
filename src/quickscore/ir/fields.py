"""Fields: DataDictionary, MiningSchema, Targets, Output.

Values that depend on a field's dataType (Value/@value, missingValueReplacement, ...)
are kept as the strings of the file; lowering parses them with the resolved type.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as _field
from typing import TYPE_CHECKING

from quickscore.ir.types import DataType, Interval, Loc, OpType

if TYPE_CHECKING:
    from quickscore.ir.expressions import Expression


@dataclass(frozen=True, kw_only=True)
class DataField:
    """A DataDictionary/DataField.

    ``values`` are the Value elements with property="valid" in document order (for
    ordinal fields this order is the ordering); ``invalid_values`` and
    ``missing_values`` those with property invalid / missing. ``display_values``
    maps a value to its displayValue.
    """

    name: str
    data_type: DataType
    op_type: OpType
    values: tuple[str, ...] = ()
    invalid_values: tuple[str, ...] = ()
    missing_values: tuple[str, ...] = ()
    intervals: tuple[Interval, ...] = ()
    display_values: tuple[tuple[str, str], ...] = ()
    loc: Loc | None = _field(default=None, compare=False)


@dataclass(frozen=True, kw_only=True)
class MiningField:
    """A MiningSchema/MiningField with the PMML defaults."""

    name: str
    usage_type: str = "active"  # active predicted target supplementary group order frequencyWeight analysisWeight
    op_type: OpType | None = None  # overrides the DataField's optype
    outliers: str = "asIs"  # asIs asMissingValues asExtremeValues
    low_value: float | None = None
    high_value: float | None = None
    missing_value_replacement: str | None = None
    missing_value_treatment: str | None = None  # asIs asMean asMode asMedian asValue returnInvalid
    invalid_value_treatment: str = "returnInvalid"  # returnInvalid asIs asMissing asValue
    invalid_value_replacement: str | None = None
    loc: Loc | None = _field(default=None, compare=False)

    @property
    def is_input(self) -> bool:
        return self.usage_type in ("active", "group", "order", "frequencyWeight", "analysisWeight", "supplementary")

    @property
    def is_target(self) -> bool:
        return self.usage_type in ("predicted", "target")


@dataclass(frozen=True, kw_only=True)
class TargetValue:
    value: str | None = None
    display_value: str | None = None
    prior_probability: float | None = None
    default_value: float | None = None


@dataclass(frozen=True, kw_only=True)
class Target:
    """A Targets/Target. ``field`` is None when the model has a single target."""

    field: str | None = None
    op_type: OpType | None = None
    cast_integer: str | None = None  # round ceiling floor
    min: float | None = None
    max: float | None = None
    rescale_factor: float = 1.0
    rescale_constant: float = 0.0
    values: tuple[TargetValue, ...] = ()
    loc: Loc | None = _field(default=None, compare=False)


@dataclass(frozen=True, kw_only=True)
class Decision:
    value: str
    display_value: str | None = None
    description: str | None = None


@dataclass(frozen=True, kw_only=True)
class OutputField:
    """An Output/OutputField.

    ``feature`` is the PMML spelling (predictedValue, predictedDisplayValue, probability,
    confidence, entityId, transformedValue, decision, ...). ``expression`` holds the
    expression child of transformedValue/decision fields.
    """

    name: str
    display_name: str | None = None
    op_type: OpType | None = None
    data_type: DataType | None = None
    target_field: str | None = None
    feature: str = "predictedValue"
    value: str | None = None
    rank: int = 1
    rank_order: str = "descending"
    rank_basis: str = "confidence"
    is_multi_valued: bool = False
    segment_id: str | None = None
    is_final_result: bool = True
    rule_feature: str = "consequent"
    algorithm: str = "exclusiveRecommendation"
    expression: "Expression | None" = None
    decisions: tuple[Decision, ...] = ()
    values: tuple[str, ...] = ()  # PMML 4.4 Value children (valid values of a categorical output)
    loc: Loc | None = _field(default=None, compare=False)
