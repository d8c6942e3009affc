"""The user's cache folder for what Wirewatch builds once and reuses: $XDG_CACHE_HOME/wirewatch, else
~/.cache/wirewatch. Everything in it can be deleted; it is built again on next use."""

from __future__ import annotations

import os
from pathlib import Path


def user_cache_dir(*parts: str) -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base, "wirewatch", *parts)
