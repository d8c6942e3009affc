"""Output helpers shared by the CLI commands."""

from __future__ import annotations

import datetime as dt
import sys
from typing import Any

import orjson

from schemas.alerts import parse_duration
from schemas.errors import ConfigError


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
