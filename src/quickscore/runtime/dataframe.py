"""pandas in and out of a batch: the input columns of a DataFrame, the output DataFrame.

Both are on the batch path of every model, and for a cheap model (a logistic regression:
~1 ms of arithmetic per 100k rows) pandas' own overheads were most of a call:

* ``df[c]`` for each column costs ~36 µs in pandas 3 (index lookup, Series construction);
  ``df.items()`` yields the same Series at ~11 µs each.
* ``pd.DataFrame(dict_of_arrays)`` copies every column into consolidated blocks (1.6 ms for
  three float64 columns and ``_error`` of 100k rows), and infers the type of each object
  column by scanning it: ~0.85 ms for an ``_error`` column holding only None.

``output_frame`` builds the frame without the copy (``copy=False``: each array becomes its own
block) after making sure that no output column shares memory with an input column or with
another output column (such an array is copied, so writing into the frame never changes
the caller's data or another column), and gives an all-None ``_error`` column to pandas as an
object Series, which pandas takes as it is: the scan would have found object too. A column
of messages is left to pandas' inference as before (pandas 3 makes it ``str``).
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pandas as pd


def input_columns(data: pd.DataFrame) -> dict[str, np.ndarray] | None:
    """``{str(name): values}`` of a DataFrame's columns: numbers and booleans as their numpy
    arrays (views where pandas holds them so), everything else as object arrays. None for
    duplicate or multi-level column names (the caller's per-name lookup decides those)."""
    columns = data.columns
    if isinstance(columns, pd.MultiIndex) or not columns.is_unique:
        return None
    return {str(c): s.to_numpy(dtype=object if s.dtype.kind not in "fiub" else None) for c, s in data.items()}


def output_frame(
    outputs: Mapping[str, np.ndarray],
    inputs: Mapping[str, Any],
    index: pd.Index | None,
    none_column: str | None = None,
) -> pd.DataFrame:
    """The DataFrame of ``outputs`` (name -> 1-D array, in column order) without copying them.

    An array that may share memory with one of ``inputs`` or with an earlier output is
    copied first. ``none_column`` names an object column known to hold only None (the error
    column of a batch in which every record scored)."""
    seen: list[np.ndarray] = []
    taken = [a for a in inputs.values() if isinstance(a, np.ndarray)]
    data: dict[str, Any] = {}
    for name, values in outputs.items():
        values = np.asarray(values)
        if any(np.may_share_memory(values, other) for other in seen) or any(np.may_share_memory(values, other) for other in taken):
            values = values.copy()
        seen.append(values)
        if name == none_column and values.dtype == object:
            data[name] = pd.Series(values, index=index, dtype=object, copy=False)
        else:
            data[name] = values
    return pd.DataFrame(data, index=index, copy=False)
