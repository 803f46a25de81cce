"""The transformations spine models carry: DerivedField with FieldRef, Constant,
NormContinuous, NormDiscrete, Discretize, MapValues and Apply (common built-ins).
The complete function library has its own tests in tests/functions/."""

from __future__ import annotations

import math

import pytest

FIELDS = """<DataField name="x" optype="continuous" dataType="double"/>
<DataField name="c" optype="categorical" dataType="string"/>
<DataField name="r" optype="continuous" dataType="double"/>"""


def derived(expression: str, data_type: str = "double", optype: str = "continuous", where: str = "local") -> tuple[str, dict]:
    field = f'<DerivedField name="d" optype="{optype}" dataType="{data_type}">{expression}</DerivedField>'
    local = f"<LocalTransformations>{field}</LocalTransformations>" if where == "local" else ""
    glob = f"<TransformationDictionary>{field}</TransformationDictionary>" if where == "global" else ""
    model = f"""<RegressionModel functionName="regression">
      <MiningSchema><MiningField name="x"/><MiningField name="c"/><MiningField name="r" usageType="predicted"/></MiningSchema>
      <Output><OutputField name="v" feature="transformedValue"><FieldRef field="d"/></OutputField></Output>
      {local}
      <RegressionTable intercept="0"/></RegressionModel>"""
    return model, {"transformations": glob}


def run(pmml, expression, record, **kw):
    model, extra = derived(expression, **kw)
    return pmml(FIELDS, model, **extra).predict(record)["v"]


def test_field_ref_map_missing_to(pmml):
    assert run(pmml, '<FieldRef field="x" mapMissingTo="-1"/>', {"x": None}) == -1.0


def test_global_derived_field(pmml):
    assert run(pmml, '<FieldRef field="x"/>', {"x": 4}, where="global") == 4.0


def test_constant(pmml):
    assert run(pmml, '<Constant dataType="double">2.5</Constant>', {}) == 2.5


NORM = '<NormContinuous field="x" {a}><LinearNorm orig="0" norm="0"/><LinearNorm orig="10" norm="1"/><LinearNorm orig="20" norm="3"/></NormContinuous>'


@pytest.mark.parametrize(
    "attrs, x, expected",
    [
        ("", 5, 0.5),
        ("", 15, 2.0),
        ("", 30, 5.0),
        ('outliers="asExtremeValues"', 30, 3.0),
        ('outliers="asMissingValues"', -1, None),
        ('mapMissingTo="7"', None, 7.0),
    ],
)
def test_norm_continuous(pmml, attrs, x, expected):
    assert run(pmml, NORM.format(a=attrs), {"x": x}) == expected


def test_norm_discrete(pmml):
    expr = '<NormDiscrete field="c" value="a" mapMissingTo="-1"/>'
    assert [run(pmml, expr, {"c": c}) for c in ("a", "b", None)] == [1.0, 0.0, -1.0]


DISC = """<Discretize field="x" mapMissingTo="M" defaultValue="D">
  <DiscretizeBin binValue="low"><Interval closure="openOpen" rightMargin="0"/></DiscretizeBin>
  <DiscretizeBin binValue="mid"><Interval closure="closedOpen" leftMargin="0" rightMargin="10"/></DiscretizeBin>
</Discretize>"""


@pytest.mark.parametrize("x, expected", [(-1, "low"), (0, "mid"), (10, "D"), (None, "M")])
def test_discretize(pmml, x, expected):
    assert run(pmml, DISC, {"x": x}, data_type="string", optype="categorical") == expected


MAP = """<MapValues outputColumn="out" mapMissingTo="M" defaultValue="D">
  <FieldColumnPair field="c" column="in"/>
  <InlineTable><row><in>a</in><out>A</out></row><row><in>b</in><out>B</out></row></InlineTable>
</MapValues>"""


@pytest.mark.parametrize("c, expected", [("a", "A"), ("b", "B"), ("z", "D"), (None, "M")])
def test_map_values(pmml, c, expected):
    assert run(pmml, MAP, {"c": c}, data_type="string", optype="categorical") == expected


@pytest.mark.parametrize(
    "function, args, expected",
    [
        ("+", (1, 2), 3.0),
        ("-", (1, 2), -1.0),
        ("*", (3, 2), 6.0),
        ("/", (3, 2), 1.5),
        ("min", (3, 2), 2.0),
        ("max", (3, 2), 3.0),
        ("pow", (2, 10), 1024.0),
        ("threshold", (3, 2), 1.0),
        ("log10", (100,), 2.0),
        ("ln", (math.e,), 1.0),
        ("sqrt", (9,), 3.0),
        ("abs", (-2,), 2.0),
        ("exp", (0,), 1.0),
        ("floor", (2.7,), 2.0),
        ("ceil", (2.1,), 3.0),
        ("round", (2.5,), 3.0),
        ("round", (-2.5,), -2.0),
    ],
)
def test_apply_arithmetic(pmml, function, args, expected):
    body = "".join(f"<Constant>{a}</Constant>" for a in args[1:])
    expr = f'<Apply function="{function}"><FieldRef field="x"/>{body}</Apply>'
    assert run(pmml, expr, {"x": args[0]}) == pytest.approx(expected)


def test_apply_missing_argument_gives_missing_or_map_missing_to(pmml):
    assert run(pmml, '<Apply function="+"><FieldRef field="x"/><Constant>1</Constant></Apply>', {"x": None}) is None
    assert run(pmml, '<Apply function="+" mapMissingTo="0"><FieldRef field="x"/><Constant>1</Constant></Apply>', {"x": None}) == 0.0


def test_apply_if_and_comparisons(pmml):
    expr = """<Apply function="if"><Apply function="greaterThan"><FieldRef field="x"/><Constant>0</Constant></Apply>
      <Constant>1</Constant><Constant>-1</Constant></Apply>"""
    assert [run(pmml, expr, {"x": x}) for x in (5, -5, None)] == [1.0, -1.0, None]


def test_apply_boolean_logic_and_is_missing(pmml):
    expr = """<Apply function="if"><Apply function="or"><Apply function="isMissing"><FieldRef field="x"/></Apply>
      <Apply function="equal"><FieldRef field="c"/><Constant>a</Constant></Apply></Apply>
      <Constant>1</Constant><Constant>0</Constant></Apply>"""
    assert [run(pmml, expr, r) for r in ({"x": None, "c": "b"}, {"x": 1, "c": "a"}, {"x": 1, "c": "b"})] == [1.0, 1.0, 0.0]


def test_apply_division_by_zero_is_an_invalid_result(pmml):
    import quickscore

    model, extra = derived('<Apply function="/"><FieldRef field="x"/><Constant>0</Constant></Apply>')
    m = pmml(FIELDS, model, **extra)
    with pytest.raises(quickscore.EvaluationError):
        m.predict({"x": 1})


def test_define_function(pmml):
    funcs = """<TransformationDictionary><DefineFunction name="twice" optype="continuous" dataType="double">
      <ParameterField name="p"/><Apply function="*"><FieldRef field="p"/><Constant>2</Constant></Apply></DefineFunction></TransformationDictionary>"""
    model, _ = derived('<Apply function="twice"><FieldRef field="x"/></Apply>')
    assert pmml(FIELDS, model, transformations=funcs).predict({"x": 4})["v"] == 8.0
