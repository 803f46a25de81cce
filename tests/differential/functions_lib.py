"""Generated PMML documents that exercise every expression and built-in function, and their inputs.

``CASES`` maps a case name to a list of expressions (PMML XML); each case becomes one small
document (a RegressionModel without predictors whose OutputFields, ``feature="transformedValue"``,
hold the expressions), so that a record one expression fails under ``returnInvalid`` does not hide
the other cases. ``records(n, seed)`` draws the inputs: typical values, zeros, negatives, +-inf,
huge and tiny numbers, empty strings, blanks, unicode, dates across epochs, and missing values.

Used by ``test_functions_vs_jpmml.py`` (quickscore vs JPMML-Evaluator) and runnable as a script
(``python tests/differential/functions_lib.py [case ...]``) to print the disagreements.
"""

from __future__ import annotations

import math
import random
from typing import Any

# --- the input fields ----------------------------------------------------------------------

FIELDS: dict[str, str] = {
    "x": "double", "y": "double", "p": "double",
    "i": "integer", "j": "integer",
    "f": "float",
    "s": "string", "t": "string",
    "b": "boolean", "c": "boolean",
    "d": "date", "dt": "dateTime", "tm": "time",
}

_NUMBERS = [0.0, 1.0, -1.0, 0.5, -0.5, 2.5, -2.5, 3.0, 1e-300, -1e-300, 1e300, 123456.789, -7.25,
            math.pi, 1e-9, 0.1, 10.0, 100.0, math.inf, -math.inf]
_INTS = [0, 1, -1, 2, -2, 3, 7, -7, 10, 100, 12345, -40000]  # within Java int arithmetic (see JPMML_DEVIATIONS)
_STRINGS = ["", " ", "abc", "ABC", "  padded  ", "Hello World", "héllo wörld", "ÄÖÜ straße", "日本語テキスト",
            "a.b*c", "x1y22z333", "tab\there", "1.5", "42", "-3", "true", "the cat sat on the mat"]
_DATES = ["1960-01-01", "1970-01-01", "1969-12-31", "2000-02-29", "2024-12-31", "1900-03-01", "2038-01-19", "0001-01-01"]
_TIMES = ["00:00:00", "12:34:56", "23:59:59", "06:07:08"]


def records(n: int, seed: int = 20261124) -> list[dict[str, Any]]:
    rng = random.Random(seed)

    def pick(values, missing=0.12):
        return None if rng.random() < missing else rng.choice(values)

    out = []
    for k in range(n):
        x = pick(_NUMBERS) if k % 3 else (None if rng.random() < 0.1 else rng.uniform(-50, 50))
        y = pick(_NUMBERS) if k % 4 else (None if rng.random() < 0.1 else rng.uniform(-5, 5))
        d = pick(_DATES)
        rec = {
            "x": x, "y": y,
            "p": None if rng.random() < 0.1 else rng.choice([0.0, 1.0, 0.5, 1e-12, 1 - 1e-12, rng.random(), rng.random()]),
            "i": pick(_INTS), "j": pick(_INTS),
            "f": pick([0.0, 1.5, -2.25, 0.1, 3.0, 1e10, -0.75]),
            "s": pick(_STRINGS), "t": pick(_STRINGS + ["a", "l", "o", "cat"]),
            "b": pick([True, False]), "c": pick([True, False]),
            "d": d,
            "dt": None if d is None or rng.random() < 0.1 else f"{d}T{rng.choice(_TIMES)}",
            "tm": pick(_TIMES),
        }
        out.append(rec)
    return out


# --- expressions ---------------------------------------------------------------------------


def F(name: str) -> str:
    return f'<FieldRef field="{name}"/>'


def C(value: Any, data_type: str | None = None) -> str:
    from xml.sax.saxutils import escape

    dt = f' dataType="{data_type}"' if data_type else ""
    return f"<Constant{dt}>{escape(str(value))}</Constant>"


def A(function: str, *args: str, **attrs: str) -> str:
    a = "".join(f' {k}="{v}"' for k, v in attrs.items())
    return f'<Apply function="{function}"{a}>' + "".join(args) + "</Apply>"


