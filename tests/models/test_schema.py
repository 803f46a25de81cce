"""DataDictionary and MiningSchema: typing, validity, missing/invalid/outlier treatments.

Each test reads a field back through a one-term linear regression (r = x) or an
identity transformedValue output, changing one attribute at a time.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest

import quickscore


def identity(field_xml: str, mining_attrs: str = "", field: str = "x") -> tuple[str, str]:
    fields = field_xml + '<DataField name="r" optype="continuous" dataType="double"/>'
    model = f"""<RegressionModel functionName="regression">
      <MiningSchema><MiningField name="{field}" {mining_attrs}/><MiningField name="r" usageType="predicted"/></MiningSchema>
      <Output><OutputField name="v" feature="transformedValue" dataType="string"><FieldRef field="{field}"/></OutputField></Output>
      <RegressionTable intercept="0"/></RegressionModel>"""
    return fields, model


DOUBLE = '<DataField name="x" optype="continuous" dataType="double"/>'


def value(pmml, field_xml, x, mining_attrs=""):
    return pmml(*identity(field_xml, mining_attrs)).predict({"x": x})["v"]


@pytest.mark.parametrize(
    "data_type, given, expected",
    [
        ("double", "1.5", "1.5"),
        ("double", 2, "2.0"),  # a double as text is Java's Double.toString (as JPMML-Evaluator writes it)
        ("integer", "3", "3"),
        ("float", "0.1", "0.1"),  # Float.toString
        ("string", 7, "7"),
        ("boolean", "true", "true"),
        ("date", "2024-02-29", "2024-02-29"),
        ("dateDaysSince[1970]", "1970-01-11", "10"),
        ("dateTimeSecondsSince[1970]", "1970-01-01T00:01:00", "60"),
    ],
)
def test_data_types(pmml, data_type, given, expected):
    op = "categorical" if data_type in ("string", "boolean") else "continuous"
    got = value(pmml, f'<DataField name="x" optype="{op}" dataType="{data_type}"/>', given)
    assert got == expected


def test_unparseable_value_is_invalid(pmml):
    m = pmml(*identity(DOUBLE))
    with pytest.raises(quickscore.InvalidValue, match=r"Invalid value 'abc' for field 'x' \(double, continuous\) in MiningSchema"):
        m.predict({"x": "abc"})


def test_batch_keeps_scoring_other_rows_under_return_invalid(pmml):
    m = pmml(*identity(DOUBLE))
    out = m.predict([{"x": "1"}, {"x": "abc"}, {"x": "3"}])
    assert out["v"][0] == "1.0" and pd.isna(out["v"][1]) and out["v"][2] == "3.0"
    assert out["_error"][1].startswith("Invalid value 'abc'") and pd.isna(out["_error"][0])


@pytest.mark.parametrize(
    "treatment, expected",
    [("asIs", "7.0"), ("asMissing", None), ("asValue", "0.0")],
)
def test_invalid_value_treatment(pmml, treatment, expected):
    field = '<DataField name="x" optype="continuous" dataType="double"><Interval closure="closedClosed" leftMargin="0" rightMargin="5"/></DataField>'
    extra = ' invalidValueReplacement="0"' if treatment == "asValue" else ""
    assert value(pmml, field, 7, f'invalidValueTreatment="{treatment}"{extra}') == expected


@pytest.mark.parametrize(
    "closure, x, valid",
    [
        ("openOpen", 0, False),
        ("openClosed", 5, True),
        ("closedOpen", 5, False),
        ("closedClosed", 0, True),
    ],
)
def test_interval_closures(pmml, closure, x, valid):
    field = f'<DataField name="x" optype="continuous" dataType="double"><Interval closure="{closure}" leftMargin="0" rightMargin="5"/></DataField>'
    got = value(pmml, field, x, 'invalidValueTreatment="asMissing"')
    assert (got is not None) == valid


def test_categorical_valid_values_and_invalid_and_missing_properties(pmml):
    field = """<DataField name="x" optype="categorical" dataType="string">
      <Value value="a"/><Value value="b"/><Value value="bad" property="invalid"/><Value value="NA" property="missing"/></DataField>"""
    m = pmml(*identity(field, 'invalidValueTreatment="asMissing" missingValueReplacement="b"'))
    out = m.predict([{"x": "a"}, {"x": "zzz"}, {"x": "NA"}, {"x": "bad"}, {"x": None}])
    assert list(out["v"]) == ["a", "b", "b", "b", "b"]


def test_missing_value_replacement(pmml):
    assert value(pmml, DOUBLE, None, 'missingValueReplacement="2.5"') == "2.5"


def test_missing_value_treatment_return_invalid(pmml):
    m = pmml(*identity(DOUBLE, 'missingValueTreatment="returnInvalid"'))
    with pytest.raises(quickscore.MissingValue):
        m.predict({"x": None})


@pytest.mark.parametrize(
    "outliers, x, expected",
    [("asIs", 100, "100.0"), ("asMissingValues", 100, None), ("asExtremeValues", 100, "10.0"), ("asExtremeValues", -100, "-10.0")],
)
def test_outliers(pmml, outliers, x, expected):
    assert value(pmml, DOUBLE, x, f'outliers="{outliers}" lowValue="-10" highValue="10"') == expected


@pytest.mark.parametrize("x", [None, math.nan, ""])
def test_missing_spellings(pmml, x):
    assert value(pmml, DOUBLE, x) is None


def test_schema_describes_fields(pmml):
    field = '<DataField name="x" optype="continuous" dataType="double"><Interval closure="closedClosed" leftMargin="0" rightMargin="5"/></DataField>'
    m = pmml(*identity(field))
    (x,) = m.schema.inputs
    assert (x.name, x.data_type, x.op_type) == ("x", "double", "continuous")
    assert x.intervals[0].right == 5
    assert [t.name for t in m.schema.targets] == ["r"]
    assert [o.name for o in m.schema.outputs] == ["v"]
