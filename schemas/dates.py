"""Which article dates are believable: a configurable window, and UTC offsets a clock can have.

Feeds carry placeholder and garbage dates (year 0001, 1900, 9999; an offset of "+9999" that moves a
date by four days). A date outside the window is not stored as the publication date: Normalize
uses the fetch time instead and records why (`date_rejected`).
"""

from __future__ import annotations

import datetime as dt
import re

from pydantic import BaseModel, Field

from schemas.types import FROZEN, UtcDatetime

DEFAULT_EARLIEST = dt.datetime(1990, 1, 1, tzinfo=dt.UTC)
DEFAULT_MAX_FUTURE_DAYS = 1.0
# Real offsets run from UTC-12:00 to UTC+14:00; anything beyond ±14 h is a typo or garbage.
MAX_UTC_OFFSET = dt.timedelta(hours=14)

# A numeric UTC offset right after a time of day: "10:00:00 +9999", "T10:00:00.5-05:00", "10:00 GMT+0530".
_OFFSET = re.compile(
    r"\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(?:GMT|UTC)?\s*([+-])(\d{2}):?(\d{2})(?!\d)", re.IGNORECASE
)


class DateWindow(BaseModel):
    """Publication dates from `earliest` up to `max_future_days` after "now" (the run's start, or
    a streamed item's fetch time: a clock slightly ahead or a time zone mix-up is not news from
    the future, a date a week ahead is)."""

    model_config = FROZEN

    earliest: UtcDatetime = DEFAULT_EARLIEST
    max_future_days: float = Field(default=DEFAULT_MAX_FUTURE_DAYS, ge=0, le=366)

    def latest(self, now: dt.datetime) -> dt.datetime:
        return now + dt.timedelta(days=self.max_future_days)

    def problem(self, value: dt.datetime, *, now: dt.datetime) -> str | None:
        """Why `value` is not a believable publication date at `now`, or None when it is."""
        if value < self.earliest:
            return f"{_iso(value)} is before {_iso(self.earliest)}, the earliest plausible date"
        latest = self.latest(now)
        if value > latest:
            return f"{_iso(value)} is after {_iso(latest)}, the latest plausible date"
        return None


DEFAULT_DATE_WINDOW = DateWindow()


def utc_offset_problem(text: str) -> str | None:
    """Why the numeric UTC offset written in the date `text` cannot be real, or None (also when
    there is none). Date parsers apply "+9999" as 99 h 99 min without a word."""
    for sign, hours, minutes in _OFFSET.findall(text):
        offset = dt.timedelta(hours=int(hours), minutes=int(minutes))
        if int(minutes) >= 60 or offset > MAX_UTC_OFFSET:
            return f"UTC offset {sign}{hours}{minutes} is beyond ±14 h"
    return None


def _iso(value: dt.datetime) -> str:
    # isoformat, not strftime: strftime writes year 1 as "1", not "0001".
    return value.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
