"""isMissing isNotMissing isValid isNotValid, equal notEqual lessThan lessOrEqual greaterThan
greaterOrEqual, and or not, isIn isNotIn, if."""

from __future__ import annotations

import pytest
from fn_helpers import INF, NAN, A, C, F, ev, load


@pytest.mark.parametrize(
    "field, value, missing",
    [("x", 1.0, False), ("x", None, True), ("x", NAN, True), ("x", INF, False), ("s", "", False), ("s", None, True),
     ("s", "日本", False), ("b", False, False), ("d", "2020-01-01", False), ("d", None, True), ("i", 0, False)],
)
def test_is_missing(field, value, missing):
    assert ev(A("isMissing", F(field)), {field: value}) is missing
    assert ev(A("isNotMissing", F(field)), {field: value}) is (not missing)


@pytest.mark.parametrize(
    "field, value, valid, invalid",
    [("v", 5.0, True, False), ("v", 0.0, True, False), ("v", 10.0, True, False), ("v", 10.5, False, True), ("v", -INF, False, True),
     ("v", None, False, False), ("c", "red", True, False), ("c", "blue", False, True), ("c", None, False, False), ("x", 1e300, True, False)],
)
def test_is_valid(field, value, valid, invalid):
    # v: Interval [0, 10]; c: Values red, green; invalid values are kept (invalidValueTreatment="asIs")
    assert ev(A("isValid", F(field)), {field: value}) is valid
    assert ev(A("isNotValid", F(field)), {field: value}) is invalid


def test_is_valid_needs_a_field_ref():
    from quickscore.errors import InvalidMarkup

    with pytest.raises(InvalidMarkup, match="isValid"):
        load(A("isValid", C(1)))


CMP = {"equal": lambda a, b: a == b, "notEqual": lambda a, b: a != b, "lessThan": lambda a, b: a < b,
       "lessOrEqual": lambda a, b: a <= b, "greaterThan": lambda a, b: a > b, "greaterOrEqual": lambda a, b: a >= b}


@pytest.mark.parametrize("fn", sorted(CMP))
@pytest.mark.parametrize("x, y", [(1.0, 2.0), (2.0, 2.0), (3.0, 2.0), (-INF, INF), (INF, INF), (0.0, -0.0), (1e-300, 0.0)])
def test_numeric_comparisons(fn, x, y):
    assert ev(A(fn, F("x"), F("y")), {"x": x, "y": y}) is CMP[fn](x, y)


@pytest.mark.parametrize("fn", sorted(CMP))
def test_comparisons_with_missing(fn):
    assert ev(A(fn, F("x"), F("y")), {"x": None, "y": 2.0}) is None
    assert ev(A(fn, F("s"), F("t")), {"s": "a", "t": None}) is None


@pytest.mark.parametrize("fn", sorted(CMP))
@pytest.mark.parametrize("s, t", [("a", "b"), ("", ""), ("", "a"), ("é", "e"), ("B", "a"), ("日本", "日本")])
def test_string_comparisons(fn, s, t):
    assert ev(A(fn, F("s"), F("t")), {"s": s, "t": t}) is CMP[fn](s, t)


def test_integer_compared_with_double_constant():
    assert ev(A("lessThan", F("i"), C("2.5")), {"i": 2}) is True
    assert ev(A("equal", F("i"), C("2")), {"i": 2}) is True


@pytest.mark.parametrize(
    "fn, b, c, expected",
    [("and", True, True, True), ("and", True, False, False), ("and", False, False, False),
     ("or", False, False, False), ("or", True, False, True),
     # "any missing inputs to a built-in function will result in a missing value"
     ("and", None, False, None), ("and", True, None, None), ("or", None, True, None), ("or", None, None, None)],
)
def test_and_or(fn, b, c, expected):
    extra = {"c2": "boolean"}
    got = ev(A(fn, F("b"), F("c2")), {"b": b, "c2": c}, extra_fields=extra)
    assert got is expected


def test_and_or_variadic_and_not():
    assert ev(A("and", C("true", "boolean"), C("true", "boolean"), F("b")), {"b": True}) is True
    assert ev(A("or", C("false", "boolean"), C("false", "boolean"), F("b")), {"b": True}) is True
    assert ev(A("not", F("b")), {"b": True}) is False
    assert ev(A("not", F("b")), {"b": None}) is None


@pytest.mark.parametrize(
    "expression, record, expected",
    [
        (A("isIn", F("s"), C("a"), C(""), C("日本")), {"s": ""}, True),
        (A("isIn", F("s"), C("a"), C(""), C("日本")), {"s": "日本"}, True),
        (A("isIn", F("s"), C("a"), C("b")), {"s": "A"}, False),
        (A("isNotIn", F("s"), C("a"), C("b")), {"s": "c"}, True),
        (A("isIn", F("s"), C("a")), {"s": None}, None),
        (A("isIn", F("i"), C(1), C(2)), {"i": 2}, True),
        (A("isIn", F("x"), C(1), C(2)), {"x": 2.0}, True),
        (A("isIn", F("x"), C("0.1"), C(2)), {"x": 0.1}, True),
        (A("isNotIn", F("x"), C(1)), {"x": INF}, True),
        (A("isIn", F("x"), C(1)), {"x": None}, None),
    ],
)
def test_is_in(expression, record, expected):
    assert ev(expression, record) is expected


@pytest.mark.parametrize(
    "record, expected",
    [({"b": True, "x": 1.0, "y": 2.0}, 1.0), ({"b": False, "x": 1.0, "y": 2.0}, 2.0), ({"b": None, "x": 1.0, "y": 2.0}, None),
     ({"b": True, "x": None, "y": 2.0}, None), ({"b": False, "x": None, "y": 2.0}, 2.0)],
)
def test_if(record, expected):
    assert ev(A("if", F("b"), F("x"), F("y")), record) == expected


def test_if_without_else_is_missing_when_false():
    # "The ELSE part is optional. If the ELSE part is absent, then a missing value is returned"
    assert ev(A("if", F("b"), C("yes")), {"b": False}) is None
    assert ev(A("if", F("b"), C("yes")), {"b": True}) == "yes"


def test_if_evaluates_each_branch_on_its_rows_only():
    # ln(x) is invalid for x <= 0, but that branch is only taken for x > 0: no record fails
    expression = A("if", A("greaterThan", F("x"), C(0)), A("ln", F("x")), C(-1, "double"))
    assert ev(expression, [{"x": 1.0}, {"x": -1.0}, {"x": 0.0}, {"x": None}]) == [0.0, -1.0, -1.0, None]


def test_if_types():
    assert load(A("if", F("b"), F("i"), F("x"))).schema.outputs[0].data_type == "double"
    assert load(A("if", F("b"), F("s"), C("z"))).schema.outputs[0].data_type == "string"
    assert ev(A("if", F("b"), F("i"), F("j")), {"b": True, "i": 3, "j": 4}) == 3


def test_if_folds_constants():
    assert ev(A("if", C("true", "boolean"), C(1), C(2)), {}) == 1
