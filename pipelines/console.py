"""Output helpers shared by the CLI commands."""

from __future__ import annotations

import datetime as dt
import os
import sys
from typing import Any

import orjson

from schemas.alerts import parse_duration
from schemas.errors import ConfigError
from schemas.store import HIGHLIGHT_END, HIGHLIGHT_START
from schemas.text import clean_line, markup_to_text


def print_json(value: Any) -> None:
    """Indented JSON on stdout: the one machine-readable format every `--json` flag prints."""
    sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n")


def parse_since(text: str, now: dt.datetime) -> dt.datetime | None:
    """A `--since` flag: `7d`, `30d`, `12h` … before `now`, or None for `all`."""
    if text == "all":
        return None
    try:
        return now - dt.timedelta(seconds=parse_duration(text))
    except ValueError as exc:
        raise ConfigError(f"--since: {exc}") from exc


def parse_moment(flag: str, text: str, now: dt.datetime) -> dt.datetime:
    """A point in time: `2026-01-31` (midnight UTC), an ISO date-time (UTC unless it says), or a
    duration before `now` (`7d`, `12h`)."""
    text = text.strip()
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        try:
            return now - dt.timedelta(seconds=parse_duration(text))
        except ValueError:
            raise ConfigError(
                f"{flag} {text!r}: give a date (2026-01-31), a date-time (2026-01-31T08:00Z) or a "
                "duration before now (7d, 12h)"
            ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def printable_line(text: str) -> str:
    """A stored title or snippet as one line of text: text is cleaned when written
    (pipelines.normalize), but a store written by an older version may still hold markup."""
    return clean_line(markup_to_text(text))


def with_highlights(snippet: str) -> str:
    """A snippet's [[matches]] in bold on a terminal (not with NO_COLOR), left marked otherwise."""
    if sys.stdout.isatty() and "NO_COLOR" not in os.environ:
        return snippet.replace(HIGHLIGHT_START, "\033[1m").replace(HIGHLIGHT_END, "\033[0m")
    return snippet
