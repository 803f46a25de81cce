"""The JSON coefficients format: reading, validation messages, and the shipped JSON Schema.

Documents the schema can judge are checked against it too (when the ``jsonschema`` package
is importable): quickscore accepts exactly what the schema accepts. The refusals that need
more than a schema (coefficients naming undeclared features, repeated levels, one equation
per class, ...) are listed apart, and the schema accepts those.
"""

from __future__ import annotations

import copy
import json
import math
from importlib import resources

import pytest

import quickscore
from quickscore.errors import NativeFormat
from quickscore.io import read_document

BASE = {
    "format": "quickscore-coefficients",
    "version": 1,
    "function": "classification",
    "link": "logit",
    "target": {"name": "churn", "classes": ["no", "yes"]},
    "features": [
        {"name": "tenure", "type": "continuous"},
        {"name": "plan", "type": "categorical", "levels": ["basic", "plus", "pro"], "unseen": "ignore"},
    ],
    "equations": [{"class": "yes", "intercept": -1.5, "coefficients": {"tenure": -0.02}, "categorical": {"plan": {"plus": 0.4, "pro": 0.9}}}],
}

REGRESSION = {
    "format": "quickscore-coefficients",
    "version": 1,
    "function": "regression",
    "link": "identity",
    "target": {"name": "price"},
    "features": [{"name": "area", "type": "continuous"}, {"name": "rooms", "type": "categorical", "data_type": "integer", "levels": [1, 2, 3]}],
    "equations": [{"intercept": 10.0, "coefficients": {"area": 2.5}, "categorical": {"rooms": {"2": 5.0, "3": 12.5}}}],
}

MULTINOMIAL = {
    "format": "quickscore-coefficients",
    "version": 1,
    "function": "classification",
    "link": "softmax",
    "target": {"classes": [0, 1, 2]},
    "features": [{"name": "x", "type": "continuous"}],
    "equations": [
        {"class": 0, "intercept": 0.5, "coefficients": {"x": -1.0}},
        {"class": 1, "intercept": 0.0, "coefficients": {"x": 0.25}},
        {"class": 2, "intercept": -0.5, "coefficients": {"x": 0.75}},
    ],
}


def _load(doc) -> quickscore.Model:
    return quickscore.load(json.dumps(doc).encode())


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def test_binary_logistic() -> None:
    model = _load(BASE)
    assert model.output_names == ["churn", "probability(no)", "probability(yes)"]
    out = model.predict({"tenure": 10.0, "plan": "pro"})
    assert out["probability(yes)"] == pytest.approx(_sigmoid(-1.5 - 0.2 + 0.9), rel=1e-15)
    assert out["probability(no)"] == pytest.approx(1.0 - out["probability(yes)"], rel=1e-15)
    # unseen "ignore": an unknown level contributes nothing; "basic" has no coefficient
    assert model.predict({"tenure": 10.0, "plan": "gold"})["probability(yes)"] == pytest.approx(_sigmoid(-1.7), rel=1e-15)
    assert model.predict({"tenure": 10.0, "plan": "basic"})["probability(yes)"] == pytest.approx(_sigmoid(-1.7), rel=1e-15)
    assert model.info["format"] == "coefficients"
    schema = {f.name: (f.data_type, f.op_type, f.values) for f in model.schema.inputs}
    assert schema == {"tenure": ("double", "continuous", ()), "plan": ("string", "categorical", ("basic", "plus", "pro"))}


def test_regression_with_integer_levels() -> None:
    model = _load(REGRESSION)
    assert model.predict({"area": 4.0, "rooms": 3})["price"] == pytest.approx(10.0 + 10.0 + 12.5)
    with pytest.raises(quickscore.EvaluationError, match="rooms"):  # unseen "error" (the default)
        model.predict({"area": 4.0, "rooms": 7})


def test_multinomial_softmax() -> None:
    model = _load(MULTINOMIAL)
    out = model.predict({"x": 2.0})
    etas = [0.5 - 2.0, 0.5, -0.5 + 1.5]
    total = sum(math.exp(e) for e in etas)
    for k, e in enumerate(etas):
        assert out[f"probability({k})"] == pytest.approx(math.exp(e) / total, rel=1e-14)
    assert out["_target"] == 2


