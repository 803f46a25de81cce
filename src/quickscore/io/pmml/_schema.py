"""Declarative tables of the PMML subset quickscore reads.

Everything that is a fact about PMML lives here, as data:

* ``NAMESPACES``: the namespace URIs of every PMML version, and their version.
* ``ENUMS``: the allowed spellings of every enumerated attribute (old spellings map to
  the spelling the IR uses).
* ``ATTRS``: element -> attribute -> (converter, IR keyword, default/required).
* ``CHILDREN``: element -> the child elements it may contain.
* ``RENAMES``: version-dependent attribute renames (what JPMML-Model's ImportFilter
  does when it upgrades a 3.x/4.0-4.3 document to 4.4).
* ``IGNORED``: elements that carry no scoring semantics (statistics, verification
  data, annotations); they are skipped with everything inside them.
* ``MODEL_ELEMENTS`` / ``UNSUPPORTED``: PMML elements quickscore knows but does not
  implement; meeting one raises UnsupportedMarkup.

The builders in ``_reader`` turn an element's converted attributes and children into IR.
"""

from __future__ import annotations

import sys
from typing import Any, Callable, NamedTuple

from quickscore.ir.types import DataType, OpType

# --- namespaces --------------------------------------------------------------------------

_VERSIONS = ("3.0", "3.1", "3.2", "4.0", "4.1", "4.2", "4.3", "4.4")

#: namespace URI -> version ("4.4"). Both http:// and https:// spellings occur in the wild
#: (SAS wrote ``https://www.dmg.org/PMML-3_1``).
NAMESPACES: dict[str, str] = {}
for _v in _VERSIONS:
    for _scheme in ("http", "https"):
        NAMESPACES[f"{_scheme}://www.dmg.org/PMML-{_v.replace('.', '_')}"] = _v

#: pyexpat reports a namespaced name as "uri local"; an element without namespace as "local".
NAME_PREFIXES: tuple[str, ...] = ("",) + tuple(uri + " " for uri in NAMESPACES)


def version_tuple(version: str | None) -> tuple[int, int] | None:
    """'4.3' -> (4, 3); '4.4.1' -> (4, 4); junk -> None."""
    if not version:
        return None
    parts = version.strip().split(".")
    try:
        return (int(parts[0]), int(parts[1]) if len(parts) > 1 else 0)
    except ValueError:
        return None


# --- value converters ---------------------------------------------------------------------
# Each converter takes the attribute's string and returns the IR value, or raises
# ValueError / KeyError (-> InvalidMarkup naming element, attribute and value).


def to_number(s: str) -> float:
    """xs:double as PMML writes it: 1, -2.5e3, INF, -INF, NaN (surrounding blanks allowed)."""
    if "_" in s:  # Python's float() accepts 1_000; XML Schema does not
        raise ValueError(s)
    return float(s)


def to_int(s: str) -> int:
    if "_" in s:
        raise ValueError(s)
    return int(s)


_BOOLEANS = {"true": True, "false": False, "1": True, "0": False}


def to_bool(s: str) -> bool:
    """xs:boolean: true, false, 1, 0."""
    return _BOOLEANS[s.strip()]


def to_zero_one(s: str) -> bool:
    """The "0"/"1" enumerations (OutputField@isMultiValued)."""
    return {"0": False, "1": True}[s]


def to_data_type(s: str) -> DataType:
    return DataType(s)


def to_op_type(s: str) -> OpType:
    return OpType(s)


to_data_type.expected = ", ".join(d.value for d in DataType)  # type: ignore[attr-defined]
to_op_type.expected = ", ".join(o.value for o in OpType)  # type: ignore[attr-defined]


to_name: Callable[[str], str] = sys.intern  # field names, scores, categories: shared strings


def to_column(s: str) -> str:
    """An InlineTable column name as a cell's *local* name: ``data:input`` -> ``input``.

    Cells are elements (``<data:input>``) read by local name, so the attributes naming
    them (FieldColumnPair@column, MapValues@outputColumn) drop the prefix too. A column
    name is an XML element name, so a colon in it can only be a prefix separator.
    """
    return sys.intern(s.rpartition(":")[2])


class Enum(NamedTuple):
    """An enumerated attribute: spelling -> the IR spelling."""

    name: str
    mapping: dict[str, str]

    def __call__(self, s: str) -> str:
        return self.mapping[s]

    @property
    def expected(self) -> str:
        return ", ".join(sorted(set(self.mapping)))


