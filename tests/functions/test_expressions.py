"""The expressions besides Apply: Constant, FieldRef, NormContinuous, NormDiscrete, Discretize,
MapValues, TextIndex, Lag, Aggregate, TableLocator; DefineFunction (nested, recursive); the x-
functions; constant folding; derived fields computed once and only when needed."""

from __future__ import annotations

import pytest
from fn_helpers import INF, NAN, A, C, F, ev, load

from quickscore.errors import InvalidMarkup, UnsupportedMarkup

# --- Constant ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "constant, expected",
    [
        (C("2.5", "double"), 2.5), (C("7", "integer"), 7), (C("abc"), "abc"), (C("", "string"), ""), (C("日本"), "日本"),
        (C("1e300", "double"), 1e300), (C("INF", "double"), INF), (C("-INF", "double"), -INF), (C("true", "boolean"), True),
        (C("x", "double", missing="true"), None), (C("", "double", missing="true"), None),
        (C("0.1", "float"), float(__import__("numpy").float32(0.1))),
    ],
)
def test_constant(constant, expected):
    assert ev(constant, {}) == expected


def test_constant_nan_is_missing():
    assert ev(C("NaN", "double"), {}) is None


def test_constant_of_a_bad_type_is_refused():
    with pytest.raises(InvalidMarkup, match="Constant"):
        load(C("abc", "double"))


def test_untyped_constant_is_inferred():
    assert load(C("3")).schema.outputs[0].data_type == "integer"
    assert load(C("3.5")).schema.outputs[0].data_type == "double"
    assert load(C("x3")).schema.outputs[0].data_type == "string"


# --- FieldRef ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "field, value, map_to, expected",
    [("x", None, "-1", -1.0), ("x", NAN, "-1", -1.0), ("x", 2.0, "-1", 2.0), ("s", None, "none", "none"), ("s", "", "none", ""),
     ("i", None, "0", 0), ("x", INF, "0", INF)],
)
def test_field_ref_map_missing_to(field, value, map_to, expected):
    assert ev(F(field, mapMissingTo=map_to), {field: value}) == expected


def test_field_ref_to_undefined_field_is_refused():
    with pytest.raises(InvalidMarkup, match="undefined field 'nope'"):
        load(F("nope"))


# --- NormContinuous ------------------------------------------------------------------------------------

NORM = '<NormContinuous field="x"{a}><LinearNorm orig="0" norm="0"/><LinearNorm orig="10" norm="1"/><LinearNorm orig="20" norm="3"/></NormContinuous>'


@pytest.mark.parametrize(
    "attrs, x, expected",
    [
        ("", 5.0, 0.5), ("", 10.0, 1.0), ("", 15.0, 2.0), ("", 0.0, 0.0), ("", 20.0, 3.0),
        ("", -10.0, -1.0), ("", 30.0, 5.0),  # asIs: extrapolated from the outer segments
        (' outliers="asExtremeValues"', -10.0, 0.0), (' outliers="asExtremeValues"', 30.0, 3.0),
        (' outliers="asMissingValues"', -0.001, None), (' outliers="asMissingValues"', 20.0, 3.0),
        (' mapMissingTo="7"', None, 7.0), ("", None, None), ("", NAN, None),
        (' outliers="asExtremeValues"', INF, 3.0), ("", INF, INF),
    ],
)
def test_norm_continuous(attrs, x, expected):
    assert ev(NORM.format(a=attrs), {"x": x}) == expected


def test_norm_continuous_needs_ascending_origins():
    with pytest.raises(InvalidMarkup):
        load('<NormContinuous field="x"><LinearNorm orig="1" norm="0"/><LinearNorm orig="0" norm="1"/></NormContinuous>')


@pytest.mark.parametrize(
    "expression, record, expected",
    [
        ('<NormDiscrete field="s" value="a"/>', {"s": "a"}, 1.0), ('<NormDiscrete field="s" value="a"/>', {"s": "A"}, 0.0),
        ('<NormDiscrete field="s" value="a"/>', {"s": None}, None), ('<NormDiscrete field="s" value="a" mapMissingTo="-1"/>', {"s": None}, -1.0),
        ('<NormDiscrete field="s" value="日本"/>', {"s": "日本"}, 1.0), ('<NormDiscrete field="s" value=""/>', {"s": ""}, 1.0),
        ('<NormDiscrete field="i" value="3"/>', {"i": 3}, 1.0), ('<NormDiscrete field="x" value="0.5"/>', {"x": 0.5}, 1.0),
    ],
)
def test_norm_discrete(expression, record, expected):
    assert ev(expression, record) == expected


