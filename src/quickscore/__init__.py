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