def enum(name: str, *values: str, **aliases: str) -> Enum:
    mapping = {v: sys.intern(v) for v in values}
    for old, new in aliases.items():
        mapping[old.replace("_", "-")] = mapping[new]
    return Enum(name, mapping)


# Old spellings: keys given as keyword arguments (with "_" standing for "-").
ENUMS: dict[str, Enum] = {
    e.name: e
    for e in (
        enum("MINING-FUNCTION", "associationRules", "sequences", "classification", "regression",
             "clustering", "timeSeries", "mixed"),
        enum("USAGE-TYPE", "active", "predicted", "target", "supplementary", "group", "order",
             "frequencyWeight", "analysisWeight"),
        enum("OUTLIER-TREATMENT-METHOD", "asIs", "asMissingValues", "asExtremeValues"),
        enum("LOCAL-TERM-WEIGHTS", "termFrequency", "binary", "logarithmic", "augmentedNormalizedTermFrequency"),
        enum("COUNT-HITS", "allHits", "bestHits"),
        enum("LAG-AGGREGATE", "none", "avg", "max", "median", "min", "product", "sum", "stddev"),
        enum("AGGREGATE-FUNCTION", "count", "sum", "average", "min", "max", "multiset"),
        enum("MISSING-VALUE-TREATMENT-METHOD", "asIs", "asMean", "asMode", "asMedian", "asValue",
             "returnInvalid"),
        # PMML <= 4.3 has no asValue; JPMML writes asIs + invalidValueReplacement there. Read
        # as written; the evaluator decides.
        enum("INVALID-VALUE-TREATMENT-METHOD", "returnInvalid", "asIs", "asMissing", "asValue"),
        enum("VALUE-PROPERTY", "valid", "invalid", "missing"),
        enum("CLOSURE", "openClosed", "openOpen", "closedOpen", "closedClosed"),
        enum("CAST-INTEGER", "round", "ceiling", "floor"),
        enum("RESULT-FEATURE", "predictedValue", "predictedDisplayValue", "transformedValue",
             "decision", "probability", "affinity", "residual", "standardError",
             "standardDeviation", "clusterId", "clusterAffinity", "entityId", "entityAffinity",
             "warning", "ruleValue", "reasonCode", "antecedent", "consequent", "rule", "ruleId",
             "confidence", "support", "lift", "leverage", "confidenceIntervalLower",
             "confidenceIntervalUpper", "x-report"),
        enum("RULE-FEATURE", "antecedent", "consequent", "rule", "ruleId", "confidence", "support",
             "lift", "leverage", "affinity"),
        enum("ALGORITHM", "recommendation", "exclusiveRecommendation", "ruleAssociation"),
        enum("RANK-BASIS", "confidence", "support", "lift", "leverage", "affinity"),
        enum("RANK-ORDER", "descending", "ascending"),
        enum("OPERATOR", "equal", "notEqual", "lessThan", "lessOrEqual", "greaterThan",
             "greaterOrEqual", "isMissing", "isNotMissing"),
        enum("BOOLEAN-OPERATOR", "or", "and", "xor", "surrogate"),
        enum("SET-OPERATOR", "isIn", "isNotIn"),
        enum("ARRAY-TYPE", "int", "real", "string"),
        enum("MISSING-VALUE-STRATEGY", "lastPrediction", "nullPrediction", "defaultChild",
             "weightedConfidence", "aggregateNodes", "none"),
        enum("NO-TRUE-CHILD-STRATEGY", "returnNullPrediction", "returnLastPrediction"),
        enum("SPLIT-CHARACTERISTIC", "binarySplit", "multiSplit"),
        enum("REGRESSION-NORMALIZATION-METHOD", "none", "simplemax", "softmax", "logit", "probit",
             "cloglog", "exp", "loglog", "cauchit"),
        enum("REGRESSION-MODEL-TYPE", "linearRegression", "stepwisePolynomialRegression",
             "logisticRegression"),
        enum("MULTIPLE-MODEL-METHOD", "majorityVote", "weightedMajorityVote", "average",
             "weightedAverage", "median", "weightedMedian", "max", "sum", "weightedSum",
             "selectFirst", "selectAll", "modelChain", "x-multiModelChain",
             x_weightedMedian="weightedMedian", x_weightedSum="weightedSum"),
        enum("MISSING-PREDICTION-TREATMENT", "returnMissing", "skipSegment", "continue"),
        enum("MATH-CONTEXT", "double", "float"),
    )
}