@pytest.mark.parametrize("link, inverse", [
    ("probit", lambda e: 0.5 * math.erfc(-e / math.sqrt(2))),
    ("cloglog", lambda e: 1 - math.exp(-math.exp(e))),
    ("loglog", lambda e: math.exp(-math.exp(-e))),
    ("cauchit", lambda e: 0.5 + math.atan(e) / math.pi),
])
def test_binary_links(link, inverse) -> None:
    doc = copy.deepcopy(BASE)
    doc["link"] = link
    out = _load(doc).predict({"tenure": 10.0, "plan": "plus"})
    assert out["probability(yes)"] == pytest.approx(inverse(-1.5 - 0.2 + 0.4), rel=1e-14)


def test_exp_link_regression() -> None:
    doc = copy.deepcopy(REGRESSION)
    doc["link"] = "exp"
    assert _load(doc).predict({"area": 0.1, "rooms": 1})["price"] == pytest.approx(math.exp(10.25), rel=1e-14)


def test_sniffed_and_forced() -> None:
    text = json.dumps(BASE).encode()
    assert read_document(text).format == "coefficients"
    assert read_document(text, format="coefficients").format == "coefficients"


# (id, edit of BASE, message): refused by quickscore and by the JSON Schema
SCHEMA_REFUSALS = [
    ("wrong-marker", lambda d: d.update(format="coefs"), r"\$\.format must be 'quickscore-coefficients', found \"coefs\""),
    ("future-version", lambda d: d.update(version=2), r"\$\.version is newer than the versions this quickscore reads .*found 2"),
    ("version-type", lambda d: d.update(version="1"), r"\$\.version must be an integer, not a string, found \"1\""),
    ("missing-key", lambda d: d.pop("equations"), r"\$ misses the required key 'equations'"),
    ("unknown-key", lambda d: d.update(colour="red"), r"\$\.colour is not a key of this object"),
    ("bad-link", lambda d: d.update(link="tanh"), r"\$\.link must be one of .*found \"tanh\""),
    ("regression-link-for-classification", lambda d: d.update(link="identity"), r"\$\.link is not a link of a classification model"),
    ("intercept-type", lambda d: d["equations"][0].update(intercept="-1.5"), r"\$\.equations\[0\]\.intercept must be a number, not a string, found \"-1\.5\""),
    ("coefficient-type", lambda d: d["equations"][0]["coefficients"].update(tenure=[1]), r"\$\.equations\[0\]\.coefficients\.tenure must be a number, not an array, found \[1\]"),
    ("level-coefficient-type", lambda d: d["equations"][0]["categorical"]["plan"].update(pro=None), r"\$\.equations\[0\]\.categorical\.plan\.pro must be a number, not null"),
    ("feature-type", lambda d: d["features"][0].update(type="numeric"), r"\$\.features\[0\]\.type must be one of continuous, categorical, found \"numeric\""),
    ("categorical-without-levels", lambda d: d["features"][1].pop("levels"), r"\$\.features\[1\] misses the key 'levels'"),
    ("levels-on-continuous", lambda d: d["features"][0].update(levels=[1, 2]), r"\$\.features\[0\]\.levels is only for categorical features"),
    ("classes-missing", lambda d: d["target"].pop("classes"), r"\$\.target misses the key 'classes'"),
    ("one-class", lambda d: d["target"].update(classes=["yes"]), r"\$\.target\.classes must have at least 2 items"),
    ("class-missing", lambda d: d["equations"][0].pop("class"), r"\$\.equations\[0\] misses the key 'class'"),
    ("no-equations", lambda d: d.update(equations=[]), r"\$\.equations must have at least 1 item"),
    ("features-not-array", lambda d: d.update(features={"tenure": "continuous"}), r"\$\.features must be an array, not an object"),
    ("unseen-value", lambda d: d["features"][1].update(unseen="drop"), r"\$\.features\[1\]\.unseen must be one of error, ignore, found \"drop\""),
    ("only-unknown-keys", lambda d: (d.clear(), d.update(x=1)), r"\$ misses the required key 'format'"),
]

