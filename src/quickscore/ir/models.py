"""Models and the document.

Every format reader (PMML, XGBoost, LightGBM, JSON coefficients) produces these.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as _field
from typing import Union

from quickscore.ir.expressions import DefineFunction, DerivedField, Predicate, TransformationDictionary
from quickscore.ir.fields import DataField, MiningField, OutputField, Target
from quickscore.ir.flat import FlatTree
from quickscore.ir.types import Loc


@dataclass(frozen=True, kw_only=True)
class ModelBase:
    """What every PMML model element has."""

    function_name: str  # classification regression mixed clustering ...
    mining_schema: tuple[MiningField, ...]
    model_name: str | None = None
    algorithm_name: str | None = None
    output: tuple[OutputField, ...] | None = None  # None: no Output element
    targets: tuple[Target, ...] = ()
    local_transformations: tuple[DerivedField, ...] = ()
    math_context: str = "double"  # double float
    is_scorable: bool = True
    loc: Loc | None = _field(default=None, compare=False)


# --- TreeModel ------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ScoreDistribution:
    value: str
    record_count: float
    confidence: float | None = None
    probability: float | None = None


@dataclass(frozen=True, kw_only=True)
class Node:
    predicate: Predicate
    id: str | None = None
    score: str | None = None
    record_count: float | None = None
    default_child: str | None = None
    children: tuple["Node", ...] = ()
    distribution: tuple[ScoreDistribution, ...] = ()
    loc: Loc | None = _field(default=None, compare=False)


@dataclass(frozen=True, kw_only=True)
class TreeModel(ModelBase):
    """A TreeModel. Its nodes are ``root`` (a tree of Node objects) or, for a TreeModel made by
    ``TreeModel.from_flat``, ``flat`` (the same nodes as arrays, see ``ir.flat``); there
    ``root`` is built from ``flat`` on first access (equality, repr and copies use it)."""

    root: Node
    missing_value_strategy: str = "none"  # none lastPrediction nullPrediction defaultChild weightedConfidence aggregateNodes
    missing_value_penalty: float = 1.0
    no_true_child_strategy: str = "returnNullPrediction"  # returnNullPrediction returnLastPrediction
    split_characteristic: str = "multiSplit"
    flat: FlatTree | None = _field(default=None, compare=False, repr=False)

    @classmethod
    def from_flat(cls, flat: FlatTree, **kwargs) -> "TreeModel":
        """A TreeModel whose nodes are ``flat``; ``root`` is built from it when first asked for."""
        model = cls(root=None, flat=flat, **kwargs)  # type: ignore[arg-type]
        object.__delattr__(model, "root")  # now __getattr__ builds it on first access
        return model

    def __getattr__(self, name: str):
        # Only reached for attributes not set on the instance: a lazy ``root``.
        if name == "root":
            flat = self.__dict__.get("flat")
            if flat is not None:
                root = flat.to_node()
                object.__setattr__(self, "root", root)
                return root
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    @property
    def has_root(self) -> bool:
        """Whether ``root`` exists as Node objects (False: only ``flat``, not built yet)."""
        return "root" in self.__dict__


# --- RegressionModel ------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class NumericPredictor:
    name: str
    coefficient: float
    exponent: int = 1


@dataclass(frozen=True, kw_only=True)
class CategoricalPredictor:
    name: str
    value: str
    coefficient: float


@dataclass(frozen=True, kw_only=True)
class PredictorTerm:
    coefficient: float
    fields: tuple[str, ...]
    name: str | None = None


@dataclass(frozen=True, kw_only=True)
class RegressionTable:
    intercept: float
    target_category: str | None = None
    numeric: tuple[NumericPredictor, ...] = ()
    categorical: tuple[CategoricalPredictor, ...] = ()
    terms: tuple[PredictorTerm, ...] = ()


@dataclass(frozen=True, kw_only=True)
class RegressionModel(ModelBase):
    tables: tuple[RegressionTable, ...]
    normalization_method: str = "none"  # none simplemax softmax logit probit cloglog exp loglog cauchit
    model_type: str | None = None  # linearRegression stepwisePolynomialRegression logisticRegression
    target_field_name: str | None = None  # the deprecated targetFieldName attribute


# --- MiningModel ---------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Segment:
    predicate: Predicate
    model: "Model"
    id: str | None = None
    weight: float = 1.0
    loc: Loc | None = _field(default=None, compare=False)


@dataclass(frozen=True, kw_only=True)
class Segmentation:
    multiple_model_method: str  # majorityVote weightedMajorityVote average weightedAverage median weightedMedian max sum weightedSum selectFirst selectAll modelChain
    segments: tuple[Segment, ...]
    missing_prediction_treatment: str = "continue"  # returnMissing skipSegment continue
    missing_threshold: float = 1.0
    local_transformations: tuple[DerivedField, ...] = ()
    loc: Loc | None = _field(default=None, compare=False)


@dataclass(frozen=True, kw_only=True)
class MiningModel(ModelBase):
    segmentation: Segmentation


Model = Union[TreeModel, RegressionModel, MiningModel]


# --- Document ---------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Header:
    copyright: str | None = None
    description: str | None = None
    application_name: str | None = None
    application_version: str | None = None
    timestamp: str | None = None


@dataclass(frozen=True, kw_only=True)
class Document:
    """A whole model document: the data dictionary, global transformations, one model.

    ``format`` is "pmml" or a native format name; ``version`` the format version.
    """

    format: str
    version: str | None
    header: Header
    data_fields: tuple[DataField, ...]
    model: Model
    transformations: TransformationDictionary = TransformationDictionary()
    source_name: str | None = None

    @property
    def define_functions(self) -> tuple[DefineFunction, ...]:
        return self.transformations.define_functions
