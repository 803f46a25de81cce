"""Targets: post-processing of the predicted value (rescale, clamp, cast) and defaults."""

from __future__ import annotations

import numpy as np

from quickscore.ir import Target
from quickscore.outputs.prediction import Prediction, argmax_labels
from quickscore.schema.fields import FieldDecl


class TargetPlan:
    """One model's Target element, resolved against its target field."""

    def __init__(self, target: Target | None, decl: FieldDecl | None):
        self.target = target
        self.decl = decl
        self.priors: dict = {}
        self.default_value: float | None = None
        self.display: dict = dict(decl.display) if decl is not None else {}
        if target is not None:
            for tv in target.values:
                label = tv.value
                if label is not None and decl is not None:
                    label = decl.parse(label, "attribute value of TargetValue", target.loc)
                if tv.prior_probability is not None and label is not None:
                    self.priors[label] = tv.prior_probability
                if tv.default_value is not None:
                    self.default_value = tv.default_value
                if tv.display_value is not None and label is not None:
                    self.display[label] = tv.display_value

    @property
    def is_identity(self) -> bool:
        """Nothing to do: no Target element, default value or priors."""
        return self.target is None and self.default_value is None and not self.priors

    def apply_regression(self, pred: Prediction) -> Prediction:
        t = self.target
        values = pred.value
        if values.dtype == object:
            return pred  # selectAll: a list of segment predictions per row, not one value
        if self.default_value is not None:
            # TargetValue/@defaultValue: "the default value used in regression models if no prediction is made"
            values = np.where(np.isnan(values), self.default_value, values)
        if t is None:
            return pred if values is pred.value else Prediction.regression(values, entity_ids=pred.entity_ids, segments=pred.segments)
        if t.min is not None:
            values = np.maximum(values, t.min)
        if t.max is not None:
            values = np.minimum(values, t.max)
        if t.rescale_factor != 1.0 or t.rescale_constant != 0.0:
            values = values * t.rescale_factor + t.rescale_constant
        if t.cast_integer == "round":
            values = np.floor(values + 0.5)
        elif t.cast_integer == "ceiling":
            values = np.ceil(values)
        elif t.cast_integer == "floor":
            values = np.floor(values)
        return Prediction.regression(values, entity_ids=pred.entity_ids, segments=pred.segments)

    def apply_classification(self, pred: Prediction) -> Prediction:
        if not self.priors:
            return pred
        missing = pred.missing()
        if not missing.any():
            return pred
        # "priorProbability ... used if the model cannot compute a prediction"
        classes = tuple(pred.classes) + tuple(c for c in self.priors if c not in pred.classes)
        probs = np.full((pred.n, len(classes)), np.nan)
        if pred.probabilities is not None:
            probs[:, : pred.probabilities.shape[1]] = pred.probabilities
        prior_row = np.array([self.priors.get(c, 0.0) for c in classes])
        probs[missing] = prior_row
        labels = pred.value.copy()
        labels[missing] = argmax_labels(classes, probs[missing])
        return Prediction(pred.n, labels, classes, probs, None, pred.entity_ids, pred.segments)