# (id, edit, message): refused by quickscore, beyond what the schema can say
SEMANTIC_REFUSALS = [
    ("unknown-coefficient", lambda d: d["equations"][0]["coefficients"].update(tenur=0.1), r"\$\.equations\[0\]\.coefficients\.tenur names no feature of \$\.features, found 0\.1"),
    ("coefficient-on-categorical", lambda d: d["equations"][0]["coefficients"].update(plan=0.1), r"\$\.equations\[0\]\.coefficients\.plan names the categorical feature 'plan'"),
    ("unknown-level", lambda d: d["equations"][0]["categorical"]["plan"].update(gold=0.1), r"\$\.equations\[0\]\.categorical\.plan\.gold is not a level of 'plan', found 0\.1"),
    ("repeated-level", lambda d: d["features"][1].update(levels=["basic", "basic"]), r"\$\.features\[1\]\.levels\[1\] repeats a level, found \"basic\""),
    ("repeated-feature", lambda d: d["features"].append({"name": "tenure", "type": "continuous"}), r"\$\.features\[2\]\.name repeats the name of \$\.features\[0\]"),
    ("unknown-class", lambda d: d["equations"][0].update({"class": "maybe"}), r"\$\.equations\[0\]\.class is not one of \$\.target\.classes"),
    ("two-binary-equations", lambda d: d["equations"].append({"class": "no", "intercept": 0.0}), r"\$\.equations must hold one equation .* for a binary model with link 'logit', not 2"),
    ("mixed-levels", lambda d: d["features"][1].update(levels=["basic", 2]), r"\$\.features\[1\]\.levels mixes integer and string values"),
    ("repeated-class", lambda d: d["target"].update(classes=["no", "no"]), r"\$\.target\.classes\[1\] repeats a class"),
]


def _edited(edit) -> dict:
    doc = copy.deepcopy(BASE)
    edit(doc)
    return doc


@pytest.mark.parametrize("edit, message", [pytest.param(e, m, id=i) for i, e, m in SCHEMA_REFUSALS + SEMANTIC_REFUSALS])
def test_refused_with_path_and_value(edit, message) -> None:
    with pytest.raises(NativeFormat, match=r"^JSON coefficients: " + message):
        quickscore.load(json.dumps(_edited(edit)).encode(), format="coefficients")


def test_softmax_needs_an_equation_per_class() -> None:
    doc = copy.deepcopy(MULTINOMIAL)
    doc["equations"].pop()
    with pytest.raises(NativeFormat, match=r"\$\.equations must hold one equation per class for link 'softmax' \(3 classes, 2 equations; no equation for \[2\]\)"):
        _load(doc)


@pytest.mark.parametrize("text, message", [
    (b'{"format": "quickscore-coefficients", "version": 1, "version": 1}', r"the key 'version' occurs twice"),
    (b'{"format": "quickscore-coefficients", "version": NaN}', r"NaN is not JSON"),
    (b'{"format": "quickscore-coefficients", "version": 1', r"not valid JSON"),
    (b'{"format": "quickscore-coefficients", "x": "\xff"}', r"not UTF-8|not valid JSON"),
    (b'{"format": "quickscore-coefficients", "x": ' + b"[" * 100000 + b"]" * 100000 + b"}", r"nested too deeply|not valid JSON"),
])
def test_malformed_json(text: bytes, message: str) -> None:
    with pytest.raises(NativeFormat, match=message):
        quickscore.load(text, format="coefficients")


def test_validation_message_names_the_source(tmp_path) -> None:
    path = tmp_path / "m.json"
    path.write_text(json.dumps(_edited(lambda d: d.update(version=3))))
    with pytest.raises(NativeFormat, match=r"^JSON coefficients \(.*m\.json\): \$\.version is newer"):
        quickscore.load(path)


# --- the shipped JSON Schema ------------------------------------------------------------------


def _schema() -> dict:
    return json.loads(resources.files("quickscore").joinpath("schemas/coefficients-v1.schema.json").read_text(encoding="utf-8"))


def test_schema_is_shipped_and_is_json() -> None:
    schema = _schema()
    assert schema["properties"]["format"]["const"] == "quickscore-coefficients"
    assert schema["properties"]["version"]["const"] == 1


def test_schema_is_a_valid_json_schema() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.Draft202012Validator.check_schema(_schema())


def test_schema_agrees_with_the_reader() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft202012Validator(_schema())
    for doc in (BASE, REGRESSION, MULTINOMIAL):
        assert not list(validator.iter_errors(doc))
        _load(doc)
    for case_id, edit, _ in SCHEMA_REFUSALS:
        assert list(validator.iter_errors(_edited(edit))), f"the schema accepts {case_id}"
    for case_id, edit, _ in SEMANTIC_REFUSALS:
        assert not list(validator.iter_errors(_edited(edit))), f"the schema refuses {case_id} (move it to SCHEMA_REFUSALS)"