# --- attribute tables -------------------------------------------------------------------------


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()
UNSET: Any = object()  # absent and optional: leave the IR default


class Attr(NamedTuple):
    xml: str  # the attribute name in the document
    kw: str  # the IR keyword
    conv: Callable[[str], Any] | None  # None: the string as written
    default: Any  # REQUIRED, UNSET or a value


def _snake(name: str) -> str:
    out = []
    for ch in name:
        if ch.isupper():
            out.append("_")
            out.append(ch.lower())
        else:
            out.append(ch)
    return "".join(out)


def attrs(**spec: Any) -> tuple[Attr, ...]:
    """``name=conv`` / ``name=(conv, default)`` / ``name=(conv, default, kw)``.

    The IR keyword is the snake_case of the attribute name (``optype`` -> ``op_type``)
    unless given. ``default`` is REQUIRED, UNSET (IR default) or a value.
    """
    out = []
    for xml, s in spec.items():
        if not isinstance(s, tuple):
            s = (s,)
        conv = s[0]
        if isinstance(conv, str):
            conv = ENUMS[conv]
        default = s[1] if len(s) > 1 else UNSET
        kw = s[2] if len(s) > 2 else ("op_type" if xml == "optype" else _snake(xml))
        out.append(Attr(xml, kw, conv, default))
    return tuple(out)


STR = None  # the string as written
NAME = to_name
NUM = to_number
INT = to_int
BOOL = to_bool
DTYPE = to_data_type
OPTYPE = to_op_type

_MODEL_ATTRS = dict(
    modelName=STR,
    functionName=("MINING-FUNCTION", REQUIRED),
    algorithmName=STR,
    isScorable=BOOL,
    mathContext="MATH-CONTEXT",
)

