"""Where the stores live: the SQLite file (--store, $WIREWATCH_HOME, ./.wirewatch) and the ES index prefix.

Kept free of Beam so the read-only commands start fast.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from schemas.errors import ConfigError

STORE_FILENAME = "wirewatch.db"
DEFAULT_HOME = ".wirewatch"
DEFAULT_INDEX_PREFIX = "wirewatch"


def resolve_store_path(flag: str | None, env: Mapping[str, str]) -> str:
    """--store wins, then $WIREWATCH_HOME, then ./.wirewatch; a folder gets wirewatch.db inside."""
    if flag:
        path = os.path.expanduser(flag)
        if os.path.isdir(path) or flag.endswith(os.sep):
            return os.path.join(path, STORE_FILENAME)
        return path
    home = env.get("WIREWATCH_HOME") or DEFAULT_HOME
    return os.path.join(os.path.expanduser(home), STORE_FILENAME)


def check_store_writable(path: str, flag: str = "--store") -> None:
    """Fail early, with the flag's name, when the store's folder cannot be created or written."""
    folder = os.path.dirname(os.path.abspath(path)) or "."
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"{flag}: cannot create folder {folder}: {exc.strerror}") from exc
    if not os.access(folder, os.W_OK) or (os.path.exists(path) and not os.access(path, os.W_OK)):
        raise ConfigError(f"{flag}: {path} is not writable")


def es_index_prefix(flag: str | None, env: Mapping[str, str]) -> str:
    """--es-index-prefix wins, then $WIREWATCH_ES_INDEX_PREFIX, then "wirewatch"."""
    return flag or env.get("WIREWATCH_ES_INDEX_PREFIX") or DEFAULT_INDEX_PREFIX
