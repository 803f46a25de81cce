"""uppercase lowercase stringLength substring trimBlanks concat replace matches formatNumber
formatDatetime, and the SAS vendor functions."""

from __future__ import annotations

import pytest
from fn_helpers import INF, NAN, A, C, F, ev, load

TEXTS = ["", " ", "abc", "ABC", "MiXeD 123", "héllo wörld", "straße", "日本語", "  padded\t", "ǅ title"]


@pytest.mark.parametrize("s", TEXTS)
def test_case_and_length(s):
    assert ev(A("uppercase", F("s")), {"s": s}) == s.upper()
    assert ev(A("lowercase", F("s")), {"s": s}) == s.lower()
    assert ev(A("stringLength", F("s")), {"s": s}) == len(s)


@pytest.mark.parametrize("fn", ["uppercase", "lowercase", "stringLength", "trimBlanks"])
def test_string_functions_missing(fn):
    assert ev(A(fn, F("s")), {"s": None}) is None


def test_string_of_a_number():
    # a number argument is its text, as Java writes it
    assert ev(A("uppercase", F("x")), {"x": 1e-9}) == "1.0E-9"
    assert ev(A("stringLength", F("i")), {"i": -123}) == 4


@pytest.mark.parametrize(
    "s, expected",
    [("  a b  ", "a b"), ("\t\n x \r", "x"), ("", ""), ("   ", ""), ("\u00a0x\u00a0", "\u00a0x\u00a0"), ("日本 ", "日本")],
)
def test_trim_blanks(s, expected):
    # "Removes leading and trailing blanks": Java's String.trim (characters up to U+0020)
    assert ev(A("trimBlanks", F("s")), {"s": s}) == expected


@pytest.mark.parametrize(
    "s, pos, length, expected",
    [("abcdef", 1, 3, "abc"), ("abcdef", 2, 100, "bcdef"), ("abcdef", 7, 2, ""), ("abcdef", 4, 0, ""), ("", 1, 1, ""),
     ("日本語テキスト", 2, 2, "本語"), ("abc", 1.9, 2.9, "ab"), ("abc", 0, 2, None), ("abc", 1, -1, None), (None, 1, 1, None)],
)
def test_substring(s, pos, length, expected):
    # "The first character of a string is located at position 1 (not position 0)"
    expression = A("substring", F("s"), C(pos), C(length), invalidValueTreatment="asMissing")
    assert ev(expression, {"s": s}) == expected


@pytest.mark.parametrize(
    "args, record, expected",
    [
        ((F("s"), F("t")), {"s": "ab", "t": "cd"}, "abcd"),
        ((F("s"), C("-"), F("i")), {"s": "x", "i": 7}, "x-7"),
        ((F("x"), C("|"), F("b")), {"x": 3.0, "b": True}, "3.0|true"),
        ((F("x"), F("s")), {"x": 1e7, "s": ""}, "1.0E7"),
        ((F("x"), F("s")), {"x": INF, "s": "!"}, "Infinity!"),
        ((F("f"), F("s")), {"f": 0.1, "s": ""}, "0.1"),
        ((F("s"), F("t")), {"s": None, "t": "only"}, "only"),  # missing parts are left out
        ((F("s"), F("t")), {"s": "日本", "t": "語"}, "日本語"),
        ((F("d"), C("T")), {"d": "2020-02-29"}, "2020-02-29T"),
    ],
)
def test_concat(args, record, expected):
    assert ev(A("concat", *args), record) == expected


@pytest.mark.parametrize(
    "s, pattern, replacement, expected",
    [
        ("hello world", "o", "0", "hell0 w0rld"),
        ("hello world", "(\\w+) (\\w+)", "$2 $1", "world hello"),
        ("héllo wörld", "(\\w+) (\\w+)", "$2 $1", "héw lloörld"),  # Java's \w is [a-zA-Z_0-9]
        ("a.b.c", "\\Q.\\E", "-", "a-b-c"),  # \Q...\E quotes
        ("2020-01-02", "(?<y>\\d{4})-(?<m>\\d\\d)", "${m}/${y}", "01/2020-02"),  # named groups
        ("AbC dE", "\\p{Upper}", "_", "_b_ d_"),  # POSIX classes
        ("cost: $5", "\\$", "USD", "cost: USD5"),
        ("aaa", "a*", "-", "--"),
        ("", "^$", "empty", "empty"),
        ("x", "x", "\\$1", "$1"),  # an escaped $ in the replacement is literal
    ],
)
def test_replace(s, pattern, replacement, expected):
    assert ev(A("replace", F("s"), C(pattern), C(replacement)), {"s": s}) == expected


@pytest.mark.parametrize(
    "s, pattern, expected",
    [("Hello", "^[A-Z]", True), ("hello", "^[A-Z]", False), ("ab12", "\\d+", True), ("", "^$", True), ("abc", "b", True),
     ("日本", "\\w", False), ("日本", "本", True), ("line\n", "line\\z", False), ("line\n", "line\\Z", True), ("a", "[", "invalid")],
)
def test_matches(s, pattern, expected):
    # "The string is considered to match the pattern if any substring matches the pattern"
    if expected == "invalid":
        from quickscore.errors import UnsupportedMarkup

        with pytest.raises(UnsupportedMarkup, match="Regular expression"):
            ev(A("matches", F("s"), C(pattern)), {"s": s})
        return
    assert ev(A("matches", F("s"), C(pattern)), {"s": s}) is expected


