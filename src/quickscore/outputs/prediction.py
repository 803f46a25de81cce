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
        """Labels default to the most probable class (first on ties); all-NaN rows have none.

        Those default labels are kept as class indices until ``value`` is first read: the
        object array costs ~0.5 ms per 100k rows, and a numeric target's label column is
        taken from the indices without it (``outputs.fields.label_column``)."""
        n = probabilities.shape[0]
        if labels is not None or not classes:
            return cls(n, labels if labels is not None else np.full(n, None, dtype=object), classes, probabilities, **kw)
        pred = cls(n, None, classes, probabilities, **kw)  # type: ignore[arg-type]
        pred.__dict__["_label_index"] = argmax_index(probabilities)
        return pred

    def label_index(self) -> np.ndarray | None:
        """The labels as indices into ``classes`` (-1: no label) while ``value`` has not been
        read (afterwards the array may have been changed in place, so None)."""
        return self.__dict__.get("_label_index")


def _get_value(self: Prediction) -> np.ndarray:
    value = self.__dict__.get("_value")
    index = self.__dict__.get("_label_index")
    if value is None and index is not None:
        value = self.__dict__["_value"] = label_table(self.classes).take(index)
    self.__dict__["_label_index"] = None  # the caller may change the array in place
    return value


def _set_value(self: Prediction, value: np.ndarray) -> None:
    self.__dict__["_value"] = value
    self.__dict__["_label_index"] = None


# ``value`` as a property over the dataclass field (the generated __init__ assigns through it).
Prediction.value = property(_get_value, _set_value)  # type: ignore[assignment]


def label_table(classes: tuple) -> np.ndarray:
    """The classes as an object array, then None: ``label_table(classes)[i]`` is the label of
    index ``i`` and -1 picks None."""
    table = np.empty(len(classes) + 1, dtype=object)
    table[:-1] = list(classes)
    return table


def argmax_labels(classes: tuple, probabilities: np.ndarray) -> np.ndarray:
    n = probabilities.shape[0]
    if not classes:
        return np.full(n, None, dtype=object)
    return label_table(classes).take(argmax_index(probabilities))


def argmax_index(probabilities: np.ndarray) -> np.ndarray:
    """Per row the index of the most probable class (the first on ties, NaN ignored), -1 for
    a row of NaN."""
    nan = np.isnan(probabilities)
    if not nan.any():
        return _first_max(probabilities)
    known = ~np.all(nan, axis=1)
    best = np.argmax(np.where(nan, -np.inf, probabilities), axis=1)
    return np.where(known, best, -1)


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