X, Y, P, I, J, S, T, B, Cb, D, DT, TM, FL = (F(n) for n in ("x", "y", "p", "i", "j", "s", "t", "b", "c", "d", "dt", "tm", "f"))
ASIS = {"invalidValueTreatment": "asIs"}
ASMISSING = {"invalidValueTreatment": "asMissing"}

CASES: dict[str, list[str]] = {
    # arithmetic
    "arith_double": [A(op, X, Y, **ASMISSING) for op in "+-*/"],
    "arith_integer": [A(op, I, J, **ASMISSING) for op in "+-*"] + [A("/", I, J, **ASMISSING)],
    "arith_mixed": [A(op, I, Y, **ASMISSING) for op in "+-*/"] + [A("+", FL, FL), A("*", FL, I)],
    "arith_returnInvalid": [A("/", X, Y)],
    "aggregates": [A(fn, X, Y, P, **ASMISSING) for fn in ("min", "max", "sum", "avg", "product")],
    "aggregates_integer": [A(fn, I, J) for fn in ("min", "max", "sum", "avg", "product")],
    "median": [A("median", X, Y, P), A("median", I, J)],
    "math_unary": [A(fn, X, **ASMISSING) for fn in ("log10", "ln", "sqrt", "abs", "exp", "expm1", "ln1p", "rint")],
    "math_unary_integer": [A(fn, I, **ASMISSING) for fn in ("log10", "ln", "sqrt", "abs", "exp", "floor", "ceil", "round", "rint")],
    "math_rounding": [A(fn, X, **ASMISSING) for fn in ("floor", "ceil", "round")],
    "math_binary": [A("pow", X, Y, **ASMISSING), A("pow", I, J, **ASMISSING), A("threshold", X, Y), A("threshold", I, J),
                    A("modulo", X, Y, **ASMISSING), A("modulo", I, J, **ASMISSING), A("hypot", X, Y, **ASMISSING)],
    "trig": [A(fn, X, **ASMISSING) for fn in ("sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh")]
    + [A(fn, P, **ASMISSING) for fn in ("asin", "acos")],
    "atan2": [A("x-atan2", X, Y, **ASMISSING)],
    "normal": [A("stdNormalCDF", X), A("stdNormalPDF", X), A("erf", X), A("stdNormalIDF", P, **ASMISSING),
               A("normalCDF", X, C(1.5), C(2)), A("normalPDF", X, C(-1), C(0.5)), A("normalIDF", P, C(10), C(3), **ASMISSING)],
    # boolean
    "missing": [A("isMissing", X), A("isNotMissing", S), A("isMissing", D), A("isNotMissing", B)],
    "validity": [A("isValid", X), A("isNotValid", X), A("isValid", S), A("isNotValid", I)],
    "compare_numbers": [A(fn, X, Y) for fn in ("equal", "notEqual", "lessThan", "lessOrEqual", "greaterThan", "greaterOrEqual")]
    + [A("equal", X, I), A("lessThan", I, C(3))],
    "compare_strings": [A(fn, S, T) for fn in ("equal", "notEqual")],
    "logic": [A("and", B, Cb), A("or", B, Cb), A("not", B), A("and", B, Cb, A("not", Cb)), A("or", B, A("greaterThan", X, C(0)))],
    "set": [A("isIn", S, C("abc"), C("ABC"), C("")), A("isNotIn", S, C("abc")), A("isIn", I, C(1), C(2), C(3)),
            A("isIn", X, C(0.5), C(1)), A("isNotIn", I, C(7))],
    "if": [A("if", B, X, Y), A("if", B, S), A("if", A("greaterThan", X, C(0)), C("pos"), C("neg")), A("if", B, I, J)],
    # strings
    "case": [A("uppercase", S), A("lowercase", S), A("uppercase", T)],
    "trim_length": [A("trimBlanks", S), A("stringLength", S), A("stringLength", T)],
    "substring": [A("substring", S, C(1), C(3)), A("substring", S, C(2), C(100)), A("substring", S, C(4), C(0))],
    "concat": [A("concat", S, T), A("concat", S, C("-"), I), A("concat", X, C("|"), B)],
    # (concat of a date/time: JPMML refuses it, TypeCheckException; quickscore writes its ISO text)
    "concat_numbers": [A("concat", FL, C("|")), A("concat", I, C("|"), J), A("concat", P, C(""))],
    "replace": [A("replace", S, C("[aeiou]"), C("_")), A("replace", S, C("(\\w+) (\\w+)"), C("$2 $1")), A("replace", S, C("\\s+"), C(""))],
    "matches": [A("matches", S, C("^[A-Z]")), A("matches", S, C("\\d+")), A("matches", S, C("o")), A("matches", S, T)],
    "regex_more": [A("replace", S, C(p), C(r)) for p, r in
                   (("\\b\\w", "#"), ("[A-Z]{2,}", "<$0>"), ("(?i)hello", "bye"), ("^\\s+|\\s+$", ""), ("\\p{Alpha}+", "w"),
                    ("\\d{2}", "NN"), ("(a|b)+", "[$1]"), ("\\Q.\\E", "!"), ("$", "END"), ("\\W+", "_"), ("(?<x>o)", "${x}${x}"))]
    + [A("matches", S, C(p)) for p in ("\\p{Upper}", "^\\S+$", "\\s", "(?i)^the", "[^\\x00-\\x7F]")],
    "formatNumber": [A("formatNumber", X, C("%.3f")), A("formatNumber", I, C("%05d")), A("formatNumber", X, C("%e")),
                     A("formatNumber", Y, C("%10.2f"))],
    "formatNumber_more": [A("formatNumber", Y, C(pattern), **ASMISSING) for pattern in
                          ("%+.3e", "%08.2f", "%-12s|", "%,.2f", "%(.2f", "%.0f", "%g", "%.3g", "%G", "%.10f", "%12.4E", "% .1f",
                           "%s%%", "x=%.1f!")]
    + [A("formatNumber", J, C(pattern), **ASMISSING) for pattern in ("%x", "%X", "%o", "%#x", "%,d", "%(d", "%+d", "% d", "%-8d|", "%s")],
    # dates
    "date_days": [A("dateDaysSinceYear", D, C(1960)), A("dateDaysSinceYear", D, C(1970)), A("dateDaysSinceYear", DT, C(2000))],
    "date_seconds": [A("dateSecondsSinceYear", DT, C(1960)), A("dateSecondsSinceYear", DT, C(1970)),
                     A("dateSecondsSinceMidnight", DT), A("dateSecondsSinceMidnight", TM)],
    "formatDatetime": [A("formatDatetime", D, C("%m/%d/%y")), A("formatDatetime", DT, C("%Y-%m-%d %H:%M:%S")),
                       A("formatDatetime", D, C("%d.%m.%Y"))],
    "formatDatetime_more": [A("formatDatetime", DT, C(pattern), **ASMISSING) for pattern in
                            ("%B %e, %Y", "%A, day %j", "%I:%M %p", "%r", "%D", "%F %T", "%k|%l", "%b %h %a %C %y", "%R", "%L", "100%%")],
    # other expressions
    "constant": [(C("2.5", "double"), "double"), (C("7", "integer"), "integer"), (C("abc"), "string"),
                 (A("dateDaysSinceYear", C("2020-02-29", "date"), C(1970)), "integer"), A("+", X, C("1.5", "float")),
                 A("if", A("isMissing", X), C("", "string"), C("x"))],
    "field_ref": [F("x").replace("/>", ' mapMissingTo="-1"/>'), F("s").replace("/>", ' mapMissingTo="none"/>'), F("i")],
    "norm_continuous": [
        '<NormContinuous field="x"><LinearNorm orig="-10" norm="0"/><LinearNorm orig="0" norm="0.5"/><LinearNorm orig="10" norm="1"/></NormContinuous>',
        '<NormContinuous field="x" outliers="asExtremeValues"><LinearNorm orig="-1" norm="-5"/><LinearNorm orig="3" norm="5"/></NormContinuous>',
        '<NormContinuous field="x" outliers="asMissingValues" mapMissingTo="42"><LinearNorm orig="0" norm="0"/><LinearNorm orig="1" norm="1"/></NormContinuous>',
        '<NormContinuous field="i"><LinearNorm orig="0" norm="1"/><LinearNorm orig="100" norm="3"/></NormContinuous>',
    ],
    "norm_discrete": ['<NormDiscrete field="s" value="abc"/>', '<NormDiscrete field="s" value="ABC" mapMissingTo="-1"/>',
                      '<NormDiscrete field="i" value="7"/>'],
    "discretize": [
        '<Discretize field="x" mapMissingTo="M" defaultValue="D">'
        '<DiscretizeBin binValue="lo"><Interval closure="openOpen" rightMargin="-1"/></DiscretizeBin>'
        '<DiscretizeBin binValue="a"><Interval closure="closedOpen" leftMargin="-1" rightMargin="0.5"/></DiscretizeBin>'
        '<DiscretizeBin binValue="b"><Interval closure="closedClosed" leftMargin="0.5" rightMargin="3"/></DiscretizeBin>'
        '<DiscretizeBin binValue="c"><Interval closure="openClosed" leftMargin="3" rightMargin="10"/></DiscretizeBin>'
        "</Discretize>",
        '<Discretize field="i" dataType="integer"><DiscretizeBin binValue="1"><Interval closure="closedOpen" leftMargin="0" rightMargin="10"/></DiscretizeBin>'
        '<DiscretizeBin binValue="2"><Interval closure="closedOpen" leftMargin="10"/></DiscretizeBin></Discretize>',
    ],
    "map_values": [
        '<MapValues outputColumn="out" mapMissingTo="M" defaultValue="D"><FieldColumnPair field="s" column="in"/>'
        "<InlineTable><row><in>abc</in><out>first</out></row><row><in></in><out>empty</out></row><row><in>日本語テキスト</in><out>jp</out></row></InlineTable></MapValues>",
        '<MapValues outputColumn="v" dataType="integer"><FieldColumnPair field="b" column="k1"/><FieldColumnPair field="i" column="k2"/>'
        "<InlineTable><row><k1>true</k1><k2>1</k2><v>11</v></row><row><k1>false</k1><k2>1</k2><v>01</v></row>"
        "<row><k1>true</k1><k2>7</k2><v>17</v></row></InlineTable></MapValues>",
    ],
    "text_index": [
        '<TextIndex textField="s" localTermWeights="termFrequency"><Constant>o</Constant></TextIndex>',
        '<TextIndex textField="s" isCaseSensitive="true" localTermWeights="binary"><Constant>ABC</Constant></TextIndex>',
        '<TextIndex textField="s" maxLevenshteinDistance="1" countHits="bestHits"><Constant>cat</Constant></TextIndex>',
        '<TextIndex textField="s" localTermWeights="logarithmic"><FieldRef field="t"/></TextIndex>',
        '<TextIndex textField="s" wordSeparatorCharacterRE="[\\s.*]+"><Constant>b</Constant></TextIndex>',
        '<TextIndex textField="s"><TextIndexNormalization inField="from" outField="to"><InlineTable>'
        "<row><from>mat</from><to>cat</to></row><row><from>sat</from><to>cat</to></row></InlineTable></TextIndexNormalization>"
        "<Constant>cat</Constant></TextIndex>",
    ],
    "define_function": [A("affine", X, C(2), C(1)), A("twice", A("affine", I, C(3), C(-1))), A("label", S),
                        A("fact", A("abs", A("modulo", I, C(8))))],
    # Lag: the record stream is the batch, in row order (JPMML's evaluateAll keeps the same stream).
    # (JPMML ignores Lag@aggregate and reads Aggregate as an aggregate of a collection-valued field,
    # so neither is compared here; tests/functions covers them.)
    "lag": ['<Lag field="x"/>', '<Lag field="x" n="3"/>', '<Lag field="s" n="2"/>', '<Lag field="x"><BlockIndicator field="b"/></Lag>',
            '<Lag field="i" n="2"><BlockIndicator field="b"/><BlockIndicator field="c"/></Lag>'],
    # the x- spellings JPMML's converters write into PMML 4.3 documents (read as the 4.4 built-ins)
    "x_functions": [A(f"x-{fn}", X, **ASMISSING) for fn in ("expm1", "ln1p", "rint", "sin", "cos", "tan", "asin", "acos", "atan",
                                                           "sinh", "cosh", "tanh")]
    + [A("x-hypot", X, Y, **ASMISSING), A("x-modulo", X, Y, **ASMISSING)],
    # values converted to the dataType of a DerivedField / OutputField (see CASE_TRANSFORMATIONS)
    "conversions": [(F("xs"), "string"), (F("is"), "string"), (F("bs"), "string"), (F("x"), "string"),
                    (F("sx"), "double"), (F("fs"), "string")],
    "conversion_integer": [(F("xi"), "integer")],
    # Apply attributes
    "apply_attributes": [A("+", X, Y, mapMissingTo="-1"), A("ln", X, defaultValue="0", invalidValueTreatment="asMissing"),
                         A("sqrt", X, mapMissingTo="99", **ASMISSING), A("uppercase", S, mapMissingTo="NONE")],
}


