"""quickscore: run models trained elsewhere (PMML, XGBoost, LightGBM, JSON), exactly and fast."""

from __future__ import annotations

from quickscore.errors import (
    EvaluationError,
    InvalidMarkup,
    InvalidValue,
    MissingValue,
    ModelError,
    NativeFormat,
    QuickscoreError,
    UndefinedResult,
    UnsupportedMarkup,
)
from quickscore.runtime.model import Model, load
from quickscore import export  # noqa: E402  (quickscore.export.coefficients; imports scikit-learn only when called)

__version__ = "0.1.0"

__all__ = [
    "load",
    "Model",
    "QuickscoreError",
    "ModelError",
    "InvalidMarkup",
    "UnsupportedMarkup",
    "NativeFormat",
    "EvaluationError",
    "MissingValue",
    "InvalidValue",
    "UndefinedResult",
    "__version__",
]
