"""JSON coefficients: linear and logistic models as intercepts and named coefficients.

The format (version 1) is documented in ``docs/coefficients.md`` and described by the JSON
Schema ``quickscore/schemas/coefficients-v1.schema.json``; ``quickscore.export.coefficients``
writes it from scikit-learn. A document is validated here without a JSON Schema library: the
checks below are the schema's, plus the ones a schema cannot say (coefficients name declared
features, levels and classes are unique, one equation per class for softmax, ...). Every
refusal is a :class:`quickscore.errors.NativeFormat` naming the key path (``$.equations[0]
.coefficients.age``) and the value at fault.

The model becomes one RegressionModel: each equation a RegressionTable (continuous features
as NumericPredictors, categorical levels as CategoricalPredictors), the link its
normalizationMethod. PMML's rules for missing values apply: a missing continuous value makes
the prediction missing, a missing categorical value contributes nothing.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

from quickscore.errors import NativeFormat
from quickscore.io import Format, refuse_options
from quickscore.ir import (
    CategoricalPredictor,
    DataField,
    DataType,
    Document,
    Header,
    MiningField,
    NumericPredictor,
    OpType,
    RegressionModel,
    RegressionTable,
)

__all__ = ["FORMATS", "MARKER", "VERSION", "label_text", "read_coefficients", "sniff_coefficients", "validate"]

FORMAT_NAME = "coefficients"
MARKER = "quickscore-coefficients"
VERSION = 1

# link -> RegressionModel normalizationMethod
LINKS = {
    "identity": "none",
    "exp": "exp",
    "logit": "logit",
    "probit": "probit",
    "cloglog": "cloglog",
    "loglog": "loglog",
    "cauchit": "cauchit",
    "softmax": "softmax",
}
REGRESSION_LINKS = ("identity", "exp", "logit", "probit", "cloglog", "loglog", "cauchit")
BINARY_LINKS = ("logit", "probit", "cloglog", "loglog", "cauchit")
CONTINUOUS_TYPES = {"double": DataType.DOUBLE, "float": DataType.FLOAT, "integer": DataType.INTEGER}
CATEGORICAL_TYPES = {"string": DataType.STRING, "integer": DataType.INTEGER, "double": DataType.DOUBLE, "boolean": DataType.BOOLEAN}

# key -> (required, JSON types allowed) per object; the schema's "additionalProperties": false.
_TOP_KEYS = {
    "format": True, "version": True, "function": True, "link": True, "features": True, "equations": True,
    "target": False, "description": False, "producer": False,
}
_TARGET_KEYS = {"name": False, "classes": False}
_FEATURE_KEYS = {"name": True, "type": True, "data_type": False, "levels": False, "unseen": False}
_EQUATION_KEYS = {"class": False, "intercept": True, "coefficients": False, "categorical": False}


class _Invalid(Exception):
    def __init__(self, path: str, message: str, value: Any = None, show_value: bool = True):
        self.path, self.message, self.value, self.show_value = path, message, value, show_value


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, float) or math.isfinite(value) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _fail(path: str, message: str, value: Any = None, show_value: bool = True) -> _Invalid:
    return _Invalid(path, message, value, show_value)


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _object(value: Any, path: str, keys: dict[str, bool]) -> dict:
    if not isinstance(value, dict):
        raise _fail(path, f"must be an object, not {_type_name(value)}", value)
    for key, required in keys.items():
        if required and key not in value:
            raise _fail(path, f"misses the required key {key!r}", show_value=False)
    for key in value:
        if key not in keys:
            raise _fail(f"{path}.{key}", f"is not a key of this object (allowed: {', '.join(keys)})", value[key])
    return value


def _string(value: Any, path: str, allowed: tuple[str, ...] | None = None) -> str:
    if not isinstance(value, str):
        raise _fail(path, f"must be a string, not {_type_name(value)}", value)
    if allowed is not None and value not in allowed:
        raise _fail(path, f"must be one of {', '.join(allowed)}", value)
    return value


def _number(value: Any, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _fail(path, f"must be a number, not {_type_name(value)}", value)
    if not math.isfinite(value):
        raise _fail(path, "must be a finite number", value)
    return float(value)


def _array(value: Any, path: str, min_items: int = 0) -> list:
    if not isinstance(value, list):
        raise _fail(path, f"must be an array, not {_type_name(value)}", value)
    if len(value) < min_items:
        raise _fail(path, f"must have at least {min_items} item{'s' if min_items > 1 else ''}", value)
    return value


def label_text(value: Any) -> str:
    """A level or class as text: strings as they are, integers in decimal, booleans
    ``true``/``false``, other numbers as Python's shortest round-trip repr."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 2**53 else repr(value)
    return value


