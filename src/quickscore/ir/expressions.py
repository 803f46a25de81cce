"""Expressions and transformations (PMML "Transformations" chapter) and predicates."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as _field
from typing import Union

from quickscore.ir.types import DataType, Interval, Loc, OpType


@dataclass(frozen=True, kw_only=True)
class Constant:
    value: str | None  # None for an empty element
    data_type: DataType | None = None
    missing: bool = False
    loc: Loc | None = _field(default=None, compare=False)


@dataclass(frozen=True, kw_only=True)
class FieldRef:
    field: str
    map_missing_to: str | None = None
    loc: Loc | None = _field(default=None, compare=False)


@dataclass(frozen=True, kw_only=True)
class LinearNorm:
    orig: float
    norm: float


@dataclass(frozen=True, kw_only=True)
class NormContinuous:
    field: str
    norms: tuple[LinearNorm, ...]
    outliers: str = "asIs"  # asIs asMissingValues asExtremeValues
    map_missing_to: float | None = None
    loc: Loc | None = _field(default=None, compare=False)


@dataclass(frozen=True, kw_only=True)
class NormDiscrete:
    field: str
    value: str
    map_missing_to: float | None = None
    loc: Loc | None = _field(default=None, compare=False)


@dataclass(frozen=True, kw_only=True)
class DiscretizeBin:
    bin_value: str
    interval: Interval


@dataclass(frozen=True, kw_only=True)
class Discretize:
    field: str
    bins: tuple[DiscretizeBin, ...]
    map_missing_to: str | None = None
    default_value: str | None = None
    data_type: DataType | None = None
    loc: Loc | None = _field(default=None, compare=False)


@dataclass(frozen=True, kw_only=True)
class FieldColumnPair:
    field: str
    column: str


@dataclass(frozen=True, kw_only=True)
class InlineTable:
    """Rows of an InlineTable: each row maps column name -> cell text."""

    rows: tuple[tuple[tuple[str, str], ...], ...]

    def dict_rows(self) -> list[dict[str, str]]:
        return [dict(r) for r in self.rows]


@dataclass(frozen=True, kw_only=True)
class MapValues:
    field_column_pairs: tuple[FieldColumnPair, ...]
    output_column: str
    table: InlineTable
    map_missing_to: str | None = None
    default_value: str | None = None
    data_type: DataType | None = None
    loc: Loc | None = _field(default=None, compare=False)


@dataclass(frozen=True, kw_only=True)
class Apply:
    function: str
    args: tuple["Expression", ...]
    map_missing_to: str | None = None
    default_value: str | None = None
    invalid_value_treatment: str = "returnInvalid"  # returnInvalid asIs asMissing
    loc: Loc | None = _field(default=None, compare=False)


@dataclass(frozen=True, kw_only=True)
class TextIndexNormalization:
    """A TextIndexNormalization: a replacement table applied to the text before tokenizing.

    The tokenizing attributes are None where the element inherits its TextIndex's.
    """

    table: InlineTable
    in_field: str = "string"
    out_field: str = "stem"
    regex_field: str = "regex"
    recursive: bool = False
    is_case_sensitive: bool | None = None
    max_levenshtein_distance: int | None = None
    word_separator_character_re: str | None = None
    word_re: str | None = None  # the JPMML extension attribute x-wordRE
    tokenize: bool | None = None


@dataclass(frozen=True, kw_only=True)
class TextIndex:
    """A TextIndex: how often the term occurs in the text of ``text_field``."""

    text_field: str
    term: "Expression"
    normalizations: tuple[TextIndexNormalization, ...] = ()
    local_term_weights: str = "termFrequency"  # termFrequency binary logarithmic augmentedNormalizedTermFrequency
    is_case_sensitive: bool = False
    max_levenshtein_distance: int = 0
    count_hits: str = "allHits"  # allHits bestHits
    word_separator_character_re: str = r"\s+"
    word_re: str | None = None  # the JPMML extension attribute x-wordRE: words are its matches
    tokenize: bool = True
    loc: Loc | None = _field(default=None, compare=False)


@dataclass(frozen=True, kw_only=True)
class Lag:
    """The value of ``field`` ``n`` records back in the record stream, within the block of records
    whose ``block_indicators`` fields are equal (or, with ``aggregate``, the aggregate of the ``m``
    values from ``n`` records back)."""

    field: str
    n: int = 1
    aggregate: str = "none"  # none avg max median min product sum stddev
    m: int | None = None
    block_indicators: tuple[str, ...] = ()
    loc: Loc | None = _field(default=None, compare=False)


@dataclass(frozen=True, kw_only=True)
class Aggregate:
    """An aggregate of ``field`` over the records that share the value of ``group_field``."""

    field: str
    function: str  # count sum average min max multiset
    group_field: str | None = None
    sql_where: str | None = None
    loc: Loc | None = _field(default=None, compare=False)


Expression = Union[Constant, FieldRef, NormContinuous, NormDiscrete, Discretize, MapValues, Apply, TextIndex, Lag, Aggregate]


@dataclass(frozen=True, kw_only=True)
class DerivedField:
    name: str
    data_type: DataType
    op_type: OpType
    expression: Expression
    values: tuple[str, ...] = ()
    display_name: str | None = None
    loc: Loc | None = _field(default=None, compare=False)


@dataclass(frozen=True, kw_only=True)
class ParameterField:
    name: str
    op_type: OpType | None = None
    data_type: DataType | None = None


@dataclass(frozen=True, kw_only=True)
class DefineFunction:
    name: str
    op_type: OpType
    data_type: DataType | None
    parameters: tuple[ParameterField, ...]
    expression: Expression
    loc: Loc | None = _field(default=None, compare=False)


@dataclass(frozen=True, kw_only=True)
class TransformationDictionary:
    define_functions: tuple[DefineFunction, ...] = ()
    derived_fields: tuple[DerivedField, ...] = ()


# --- Predicates -------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class SimplePredicate:
    field: str
    operator: str  # equal notEqual lessThan lessOrEqual greaterThan greaterOrEqual isMissing isNotMissing
    value: str | None = None
    loc: Loc | None = _field(default=None, compare=False)


@dataclass(frozen=True, kw_only=True)
class SimpleSetPredicate:
    field: str
    boolean_operator: str  # isIn isNotIn
    values: tuple[str, ...]  # the Array, already split (quotes removed, escapes resolved)
    array_type: str = "string"  # string int real
    loc: Loc | None = _field(default=None, compare=False)


@dataclass(frozen=True, kw_only=True)
class CompoundPredicate:
    boolean_operator: str  # and or xor surrogate
    predicates: tuple["Predicate", ...]
    loc: Loc | None = _field(default=None, compare=False)


@dataclass(frozen=True, kw_only=True)
class TruePredicate:
    loc: Loc | None = _field(default=None, compare=False)


@dataclass(frozen=True, kw_only=True)
class FalsePredicate:
    loc: Loc | None = _field(default=None, compare=False)


Predicate = Union[SimplePredicate, SimpleSetPredicate, CompoundPredicate, TruePredicate, FalsePredicate]