ATTRS: dict[str, tuple[Attr, ...]] = {
    "PMML": attrs(version=STR),
    "Header": attrs(copyright=STR, description=STR),
    "Application": attrs(name=(STR, UNSET, "application_name"), version=(STR, UNSET, "application_version")),
    "DataDictionary": (),
    "DataField": attrs(name=(NAME, REQUIRED), optype=(OPTYPE, REQUIRED), dataType=(DTYPE, REQUIRED)),
    "Value": attrs(value=(STR, REQUIRED), displayValue=STR, property=("VALUE-PROPERTY", "valid")),
    "Interval": attrs(closure=("CLOSURE", REQUIRED), leftMargin=(NUM, None, "left"), rightMargin=(NUM, None, "right")),
    "TransformationDictionary": (),
    "LocalTransformations": (),
    "DerivedField": attrs(name=(NAME, REQUIRED), displayName=STR, optype=(OPTYPE, REQUIRED), dataType=(DTYPE, REQUIRED)),
    "DefineFunction": attrs(name=(NAME, REQUIRED), optype=(OPTYPE, REQUIRED), dataType=(DTYPE, None)),
    "ParameterField": attrs(name=(NAME, REQUIRED), optype=OPTYPE, dataType=DTYPE),
    # expressions
    "Constant": attrs(dataType=DTYPE, missing=BOOL),
    "FieldRef": attrs(field=(NAME, REQUIRED), mapMissingTo=STR),
    "NormContinuous": attrs(field=(NAME, REQUIRED), mapMissingTo=NUM, outliers="OUTLIER-TREATMENT-METHOD"),
    "LinearNorm": attrs(orig=(NUM, REQUIRED), norm=(NUM, REQUIRED)),
    "NormDiscrete": attrs(field=(NAME, REQUIRED), value=(NAME, REQUIRED), mapMissingTo=NUM),
    "Discretize": attrs(field=(NAME, REQUIRED), mapMissingTo=STR, defaultValue=STR, dataType=DTYPE),
    "DiscretizeBin": attrs(binValue=(NAME, REQUIRED)),
    "MapValues": attrs(outputColumn=(to_column, REQUIRED), mapMissingTo=STR, defaultValue=STR, dataType=DTYPE),
    "FieldColumnPair": attrs(field=(NAME, REQUIRED), column=(to_column, REQUIRED)),
    "InlineTable": (),
    "row": (),
    "Apply": attrs(function=(NAME, REQUIRED), mapMissingTo=STR, defaultValue=STR,
                   invalidValueTreatment="INVALID-VALUE-TREATMENT-METHOD"),
    "TextIndex": attrs(
        textField=(NAME, REQUIRED), localTermWeights="LOCAL-TERM-WEIGHTS", isCaseSensitive=BOOL,
        maxLevenshteinDistance=INT, countHits="COUNT-HITS", wordSeparatorCharacterRE=(STR, UNSET, "word_separator_character_re"),
        tokenize=BOOL, **{"x-wordRE": (STR, UNSET, "word_re")},  # JPMML: words are the regex's matches
    ),
    # inField / outField / regexField name InlineTable columns: local names, like the cells
    "TextIndexNormalization": attrs(
        inField=to_column, outField=to_column, regexField=to_column, recursive=BOOL, isCaseSensitive=BOOL,
        maxLevenshteinDistance=INT, wordSeparatorCharacterRE=(STR, UNSET, "word_separator_character_re"),
        tokenize=BOOL, **{"x-wordRE": (STR, UNSET, "word_re")},
    ),
    "Lag": attrs(field=(NAME, REQUIRED), n=INT, aggregate="LAG-AGGREGATE", m=INT),
    "BlockIndicator": attrs(field=(NAME, REQUIRED)),
    "Aggregate": attrs(field=(NAME, REQUIRED), function=("AGGREGATE-FUNCTION", REQUIRED), groupField=NAME, sqlWhere=STR),
    # mining schema, targets, output
    "MiningSchema": (),
    "MiningField": attrs(
        name=(NAME, REQUIRED), usageType="USAGE-TYPE", optype=OPTYPE, outliers="OUTLIER-TREATMENT-METHOD",
        lowValue=NUM, highValue=NUM, missingValueReplacement=STR,
        missingValueTreatment="MISSING-VALUE-TREATMENT-METHOD",
        invalidValueTreatment="INVALID-VALUE-TREATMENT-METHOD", invalidValueReplacement=STR,
    ),
    "Targets": (),
    "Target": attrs(field=NAME, optype=OPTYPE, castInteger="CAST-INTEGER", min=NUM, max=NUM,
                    rescaleFactor=NUM, rescaleConstant=NUM),
    "TargetValue": attrs(value=NAME, displayValue=STR, priorProbability=NUM, defaultValue=NUM),
    "Output": (),
    "OutputField": attrs(
        name=(NAME, REQUIRED), displayName=STR, optype=OPTYPE, dataType=DTYPE, targetField=NAME,
        feature="RESULT-FEATURE", value=STR, ruleFeature="RULE-FEATURE", algorithm="ALGORITHM",
        rank=INT, rankBasis="RANK-BASIS", rankOrder="RANK-ORDER", isMultiValued=(to_zero_one,),
        segmentId=STR, isFinalResult=BOOL,
    ),
    "Decisions": (),
    "Decision": attrs(value=(STR, REQUIRED), displayValue=STR, description=STR),
    # predicates
    "SimplePredicate": attrs(field=(NAME, REQUIRED), operator=("OPERATOR", REQUIRED), value=STR),
    "CompoundPredicate": attrs(booleanOperator=("BOOLEAN-OPERATOR", REQUIRED)),
    "SimpleSetPredicate": attrs(field=(NAME, REQUIRED), booleanOperator=("SET-OPERATOR", REQUIRED)),
    "Array": attrs(type=("ARRAY-TYPE", REQUIRED), n=INT),
    "True": (),
    "False": (),
    # TreeModel
    "TreeModel": attrs(
        **_MODEL_ATTRS, missingValueStrategy="MISSING-VALUE-STRATEGY", missingValuePenalty=NUM,
        noTrueChildStrategy="NO-TRUE-CHILD-STRATEGY", splitCharacteristic="SPLIT-CHARACTERISTIC",
    ),
    "Node": attrs(id=STR, score=NAME, recordCount=NUM, defaultChild=STR),
    "ScoreDistribution": attrs(value=(NAME, REQUIRED), recordCount=(NUM, REQUIRED), confidence=NUM, probability=NUM),
    # RegressionModel
    "RegressionModel": attrs(
        **_MODEL_ATTRS, modelType="REGRESSION-MODEL-TYPE", targetFieldName=NAME,
        normalizationMethod="REGRESSION-NORMALIZATION-METHOD",
    ),
    # intercept is required (JPMML-Evaluator raises MissingAttributeException without it)
    "RegressionTable": attrs(intercept=(NUM, REQUIRED), targetCategory=NAME),
    "NumericPredictor": attrs(name=(NAME, REQUIRED), exponent=INT, coefficient=(NUM, REQUIRED)),
    "CategoricalPredictor": attrs(name=(NAME, REQUIRED), value=(NAME, REQUIRED), coefficient=(NUM, REQUIRED)),
    "PredictorTerm": attrs(name=NAME, coefficient=(NUM, REQUIRED)),
    # MiningModel
    "MiningModel": attrs(**_MODEL_ATTRS),
    "Segmentation": attrs(multipleModelMethod=("MULTIPLE-MODEL-METHOD", REQUIRED),
                          missingPredictionTreatment="MISSING-PREDICTION-TREATMENT", missingThreshold=NUM),
    "Segment": attrs(id=STR, weight=NUM),
}