# --- documents -------------------------------------------------------------------------------

_OPTYPE = {"double": "continuous", "integer": "continuous", "float": "continuous"}


_OPTYPE_OF = {"double": "continuous", "integer": "continuous", "float": "continuous"}

FUNCTIONS = (
    '<DefineFunction name="affine" optype="continuous" dataType="double">'
    '<ParameterField name="v"/><ParameterField name="a"/><ParameterField name="b"/>'
    + A("+", A("*", F("v"), F("a")), F("b")) + "</DefineFunction>"
    '<DefineFunction name="twice" optype="continuous" dataType="double"><ParameterField name="v"/>'
    + A("affine", F("v"), C(2), C(0)) + "</DefineFunction>"
    '<DefineFunction name="label" optype="categorical" dataType="string"><ParameterField name="v" dataType="string"/>'
    + A("concat", C("<"), A("uppercase", A("substring", F("v"), C(1), C(3))), C(">")) + "</DefineFunction>"
    # a recursive function, guarded by if: fact(n) = n <= 1 ? 1 : n * fact(n - 1)
    '<DefineFunction name="fact" optype="continuous" dataType="integer"><ParameterField name="n" dataType="integer"/>'
    + A("if", A("lessOrEqual", F("n"), C(1)), C(1, "integer"), A("*", F("n"), A("fact", A("-", F("n"), C(1, "integer"))))) + "</DefineFunction>"
)

