"""The intermediate representation: frozen dataclasses every format reader produces.

Values whose meaning depends on a field's dataType are kept as the file's strings;
lowering (models/, schema/) parses them with the resolved type. The IR can be dropped
after lowering.
"""

from quickscore.ir.expressions import (
    Apply,
    CompoundPredicate,
    Constant,
    DefineFunction,
    DerivedField,
    Discretize,
    DiscretizeBin,
    Expression,
    FalsePredicate,
    FieldColumnPair,
    FieldRef,
    InlineTable,
    LinearNorm,
    MapValues,
    NormContinuous,
    NormDiscrete,
    ParameterField,
    Predicate,
    SimplePredicate,
    SimpleSetPredicate,
    TextIndex,
    TextIndexNormalization,
    TransformationDictionary,
    TruePredicate,
)
from quickscore.ir.flat import FlatTree, StringTable
from quickscore.ir.fields import DataField, Decision, MiningField, OutputField, Target, TargetValue
from quickscore.ir.models import (
    CategoricalPredictor,
    Document,
    Header,
    MiningModel,
    Model,
    ModelBase,
    Node,
    NumericPredictor,
    PredictorTerm,
    RegressionModel,
    RegressionTable,
    ScoreDistribution,
    Segment,
    Segmentation,
    TreeModel,
)
from quickscore.ir.types import DataType, Interval, Loc, OpType

__all__ = [name for name in dir() if not name.startswith("_")]
