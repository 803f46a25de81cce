"""Frames: the fields visible to a model while a batch is scored.

A frame holds the typed columns of one batch (or of the subset of its rows that reach a
segment). It resolves a field name to a column: its own columns first, then its derived
fields (computed on first use, once per batch), then its parent frame (sliced to the
frame's rows). Per-record errors go to one shared sink indexed by top-level row.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from quickscore.errors import EvaluationError
from quickscore.schema.values import Column


class ErrorSink:
    """The first error message of each top-level record (None while it scores)."""

    def __init__(self, n: int):
        # numpy fills a new object array with None (np.empty: 0.21 ms per 100k rows, np.full 0.32)
        self.messages = np.empty(n, dtype=object)
        self.kinds: dict[int, type[EvaluationError]] = {}

    def fail(self, rows: np.ndarray, message: str, kind: type[EvaluationError] = EvaluationError) -> None:
        for r in rows.tolist():
            if self.messages[r] is None:
                self.messages[r] = message
                self.kinds[r] = kind

    def failed(self) -> np.ndarray:
        """Boolean mask of the records that failed (every message has its kind)."""
        return failed_mask(len(self.messages), self.kinds)


def failed_mask(n: int, kinds: dict[int, type]) -> np.ndarray:
    mask = np.zeros(n, dtype=bool)
    if kinds:
        mask[np.fromiter(kinds, dtype=np.intp, count=len(kinds))] = True
    return mask


Compute = Callable[["Frame"], Column]


class Frame:
    """Field values for ``n`` rows. ``row_ids`` maps them to top-level rows; ``rows`` to the parent's."""

    def __init__(
        self,
        n: int,
        sink: ErrorSink,
        row_ids: np.ndarray | None,
        parent: "Frame | None" = None,
        rows: np.ndarray | None = None,
    ):
        self.n = n
        self.sink = sink
        self._row_ids = row_ids
        self.parent = parent
        self.rows = rows
        self.columns: dict[str, Column] = {}
        self.derived: dict[str, Compute] = {}
        self._computing: set[str] = set()

    @property
    def row_ids(self) -> np.ndarray:
        """The top-level row of each row (None given: rows 0..n-1, built on first use; most
        batches record no error and never need it)."""
        if self._row_ids is None:
            self._row_ids = np.arange(self.n)
        return self._row_ids

    @classmethod
    def top(cls, n: int) -> "Frame":
        return cls(n, ErrorSink(n), None)

    def child(self, rows: np.ndarray | None = None) -> "Frame":
        """A frame for a nested model: all rows (rows=None) or a subset of this frame's rows."""
        if rows is None:
            return Frame(self.n, self.sink, self._row_ids, self, None)
        return Frame(len(rows), self.sink, self.row_ids[rows], self, rows)

    def define(self, name: str, compute: Compute) -> None:
        self.derived[name] = compute
        self.columns.pop(name, None)

    def has(self, name: str) -> bool:
        return name in self.columns or name in self.derived or (self.parent is not None and self.parent.has(name))

    def get(self, name: str) -> Column:
        col = self.columns.get(name)
        if col is not None:
            return col
        compute = self.derived.get(name)
        if compute is not None:
            if name in self._computing:
                raise EvaluationError(f"Field '{name}' is defined in terms of itself")
            self._computing.add(name)
            try:
                col = compute(self)
            finally:
                self._computing.discard(name)
        elif self.parent is not None:
            col = self.parent.get(name)
            if self.rows is not None:
                col = col.take(self.rows)
        else:
            raise EvaluationError(f"Field '{name}' is not defined")
        self.columns[name] = col
        return col

    def fail(self, mask: np.ndarray, message: str, kind: type[EvaluationError] = EvaluationError) -> None:
        """Record an error for the rows of this frame selected by ``mask``."""
        if mask.any():
            self.sink.fail(self.row_ids[mask], message, kind)

    def fail_at(self, i: int, message: str, kind: type[EvaluationError] = EvaluationError) -> None:
        """Record an error for row ``i`` of this frame."""
        self.sink.fail(self.row_ids[i : i + 1], message, kind)

    def fail_rows(self, rows: np.ndarray, message: str, kind: type[EvaluationError] = EvaluationError) -> None:
        """Record an error for the rows of this frame at indices ``rows``."""
        if len(rows):
            self.sink.fail(self.row_ids[rows], message, kind)
