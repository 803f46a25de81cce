"""RegressionModel: linear, logistic, multinomial; every normalizationMethod."""

from __future__ import annotations

import math

import pytest

FIELDS = """
<DataField name="x" optype="continuous" dataType="double"/>
<DataField name="z" optype="continuous" dataType="double"/>
<DataField name="c" optype="categorical" dataType="string"><Value value="a"/><Value value="b"/></DataField>
<DataField name="y" optype="categorical" dataType="string"><Value value="no"/><Value value="yes"/></DataField>
<DataField name="k" optype="categorical" dataType="string"><Value value="p"/><Value value="q"/><Value value="r"/></DataField>
<DataField name="r" optype="continuous" dataType="double"/>
"""


def model(tables: str, function: str = "regression", target: str = "r", method: str = "none") -> str:
    return f"""
<RegressionModel functionName="{function}" normalizationMethod="{method}">
  <MiningSchema><MiningField name="x"/><MiningField name="z"/><MiningField name="c"/><MiningField name="{target}" usageType="predicted"/></MiningSchema>
  {tables}
</RegressionModel>"""


LINEAR = """<RegressionTable intercept="0.5">
  <NumericPredictor name="x" coefficient="2"/>
  <NumericPredictor name="z" exponent="2" coefficient="-1"/>
  <CategoricalPredictor name="c" value="a" coefficient="10"/>
  <PredictorTerm coefficient="3"><FieldRef field="x"/><FieldRef field="z"/></PredictorTerm>
</RegressionTable>"""


def test_linear_regression_terms(pmml):
    m = pmml(FIELDS, model(LINEAR))
    assert m.predict({"x": 1, "z": 2, "c": "a"})["r"] == 2 - 4 + 10 + 6 + 0.5
    assert m.predict({"x": 1, "z": 2, "c": "b"})["r"] == 2 - 4 + 6 + 0.5


def test_missing_numeric_gives_missing_but_missing_categorical_is_ignored(pmml):
    m = pmml(FIELDS, model(LINEAR))
    assert m.predict({"x": None, "z": 2, "c": "a"})["r"] is None
    assert m.predict({"x": 1, "z": 2, "c": None})["r"] == 2 - 4 + 6 + 0.5


@pytest.mark.parametrize(
    "method, f",
    [
        ("none", lambda y: y),
        ("logit", lambda y: 1 / (1 + math.exp(-y))),
        ("exp", math.exp),
        ("probit", lambda y: 0.5 * math.erfc(-y / math.sqrt(2))),
        ("cloglog", lambda y: 1 - math.exp(-math.exp(y))),
        ("loglog", lambda y: math.exp(-math.exp(-y))),
        ("cauchit", lambda y: 0.5 + math.atan(y) / math.pi),
    ],
)
def test_regression_normalization(pmml, method, f):
    m = pmml(FIELDS, model('<RegressionTable intercept="0.25"><NumericPredictor name="x" coefficient="0.5"/></RegressionTable>', method=method))
    assert m.predict({"x": 1.0})["r"] == pytest.approx(f(0.75), rel=1e-15)


BINARY = """<RegressionTable intercept="0.5" targetCategory="yes"><NumericPredictor name="x" coefficient="2"/></RegressionTable>
<RegressionTable intercept="0" targetCategory="no"/>"""


@pytest.mark.parametrize("method", ["logit", "softmax", "probit", "cloglog", "loglog", "cauchit"])
def test_binary_classification(pmml, method):
    out = pmml(FIELDS, model(BINARY, "classification", "y", method)).predict({"x": 0.25})
    link = {
        "logit": lambda y: 1 / (1 + math.exp(-y)),
        "softmax": lambda y: 1 / (1 + math.exp(-y)),
        "probit": lambda y: 0.5 * math.erfc(-y / math.sqrt(2)),
        "cloglog": lambda y: 1 - math.exp(-math.exp(y)),
        "loglog": lambda y: math.exp(-math.exp(-y)),
        "cauchit": lambda y: 0.5 + math.atan(y) / math.pi,
    }[method]
    assert out["probability(yes)"] == pytest.approx(link(1.0), rel=1e-14)
    assert out["probability(no)"] == pytest.approx(1 - link(1.0), rel=1e-14)
    assert out["y"] == ("yes" if link(1.0) > 0.5 else "no")


MULTI = """<RegressionTable intercept="1" targetCategory="p"><NumericPredictor name="x" coefficient="1"/></RegressionTable>
<RegressionTable intercept="0.5" targetCategory="q"><NumericPredictor name="x" coefficient="-1"/></RegressionTable>
<RegressionTable intercept="0" targetCategory="r"/>"""


def test_multinomial_softmax(pmml):
    out = pmml(FIELDS, model(MULTI, "classification", "k", "softmax")).predict({"x": 1.0})
    e = [math.exp(2), math.exp(-0.5), 1.0]
    for label, v in zip("pqr", e):
        assert out[f"probability({label})"] == pytest.approx(v / sum(e), rel=1e-14)
    assert out["k"] == "p"


def test_multinomial_simplemax(pmml):
    out = pmml(FIELDS, model(MULTI, "classification", "k", "simplemax")).predict({"x": 0.0})
    assert out["probability(p)"] == pytest.approx(1 / 1.5)


def test_multinomial_none_last_is_residual(pmml):
    tables = MULTI.replace('intercept="1"', 'intercept="0.2"').replace('intercept="0.5"', 'intercept="0.3"')
    out = pmml(FIELDS, model(tables, "classification", "k", "none")).predict({"x": 0.0})
    assert out["probability(r)"] == pytest.approx(0.5)


def test_missing_input_uses_target_priors(pmml):
    m = pmml(
        FIELDS,
        model(BINARY, "classification", "y", "logit").replace(
            "</MiningSchema>",
            '</MiningSchema><Targets><Target field="y"><TargetValue value="no" priorProbability="0.8"/><TargetValue value="yes" priorProbability="0.2"/></Target></Targets>',
        ),
    )
    out = m.predict({"x": None})
    assert out["y"] == "no" and out["probability(no)"] == 0.8


def test_targets_rescale_clamp_and_cast(pmml):
    body = model('<RegressionTable intercept="0"><NumericPredictor name="x" coefficient="1"/></RegressionTable>').replace(
        "</MiningSchema>",
        '</MiningSchema><Targets><Target field="r" min="-1" max="10" rescaleFactor="2" rescaleConstant="0.5" castInteger="floor"/></Targets>',
    )
    m = pmml(FIELDS, body)
    assert m.predict({"x": 3.2})["r"] == math.floor(3.2 * 2 + 0.5)
    assert m.predict({"x": 30})["r"] == 20.0
    assert m.predict({"x": -30})["r"] == -2.0


def test_target_default_value_when_no_prediction(pmml):
    body = model('<RegressionTable intercept="0"><NumericPredictor name="x" coefficient="1"/></RegressionTable>').replace(
        "</MiningSchema>", '</MiningSchema><Targets><Target field="r"><TargetValue defaultValue="42"/></Target></Targets>'
    )
    assert pmml(FIELDS, body).predict({"x": None})["r"] == 42.0
