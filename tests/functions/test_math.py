"""log10 ln sqrt abs exp pow threshold floor ceil round modulo, expm1 ln1p (log1p) rint hypot,
the trigonometric functions, atan2, and the normal distribution (normalCDF/PDF/IDF,
stdNormalCDF/PDF/IDF, erf)."""

from __future__ import annotations

import math

import pytest
from fn_helpers import INF, NAN, A, C, F, close, ev, load

UNARY = {
    "log10": math.log10, "ln": math.log, "sqrt": math.sqrt, "abs": abs, "exp": math.exp, "expm1": math.expm1,
    "ln1p": math.log1p, "log1p": math.log1p, "sin": math.sin, "cos": math.cos, "tan": math.tan, "asin": math.asin,
    "acos": math.acos, "atan": math.atan, "sinh": math.sinh, "cosh": math.cosh, "tanh": math.tanh,
}
TYPICAL = [0.5, 1.0, 2.0, 0.25, 1e-10, 3.0]


@pytest.mark.parametrize("fn", sorted(UNARY))
@pytest.mark.parametrize("x", TYPICAL)
def test_unary_typical(fn, x):
    try:
        expected = UNARY[fn](x)
    except (ValueError, OverflowError):
        pytest.skip("outside the domain")
    assert close(ev(A(fn, F("x"), invalidValueTreatment="asMissing"), {"x": x}), expected)


@pytest.mark.parametrize("fn", sorted(UNARY))
def test_unary_missing_and_nan(fn):
    assert ev(A(fn, F("x")), {"x": None}) is None
    assert ev(A(fn, F("x")), {"x": NAN}) is None
    assert ev(A(fn, F("x"), mapMissingTo="-7"), {"x": None}) == -7.0


@pytest.mark.parametrize(
    "fn, x, expected",
    [
        ("ln", -1.0, "invalid"), ("log10", -1e-300, "invalid"), ("sqrt", -4.0, "invalid"), ("asin", 1.5, "invalid"),
        ("acos", -1.0000001, "invalid"), ("ln1p", -2.0, "invalid"), ("sin", INF, "invalid"), ("cos", -INF, "invalid"),
        ("ln", 0.0, -INF), ("exp", 1000.0, INF), ("exp", -INF, 0.0), ("sqrt", INF, INF), ("abs", -INF, INF),
        ("tanh", INF, 1.0), ("atan", -INF, -math.pi / 2), ("expm1", -INF, -1.0), ("cosh", -1000.0, INF),
    ],
)
def test_unary_boundaries(fn, x, expected):
    got = ev(A(fn, F("x"), invalidValueTreatment="asMissing"), {"x": x})
    if expected == "invalid":
        assert got is None
        assert ev(A(fn, F("x")), {"x": x}).startswith(f"ERROR: Function '{fn}'")
    else:
        assert close(got, expected), got


@pytest.mark.parametrize("fn", ["floor", "ceil", "round", "rint", "abs"])
def test_integer_argument_types(fn):
    model = load(A(fn, F("i")))
    assert model.predict({"i": -3})["out"] == {"abs": 3}.get(fn, -3)
    assert model.schema.outputs[0].data_type == "integer"


def test_float_math_stays_float():
    import numpy as np

    model = load(A("sqrt", F("f")))
    assert model.schema.outputs[0].data_type == "float"
    assert model.predict({"f": 2.0})["out"] == float(np.float32(math.sqrt(2.0)))
    assert load(A("sqrt", F("i"))).schema.outputs[0].data_type == "double"


@pytest.mark.parametrize(
    "fn, x, expected",
    [
        ("floor", 2.7, 2), ("floor", -2.2, -3), ("ceil", 2.2, 3), ("ceil", -2.7, -2),
        # Java's Math.round: half-way cases towards +inf
        ("round", 2.5, 3), ("round", -2.5, -2), ("round", 0.49999999999999994, 0), ("round", -0.5, 0), ("round", 1e15 + 0.5, 1e15 + 1),
        # rint: half-way cases to even
        ("rint", 2.5, 2.0), ("rint", 3.5, 4.0), ("rint", -2.5, -2.0),
        ("floor", INF, None), ("round", -INF, None), ("ceil", None, None),
    ],
)
def test_rounding(fn, x, expected):
    assert ev(A(fn, F("x"), invalidValueTreatment="asMissing"), {"x": x}) == expected


@pytest.mark.parametrize(
    "x, y, expected",
    [(2.0, 10.0, 1024.0), (2.0, -1.0, 0.5), (-8.0, 1 / 3, None), (0.0, 0.0, 1.0), (INF, 0.0, 1.0), (1.0, INF, None), (-1.0, -INF, None),
     (10.0, 400.0, INF), (None, 2.0, None)],
)
def test_pow(x, y, expected):
    # Java's Math.pow: pow(+-1, +-inf) is NaN (C99 says 1): invalid
    assert ev(A("pow", F("x"), F("y"), invalidValueTreatment="asMissing"), {"x": x, "y": y}) == expected