# Elements whose text content is read (the builders get it as ``text``).
TEXT_ELEMENTS = frozenset({"Constant", "Array", "Timestamp"})

# --- version-dependent renames --------------------------------------------------------------
# (element, up-to-version (inclusive) or None for any version, old attribute, new attribute).
# The same upgrades JPMML-Model's ImportFilter applies; the new name wins if both are present.
RENAMES: dict[str, tuple[tuple[tuple[int, int] | None, str, str], ...]] = {
    # PMML 4.1 Apply@mapMissingTo meant what 4.2+ calls defaultValue (the function's result
    # when it is missing); 4.2 introduced defaultValue and gave mapMissingTo its input meaning.
    "Apply": (((4, 1), "mapMissingTo", "defaultValue"),),
    "MiningField": (((4, 3), "x-invalidValueReplacement", "invalidValueReplacement"),),
    "Segmentation": (
        ((4, 3), "x-missingPredictionTreatment", "missingPredictionTreatment"),
        ((4, 3), "x-missingThreshold", "missingThreshold"),
    ),
    "TargetValue": (((3, 1), "rawDataValue", "displayValue"),),
    # JPMML's float-precision marker; spelt x-mathContext by every JPMML converter.
    "TreeModel": ((None, "x-mathContext", "mathContext"),),
    "RegressionModel": ((None, "x-mathContext", "mathContext"),),
    "MiningModel": ((None, "x-mathContext", "mathContext"),),
}

# Apply functions JPMML-Model renames when upgrading a <= 4.3 document (they became
# built-ins in 4.4).
X_FUNCTIONS = frozenset({
    "x-acos", "x-asin", "x-atan", "x-cos", "x-cosh", "x-expm1", "x-hypot", "x-ln1p", "x-modulo",
    "x-rint", "x-sin", "x-sinh", "x-tan", "x-tanh",
})

# --- structure ------------------------------------------------------------------------------

SUPPORTED_MODELS = ("TreeModel", "RegressionModel", "MiningModel")

#: Every PMML 3.0-4.4 model element.
MODEL_ELEMENTS = frozenset({
    "AnomalyDetectionModel", "AssociationModel", "BaselineModel", "BayesianNetworkModel",
    "ClusteringModel", "GaussianProcessModel", "GeneralRegressionModel", "MiningModel",
    "NaiveBayesModel", "NearestNeighborModel", "NeuralNetwork", "RegressionModel", "RuleSetModel",
    "Scorecard", "SequenceModel", "SupportVectorMachineModel", "TextModel", "TimeSeriesModel",
    "TreeModel",
})

EXPRESSIONS = frozenset({"Constant", "FieldRef", "NormContinuous", "NormDiscrete", "Discretize", "MapValues", "Apply",
                         "TextIndex", "Lag", "Aggregate"})
PREDICATES = frozenset({"SimplePredicate", "CompoundPredicate", "SimpleSetPredicate", "True", "False"})

#: Elements without scoring semantics: skipped with their content wherever they occur.
#: (Extension elements and elements of non-PMML namespaces are skipped too; see _reader.)
IGNORED = frozenset({
    "ModelStats", "ModelExplanation", "ModelVerification", "MiningBuildTask", "Annotation",
    "Partition", "Taxonomy",
})

_MODEL_CHILDREN = frozenset({"MiningSchema", "Output", "Targets", "LocalTransformations"})