# --- Discretize ----------------------------------------------------------------------------------------


def bins(closures: list[tuple[str, str, str | None, str | None]], attrs: str = "") -> str:
    out = []
    for value, closure, left, right in closures:
        margins = (f' leftMargin="{left}"' if left is not None else "") + (f' rightMargin="{right}"' if right is not None else "")
        out.append(f'<DiscretizeBin binValue="{value}"><Interval closure="{closure}"{margins}/></DiscretizeBin>')
    return f'<Discretize field="x"{attrs}>' + "".join(out) + "</Discretize>"


@pytest.mark.parametrize(
    "closure, x, inside",
    [
        ("openOpen", 0.0, False), ("openOpen", 0.5, True), ("openOpen", 1.0, False),
        ("openClosed", 0.0, False), ("openClosed", 1.0, True),
        ("closedOpen", 0.0, True), ("closedOpen", 1.0, False),
        ("closedClosed", 0.0, True), ("closedClosed", 1.0, True), ("closedClosed", 1.0000000000000002, False),
    ],
)
def test_discretize_closures(closure, x, inside):
    expression = bins([("in", closure, "0", "1")], ' defaultValue="out"')
    assert ev(expression, {"x": x}) == ("in" if inside else "out")


@pytest.mark.parametrize("x, expected", [(-INF, "low"), (-5.0, "low"), (0.0, "mid"), (9.99, "mid"), (10.0, "high"), (INF, "high"),
                                         (None, "M"), (NAN, "M")])
def test_discretize_unbounded_bins_and_missing(x, expected):
    expression = bins([("low", "openOpen", None, "0"), ("mid", "closedOpen", "0", "10"), ("high", "closedOpen", "10", None)], ' mapMissingTo="M"')
    assert ev(expression, {"x": x}) == expected


def test_discretize_first_matching_bin_wins_and_default():
    expression = bins([("a", "closedClosed", "0", "10"), ("b", "closedClosed", "5", "15")], ' defaultValue="none"')
    assert ev(expression, [{"x": 7.0}, {"x": 12.0}, {"x": 20.0}]) == ["a", "b", "none"]
    assert ev(bins([("a", "closedClosed", "0", "1")]), {"x": 5.0}) is None  # no bin, no defaultValue


def test_discretize_typed_bins():
    model = load(bins([("1", "closedOpen", "0", "10"), ("2", "closedOpen", "10", None)], ' dataType="integer"'))
    assert model.schema.outputs[0].data_type == "integer"
    assert model.predict({"x": 12.0})["out"] == 2


# --- MapValues ----------------------------------------------------------------------------------------

MAP2 = (
    '<MapValues outputColumn="out" mapMissingTo="M" defaultValue="D">'
    '<FieldColumnPair field="s" column="a"/><FieldColumnPair field="i" column="b"/>'
    "<InlineTable><row><a>x</a><b>1</b><out>x1</out></row><row><a>x</a><b>2</b><out>x2</out></row>"
    "<row><a>日本</a><b>1</b><out>jp</out></row><row><a></a><b>1</b><out>empty</out></row></InlineTable></MapValues>"
)


@pytest.mark.parametrize(
    "record, expected",
    [({"s": "x", "i": 1}, "x1"), ({"s": "x", "i": 2}, "x2"), ({"s": "日本", "i": 1}, "jp"), ({"s": "", "i": 1}, "empty"),
     ({"s": "x", "i": 3}, "D"), ({"s": None, "i": 1}, "M"), ({"s": "x", "i": None}, "M")],
)
def test_map_values_two_columns(record, expected):
    assert ev(MAP2, record) == expected


def test_map_values_typed_output_and_prefixed_cells():
    expression = (
        '<MapValues outputColumn="data:v" dataType="double"><FieldColumnPair field="b" column="data:k"/>'
        '<InlineTable><row><data:k xmlns:data="urn:d">true</data:k><data:v xmlns:data="urn:d">1.5</data:v></row></InlineTable></MapValues>'
    )
    model = load(expression)
    assert model.schema.outputs[0].data_type == "double"
    assert model.predict({"b": True})["out"] == 1.5
    assert model.predict({"b": False})["out"] is None


