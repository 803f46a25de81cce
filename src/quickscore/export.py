"""Writing models in quickscore's own formats.

:func:`coefficients` turns a fitted scikit-learn linear model into the JSON coefficients
format (``docs/coefficients.md``), which ``quickscore.load`` reads back::

    import quickscore.export
    quickscore.export.coefficients(pipeline, ["age", "colour"], path="model.json")
    model = quickscore.load("model.json")

scikit-learn is imported only when this is called.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from typing import Any

__all__ = ["coefficients", "ExportError"]


class ExportError(ValueError):
    """The estimator cannot be written in the requested format."""


def coefficients(
    estimator: Any,
    feature_names: Sequence[str] | None = None,
    *,
    target: str | None = None,
    path: str | os.PathLike[str] | None = None,
    description: str | None = None,
) -> dict:
    """The JSON coefficients document (a dict) of a fitted scikit-learn linear model.

    ``estimator``: a regressor with ``coef_``/``intercept_`` (LinearRegression, Ridge, Lasso,
    ElasticNet, ...), a LogisticRegression (binary or multinomial), or a Pipeline ending in
    one, after a OneHotEncoder or a ColumnTransformer of OneHotEncoders and "passthrough"
    columns (one-hot columns become categorical terms with their levels).
    ``feature_names``: the names of the input columns, in order (default: the estimator's
    ``feature_names_in_``). ``target``: the target's name. ``path``: also write the document
    there (UTF-8 JSON). Raises ``ExportError`` (a ValueError) for anything else.
    """
    try:
        from sklearn.base import is_classifier, is_regressor
    except ImportError as exc:  # pragma: no cover - the caller has a fitted estimator
        raise ImportError("quickscore.export.coefficients needs scikit-learn: pip install scikit-learn") from exc

    steps = list(getattr(estimator, "steps", None) or [(None, estimator)])
    final = steps[-1][1]
    pre = [s for _, s in steps[:-1] if s is not None and s != "passthrough"]
    names = _input_names(estimator, feature_names)
    entries = _columns(pre, names)
    columns = [c for c in entries if c[0] != "level"]
    coef = getattr(final, "coef_", None)
    if coef is None or not hasattr(final, "intercept_"):
        raise ExportError(f"{type(final).__name__} has no coef_/intercept_: not a linear model quickscore can export")
    import numpy as np

    coef = np.atleast_2d(np.asarray(coef, dtype=np.float64))
    intercepts = np.atleast_1d(np.asarray(final.intercept_, dtype=np.float64))
    if coef.shape[1] != len(columns):
        raise ExportError(f"{type(final).__name__} has {coef.shape[1]} coefficients per equation, but its inputs are {len(columns)} columns")
    features = _features(entries)
    doc: dict[str, Any] = {"format": "quickscore-coefficients", "version": 1}
    if is_classifier(final):
        classes = [_label(c, "class") for c in final.classes_]
        if not hasattr(final, "predict_proba"):
            raise ExportError(f"{type(final).__name__} has no predict_proba: not a logistic model")
        if len(classes) == 2:
            # LogisticRegression._predict_proba_lr: expit(decision_function) is classes_[1]'s probability.
            link, labels = "logit", [classes[1]]
        else:
            # predict_proba: softmax(decision_function) (multinomial); one-vs-rest (older
            # scikit-learn, multi_class="ovr"): the expits normalised to sum to 1.
            ovr = getattr(final, "multi_class", "auto") == "ovr" or (
                getattr(final, "multi_class", None) == "auto" and getattr(final, "solver", None) == "liblinear"
            )
            link, labels = ("logit" if ovr else "softmax"), classes
        if coef.shape[0] != len(labels):
            raise ExportError(f"{type(final).__name__} has {coef.shape[0]} coefficient rows for {len(classes)} classes")
        doc.update(function="classification", link=link, target={"name": target or "_target", "classes": classes})
    elif is_regressor(final):
        if coef.shape[0] != 1 or intercepts.shape[0] != 1:
            raise ExportError(f"{type(final).__name__} predicts {coef.shape[0]} targets; the format holds one")
        labels = [None]
        doc.update(function="regression", link="identity", target={"name": target or "_target"})
    else:
        raise ExportError(f"{type(final).__name__} is neither a classifier nor a regressor")
    doc["features"] = features
    equations = []
    for row, label in enumerate(labels):
        eq: dict[str, Any] = {}
        if label is not None:
            eq["class"] = label
        eq["intercept"] = _finite(intercepts[row] if intercepts.shape[0] > row else intercepts[0], "intercept")
        numeric: dict[str, float] = {}
        categorical: dict[str, dict[str, float]] = {}
        for j, col in enumerate(columns):
            value = _finite(coef[row, j], f"coefficient of {col[1]!r}")
            if col[0] == "num":
                numeric[col[1]] = value
            else:
                categorical.setdefault(col[1], {})[_text(col[2])] = value
        if numeric:
            eq["coefficients"] = numeric
        if categorical:
            eq["categorical"] = categorical
        equations.append(eq)
    doc["equations"] = equations
    doc["producer"] = f"quickscore.export.coefficients ({type(final).__module__.split('.')[0]} {type(final).__name__})"
    if description:
        doc["description"] = description
    if path is not None:
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(doc, fh, indent=1, ensure_ascii=False, allow_nan=False)
            fh.write("\n")
    return doc


def _input_names(estimator: Any, feature_names: Sequence[str] | None) -> list[str]:
    if feature_names is not None:
        names = [str(n) for n in feature_names]
    else:
        found = getattr(estimator, "feature_names_in_", None)
        if found is None:
            n = getattr(estimator, "n_features_in_", None)
            if n is None:
                raise ExportError("give feature_names: the estimator does not know its input names")
            raise ExportError(f"give feature_names: the estimator was fitted on an array of {n} unnamed columns")
        names = [str(n) for n in found]
    expected = getattr(estimator, "n_features_in_", None)
    if expected is not None and len(names) != expected:
        raise ExportError(f"{len(names)} feature names for an estimator fitted on {expected} columns")
    if len(set(names)) != len(names):
        raise ExportError(f"feature names repeat: {[n for i, n in enumerate(names) if n in names[:i]]}")
    return names


def _columns(pre: list, names: list[str]) -> list[tuple]:
    """The final estimator's input columns: ("num", feature) or ("cat", feature, level)."""
    if not pre:
        return [("num", n) for n in names]
    if len(pre) > 1:
        raise ExportError(f"a pipeline with {len(pre)} preprocessing steps; only one OneHotEncoder or ColumnTransformer is supported")
    step = pre[0]
    kind = type(step).__name__
    if kind == "OneHotEncoder":
        return _one_hot(step, names)
    if kind == "ColumnTransformer":
        out: list[tuple] = []
        for _, trans, cols in step.transformers_:
            selected = _select(cols, names)
            if isinstance(trans, str):
                if trans == "drop":
                    continue
                if trans == "passthrough":
                    out += [("num", n) for n in selected]
                    continue
            elif type(trans).__name__ == "OneHotEncoder":
                out += _one_hot(trans, selected)
                continue
            elif type(trans).__name__ == "FunctionTransformer" and getattr(trans, "func", None) is None:
                # scikit-learn keeps a fitted "passthrough" as an identity FunctionTransformer.
                out += [("num", n) for n in selected]
                continue
            raise ExportError(f"ColumnTransformer step {type(trans).__name__ if not isinstance(trans, str) else trans!r} is not supported (only OneHotEncoder and 'passthrough')")
        return out
    raise ExportError(f"preprocessing step {kind} is not supported (only OneHotEncoder or a ColumnTransformer of them)")