def test_integer_pow():
    model = load(A("pow", F("i"), F("j"), invalidValueTreatment="asMissing"))
    assert model.schema.outputs[0].data_type == "integer"
    assert model.predict({"i": 3, "j": 4})["out"] == 81
    assert model.predict({"i": 2, "j": -1})["out"] is None  # no integer result


@pytest.mark.parametrize("x, y, expected", [(3.0, 2.0, 1.0), (2.0, 2.0, 0.0), (-INF, 0.0, 0.0), (INF, 1e308, 1.0), (None, 1.0, None)])
def test_threshold(x, y, expected):
    assert ev(A("threshold", F("x"), F("y")), {"x": x, "y": y}) == expected


@pytest.mark.parametrize(
    "x, y, expected",
    [(5.0, 3.0, 2.0), (-5.0, 3.0, 1.0), (5.0, -3.0, -1.0), (-5.0, -3.0, -2.0), (5.5, 2.0, 1.5), (5.0, 0.0, None), (INF, 2.0, None)],
)
def test_modulo(x, y, expected):
    # "x - ( floor( x / y ) * y )": the sign of the divisor
    assert ev(A("modulo", F("x"), F("y"), invalidValueTreatment="asMissing"), {"x": x, "y": y}) == expected


@pytest.mark.parametrize("fn", ["hypot", "x-hypot"])
def test_hypot(fn):
    assert ev(A(fn, F("x"), F("y")), {"x": 3.0, "y": 4.0}) == 5.0
    assert ev(A(fn, F("x"), F("y")), {"x": INF, "y": 4.0}) == INF
    assert ev(A(fn, F("x"), F("y")), {"x": 1e300, "y": 1e300}) == math.hypot(1e300, 1e300)


@pytest.mark.parametrize("y, x", [(1.0, 1.0), (-1.0, -1.0), (0.0, -1.0), (INF, INF), (1.0, 0.0)])
def test_atan2(y, x):
    assert close(ev(A("x-atan2", F("y"), F("x")), {"x": x, "y": y}), math.atan2(y, x))


NORMAL = [
    (A("stdNormalCDF", F("x")), {"x": 0.0}, 0.5),
    (A("stdNormalCDF", F("x")), {"x": 1.959963984540054}, 0.975),
    (A("stdNormalCDF", F("x")), {"x": -INF}, 0.0),
    (A("stdNormalCDF", F("x")), {"x": 41.0}, 1.0),
    (A("stdNormalCDF", F("x")), {"x": -10.0}, 7.619853024160527e-24),
    (A("stdNormalPDF", F("x")), {"x": 0.0}, 0.3989422804014327),
    (A("stdNormalPDF", F("x")), {"x": INF}, 0.0),
    (A("stdNormalIDF", F("x")), {"x": 0.975}, 1.959963984540054),
    (A("stdNormalIDF", F("x")), {"x": 0.5}, 0.0),
    (A("stdNormalIDF", F("x")), {"x": 1e-10}, -6.361340902404056),
    (A("stdNormalIDF", F("x")), {"x": 0.0}, -INF),
    (A("stdNormalIDF", F("x")), {"x": 1.0}, INF),
    (A("stdNormalIDF", F("x"), invalidValueTreatment="asMissing"), {"x": 1.5}, None),
    (A("normalCDF", F("x"), C(10), C(2)), {"x": 12.0}, 0.8413447460685429),
    (A("normalPDF", F("x"), C(10), C(2)), {"x": 12.0}, 0.12098536225957168),
    (A("normalIDF", F("x"), C(10), C(2)), {"x": 0.8413447460685429}, 12.0),
    (A("normalCDF", F("x"), C(0), C(0), invalidValueTreatment="asMissing"), {"x": 1.0}, None),  # sigma must be > 0
    (A("erf", F("x")), {"x": 1.0}, 0.8427007929497149),
    (A("erf", F("x")), {"x": -0.5}, -0.5204998778130465),
    (A("erf", F("x")), {"x": 50.0}, 1.0),
    (A("erf", F("x")), {"x": None}, None),
]


@pytest.mark.parametrize("expression, record, expected", NORMAL)
def test_normal_distribution(expression, record, expected):
    got = ev(expression, record)
    assert close(got, expected, 1e-9), got


def test_normal_idf_inverts_cdf():
    import numpy as np

    ps = [1e-300, 1e-15, 1e-5, 0.01, 0.3, 0.5, 0.7, 0.99, 1 - 1e-9]
    xs = ev(A("stdNormalIDF", F("x")), [{"x": p} for p in ps])
    back = ev(A("stdNormalCDF", F("x")), [{"x": x} for x in xs])
    assert np.allclose(back, ps, rtol=1e-9, atol=0)
