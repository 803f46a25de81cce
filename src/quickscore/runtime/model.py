"""The public Model: load a file, compile it once, score records and batches."""

from __future__ import annotations

import os
from typing import IO, Union

Source = Union[str, "os.PathLike[str]", bytes, IO[bytes]]


class Model:
    """A compiled model. Build it with :func:`quickscore.load`."""


def load(source: Source, *, format: str | None = None) -> Model:
    """Load a model file (a path, bytes or a binary file object) and compile it."""
    from quickscore.io import read_document

    return Model._from_document(read_document(source, format=format))  # type: ignore[attr-defined]
