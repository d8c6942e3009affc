"""Output helpers shared by the CLI commands."""

from __future__ import annotations

import sys
from typing import Any

import orjson


def print_json(value: Any) -> None:
    """Indented JSON on stdout: the one machine-readable format every `--json` flag prints."""
    sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n")
