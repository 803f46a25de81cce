"""No argument crashes a function: every built-in (and vendor function) applied to every
combination of field types - numbers, strings, booleans, dates, dateTimes, times - on records
with typical, empty, missing, infinite and unparseable-as-number values either scores or gives
the record an error message; never an exception, never an internal error."""

from __future__ import annotations

import itertools
import math

import pytest
from fn_helpers import A, F, load

from quickscore.errors import ModelError
from quickscore.schema.functions import BUILTINS, VENDOR_FUNCTIONS

TYPED_FIELDS = ["x", "i", "s", "b", "d", "dt", "tm"]  # float behaves as double here
RECORDS = [
    {"x": 1.5, "i": 2, "f": 0.5, "s": "abc", "b": True, "d": "2020-01-01", "dt": "2020-01-01T01:02:03", "tm": "01:02:03"},
    {"x": -1.0, "i": 0, "f": -2.0, "s": "", "b": False, "d": "1960-01-01", "dt": "1960-01-01T00:00:00", "tm": "00:00:00"},
    {},
    {"x": math.inf, "i": -7, "f": math.inf, "s": "12", "b": None, "d": "0001-01-01", "dt": "9999-12-31T23:59:59"},
    {"x": -math.inf, "s": "日本", "i": 1, "tm": "23:59:59"},
    {"x": 1e308, "i": 2**40, "s": "%d", "f": -0.0},
]


def _combos(arity: int):
    if arity <= 2:
        return list(itertools.product(TYPED_FIELDS, repeat=arity))
    return [tuple(TYPED_FIELDS[(k + j) % len(TYPED_FIELDS)] for j in range(arity)) for k in range(len(TYPED_FIELDS))]


@pytest.mark.parametrize("name", sorted({**BUILTINS, **VENDOR_FUNCTIONS}))
def test_no_argument_crashes_a_function(name):
    builtin = {**BUILTINS, **VENDOR_FUNCTIONS}[name]
    arity = min(builtin.max_args if builtin.max_args is not None else builtin.min_args + 1, 3)
    for combo in _combos(arity):
        try:
            model = load(A(name, *[F(c) for c in combo]))
        except ModelError:
            continue  # refused at load with a message: fine
        out = model.predict(RECORDS)
        internal = [e for e in out["_error"] if isinstance(e, str) and "Internal error" in e]
        assert not internal, f"{name}{combo}: {internal[0]}"


# "Except as noted below, any missing inputs to a built-in function will result in a missing value
# being returned." The noted ones, with all their arguments missing:
ALL_MISSING = {"isMissing": True, "isNotMissing": False, "concat": "", "x-isValid": False, "x-isNotValid": False}


@pytest.mark.parametrize("name", sorted({**BUILTINS, **VENDOR_FUNCTIONS}))
def test_missing_arguments_give_a_missing_value(name):
    builtin = {**BUILTINS, **VENDOR_FUNCTIONS}[name]
    arity = builtin.max_args if builtin.max_args is not None else builtin.min_args + 1
    for field in TYPED_FIELDS:
        try:
            model = load(A(name, *[F(field)] * arity))
        except ModelError:
            continue
        for missing in ({}, {field: None}, {field: math.nan} if field in ("x", "f") else {}):
            out = model.predict([missing])
            assert out["_error"][0] is None, f"{name}({field}): {out['_error'][0]}"
            value = out["out"][0]
            expected = ALL_MISSING.get(name)
            if expected is None:
                assert value is None or (isinstance(value, float) and math.isnan(value)), f"{name}({field}) = {value!r}"
            else:
                assert value == expected, f"{name}({field}) = {value!r}"
