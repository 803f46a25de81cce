"""Batch scoring shared by the Open Inference Protocol and Openscoring endpoints.

``predict_columns`` is ``model.predict(columns)`` without its pandas DataFrame: the output arrays
and each record's error message, which is all an HTTP answer needs (building and taking apart the
DataFrame was ~0.5 ms of a 1,000-row request on the benchmark forest). ``floats`` reads a list of
JSON numbers into float64 in one C pass where it can.
"""

from __future__ import annotations

from array import array
from collections.abc import Mapping
from typing import Any

import numpy as np

import quickscore


def predict_columns(model, columns: Mapping[str, Any], n: int) -> tuple[dict[str, np.ndarray], list]:
    """The outputs of ``model.predict(columns)`` (errors="column") as arrays, and each record's
    error message (None when it scored). ``n`` is given: records without any argument have no
    column to count them by."""
    columns = {name: values if isinstance(values, np.ndarray) else np.asarray(list(values), dtype=object)
               for name, values in columns.items()}  # as Model.predict takes a dict of columns
    try:
        outputs, messages, _ = model._score_batch(columns, n)
    except quickscore.QuickscoreError:
        raise
    except Exception:  # noqa: BLE001 - a defect: predict scores the records one by one, so that it costs only its own
        frame = model.predict(columns or [{}] * n)  # a list of n empty records counts them
        messages = frame.pop("_error").to_numpy()
        outputs = {name: frame[name].to_numpy() for name in frame.columns}
    errors = messages.tolist()
    if errors.count(None) != n:
        errors = [e if isinstance(e, str) else None for e in errors]
    return outputs, errors


def floats(values: list) -> np.ndarray | None:
    """``values`` as float64 when every one is an int or a float, else None (a null, a string, a
    boolean, a list, an object, an int beyond float64): then the caller looks at each value's type.

    ``array('d')`` converts in C and refuses all of those but booleans (an int subclass); a
    boolean reads as 0.0 or 1.0, so only the values read so need their type looked at."""
    try:
        flat = np.frombuffer(array("d", values), dtype=np.float64)
    except (TypeError, OverflowError):
        return None
    candidates = np.flatnonzero((flat == 0.0) | (flat == 1.0))
    if candidates.size and bool in set(map(type, map(values.__getitem__, candidates.tolist()))):
        return None
    return flat