def _select(cols: Any, names: list[str]) -> list[str]:
    import numpy as np

    if isinstance(cols, str):
        cols = [cols]
    if callable(cols):
        raise ExportError("a ColumnTransformer column selector that is a callable is not supported")
    arr = np.asarray(cols)
    if arr.dtype == bool:
        return [n for n, keep in zip(names, arr) if keep]
    out = []
    for c in arr.tolist():
        if isinstance(c, str):
            if c not in names:
                raise ExportError(f"ColumnTransformer column {c!r} is not among the feature names")
            out.append(c)
        else:
            out.append(names[int(c)])
    return out


def _one_hot(encoder: Any, names: list[str]) -> list[tuple]:
    if getattr(encoder, "handle_unknown", "error") not in ("error", "ignore"):
        raise ExportError(f"OneHotEncoder(handle_unknown={encoder.handle_unknown!r}) is not supported")
    if getattr(encoder, "max_categories", None) is not None or getattr(encoder, "min_frequency", None) is not None:
        raise ExportError("OneHotEncoder with infrequent categories is not supported")
    if len(encoder.categories_) != len(names):
        raise ExportError(f"OneHotEncoder was fitted on {len(encoder.categories_)} columns, given {len(names)}")
    drops = getattr(encoder, "drop_idx_", None)
    unseen = "ignore" if encoder.handle_unknown == "ignore" else "error"
    out = []
    for i, (name, levels) in enumerate(zip(names, encoder.categories_)):
        drop = None if drops is None or drops[i] is None else int(drops[i])
        for k, level in enumerate(levels):
            # A dropped level (drop="first", "if_binary") has no column: it is a level
            # without a coefficient ("level" entries are not columns of the estimator).
            out.append(("cat" if k != drop else "level", name, _label(level, f"category of {name!r}", allow_float=True), unseen))
    return out


def _features(columns: list[tuple]) -> list[dict]:
    out: list[dict] = []
    seen: dict[str, dict] = {}
    for col in columns:
        name = col[1]
        if col[0] == "num":
            if name in seen:
                raise ExportError(f"the column {name!r} is used twice")
            seen[name] = {"name": name, "type": "continuous"}
            out.append(seen[name])
            continue
        f = seen.get(name)
        if f is None:
            f = seen[name] = {"name": name, "type": "categorical", "levels": [], "unseen": col[3]}
            out.append(f)
        elif f["type"] != "categorical":
            raise ExportError(f"the column {name!r} is used twice")
        f["levels"].append(col[2])
    return out


def _label(value: Any, what: str, allow_float: bool = False) -> Any:
    """A JSON value for a class or a level (numpy scalars to Python)."""
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if value is None or (isinstance(value, float) and math.isnan(value)):
        raise ExportError(f"a missing value as a {what} cannot be written")
    if isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float) and allow_float and math.isfinite(value):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise ExportError(f"the {what} {value!r} is not a string, an integer or a boolean")


def _text(level: Any) -> str:
    from quickscore.io.native.coefficients import label_text

    return label_text(level)


def _finite(x: float, what: str) -> float:
    v = float(x)
    if not math.isfinite(v):
        raise ExportError(f"the {what} is {v}: not a finite number")
    return v
