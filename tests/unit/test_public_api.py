"""The public API is small: pinned here, so that growing it is a decision."""

from __future__ import annotations

import inspect

import quickscore


def test_public_names_are_pinned():
    assert quickscore.__all__ == [
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
    assert callable(quickscore.export.coefficients)  # the one submodule users call directly


def test_load_takes_keyword_options_only():
    params = inspect.signature(quickscore.load).parameters
    assert list(params) == ["source", "format", "engine", "n_threads", "iterations", "feature_map"]
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for name, p in params.items() if name != "source")


def test_errors_form_one_hierarchy():
    assert issubclass(quickscore.ModelError, quickscore.QuickscoreError)
    assert issubclass(quickscore.EvaluationError, quickscore.QuickscoreError)
    for cls in (quickscore.InvalidMarkup, quickscore.UnsupportedMarkup, quickscore.NativeFormat):
        assert issubclass(cls, quickscore.ModelError)
    for cls in (quickscore.MissingValue, quickscore.InvalidValue, quickscore.UndefinedResult):
        assert issubclass(cls, quickscore.EvaluationError)
