"""Where things live: the SQLite file (--store, $WIREWATCH_HOME, the user data folder), the feed
catalog (--feeds, $WIREWATCH_FEEDS, the user config folder) and the ES index prefix. No default
depends on the folder a command runs in.

Kept free of Beam so the read-only commands start fast.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path

from pipelines.user_dirs import user_config_dir, user_data_dir
from schemas.errors import ConfigError

STORE_FILENAME = "wirewatch.db"
CATALOG_FILENAME = "feeds.yaml"
# The catalog that ships with Wirewatch: a user's own catalog starts as a copy of it.
BUNDLED_CATALOG = Path(__file__).resolve().parents[1] / "seeds" / CATALOG_FILENAME
DEFAULT_INDEX_PREFIX = "wirewatch"


def resolve_store_path(flag: str | None, env: Mapping[str, str]) -> str:
    """--store wins, then $WIREWATCH_HOME, then the user data folder (~/.local/share/wirewatch);
    a folder gets wirewatch.db inside."""
    if flag:
        path = os.path.expanduser(flag)
        if os.path.isdir(path) or flag.endswith(os.sep):
            return os.path.join(path, STORE_FILENAME)
        return path
    home = env.get("WIREWATCH_HOME")
    return os.path.join(os.path.expanduser(home) if home else str(user_data_dir()), STORE_FILENAME)


def resolve_catalog_path(flag: str | None, env: Mapping[str, str]) -> str:
    """--feeds wins, then $WIREWATCH_FEEDS, then the user's catalog in the user config folder
    (~/.config/wirewatch/feeds.yaml), created on first use as a copy of the bundled one (comments
    and all), so that editing it never touches the installed files."""
    if flag or env.get("WIREWATCH_FEEDS"):
        return os.path.expanduser(flag or env["WIREWATCH_FEEDS"])
    path = user_config_dir(CATALOG_FILENAME)
    if not path.exists():
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_suffix(".partial")
            shutil.copyfile(BUNDLED_CATALOG, partial)
            os.replace(partial, path)  # whole: two first commands at once both see a complete file
        except OSError as exc:
            raise ConfigError(
                f"cannot create the feed catalog {path}: {exc.strerror} (or pass --feeds FILE)"
            ) from exc
    return str(path)


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
