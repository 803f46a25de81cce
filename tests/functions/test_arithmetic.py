"""+ - * /, the aggregates (min max sum avg median product): values, missing values, NaN, +-inf,
boundaries, result types, and invalid results under each invalidValueTreatment."""

from __future__ import annotations

import math

import pytest
from fn_helpers import INF, NAN, A, C, F, close, ev, load

ERR = "ERROR"


@pytest.mark.parametrize(
    "op, x, y, expected",
    [
        ("+", 2.5, 4.0, 6.5), ("-", 2.5, 4.0, -1.5), ("*", 2.5, 4.0, 10.0), ("/", 2.5, 4.0, 0.625),
        ("+", 1e308, 1e308, INF), ("-", INF, 1.0, INF), ("*", -INF, 2.0, -INF), ("/", 1.0, INF, 0.0),
        ("+", None, 1.0, None), ("*", 1.0, None, None), ("-", NAN, 1.0, None),  # NaN input is missing
        ("+", 0.1, 0.2, 0.30000000000000004), ("*", 1e-300, 1e-300, 0.0),
    ],
)
def test_double_arithmetic(op, x, y, expected):
    got = ev(A(op, F("x"), F("y")), {"x": x, "y": y})
    assert close(got, expected), got


@pytest.mark.parametrize(
    "op, i, j, expected",
    [
        ("+", 2, 3, 5), ("-", 2, 3, -1), ("*", -4, 3, -12),
        # integer / integer: integer division truncated towards zero (Java's int division)
        ("/", 7, 2, 3), ("/", -7, 2, -3), ("/", 7, -2, -3), ("/", 6, 3, 2), ("/", 0, 5, 0),
        ("+", 2**40, 1, 2**40 + 1),  # beyond 32 bits: exact
    ],
)
def test_integer_arithmetic_is_integer(op, i, j, expected):
    model = load(A(op, F("i"), F("j")))
    got = model.predict({"i": i, "j": j})["out"]
    assert got == expected
    assert model.schema.outputs[0].data_type == "integer"


def test_mixed_types_widen():
    assert load(A("/", F("i"), F("x"))).schema.outputs[0].data_type == "double"
    assert load(A("+", F("i"), F("f"))).schema.outputs[0].data_type == "float"
    assert ev(A("/", F("i"), F("x")), {"i": 7, "x": 2.0}) == 3.5
    # float arithmetic rounds to float32
    assert ev(A("+", F("f"), C("0.1", "float")), {"f": 0.2}) == float(__import__("numpy").float32(0.2) + __import__("numpy").float32(0.1))


@pytest.mark.parametrize(
    "treatment, expected",
    [("returnInvalid", ERR), ("asMissing", None), ("asIs", INF)],
)
def test_division_by_zero(treatment, expected):
    got = ev(A("/", F("x"), F("y"), invalidValueTreatment=treatment), {"x": 1.0, "y": 0.0})
    if expected == ERR:
        assert isinstance(got, str) and got.startswith("ERROR") and "'/'" in got
    else:
        assert got == expected


def test_integer_division_by_zero_is_invalid():
    assert ev(A("/", F("i"), F("j"), invalidValueTreatment="asMissing"), {"i": 1, "j": 0}) is None
    assert ev(A("/", F("i"), F("j")), {"i": 1, "j": 0}).startswith("ERROR")


def test_zero_over_zero_and_inf_minus_inf():
    assert ev(A("/", F("x"), F("y"), invalidValueTreatment="asMissing"), {"x": 0.0, "y": 0.0}) is None
    assert ev(A("-", F("x"), F("y"), invalidValueTreatment="asMissing"), {"x": INF, "y": INF}) is None
    assert ev(A("-", F("x"), F("y")), {"x": INF, "y": INF}).startswith("ERROR")


