"""The exception hierarchy of quickscore.

::

    QuickscoreError
    ├── ModelError             the model file cannot be used (raised by load())
    │   ├── InvalidMarkup      not a well-formed / valid model document
    │   ├── UnsupportedMarkup  valid, but uses something quickscore does not implement
    │   └── NativeFormat       a native (XGBoost, LightGBM, JSON) file is malformed
    └── EvaluationError        one record cannot be scored (raised by predict())
        ├── MissingValue       a required value is missing (missingValueTreatment=returnInvalid, ...)
        ├── InvalidValue       a value is invalid for its field (invalidValueTreatment=returnInvalid, ...)
        └── UndefinedResult    the model yields no defined result (e.g. division by zero)

Messages name the element path (and line), the attribute and the bad value.
"""

from __future__ import annotations

__all__ = [
    "QuickscoreError",
    "ModelError",
    "InvalidMarkup",
    "UnsupportedMarkup",
    "NativeFormat",
    "EvaluationError",
    "MissingValue",
    "InvalidValue",
    "UndefinedResult",
]


class QuickscoreError(Exception):
    """Base class of every error quickscore raises on purpose."""


class ModelError(QuickscoreError):
    """The model file cannot be loaded."""


class InvalidMarkup(ModelError):
    """The document is not well-formed, or breaks the format's rules."""


class UnsupportedMarkup(ModelError):
    """The document is valid but uses an element or attribute value quickscore does not support."""


class NativeFormat(ModelError):
    """A native model file (XGBoost, LightGBM, JSON coefficients) is malformed."""


class EvaluationError(QuickscoreError):
    """A record cannot be scored."""


class MissingValue(EvaluationError):
    """A value the model requires is missing."""


class InvalidValue(EvaluationError):
    """A value is invalid for its field."""


class UndefinedResult(EvaluationError):
    """The computation has no defined result for this record."""