#: DerivedFields a case refers to.
_CONVERSIONS = "".join(
        f'<DerivedField name="{name}" optype="{_OPTYPE_OF.get(dt, "categorical")}" dataType="{dt}">{expression}</DerivedField>'
        for name, dt, expression in [
            ("xs", "string", A("*", F("x"), C(1, "double"))), ("is", "string", F("i")), ("bs", "string", F("b")),
            ("xi", "integer", F("x")), ("sx", "double", A("if", A("matches", F("s"), C("^-?[0-9]+(\\.[0-9]+)?$")), F("s"))),
            ("fs", "string", F("f")),
        ]
    )
CASE_TRANSFORMATIONS: dict[str, str] = {"conversions": _CONVERSIONS, "conversion_integer": _CONVERSIONS}

#: Documents per case, where not the PMML 4.4 default: (version, uses FUNCTIONS).
CASE_VERSIONS: dict[str, str] = {"x_functions": "4.3"}


def expression_of(e: str | tuple[str, str]) -> str:
    """A case entry: an expression, or (expression, the OutputField's dataType)."""
    return e[0] if isinstance(e, tuple) else e


def output_type(e: str | tuple[str, str]) -> str:
    if not isinstance(e, tuple):
        return ""
    return f' dataType="{e[1]}" optype="{_OPTYPE.get(e[1], "categorical")}"'


