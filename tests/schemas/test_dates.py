"""schemas.dates: the plausible-date window and UTC offsets a clock can have."""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import ValidationError

from schemas.dates import DEFAULT_DATE_WINDOW, DateWindow, utc_offset_problem

NOW = dt.datetime(2026, 12, 7, 3, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (
            dt.datetime(9999, 12, 31, 10, tzinfo=dt.UTC),
            "9999-12-31T10:00:00Z is after 2026-12-08T03:00:00Z, the latest plausible date",
        ),
        (
            dt.datetime(1900, 1, 1, tzinfo=dt.UTC),
            "1900-01-01T00:00:00Z is before 1990-01-01T00:00:00Z, the earliest plausible date",
        ),
        (
            dt.datetime(1, 1, 1, tzinfo=dt.UTC),
            "0001-01-01T00:00:00Z is before 1990-01-01T00:00:00Z, the earliest plausible date",
        ),
        (
            NOW + dt.timedelta(days=1, seconds=1),
            "2026-12-08T03:00:01Z is after 2026-12-08T03:00:00Z, the latest plausible date",
        ),
    ],
)
def test_dates_outside_the_default_window(value, problem):
    assert DEFAULT_DATE_WINDOW.problem(value, now=NOW) == problem


@pytest.mark.parametrize(
    "value",
    [
        dt.datetime(1990, 1, 1, tzinfo=dt.UTC),
        dt.datetime(2024, 2, 29, 12, tzinfo=dt.UTC),
        NOW,
        NOW + dt.timedelta(days=1),  # a clock ahead, or a zone mix-up: still believed
    ],
)
def test_dates_inside_the_default_window(value):
    assert DEFAULT_DATE_WINDOW.problem(value, now=NOW) is None


def test_the_window_is_configurable():
    window = DateWindow(earliest=dt.datetime(2020, 1, 1, tzinfo=dt.UTC), max_future_days=0)

    assert window.problem(dt.datetime(2019, 12, 31, tzinfo=dt.UTC), now=NOW) is not None
    assert window.problem(NOW + dt.timedelta(minutes=1), now=NOW) is not None
    assert window.problem(NOW, now=NOW) is None


@pytest.mark.parametrize("days", [-1, 367, float("nan")])
def test_a_window_reaching_into_the_past_or_years_ahead_is_refused(days):
    with pytest.raises(ValidationError):
        DateWindow(max_future_days=days)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("Mon, 07 Dec 2026 10:00:00 +9999", "UTC offset +9999 is beyond ±14 h"),
        ("2026-12-07T10:00:00-15:00", "UTC offset -1500 is beyond ±14 h"),
        ("2026-12-07T10:00:00.123+14:01", "UTC offset +1401 is beyond ±14 h"),
        ("07 Dec 2026 10:00 GMT+0560", "UTC offset +0560 is beyond ±14 h"),  # no 60th minute
    ],
)
def test_offsets_no_clock_has(text, problem):
    assert utc_offset_problem(text) == problem


@pytest.mark.parametrize(
    "text",
    [
        "Mon, 07 Dec 2026 10:00:00 +1400",
        "2026-12-07T10:00:00-12:00",
        "07 Dec 2026 10:00 +0530",
        "2026-12-07T10:00:00Z",
        "Mon, 07 Dec 2026 10:00:00 EST",
        "2026-12-07",  # the date's own hyphens are no offset
    ],
)
def test_real_offsets_and_dates_without_one(text):
    assert utc_offset_problem(text) is None
