"""PMML 3.0-4.4 reader: a safe, streaming parse straight into the IR.

Supported: Header, DataDictionary, TransformationDictionary, LocalTransformations, the
expressions Constant / FieldRef / NormContinuous / NormDiscrete / Discretize / MapValues
(InlineTable) / Apply / TextIndex (with TextIndexNormalization), MiningSchema, Targets,
Output (with Decisions), and the models TreeModel, RegressionModel and MiningModel
(Segmentation with nested models of these three types). The document's model is its
first model element, as in JPMML.

Anything else that matters for scoring (other model types, Aggregate / Lag /
TableLocator, models embedded in a Node or MiningModel, VariableWeight, an unknown
predicate) raises :class:`quickscore.errors.UnsupportedMarkup`; malformed content raises
:class:`quickscore.errors.InvalidMarkup`. Both name the element path, line, attribute and
value. See ``_reader`` for the safety rules and ``_schema`` for the tables.
"""

from quickscore.io.pmml._reader import MAX_DEPTH, parse_array, read_pmml

__all__ = ["read_pmml", "parse_array", "MAX_DEPTH"]