def _labels_type(values: list, path: str, declared: str | None, kinds: dict[str, DataType]) -> DataType:
    """The data type of a list of levels or classes: the declared one (checked), else inferred."""
    def kind(v: Any) -> str:
        if isinstance(v, bool):
            return "boolean"
        if isinstance(v, int):
            return "integer"
        if isinstance(v, float):
            return "double"
        return "string"

    found = {kind(v) for v in values}
    if declared is None:
        if found <= {"integer", "double"} and "double" in found:
            return kinds["double"]
        if len(found) != 1:
            raise _fail(path, f"mixes {' and '.join(sorted(found))} values (declare data_type or use one type)", values)
        return kinds[found.pop()]
    fits = {
        "string": {"string"},
        "integer": {"integer"},
        "double": {"integer", "double"},
        "float": {"integer", "double"},
        "boolean": {"boolean"},
    }[declared]
    for i, v in enumerate(values):
        if kind(v) not in fits:
            raise _fail(f"{path}[{i}]", f"is not a {declared} value", v)
    return kinds[declared]


def validate(doc: Any) -> None:
    """Raise :class:`NativeFormat` naming the key path and value where ``doc`` (parsed JSON)
    breaks the format; return None for a valid document."""
    try:
        _validate(doc)
    except _Invalid as exc:
        raise NativeFormat(_message(exc, None)) from None


def _message(exc: _Invalid, where: str | None) -> str:
    at = f" ({where})" if where else ""
    value = f", found {_show(exc.value)}" if exc.show_value else ""
    return f"JSON coefficients{at}: {exc.path} {exc.message}{value}"


class _Model:
    """A validated document, ready for the IR."""

    def __init__(self) -> None:
        self.function = ""
        self.link = ""
        self.target_name = "_target"
        self.classes: list = []
        self.class_type = DataType.STRING
        self.features: list[tuple[str, str, DataType, list, str]] = []  # name, type, data type, levels, unseen
        self.equations: list[tuple[Any, float, list[tuple[str, float]], list[tuple[str, str, float]]]] = []
        self.description: str | None = None
        self.producer: str | None = None


