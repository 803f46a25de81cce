"""Output fields: what a model returns besides (or instead of) its raw prediction.

Each OutputField is compiled at load into ``fn(prediction, frame) -> Column``. Fields are
computed in document order and put into the model's frame as they are computed, so a
transformedValue expression can refer to an earlier output field; a modelChain makes a
segment's output fields visible to the segments after it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import numpy as np

from quickscore.errors import InvalidMarkup, UnsupportedMarkup
from quickscore.ir import Model, OutputField
from quickscore.ir.types import DataType, OpType
from quickscore.outputs.prediction import Prediction, label_table
from quickscore.runtime.frame import Frame
from quickscore.schema.expressions import compile_expression
from quickscore.schema.fields import FieldDecl
from quickscore.schema.scope import Scope
from quickscore.schema.values import Column, convert_column

if TYPE_CHECKING:
    from quickscore.models.base import Context
    from quickscore.outputs.targets import TargetPlan

Compute = Callable[[Prediction, Frame, "TargetPlan"], Column]


def _where(f: OutputField) -> str:
    return f" at {f.loc}" if f.loc else ""


def label_column(pred: Prediction, data_type: DataType) -> Column:
    """The predicted value as a column typed like the target."""
    index = pred.label_index() if data_type.is_numeric else None
    values = _numeric_labels_at(pred.classes, index) if index is not None else None
    if values is None:
        values = pred.value
        if data_type.is_numeric and values.dtype == object:
            values = _numeric_labels(values)
    op = OpType.CATEGORICAL if pred.is_classification else OpType.CONTINUOUS
    return Column(values, data_type, op)


def _numeric_labels_at(classes: tuple, index: np.ndarray) -> np.ndarray | None:
    """``_numeric_labels`` of the labels ``classes[index]`` (-1: none), without the object
    array: the classes' label table converted once, then indexed. None when a class is not a
    number."""
    table = _numeric_labels(label_table(classes))  # the last entry: None -> NaN
    return table.take(index) if table.dtype == np.float64 else None


def _numeric_labels(values: np.ndarray) -> np.ndarray:
    """Object labels of a numeric target as float64 (None -> NaN); unchanged when they hold
    something else (selectAll's lists of predictions)."""
    try:
        return values.astype(np.float64)  # every row has a label (a None raises TypeError)
    except (TypeError, ValueError):
        pass
    present = np.not_equal(values, None)
    out = np.full(len(values), np.nan)
    try:
        out[present] = values[present].astype(np.float64)
    except (TypeError, ValueError):
        return values
    return out


class OutputPlan:
    """The compiled Output element of one model."""

    def __init__(self, model: Model, ctx: "Context", scope: Scope):
        self.ctx = ctx
        self.fields: list[tuple[OutputField, FieldDecl, Compute]] = []
        target_type = ctx.target.data_type if ctx.target is not None else (DataType.STRING if ctx.classification else DataType.DOUBLE)
        self.target_type = target_type
        for f in model.output or ():
            compute, data_type, op_type = self._compile(f, scope, target_type)
            decl = FieldDecl(f.name, f.data_type or data_type, f.op_type or op_type)
            scope.declare(decl)
            self.fields.append((f, decl, compute))

    def decls(self) -> list[FieldDecl]:
        return [decl for _, decl, _ in self.fields]

    def _compile(self, f: OutputField, scope: Scope, target_type: DataType) -> tuple[Compute, DataType, OpType]:
        if f.segment_id is not None:
            return self._segment(f, scope, target_type)
        if f.target_field is not None and self.ctx.target_name is not None and f.target_field != self.ctx.target_name:
            raise UnsupportedMarkup(f"OutputField '{f.name}' refers to target '{f.target_field}', not the model's target{_where(f)}")
        feature = f.feature
        if feature in ("probability", "confidence") or (feature == "predictedValue" and f.rank != 1):
            if f.rank != 1:
                raise UnsupportedMarkup(f"OutputField '{f.name}' with rank {f.rank}{_where(f)}")
        ctx = self.ctx
        if feature == "predictedValue":
            return (lambda pred, frame, targets: label_column(pred, target_type)), target_type, (OpType.CATEGORICAL if ctx.classification else OpType.CONTINUOUS)
        if feature == "predictedDisplayValue":
            return self._display, DataType.STRING, OpType.CATEGORICAL
        if feature in ("probability", "confidence"):
            if not ctx.classification:
                raise UnsupportedMarkup(f"OutputField '{f.name}' asks for {feature} of a regression model{_where(f)}")
            label = None if f.value is None else ctx.parse_label(f.value, f"attribute value of OutputField '{f.name}'", f.loc)
            getter = Prediction.probability if feature == "probability" else Prediction.confidence

            def probability(pred: Prediction, frame: Frame, targets, label=label, getter=getter) -> Column:
                if label is not None:
                    return Column(getter(pred, label), DataType.DOUBLE, OpType.CONTINUOUS)
                out = np.full(pred.n, np.nan)
                for i, v in enumerate(pred.value):
                    if v is not None:
                        out[i] = getter(pred, v)[i]
                return Column(out, DataType.DOUBLE, OpType.CONTINUOUS)

            return probability, DataType.DOUBLE, OpType.CONTINUOUS
        if feature == "entityId":

            def entity(pred: Prediction, frame: Frame, targets) -> Column:
                ids = pred.entity_ids if pred.entity_ids is not None else np.full(pred.n, None, dtype=object)
                return Column(ids, DataType.STRING, OpType.CATEGORICAL)

            return entity, DataType.STRING, OpType.CATEGORICAL
        if feature == "residual":
            return self._residual(f), DataType.DOUBLE, OpType.CONTINUOUS
        if feature == "x-report":
            # JPMML-Evaluator's extension: a MathML account of how another output was computed.
            # Its evaluator fills it only when built with reporting; quickscore, like its
            # default evaluator, returns the field as missing.
            return (lambda pred, frame, targets: Column(np.full(pred.n, None, dtype=object), DataType.STRING, OpType.CATEGORICAL)), DataType.STRING, OpType.CATEGORICAL
        if feature in ("transformedValue", "decision"):
            if f.expression is None:
                raise UnsupportedMarkup(f"OutputField '{f.name}' ({feature}) without an expression{_where(f)}")
            compiled = compile_expression(f.expression, scope)

            def transformed(pred: Prediction, frame: Frame, targets, compiled=compiled) -> Column:
                return compiled(frame)

            return transformed, compiled.data_type, compiled.op_type
        raise UnsupportedMarkup(f"Unsupported feature '{feature}' of OutputField '{f.name}'{_where(f)}")

    def _residual(self, f: OutputField) -> Compute:
        """residual: the target's actual value (an input, after its MiningField treatments) minus
        the prediction; for classification (1 if the predicted category is the actual one, else 0)
        minus the predicted category's probability. Missing when the actual value is missing."""
        ctx = self.ctx
        if ctx.target_name is None:
            raise UnsupportedMarkup(f"OutputField '{f.name}' asks for the residual of a model without a target field{_where(f)}")
        name = ctx.target_name

        def residual(pred: Prediction, frame: Frame, targets) -> Column:
            actual = frame.get(name).values if frame.has(name) else np.full(pred.n, None, dtype=object)
            if not ctx.classification:
                expected = actual if actual.dtype.kind == "f" else np.array([np.nan if v is None else float(v) for v in actual])
                return Column(expected - pred.value.astype(np.float64), DataType.DOUBLE, OpType.CONTINUOUS)
            out = np.full(pred.n, np.nan)
            for i, (label, truth) in enumerate(zip(pred.value, actual)):
                if label is None or truth is None or (isinstance(truth, float) and truth != truth):
                    continue
                out[i] = (1.0 if truth == label else 0.0) - pred.probability(label)[i]
            return Column(out, DataType.DOUBLE, OpType.CONTINUOUS)

        return residual

    def uses_residual(self) -> bool:
        return any(f.feature == "residual" for f, _, _ in self.fields)

    def _display(self, pred: Prediction, frame: Frame, targets: "TargetPlan") -> Column:
        display = targets.display
        out = np.array([None if v is None else display.get(v, _text(v)) for v in pred.value], dtype=object)
        return Column(out, DataType.STRING, OpType.CATEGORICAL)

    def _segment(self, f: OutputField, scope: Scope, target_type: DataType) -> tuple[Compute, DataType, OpType]:
        """An output of one segment's model (OutputField/@segmentId)."""
        sid = f.segment_id
        if f.feature not in ("predictedValue", "probability", "confidence", "entityId", "transformedValue", "decision"):
            raise UnsupportedMarkup(f"Unsupported feature '{f.feature}' of segment OutputField '{f.name}'{_where(f)}")
        if f.feature in ("transformedValue", "decision", "probability", "confidence") and f.value is None:
            raise InvalidMarkup(f"Segment OutputField '{f.name}' ({f.feature}) needs a value attribute{_where(f)}")
        feature_field = OutputField(name=f.name, feature=f.feature, value=f.value, data_type=f.data_type, op_type=f.op_type)

        def segment(pred: Prediction, frame: Frame, targets) -> Column:
            found = pred.segments.get(sid)
            if found is None:
                return Column(np.full(pred.n, None, dtype=object), f.data_type or DataType.STRING, OpType.CATEGORICAL)
            rows, result = found
            col = _feature_of(result, feature_field)
            full = np.full(pred.n, np.nan) if col.numeric else np.full(pred.n, None, dtype=object)
            full[rows] = col.values
            return Column(full, col.data_type, col.op_type)

        return segment, f.data_type or DataType.DOUBLE, f.op_type or OpType.CONTINUOUS

    def compute(self, pred: Prediction, frame: Frame, targets: "TargetPlan") -> dict[str, Column]:
        out: dict[str, Column] = {}
        for f, decl, compute in self.fields:
            col = compute(pred, frame, targets)
            if f.data_type is not None and col.data_type is not f.data_type:
                col = convert_column(col, f.data_type, f.op_type)
            out[f.name] = col
            frame.columns[f.name] = col
        return out


def _feature_of(result, f: OutputField) -> Column:
    pred = result.prediction
    if f.feature in ("transformedValue", "decision"):
        # With segmentId, value names an output field of that segment's model.
        col = result.outputs.get(f.value)
        if col is None:
            return Column(np.full(pred.n, None, dtype=object), DataType.STRING, OpType.CATEGORICAL)
        return col
    if f.feature == "predictedValue":
        if pred.value.dtype.kind == "f":
            return Column(pred.value, DataType.DOUBLE, OpType.CONTINUOUS)
        return Column(pred.value, DataType.STRING, OpType.CATEGORICAL)
    if f.feature in ("probability", "confidence") and f.value is not None:
        label = next((c for c in pred.classes if _text(c) == f.value), f.value)
        getter = Prediction.probability if f.feature == "probability" else Prediction.confidence
        return Column(getter(pred, label), DataType.DOUBLE, OpType.CONTINUOUS)
    if f.feature == "entityId" and pred.entity_ids is not None:
        return Column(pred.entity_ids, DataType.STRING, OpType.CATEGORICAL)
    raise UnsupportedMarkup(f"Unsupported segment output '{f.feature}' of OutputField '{f.name}'")


def _text(v) -> str:
    from quickscore.schema.values import format_number

    return format_number(v) if isinstance(v, float) else str(v)