# --- TextIndex -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "attrs, text, term, expected",
    [
        ("", "the cat sat on the mat", "the", 2), ("", "The cat", "the", 1), (' isCaseSensitive="true"', "The cat", "the", 0),
        (' localTermWeights="binary"', "a a a", "a", 1), (' localTermWeights="logarithmic"', "a a a", "a", 0.6020599913279624),
        (' maxLevenshteinDistance="1"', "cat hat cart", "cat", 3), (' maxLevenshteinDistance="1" countHits="bestHits"', "cat hat cart", "cat", 1),
        ("", "", "a", 0), ("", "日本 語 日本", "日本", 2), ("", "new york, new york!", "new york", 2),
        (' wordSeparatorCharacterRE="[,;]"', "a b;a b,c", "a b", 2),
        # 0.5 * (binary + f / max f): "b" occurs 3 times, "a" twice
        (' localTermWeights="augmentedNormalizedTermFrequency"', "a b b a b c", "a", 0.5 * (1 + 2 / 3)),
        (' localTermWeights="augmentedNormalizedTermFrequency"', "a b b a b c", "z", 0.0),
        (' localTermWeights="augmentedNormalizedTermFrequency"', "", "z", 0.0),
    ],
)
def test_text_index(attrs, text, term, expected):
    expression = f'<TextIndex textField="s"{attrs}>{C(term)}</TextIndex>'
    got = ev(expression, {"s": text})
    assert got == pytest.approx(expected, rel=1e-12)


def test_text_index_without_tokenizing_is_refused():
    with pytest.raises(UnsupportedMarkup, match="tokenize"):
        load('<TextIndex textField="s" tokenize="false"><Constant>a</Constant></TextIndex>')


def test_text_index_normalization():
    expression = (
        '<TextIndex textField="s"><TextIndexNormalization inField="in" outField="out" regexField="re" recursive="true">'
        "<InlineTable><row><in>colou?r</in><out>color</out><re>true</re></row><row><in>grey</in><out>gray</out><re>false</re></row>"
        "<row><in>gray color</in><out>graycolor</out></row></InlineTable>"
        "</TextIndexNormalization><Constant>graycolor</Constant></TextIndex>"
    )
    assert ev(expression, {"s": "grey colour, gray color"}) == 2
    assert ev(expression, {"s": None}) is None


# --- DefineFunction -------------------------------------------------------------------------------------

FUNCS = (
    "<TransformationDictionary>"
    '<DefineFunction name="sq" optype="continuous" dataType="double"><ParameterField name="v"/>' + A("*", F("v"), F("v")) + "</DefineFunction>"
    '<DefineFunction name="norm2" optype="continuous" dataType="double"><ParameterField name="a"/><ParameterField name="b"/>'
    + A("sqrt", A("+", A("sq", F("a")), A("sq", F("b")))) + "</DefineFunction>"
    '<DefineFunction name="fib" optype="continuous" dataType="integer"><ParameterField name="n" dataType="integer"/>'
    + A("if", A("lessThan", F("n"), C(2)), F("n"), A("+", A("fib", A("-", F("n"), C(1))), A("fib", A("-", F("n"), C(2))))) + "</DefineFunction>"
    '<DefineFunction name="down" optype="continuous" dataType="integer"><ParameterField name="n" dataType="integer"/>'
    + A("if", A("lessOrEqual", F("n"), C(0)), C(0, "integer"), A("down", A("-", F("n"), C(1)))) + "</DefineFunction>"
    "</TransformationDictionary>"
)


def test_nested_functions():
    assert ev(A("norm2", F("x"), F("y")), {"x": 3.0, "y": 4.0}, transformations=FUNCS) == 5.0
    assert ev(A("norm2", F("x"), F("y")), {"x": None, "y": 4.0}, transformations=FUNCS) is None


@pytest.mark.parametrize("n, expected", [(0, 0), (1, 1), (2, 1), (7, 13), (10, 55), (None, None)])
def test_recursive_function(n, expected):
    assert ev(A("fib", F("i")), {"i": n}, transformations=FUNCS) == expected


def test_recursion_runs_per_row_batch():
    assert ev(A("fib", F("i")), [{"i": k} for k in range(8)], transformations=FUNCS) == [0, 1, 1, 2, 3, 5, 8, 13]


def test_too_deep_recursion_fails_the_record():
    got = ev(A("down", F("i")), [{"i": 5}, {"i": 1000}], transformations=FUNCS)
    assert got[0] == 0
    assert got[1].startswith("ERROR") and "recursion deeper" in got[1]