def _validate(doc: Any) -> _Model:
    m = _Model()
    _object(doc, "$", _TOP_KEYS)
    if doc["format"] != MARKER:
        raise _fail("$.format", f"must be {MARKER!r}", doc["format"])
    version = doc["version"]
    if isinstance(version, bool) or not isinstance(version, int):
        raise _fail("$.version", f"must be an integer, not {_type_name(version)}", version)
    if version > VERSION:
        raise _fail("$.version", f"is newer than the versions this quickscore reads (1 to {VERSION}); upgrade quickscore", version)
    if version < 1:
        raise _fail("$.version", "must be 1 or more", version)
    m.function = _string(doc["function"], "$.function", ("regression", "classification"))
    m.link = _string(doc["link"], "$.link", tuple(LINKS))
    for key in ("description", "producer"):
        if key in doc:
            setattr(m, key, _string(doc[key], f"$.{key}"))
    classification = m.function == "classification"
    target = _object(doc.get("target", {}), "$.target", _TARGET_KEYS)
    if "name" in target:
        m.target_name = _string(target["name"], "$.target.name")
        if not m.target_name:
            raise _fail("$.target.name", "must not be empty", m.target_name)
    if classification:
        if "classes" not in target:
            raise _fail("$.target", "misses the key 'classes' (a classification model names its classes)", show_value=False)
        classes = _array(target["classes"], "$.target.classes", 2)
        for i, c in enumerate(classes):
            if not isinstance(c, (str, int, bool)) or isinstance(c, float):
                raise _fail(f"$.target.classes[{i}]", f"must be a string, an integer or a boolean, not {_type_name(c)}", c)
        texts = [label_text(c) for c in classes]
        for i, t in enumerate(texts):
            if t in texts[:i]:
                raise _fail(f"$.target.classes[{i}]", "repeats a class", classes[i])
        m.class_type = _labels_type(classes, "$.target.classes", None, {"string": DataType.STRING, "integer": DataType.INTEGER, "boolean": DataType.BOOLEAN, "double": DataType.DOUBLE})
        m.classes = classes
        if m.link not in (*BINARY_LINKS, "softmax"):
            raise _fail("$.link", f"is not a link of a classification model (use one of {', '.join((*BINARY_LINKS, 'softmax'))})", m.link)
    else:
        if "classes" in target:
            raise _fail("$.target.classes", "is only for classification models", target["classes"])
        if m.link not in REGRESSION_LINKS:
            raise _fail("$.link", f"is not a link of a regression model (use one of {', '.join(REGRESSION_LINKS)})", m.link)
    features = _array(doc["features"], "$.features")
    names: dict[str, int] = {}
    kinds: dict[str, tuple[str, set[str]]] = {}
    for i, f in enumerate(features):
        path = f"$.features[{i}]"
        _object(f, path, _FEATURE_KEYS)
        name = _string(f["name"], f"{path}.name")
        if not name:
            raise _fail(f"{path}.name", "must not be empty", name)
        if name in names:
            raise _fail(f"{path}.name", f"repeats the name of $.features[{names[name]}]", name)
        if name == m.target_name:
            raise _fail(f"{path}.name", "is the target's name", name)
        names[name] = i
        kind = _string(f["type"], f"{path}.type", ("continuous", "categorical"))
        data_type = f.get("data_type")
        if kind == "continuous":
            for key in ("levels", "unseen"):
                if key in f:
                    raise _fail(f"{path}.{key}", "is only for categorical features", f[key])
            if data_type is not None:
                _string(data_type, f"{path}.data_type", tuple(CONTINUOUS_TYPES))
            m.features.append((name, kind, CONTINUOUS_TYPES[data_type or "double"], [], "error"))
            kinds[name] = (kind, set())
        else:
            if "levels" not in f:
                raise _fail(path, "misses the key 'levels' (a categorical feature lists its levels)", show_value=False)
            levels = _array(f["levels"], f"{path}.levels", 1)
            for j, v in enumerate(levels):
                if not isinstance(v, (str, int, float, bool)):
                    raise _fail(f"{path}.levels[{j}]", f"must be a string, a number or a boolean, not {_type_name(v)}", v)
                if isinstance(v, float) and not math.isfinite(v):
                    raise _fail(f"{path}.levels[{j}]", "must be a finite number", v)
            if data_type is not None:
                _string(data_type, f"{path}.data_type", tuple(CATEGORICAL_TYPES))
            dt = _labels_type(levels, f"{path}.levels", data_type, CATEGORICAL_TYPES)
            texts = [label_text(v) for v in levels]
            for j, t in enumerate(texts):
                if t in texts[:j]:
                    raise _fail(f"{path}.levels[{j}]", "repeats a level", levels[j])
            unseen = _string(f.get("unseen", "error"), f"{path}.unseen", ("error", "ignore"))
            m.features.append((name, kind, dt, texts, unseen))
            kinds[name] = (kind, set(texts))
    equations = _array(doc["equations"], "$.equations", 1)
    seen_classes: dict[str, int] = {}
    class_texts = [label_text(c) for c in m.classes]
    for i, eq in enumerate(equations):
        path = f"$.equations[{i}]"
        _object(eq, path, _EQUATION_KEYS)
        label = None
        if classification:
            if "class" not in eq:
                raise _fail(path, "misses the key 'class' (the class this equation scores)", show_value=False)
            label = eq["class"]
            if label_text(label) not in class_texts or isinstance(label, float):
                raise _fail(f"{path}.class", f"is not one of $.target.classes {_show(m.classes)}", label)
            t = label_text(label)
            if t in seen_classes:
                raise _fail(f"{path}.class", f"repeats the class of $.equations[{seen_classes[t]}]", label)
            seen_classes[t] = i
            label = m.classes[class_texts.index(t)]
        elif "class" in eq:
            raise _fail(f"{path}.class", "is only for classification models", eq["class"])
        intercept = _number(eq["intercept"], f"{path}.intercept")
        numeric = []
        coefficients = eq.get("coefficients", {})
        if not isinstance(coefficients, dict):
            raise _fail(f"{path}.coefficients", f"must be an object, not {_type_name(coefficients)}", coefficients)
        for name, value in coefficients.items():
            where = f"{path}.coefficients.{name}"
            if name not in kinds:
                raise _fail(where, "names no feature of $.features", value)
            if kinds[name][0] != "continuous":
                raise _fail(where, f"names the categorical feature {name!r} (its coefficients go under 'categorical')", value)
            numeric.append((name, _number(value, where)))
        categorical = []
        by_feature = eq.get("categorical", {})
        if not isinstance(by_feature, dict):
            raise _fail(f"{path}.categorical", f"must be an object, not {_type_name(by_feature)}", by_feature)
        for name, levels in by_feature.items():
            where = f"{path}.categorical.{name}"
            if name not in kinds:
                raise _fail(where, "names no feature of $.features", levels)
            if kinds[name][0] != "categorical":
                raise _fail(where, f"names the continuous feature {name!r} (its coefficient goes under 'coefficients')", levels)
            if not isinstance(levels, dict):
                raise _fail(where, f"must be an object (level -> coefficient), not {_type_name(levels)}", levels)
            for level, value in levels.items():
                if level not in kinds[name][1]:
                    raise _fail(f"{where}.{level}", f"is not a level of {name!r}", value)
                categorical.append((name, level, _number(value, f"{where}.{level}")))
        m.equations.append((label, intercept, numeric, categorical))
    n = len(m.equations)
    if not classification:
        if n != 1:
            raise _fail("$.equations", f"must hold one equation for a regression model, not {n}", show_value=False)
    elif m.link == "softmax" or len(m.classes) > 2:
        if m.link not in ("softmax", "logit"):
            raise _fail("$.link", f"{m.link!r} is defined for two classes; {len(m.classes)} classes need softmax (or logit: one-vs-rest)", m.link)
        if n != len(m.classes):
            missing = [c for c in m.classes if label_text(c) not in seen_classes]
            raise _fail("$.equations", f"must hold one equation per class for link {m.link!r} ({len(m.classes)} classes, {n} equations; no equation for {_show(missing)})", show_value=False)
    elif n != 1:
        raise _fail("$.equations", f"must hold one equation (for the class whose probability the link gives) for a binary model with link {m.link!r}, not {n}", show_value=False)
    return m