def test_matches_pattern_from_a_field():
    assert ev(A("matches", F("s"), F("t")), [{"s": "abc", "t": "b"}, {"s": "abc", "t": "^b"}, {"s": "abc", "t": None}]) == [True, False, None]


@pytest.mark.parametrize(
    "field, value, pattern, expected",
    [
        ("x", 3.14159, "%.2f", "3.14"), ("x", 0.125, "%.2f", "0.13"),  # Java rounds HALF_UP
        ("x", -2.5, "%8.3f", "  -2.500"), ("x", 1234567.891, "%,.1f", "1,234,567.9"), ("x", 12345.678, "%e", "1.234568e+04"),
        ("x", 1.0, "%g", "1.00000"), ("x", 0.0001, "%g", "0.000100000"), ("x", 1e-5, "%g", "1.00000e-05"),
        ("x", 2.0, "%s", "2.0"), ("x", 1e300, "%.1e", "1.0e+300"), ("x", INF, "%f", "Infinity"), ("x", 3.0, "%-6.1f|", "3.0   |"),
        ("x", 5.0, "%+.0f", "+5"), ("x", 2.5, "value: %.1f %%", "value: 2.5 %"),
        ("i", 42, "%05d", "00042"), ("i", -42, "%d", "-42"), ("i", 255, "%x", "ff"), ("i", 255, "%#X", "0XFF"), ("i", 7, "%+d", "+7"),
        ("i", -1, "%x", "ffffffff"), ("i", 1234567, "%,d", "1,234,567"), ("i", 3, "12", "12"),
        ("x", 1.5, "%d", None), ("i", 2, "%.2f", None),  # Java: a conversion must fit the value's type
        ("x", None, "%f", None),
    ],
)
def test_format_number(field, value, pattern, expected):
    assert ev(A("formatNumber", F(field), C(pattern), invalidValueTreatment="asMissing"), {field: value}) == expected


@pytest.mark.parametrize(
    "field, value, pattern, expected",
    [
        ("d", "2007-09-12", "%m/%d/%y", "09/12/07"),  # the spec's example
        ("d", "2024-02-29", "%Y-%m-%d", "2024-02-29"),
        ("d", "2024-02-29", "%B %e, %Y (%A, day %j)", "February 29, 2024 (Thursday, day 060)"),
        ("dt", "2020-01-02T03:04:05", "%H:%M:%S %p", "03:04:05 am"),
        ("dt", "2020-01-02T15:04:05", "%I %l %k %r", "03 3 15 03:04:05 PM"),
        ("dt", "1999-12-31T23:59:59", "%F %T", "1999-12-31 23:59:59"),
        ("d", "0001-01-01", "%Y|%y|%C", "0001|01|00"),
        ("d", "2020-01-01", "100%%", "100%"),
        ("d", None, "%Y", None),
        ("d", "2020-01-01", "%Q%", None),
    ],
)
def test_format_datetime(field, value, pattern, expected):
    assert ev(A("formatDatetime", F(field), C(pattern), invalidValueTreatment="asMissing"), {field: value}) == expected


@pytest.mark.parametrize(
    "function, width, text, expected",
    [
        ("SAS-EM-String-Normalize", 8, "  setosa  ", "SETOSA"), ("SAS-EM-String-Normalize", 3, "virginica", "VIR"),
        ("SAS-EM-String-Normalize", 8, "", ""), ("SAS-EM-String-Normalize", 8, None, None),
        ("SAS-FORMAT-$CHARw", 4, "versicolor", "vers"), ("SAS-FORMAT-$CHARw", 20, " a ", " a "), ("SAS-FORMAT-$CHARw", 2, "日本語", "日本"),
    ],
)
def test_sas_vendor_functions(function, width, text, expected):
    assert ev(A(function, C(width), F("s")), {"s": text}) == expected


def test_document_definition_wins_over_vendor_function():
    own = ('<TransformationDictionary><DefineFunction name="SAS-FORMAT-$CHARw" optype="categorical" dataType="string">'
           '<ParameterField name="w"/><ParameterField name="v"/><Constant>mine</Constant></DefineFunction></TransformationDictionary>')
    assert ev(A("SAS-FORMAT-$CHARw", C(3), F("s")), {"s": "abcdef"}, transformations=own) == "mine"


def test_unknown_function_is_refused():
    from quickscore.errors import UnsupportedMarkup

    with pytest.raises(UnsupportedMarkup, match="Unsupported function 'x-nope'"):
        load(A("x-nope", F("x")))


def test_nan_is_missing_for_string_functions():
    assert ev(A("concat", F("x"), C("!")), {"x": NAN}) == "!"