def test_batch_with_invalid_rows_scores_the_others():
    rows = [{"x": 1.0, "y": 2.0}, {"x": 1.0, "y": 0.0}, {"x": None, "y": 0.0}, {"x": 3.0, "y": 3.0}]
    got = ev(A("/", F("x"), F("y")), rows)
    assert got[0] == 0.5 and got[1].startswith("ERROR") and got[2] is None and got[3] == 1.0


AGG = [F("x"), F("y"), F("i")]


@pytest.mark.parametrize(
    "fn, rec, expected",
    [
        ("min", {"x": 2.5, "y": 4, "i": 1}, 1.0), ("max", {"x": 2.5, "y": 4, "i": 1}, 4.0),
        ("sum", {"x": 2.5, "y": 4, "i": 1}, 7.5), ("avg", {"x": 2.5, "y": 4, "i": 1}, 2.5),
        ("median", {"x": 2.5, "y": 4, "i": 1}, 2.5), ("product", {"x": 2.5, "y": 4, "i": 1}, 10.0),
        # "Missing values in the input to an aggregate function are simply ignored"
        ("min", {"x": None, "y": 4, "i": 1}, 1.0), ("sum", {"x": None, "y": 4, "i": None}, 4.0),
        ("avg", {"x": None, "y": 4, "i": 1}, 2.5), ("median", {"x": 1.0, "y": None, "i": 3}, 2.0),
        ("product", {"x": None, "y": None, "i": 3}, 3.0),
        # all missing: missing
        ("sum", {}, None), ("avg", {}, None), ("min", {}, None),
        # infinities
        ("max", {"x": INF, "y": 1, "i": 1}, INF), ("sum", {"x": INF, "y": -INF, "i": 1}, "invalid"),
        ("avg", {"x": -INF, "y": 1, "i": 1}, -INF), ("min", {"x": -INF, "y": 1, "i": 1}, -INF),
    ],
)
def test_aggregates(fn, rec, expected):
    got = ev(A(fn, *AGG, invalidValueTreatment="asMissing" if expected == "invalid" else "returnInvalid"), rec)
    if expected == "invalid":
        assert got is None
    else:
        assert close(got, expected), got


@pytest.mark.parametrize("fn, expected_type", [("min", "integer"), ("max", "integer"), ("sum", "integer"), ("product", "integer"),
                                               ("avg", "double"), ("median", "double")])
def test_aggregate_types(fn, expected_type):
    model = load(A(fn, F("i"), F("j")))
    assert model.schema.outputs[0].data_type == expected_type
    assert model.predict({"i": 3, "j": 4})["out"] == {"min": 3, "max": 4, "sum": 7, "product": 12, "avg": 3.5, "median": 3.5}[fn]


def test_aggregate_of_one_argument_and_many():
    assert ev(A("sum", F("x")), {"x": 2.0}) == 2.0
    many = A("sum", *[C(k) for k in range(1, 51)])
    assert ev(many, {}) == 1275


def test_constant_folding():
    model = load(A("+", C(1), A("*", C(2), C(3))))
    assert model.predict({})["out"] == 7
    assert math.isclose(ev(A("/", C(1.0, "double"), C(3.0, "double")), {}), 1 / 3)


@pytest.mark.parametrize(
    "expression, expected",
    [
        (A("+", F("s"), F("x")), ERR), (A("sum", F("s"), F("x")), ERR), (A("threshold", F("s"), F("x")), ERR),
        (A("greaterThan", F("x"), F("s")), ERR), (A("ln", F("s")), ERR),
        (A("+", F("s"), F("x"), invalidValueTreatment="asMissing"), None),
    ],
)
def test_non_numeric_string_where_a_number_is_expected(expression, expected):
    got = ev(expression, {"s": "abc", "x": 1.0})
    if expected == ERR:
        assert isinstance(got, str) and got.startswith("ERROR: Function")
    else:
        assert got == expected
    assert ev(expression, {"s": "2.5", "x": 1.0}) not in (None, ERR)  # numeric text is a number