def test_infinite_recursion_is_refused_at_load():
    loop = ('<TransformationDictionary><DefineFunction name="loop" optype="continuous" dataType="double"><ParameterField name="v"/>'
            + A("+", A("loop", F("v")), C(1)) + "</DefineFunction></TransformationDictionary>")
    with pytest.raises(InvalidMarkup, match="infinite recursion"):
        load(A("loop", F("x")), transformations=loop)


def test_mutual_infinite_recursion_is_refused_at_load():
    pair = ("<TransformationDictionary>"
            '<DefineFunction name="f" optype="continuous" dataType="double"><ParameterField name="v"/>' + A("g", F("v")) + "</DefineFunction>"
            '<DefineFunction name="g" optype="continuous" dataType="double"><ParameterField name="v"/>' + A("f", F("v")) + "</DefineFunction>"
            "</TransformationDictionary>")
    with pytest.raises(InvalidMarkup, match="infinite recursion"):
        load(A("f", F("x")), transformations=pair)


def test_function_argument_count_is_checked():
    with pytest.raises(InvalidMarkup, match="takes 1 arguments"):
        load(A("sq", F("x"), F("y")), transformations=FUNCS)
    with pytest.raises(InvalidMarkup, match="'substring' takes 3..3"):
        load(A("substring", F("s")))


# --- x- functions and PMML 4.3 documents ---------------------------------------------------------------


@pytest.mark.parametrize("name", ["x-expm1", "x-ln1p", "x-rint", "x-sin", "x-cos", "x-tan", "x-asin", "x-acos", "x-atan", "x-sinh",
                                  "x-cosh", "x-tanh"])
@pytest.mark.parametrize("version", ["4.3", "4.4"])
def test_x_functions(name, version):
    import math

    plain = {"ln1p": math.log1p, "rint": round}.get(name[2:]) or getattr(math, name[2:])
    assert ev(A(name, F("x")), {"x": 0.5}, version=version) == pytest.approx(plain(0.5), rel=1e-15)


def test_x_two_argument_functions():
    assert ev(A("x-hypot", F("x"), F("y")), {"x": 3.0, "y": 4.0}) == 5.0
    assert ev(A("x-modulo", F("x"), F("y")), {"x": -1.0, "y": 3.0}, version="4.3") == 2.0
    assert ev(A("x-atan2", F("x"), F("y")), {"x": 1.0, "y": 1.0}) == pytest.approx(0.7853981633974483)


# --- Lag, Aggregate, TableLocator ----------------------------------------------------------------------


def test_lag():
    rows = [{"x": 1.0}, {"x": 2.0}, {"x": None}, {"x": 4.0}]
    assert ev('<Lag field="x"/>', rows) == [None, 1.0, 2.0, None]
    assert ev('<Lag field="x" n="2"/>', rows) == [None, None, 1.0, 2.0]
    assert ev('<Lag field="x"/>', {"x": 1.0}) is None  # one record: no previous one


def test_lag_within_blocks():
    rows = [{"s": "a", "x": 1.0}, {"s": "b", "x": 10.0}, {"s": "a", "x": 2.0}, {"s": "b", "x": 20.0}, {"s": "a", "x": 3.0}]
    expression = '<Lag field="x"><BlockIndicator field="s"/></Lag>'
    assert ev(expression, rows) == [None, None, 1.0, 10.0, 2.0]
    assert ev('<Lag field="s"><BlockIndicator field="s"/></Lag>', rows) == [None, None, "a", "b", "a"]


@pytest.mark.parametrize("how, expected", [("sum", [None, 1.0, 3.0, 5.0, 7.0]), ("avg", [None, 1.0, 1.5, 2.5, 3.5]),
                                           ("max", [None, 1.0, 2.0, 3.0, 4.0]), ("stddev", [None, None, 0.7071067811865476] + [0.7071067811865476] * 2)])
def test_lag_aggregates(how, expected):
    rows = [{"x": float(k)} for k in range(1, 6)]
    got = ev(f'<Lag field="x" aggregate="{how}" m="2"/>', rows)
    assert got == pytest.approx(expected) if None not in expected else [g if g is None else pytest.approx(g) for g in got] == expected


def test_lag_aggregate_needs_m():
    with pytest.raises(InvalidMarkup, match="needs a positive m"):
        load('<Lag field="x" aggregate="sum"/>')


@pytest.mark.parametrize("function, expected", [("count", [2, 1, 2, None]), ("sum", [4.0, 5.0, 4.0, None]), ("average", [2.0, 5.0, 2.0, None]),
                                                ("min", [1.0, 5.0, 1.0, None]), ("max", [3.0, 5.0, 3.0, None])])