CHILDREN: dict[str, frozenset[str]] = {
    "PMML": frozenset({"Header", "DataDictionary", "TransformationDictionary"}),  # + the models
    "Header": frozenset({"Application", "Timestamp"}),
    "Application": frozenset(),
    "Timestamp": frozenset(),
    "DataDictionary": frozenset({"DataField"}),
    "DataField": frozenset({"Interval", "Value"}),
    "Value": frozenset(),
    "Interval": frozenset(),
    "TransformationDictionary": frozenset({"DefineFunction", "DerivedField"}),
    "LocalTransformations": frozenset({"DerivedField"}),
    "DerivedField": EXPRESSIONS | {"Value"},
    "DefineFunction": EXPRESSIONS | {"ParameterField"},
    "ParameterField": frozenset(),
    "Constant": frozenset(),
    "FieldRef": frozenset(),
    "NormContinuous": frozenset({"LinearNorm"}),
    "LinearNorm": frozenset(),
    "NormDiscrete": frozenset(),
    "Discretize": frozenset({"DiscretizeBin"}),
    "DiscretizeBin": frozenset({"Interval"}),
    "MapValues": frozenset({"FieldColumnPair", "InlineTable"}),
    "FieldColumnPair": frozenset(),
    "InlineTable": frozenset({"row"}),
    "row": frozenset(),  # any child element is a cell (see _reader)
    "Apply": EXPRESSIONS,
    "TextIndex": EXPRESSIONS | {"TextIndexNormalization"},
    "TextIndexNormalization": frozenset({"InlineTable"}),
    "Lag": frozenset({"BlockIndicator"}),
    "BlockIndicator": frozenset(),
    "Aggregate": frozenset(),
    "MiningSchema": frozenset({"MiningField"}),
    "MiningField": frozenset(),
    "Targets": frozenset({"Target"}),
    "Target": frozenset({"TargetValue"}),
    "TargetValue": frozenset(),
    "Output": frozenset({"OutputField"}),
    "OutputField": EXPRESSIONS | {"Decisions", "Value"},
    "Decisions": frozenset({"Decision"}),
    "Decision": frozenset(),
    "SimplePredicate": frozenset(),
    "CompoundPredicate": PREDICATES,
    "SimpleSetPredicate": frozenset({"Array"}),
    "Array": frozenset(),
    "True": frozenset(),
    "False": frozenset(),
    "TreeModel": _MODEL_CHILDREN | {"Node"},
    "Node": PREDICATES | {"ScoreDistribution", "Node"},
    "ScoreDistribution": frozenset(),
    "RegressionModel": _MODEL_CHILDREN | {"RegressionTable"},
    "RegressionTable": frozenset({"NumericPredictor", "CategoricalPredictor", "PredictorTerm"}),
    "NumericPredictor": frozenset(),
    "CategoricalPredictor": frozenset(),
    "PredictorTerm": frozenset({"FieldRef"}),
    "MiningModel": _MODEL_CHILDREN | {"Segmentation"},
    "Segmentation": frozenset({"LocalTransformations", "Segment"}),
    "Segment": PREDICATES | set(SUPPORTED_MODELS),
}

#: Elements whose IR node records a ``loc``.
LOCATED = frozenset({
    "DataField", "DerivedField", "DefineFunction", "MiningField", "Target", "OutputField",
    "Constant", "FieldRef", "NormContinuous", "NormDiscrete", "Discretize", "MapValues", "Apply",
    "TextIndex", "Lag", "Aggregate", "SimplePredicate", "CompoundPredicate", "SimpleSetPredicate", "True", "False",
    "Node", "Segment", "Segmentation", "TreeModel", "RegressionModel", "MiningModel",
})

#: PMML elements quickscore knows and does not implement (beyond the other model types):
#: meeting one where it would matter raises UnsupportedMarkup. Anything not in CHILDREN,
#: IGNORED or this set is unknown, and unsupported too; the distinction only shapes the
#: message.
UNSUPPORTED = MODEL_ELEMENTS.difference(SUPPORTED_MODELS) | {
    "TableLocator",  # expressions
    "Regression", "DecisionTree",  # models embedded in Node / MiningModel (PMML 3.x-4.x)
    "VariableWeight", "ResultField",  # per-record segment weights, embedded-model results
}

#: Why an UNSUPPORTED element is refused, where more than its name helps.
UNSUPPORTED_REASONS: dict[str, str] = {
    "TableLocator": "a table held outside the document (TableLocator) cannot be read; put the rows in an InlineTable",
}

#: (parent, child) pairs outside the PMML schema that a producer's extension gives a
#: meaning quickscore does not implement: UnsupportedMarkup rather than InvalidMarkup.
UNSUPPORTED_PLACES = frozenset({
    ("DefineFunction", "DerivedField"),  # JPMML: a function-local derived field
})
