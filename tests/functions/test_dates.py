"""dateDaysSinceYear, dateSecondsSinceYear, dateSecondsSinceMidnight, and how dates parse."""

from __future__ import annotations

import pytest
from fn_helpers import A, C, F, ev, load


@pytest.mark.parametrize(
    "date, year, expected",
    [
        ("2003-04-01", 1960, 15796), ("1960-01-01", 1960, 0), ("1959-12-31", 1960, -1), ("1970-01-01", 1960, 3653),
        ("2000-02-29", 2000, 59), ("2000-03-01", 1900, 36584), ("0001-01-01", 1, 0), ("9999-12-31", 1970, 2932896),
        (None, 1960, None),
    ],
)
def test_date_days_since_year(date, year, expected):
    assert ev(A("dateDaysSinceYear", F("d"), C(year)), {"d": date}) == expected


def test_date_days_since_year_of_a_datetime_and_a_constant():
    assert ev(A("dateDaysSinceYear", F("dt"), C(1970)), {"dt": "1970-01-02T23:59:59"}) == 1
    assert ev(A("dateDaysSinceYear", C("2020-01-01", "date"), C(2019)), {}) == 365
    assert load(A("dateDaysSinceYear", F("d"), C(1960))).schema.outputs[0].data_type == "integer"


@pytest.mark.parametrize(
    "dt, year, expected",
    [("1960-01-01T00:00:00", 1960, 0), ("1960-01-01T00:00:01", 1960, 1), ("1959-12-31T23:59:59", 1960, -1),
     ("2000-01-01T00:00:00", 1970, 946684800), ("2003-04-01T13:05:30", 1960, 1364821530), (None, 1960, None)],
)
def test_date_seconds_since_year(dt, year, expected):
    assert ev(A("dateSecondsSinceYear", F("dt"), C(year)), {"dt": dt}) == expected


@pytest.mark.parametrize(
    "field, value, expected",
    [("tm", "00:00:00", 0), ("tm", "12:34:56", 45296), ("tm", "23:59:59", 86399), ("tm", "23:59:59.999", 86399),
     ("dt", "2020-05-06T01:02:03", 3723), ("tm", "07:08", 25680), ("tm", None, None)],
)
def test_date_seconds_since_midnight(field, value, expected):
    assert ev(A("dateSecondsSinceMidnight", F(field)), {field: value}) == expected


@pytest.mark.parametrize(
    "text, ok",
    [("2020-01-02", True), ("2020-02-30", False), ("20200102", False), ("2020-W01-1", False), ("2020-1-2", False), (" 2020-01-02 ", True),
     ("", True), ("2020-01-02T00:00:00", False)],
)
def test_date_parsing_is_iso_extended(text, ok):
    # PMML dates are XML Schema dates, "YYYY-MM-DD"; anything else is an invalid value, and one that
    # cannot be read as a date cannot be kept even under invalidValueTreatment="asIs": the record fails
    got = ev(A("isMissing", F("d")), {"d": text})
    if text == "":
        assert got is True  # an empty cell is a missing value
    elif ok:
        assert got is False
    else:
        assert got.startswith("ERROR: Invalid value")


@pytest.mark.parametrize(
    "text, ok",
    [("2020-01-02T03:04:05", True), ("2020-01-02T03:04", True), ("2020-01-02T03:04:05.250", True), ("2020-01-02 03:04:05", False),
     ("2020-01-02", False), ("2020-01-02T25:00:00", False)],
)
def test_datetime_parsing(text, ok):
    got = ev(A("isMissing", F("dt")), {"dt": text})
    assert got is False if ok else got.startswith("ERROR: Invalid value")


def test_python_dates_are_accepted():
    import datetime as dt

    assert ev(A("dateDaysSinceYear", F("d"), C(1970)), {"d": dt.date(1970, 1, 11)}) == 10
    assert ev(A("dateSecondsSinceMidnight", F("dt")), {"dt": dt.datetime(2020, 1, 1, 0, 1, 2)}) == 62