def test_aggregate_by_group(function, expected):
    rows = [{"s": "a", "x": 1.0}, {"s": "b", "x": 5.0}, {"s": "a", "x": 3.0}, {"s": None, "x": 7.0}]
    assert ev(f'<Aggregate field="x" function="{function}" groupField="s"/>', rows) == expected


@pytest.mark.parametrize(
    "expression, match",
    [
        ('<Aggregate field="x" function="sum"/>', "without groupField"),
        ('<Aggregate field="x" function="multiset" groupField="s"/>', "multiset"),
        ('<Aggregate field="x" function="sum" groupField="s" sqlWhere="x &gt; 1"/>', "sqlWhere"),
        ('<MapValues outputColumn="o"><FieldColumnPair field="s" column="i"/><TableLocator/></MapValues>', "TableLocator"),
    ],
)
def test_refused_expressions(expression, match):
    with pytest.raises(UnsupportedMarkup, match=match):
        load(expression)


# --- evaluation: once per batch, only what is needed --------------------------------------------------------


def test_derived_fields_computed_once_and_only_when_needed(monkeypatch):
    from quickscore.schema import functions

    calls = {"n": 0}
    original = functions.BUILTINS["sqrt"]

    def counting(args, n):
        calls["n"] += 1
        return original.impl(args, n)

    monkeypatch.setitem(functions.BUILTINS, "sqrt", functions.Builtin(counting, 1, 1))
    transformations = (
        "<TransformationDictionary>"
        '<DerivedField name="used" optype="continuous" dataType="double">' + A("sqrt", F("x")) + "</DerivedField>"
        '<DerivedField name="unused" optype="continuous" dataType="double">' + A("sqrt", F("y")) + "</DerivedField>"
        "</TransformationDictionary>"
    )
    model = load(A("+", F("used"), F("used")), transformations=transformations)
    calls["n"] = 0
    assert list(model.predict([{"x": 4.0}, {"x": 9.0}, {"x": 16.0}])["out"]) == [4.0, 6.0, 8.0]
    assert calls["n"] == 1  # one call for the batch: "used" once, "unused" never


# --- DerivedField dataType conversions ------------------------------------------------------------------


def _derived(name: str, data_type: str, expression: str) -> str:
    optype = "continuous" if data_type in ("double", "integer", "float") else "categorical"
    return f'<TransformationDictionary><DerivedField name="{name}" optype="{optype}" dataType="{data_type}">{expression}</DerivedField></TransformationDictionary>'


@pytest.mark.parametrize(
    "data_type, expression, record, expected",
    [
        ("string", A("*", F("x"), C(1.0, "double")), {"x": 3.0}, "3.0"),  # Java's Double.toString, as JPMML writes it
        ("string", F("x"), {"x": 1e-9}, "1.0E-9"),
        ("string", F("i"), {"i": 42}, "42"),
        ("string", F("b"), {"b": True}, "true"),
        ("string", F("f"), {"f": 0.1}, "0.1"),
        ("integer", F("x"), {"x": 2.0}, 2),
        ("integer", F("x"), {"x": 2.5}, "ERROR"),  # no integer value: the record fails (not truncated)
        ("integer", F("x"), {"x": INF}, "ERROR"),
        ("integer", F("x"), {"x": None}, None),
        ("double", F("s"), {"s": "2.5"}, 2.5),
        ("double", F("i"), {"i": 7}, 7.0),
    ],
)
def test_derived_field_types(data_type, expression, record, expected):
    got = ev(F("d"), record, transformations=_derived("d", data_type, expression))
    if expected == "ERROR":
        assert isinstance(got, str) and got.startswith("ERROR: DerivedField 'd' (integer) cannot hold")
    else:
        assert got == expected


def test_function_called_with_different_argument_types():
    half = ('<TransformationDictionary><DefineFunction name="half" optype="continuous"><ParameterField name="v"/>'
            + A("/", F("v"), C(2)) + "</DefineFunction></TransformationDictionary>")
    # integer / integer is integer division; double / integer is not: each call site has its own typing
    assert ev(A("half", F("i")), {"i": 7}, transformations=half) == 3
    assert ev(A("half", F("x")), {"x": 7.0}, transformations=half) == 3.5
    assert ev(A("+", A("half", F("i")), A("half", F("x"))), {"i": 7, "x": 7.0}, transformations=half) == 6.5