def document(expressions: list[str], version: str = "4.4", transformations: str = "") -> str:
    dd = "".join(f'<DataField name="{n}" optype="{_OPTYPE.get(t, "categorical")}" dataType="{t}"/>' for n, t in FIELDS.items())
    ms = "".join(f'<MiningField name="{n}" invalidValueTreatment="asIs"/>' for n in FIELDS)
    outs = "".join(
        f'<OutputField name="o{k}" feature="transformedValue"{output_type(e)}>{expression_of(e)}</OutputField>' for k, e in enumerate(expressions)
    )
    ns = version.replace(".", "_")
    return (
        f'<?xml version="1.0"?>\n<PMML version="{version}" xmlns="http://www.dmg.org/PMML-{ns}">'
        '<Header><Application name="quickscore-tests functions_lib" version="1"/></Header>'
        f'<DataDictionary>{dd}<DataField name="r" optype="continuous" dataType="double"/></DataDictionary>'
        f"<TransformationDictionary>{FUNCTIONS}{transformations}</TransformationDictionary>"
        f'<RegressionModel functionName="regression"><MiningSchema>{ms}<MiningField name="r" usageType="target"/></MiningSchema>'
        f"<Output>{outs}</Output><RegressionTable intercept=\"0\"/></RegressionModel></PMML>"
    )


