"""Built taggers kept on disk, so that a process loads the tables instead of building them again.

Building a `Tagger` from the registry (~5,000 actors, ~40,000 patterns) costs about 2 s of CPU in
every process that tags: each `wirewatch run`, each worker of a runner, each scheduled run. The
tables it builds are a function of the registry files, the taxonomy file, the context rules and
the code that builds them, and of nothing else, so they are pickled into the user cache folder
(`~/.cache/wirewatch/tagger/`) under a digest of all four; loading them takes about half the time.
The compiled core (tagcore's automata) does not pickle and is built again after each load.

Whatever goes wrong with an entry (a partial file, another Python, a full disk) means building the
tables as if there were no cache: the cache can only save time. `WIREWATCH_TAGGER_CACHE=0` turns it
off. Only the newest few entries are kept. Entries are pickles, read only from the user's own cache
folder, which is as trusted as the installed code.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

import pydantic

from pipelines.user_dirs import user_cache_dir
from schemas.actors import registry_files

_log = logging.getLogger(__name__)

KEEP_ENTRIES = 4  # registries differ per test and per checkout; each entry is ~10 MB
DISABLE_ENV = "WIREWATCH_TAGGER_CACHE"
# The code that builds the tables: the tagger and everything it imports from schemas/.
_CODE = (
    Path(__file__).with_name("tag_match.py"),
    *sorted(Path(__file__).parents[1].joinpath("schemas").glob("*.py")),
)

T = TypeVar("T")


def cache_dir() -> Path:
    return user_cache_dir("tagger")


def enabled() -> bool:
    return os.environ.get(DISABLE_ENV, "1").strip().lower() not in ("0", "off", "false", "no")


def cache_key(actors_dir: str | Path, topics_file: str | Path, rules: Sequence[object]) -> str | None:
    """The digest of everything the tables are built from; None when a file cannot be read (the
    build then reports it)."""
    digest = hashlib.blake2b(digest_size=20)
    digest.update(f"{sys.version}\0{pydantic.VERSION}\0{rules!r}\0".encode())
    folder = Path(actors_dir).resolve()
    try:
        files = [(str(path.relative_to(folder)), path) for path in registry_files(folder) if path.is_file()]
        files += [("\0topics", Path(topics_file)), *((f"\0code {path.name}", path) for path in _CODE)]
        for name, path in files:
            data = path.read_bytes()
            digest.update(f"{name}\0{len(data)}\0".encode())
            digest.update(data)
    except OSError:
        return None
    return digest.hexdigest()


def load_or_build(key: str | None, build: Callable[[], T], kind: type[T]) -> T:
    """The tables saved under `key`, or `build()`'s, saved for the next process."""
    if key is None or not enabled():
        return build()
    path = cache_dir() / f"{key}.pickle"
    try:
        with path.open("rb") as handle:
            found = pickle.load(handle)
        if isinstance(found, kind):
            os.utime(path)  # recently used: pruned last
            return found
    except FileNotFoundError:
        pass
    except Exception as exc:  # noqa: BLE001 - any unreadable entry is rebuilt, never an error
        _log.debug("tagger cache entry %s unreadable (%s): building the tagger", path, exc)
    built = build()
    _save(path, built)
    return built


def _save(path: Path, value: object) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".partial-", suffix=".pickle")
        try:
            with os.fdopen(handle, "wb") as out:
                pickle.dump(value, out, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(temporary, path)  # whole or absent: concurrent workers never read a half
        finally:
            if os.path.exists(temporary):
                os.unlink(temporary)
        _prune(path.parent)
    except OSError as exc:
        _log.debug("tagger cache: cannot write %s (%s)", path, exc)


def _prune(folder: Path) -> None:
    entries = [path for path in folder.glob("*.pickle") if not path.name.startswith(".")]  # not partials
    entries.sort(key=lambda path: path.stat().st_mtime, reverse=True)
    for old in entries[KEEP_ENTRIES:]:
        old.unlink(missing_ok=True)
