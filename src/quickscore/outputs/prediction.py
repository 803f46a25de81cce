"""What a model computes for a batch, before output fields are derived from it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from quickscore.schema.values import Column


@dataclass
class Prediction:
    """A model's result for ``n`` rows.

    * ``value``: the predicted value. float64 for regression (NaN = no prediction);
      object array of class labels for classification (None = no prediction).
    * ``classes``: classification labels, in output order (typed as the target field).
    * ``probabilities``: (n, len(classes)) float64, NaN rows where there is no prediction.
    * ``confidences``: (n, len(classes)) or None when the model has no separate confidences.
    * ``entity_ids``: object array (e.g. the winning tree node's id) or None.
    * ``segments``: per segment id, the rows of this prediction it scored and its result.
    * ``chained``: the output fields of a modelChain's segments, over all rows.
    * ``targets``: for a segmentation with several targets, the prediction of each other target.
    """

    n: int
    value: np.ndarray
    classes: tuple = ()
    probabilities: np.ndarray | None = None
    confidences: np.ndarray | None = None
    entity_ids: np.ndarray | None = None
    segments: dict[str, tuple[np.ndarray, "ModelResult"]] = field(default_factory=dict)
    chained: dict[str, Column] = field(default_factory=dict)  # a modelChain's segment outputs
    targets: dict[str, "Prediction"] = field(default_factory=dict)  # the other targets of a multi-target segmentation

    @property
    def is_classification(self) -> bool:
        return self.probabilities is not None

    def missing(self) -> np.ndarray:
        if self.value.dtype.kind == "f":
            return np.isnan(self.value)
        # One C loop over the labels (str, int, float or None: "== None" is "is None" for them).
        return np.equal(self.value, None)

    def probability(self, label: Any) -> np.ndarray:
        if self.probabilities is None:
            return np.full(self.n, np.nan)
        try:
            return self.probabilities[:, self.classes.index(label)]
        except ValueError:
            return np.where(self.missing(), np.nan, 0.0)

    def confidence(self, label: Any) -> np.ndarray:
        if self.confidences is None:
            return self.probability(label)
        try:
            return self.confidences[:, self.classes.index(label)]
        except ValueError:
            return np.where(self.missing(), np.nan, 0.0)

    def take(self, mask: np.ndarray) -> "Prediction":
        """The prediction for the rows selected by a boolean mask (value and distributions only)."""
        pick = (lambda a: None if a is None else a[mask])
        return Prediction(int(mask.sum()), self.value[mask], self.classes, pick(self.probabilities), pick(self.confidences), pick(self.entity_ids))

    @classmethod
    def regression(cls, values: np.ndarray, **kw: Any) -> "Prediction":
        return cls(len(values), values, **kw)

    @classmethod
    def classification(cls, classes: tuple, probabilities: np.ndarray, labels: np.ndarray | None = None, **kw: Any) -> "Prediction":
        """Labels default to the most probable class (first on ties); all-NaN rows have none."""
        n = probabilities.shape[0]
        if labels is None:
            labels = argmax_labels(classes, probabilities)
        return cls(n, labels, classes, probabilities, **kw)


def argmax_labels(classes: tuple, probabilities: np.ndarray) -> np.ndarray:
    n = probabilities.shape[0]
    if not classes:
        return np.full(n, None, dtype=object)
    nan = np.isnan(probabilities)
    cls_arr = np.empty(len(classes), dtype=object)
    cls_arr[:] = list(classes)
    if not nan.any():
        return cls_arr[_first_max(probabilities)]
    labels = np.full(n, None, dtype=object)
    known = ~np.all(nan, axis=1)
    best = np.argmax(np.where(nan, -np.inf, probabilities), axis=1)
    labels[known] = cls_arr[best[known]]
    return labels


@dataclass
class ModelResult:
    """A model's prediction and its output fields (final or not) for a frame's rows."""

    prediction: Prediction
    outputs: dict[str, Column]


def _first_max(p: np.ndarray) -> np.ndarray:
    """``np.argmax(p, axis=1)`` (the first maximum) for rows without NaN: column by column
    when there are few columns (argmax along a short axis 1 is slow; a masked copy is ~10x
    faster than a boolean-index assignment), and one comparison for two columns."""
    k = p.shape[1]
    if k > 8:
        return np.argmax(p, axis=1)
    if k == 2:
        return np.greater(p[:, 1], p[:, 0]).astype(np.intp)
    best = np.zeros(p.shape[0], dtype=np.intp)
    top = p[:, 0]
    for j in range(1, k):
        col = p[:, j]
        np.copyto(best, j, where=col > top)
        top = np.maximum(top, col)
    return best