# --- comparison ------------------------------------------------------------------------------

RTOL = 1e-12


def _missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or type(v).__name__ in ("NAType", "NaTType")


def _number(v: Any) -> float | None:
    if isinstance(v, bool) or type(v).__name__ == "bool_":
        return None
    if isinstance(v, (int, float)) or (hasattr(v, "dtype") and v.dtype.kind in "iuf"):
        return float(v)
    return None


def same(ref: Any, got: Any) -> bool:
    """Strings and booleans equal; numbers within RTOL relative (equal infinities)."""
    if _missing(ref) or _missing(got):
        return _missing(ref) and _missing(got)
    r, g = _number(ref), _number(got)
    if r is not None or g is not None:
        if r is None or g is None:
            return False
        if math.isinf(r) or math.isinf(g):
            return r == g
        return abs(r - g) <= RTOL * max(abs(r), abs(g)) or r == g
    if isinstance(ref, bool) or type(ref).__name__ == "bool_" or isinstance(got, bool) or type(got).__name__ == "bool_":
        return bool(ref) == bool(got) and type(got).__name__ in ("bool", "bool_") and type(ref).__name__ in ("bool", "bool_")
    return str(ref) == str(got)


# --- where JPMML-Evaluator departs from the spec ----------------------------------------------------
# Records JPMML fails with one of these errors are left out of the comparison (and counted); on
# them quickscore must score the record (no error). Each is a JPMML deviation from PMML 4.4:

JPMML_DEVIATIONS: dict[str, str] = {
    # PMML 4.4 Built-in functions: "Except as noted below, any missing inputs to a built-in function
    # will result in a missing value being returned." JPMML-Evaluator 1.7 fails the record instead
    # (MissingArgumentException) for every function not marked MissingValueTolerant.
    "MissingArgumentException": "a missing argument: the spec returns a missing value, JPMML fails the record",
    # JPMML's integer is a Java int (32 bits) and its arithmetic is checked; PMML's integer
    # dataType is XML Schema's xs:integer, without such a bound.
    "integer overflow": "Java int overflow",
    "overflow: checked": "Java int overflow",
    "Expected integer value, got dateTimeSecondsSince": "Java int overflow (seconds beyond 32 bits)",
    # PMML 4.4 Built-in functions lists "min, max, sum, avg, median, product"; JPMML-Evaluator 1.7.7
    # has no median.
    'Function "median" is not defined': "JPMML has no median",
    # pow of two integers with a negative exponent has no integer result: quickscore makes it
    # invalid (so invalidValueTreatment applies: asMissing gives a missing value); JPMML fails the
    # record whatever invalidValueTreatment says (InvalidArgumentException).
    'cannot accept "exponent" value': "integer pow with a negative exponent",
}


def _input_infinite(rec: dict, fields: str) -> bool:
    return any(isinstance(rec.get(f), float) and math.isinf(rec[f]) for f in fields)


