"""The user's folders, so that no default depends on the folder a command runs in.

- cache ($XDG_CACHE_HOME/wirewatch, else ~/.cache/wirewatch): what Wirewatch builds once and reuses
  (downloads, the built tagger); everything in it can be deleted.
- data ($XDG_DATA_HOME/wirewatch, else ~/.local/share/wirewatch): the embedded store.
- config ($XDG_CONFIG_HOME/wirewatch, else ~/.config/wirewatch): the user's feed catalog.

On macOS the data and config folders are ~/Library/Application Support/wirewatch, on Windows
%LOCALAPPDATA%\\wirewatch, unless the XDG variables are set.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def _base(variable: str, fallback: str) -> Path:
    if value := os.environ.get(variable):
        return Path(value)
    if sys.platform == "darwin" and variable != "XDG_CACHE_HOME":
        return Path.home() / "Library" / "Application Support"
    if sys.platform == "win32" and (local := os.environ.get("LOCALAPPDATA")):
        return Path(local)
    return Path.home() / fallback


def user_cache_dir(*parts: str) -> Path:
    return Path(_base("XDG_CACHE_HOME", ".cache"), "wirewatch", *parts)


def user_data_dir(*parts: str) -> Path:
    return Path(_base("XDG_DATA_HOME", os.path.join(".local", "share")), "wirewatch", *parts)


def user_config_dir(*parts: str) -> Path:
    return Path(_base("XDG_CONFIG_HOME", ".config"), "wirewatch", *parts)