def _document(m: _Model, source_name: str | None) -> Document:
    data_fields = []
    mining = []
    for name, kind, dt, levels, unseen in m.features:
        op = OpType.CONTINUOUS if kind == "continuous" else OpType.CATEGORICAL
        data_fields.append(DataField(name=name, data_type=dt, op_type=op, values=tuple(levels)))
        # "unseen": "ignore" - a value outside the levels is missing, and a missing
        # categorical value contributes nothing (PMML RegressionModel).
        mining.append(MiningField(name=name, invalid_value_treatment="asMissing" if unseen == "ignore" else "returnInvalid"))
    classification = m.function == "classification"
    if classification:
        data_fields.append(DataField(name=m.target_name, data_type=m.class_type, op_type=OpType.CATEGORICAL, values=tuple(label_text(c) for c in m.classes)))
    else:
        data_fields.append(DataField(name=m.target_name, data_type=DataType.DOUBLE, op_type=OpType.CONTINUOUS))
    mining.append(MiningField(name=m.target_name, usage_type="target"))
    tables = []
    for label, intercept, numeric, categorical in m.equations:
        tables.append(
            RegressionTable(
                intercept=intercept,
                target_category=None if label is None else label_text(label),
                numeric=tuple(NumericPredictor(name=n, coefficient=c) for n, c in numeric),
                categorical=tuple(CategoricalPredictor(name=n, value=v, coefficient=c) for n, v, c in categorical),
            )
        )
    if classification and len(m.classes) == 2 and m.link != "softmax":
        # Binary: the equation gives its class's probability through the link; the other
        # class gets the complement (PMML's binomial RegressionModel: the first table).
        other = next(c for c in m.classes if label_text(c) != tables[0].target_category)
        tables.append(RegressionTable(intercept=0.0, target_category=label_text(other)))
    model = RegressionModel(
        function_name=m.function,
        mining_schema=tuple(mining),
        model_name=None,
        algorithm_name="coefficients",
        normalization_method=LINKS[m.link],
        model_type="logisticRegression" if classification else "linearRegression",
        tables=tuple(tables),
    )
    return Document(
        format=FORMAT_NAME,
        version=str(VERSION),
        header=Header(application_name=m.producer or MARKER, description=m.description),
        data_fields=tuple(data_fields),
        model=model,
        source_name=source_name,
    )


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON (numbers must be finite)")


def _pairs(pairs: list[tuple[str, Any]]) -> dict:
    out: dict = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"the key {key!r} occurs twice in one object")
        out[key] = value
    return out


def loads(text: str | bytes, where: str | None = None) -> Any:
    """Parse JSON strictly (no NaN/Infinity, no repeated keys), as NativeFormat errors."""
    at = f" ({where})" if where else ""
    try:
        return json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_pairs)
    except UnicodeDecodeError as exc:
        raise NativeFormat(f"JSON coefficients{at}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except RecursionError:
        raise NativeFormat(f"JSON coefficients{at}: nested too deeply") from None
    except ValueError as exc:
        raise NativeFormat(f"JSON coefficients{at}: not valid JSON: {exc}") from None


def sniff_coefficients(head: bytes) -> bool:
    """A JSON object that carries the marker ``"quickscore-coefficients"`` in its first bytes."""
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    return head.lstrip(b" \t\r\n").startswith(b"{") and b'"' + MARKER.encode() + b'"' in head


def read_coefficients(chunks: Iterator[bytes], source_name: str | None, options: dict) -> Document:
    refuse_options(FORMAT_NAME, options)
    data = b"".join(chunks)
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    doc = loads(data, source_name)
    try:
        model = _validate(doc)
    except _Invalid as exc:
        raise NativeFormat(_message(exc, source_name)) from None
    return _document(model, source_name)


FORMATS = [Format(FORMAT_NAME, sniff_coefficients, read_coefficients)]