# Outputs whose values differ by design: (case, output index) -> (applies(record, ref, got), reason).
JPMML_VALUE_DEVIATIONS: dict[tuple[str, int], tuple[Any, str]] = {
    # quickscore: a division by zero is an invalid result (issue 4: "Invalid results follow
    # invalidValueTreatment. These include division by zero"); under asMissing it is missing, under
    # asIs the IEEE value. JPMML computes Java's +-Infinity and treats it as a valid result.
    ("arith_double", 3): (lambda rec, ref, got: rec.get("y") == 0, "division by zero"),
    ("arith_mixed", 3): (lambda rec, ref, got: rec.get("y") == 0, "division by zero"),
    # avg of values including an infinity: commons-math's running Mean gives NaN (inf - inf in its
    # update step) where the mean is that infinity.
    ("aggregates", 3): (lambda rec, ref, got: _input_infinite(rec, "xyp"), "commons-math Mean of an infinity"),
    # isIn / isNotIn of a missing value: the general rule above makes it missing; JPMML's
    # ValueListFunction is missing-tolerant and answers false / true.
    **{("set", k): (lambda rec, ref, got, f=f: rec.get(f) is None, "isIn of a missing value")
       for k, f in enumerate("ssixi")},
    # stdNormalIDF / normalIDF in the tails: commons-math (JPMML) computes mu + sigma sqrt(2)
    # erfInv(2p - 1), and 2p - 1 rounds away the digits of a small p (1e-12 -> relative error 4e-7);
    # quickscore's quantile is exact to the last bits there.
    **{("normal", k): (lambda rec, ref, got: rec.get("p") is not None and min(rec["p"], 1 - rec["p"]) < 0.05
                       and abs(ref - got) <= 1e-5 * abs(got), "commons-math erfInv(2p - 1) in the tails") for k in (3, 6)},
    # erf of a subnormal-small argument: commons-math's Erf.erf (a regularized gamma series) gives 0,
    # erf(x) is 2x/sqrt(pi) there.
    ("normal", 2): (lambda rec, ref, got: abs(rec.get("x") or 1.0) < 1e-150 and ref == 0.0, "commons-math erf underflow"),
    # mapMissingTo / defaultValue: quickscore gives the value parsed as the result's dataType; JPMML
    # returns the attribute's text unparsed ("-1" for a double function).
    ("field_ref", 0): (lambda rec, ref, got: isinstance(ref, str) and float(ref) == float(got), "mapMissingTo as text"),
    **{("apply_attributes", k): (lambda rec, ref, got: isinstance(ref, str) and _number(got) is not None and float(ref) == float(got),
                                 "mapMissingTo/defaultValue as text") for k in range(3)},
}


# Records quickscore fails and JPMML scores, by design: case -> (applies(record), reason).
QUICKSCORE_ONLY_FAILURES: dict[str, tuple[Any, str]] = {
    # see ("arith_double", 3): under returnInvalid a division by zero fails the record
    "arith_returnInvalid": (lambda rec: rec.get("y") == 0, "division by zero"),
}


def value_deviation(case: str, k: int, rec: dict, ref: Any, got: Any) -> str | None:
    entry = JPMML_VALUE_DEVIATIONS.get((case, k))
    if entry is not None and entry[0](rec, ref, got):
        return entry[1]
    return None


# Record errors that are JPMML deviations only for some records of a case: case -> (applies(record, error), reason).
JPMML_CASE_DEVIATIONS: dict[str, tuple[Any, str]] = {
    # an integral double beyond Java's int range (1e300) in an integer DerivedField: JPMML fails the record
    "conversion_integer": (lambda rec, error: "Expected integer value" in str(error) and math.isfinite(rec.get("x") or 0)
                           and abs(rec.get("x") or 0) >= 2**31,
                           "Java int overflow (an integral value beyond 32 bits)"),
}


def deviation(error: Any, case: str | None = None, rec: dict | None = None) -> str | None:
    """The documented JPMML deviation a JPMML record error is, or None."""
    if _missing(error):
        return None
    entry = JPMML_CASE_DEVIATIONS.get(case) if case else None
    if entry is not None and entry[0](rec or {}, error):
        return entry[1]
    text = str(error).lower()
    for key, why in JPMML_DEVIATIONS.items():
        if key.lower() in text:
            return why
    return None


if __name__ == "__main__":  # pragma: no cover - print the cases
    import sys

    for name in sys.argv[1:] or sorted(CASES):
        print(f"== {name}")
        for k, e in enumerate(CASES[name]):
            print(f"  o{k}: {e}")
