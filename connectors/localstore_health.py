"""A damaged embedded store (pages of the SQLite file overwritten or cut short) said in one line.

SQLite notices damage only on the pages a statement reads: `stats` could count a garbled store as
healthy, `run` write more into it and `search` then die with "database disk image is malformed".
So the CLI and the start of `run` check the file when they open it (`PRAGMA quick_check`, bounded
in time), and any corruption error met later, by any method of the store, becomes the same
StoreDamagedError.
"""

from __future__ import annotations

import functools
import inspect
import logging
import math
import sqlite3
import threading
from collections.abc import Callable, Iterator
from typing import Any, Protocol, TypeVar

from connectors.store import StoreError

_log = logging.getLogger(__name__)

# SQLite's primary result codes for a damaged file (extended codes keep them in the low byte).
_SQLITE_CORRUPT, _SQLITE_NOTADB = 11, 26
_DAMAGE_WORDS = ("malformed", "file is not a database", "corrupt")


class StoreDamagedError(StoreError):
    """The store's file is damaged; the message names it and says how to get the data back."""

    def __init__(self, path: str, problem: str) -> None:
        problem = " ".join(problem.split())
        problem = problem if len(problem) <= 120 else problem[:119] + "…"
        super().__init__(
            f"the store at {path} is damaged ({problem}): restore it from a backup, or save what is "
            f"readable with `sqlite3 {path} .recover | sqlite3 recovered.db` and use --store recovered.db"
        )


def is_damage(exc: BaseException) -> bool:
    """Whether `exc` is SQLite saying the file is damaged (not locked, full or read-only)."""
    if not isinstance(exc, sqlite3.DatabaseError):
        return False
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (_SQLITE_CORRUPT, _SQLITE_NOTADB)
    return any(word in str(exc).lower() for word in _DAMAGE_WORDS)


def check_integrity(db: sqlite3.Connection, path: str, budget_s: float = math.inf) -> None:
    """Raise StoreDamagedError unless `PRAGMA quick_check` finds the file sound.

    quick_check reads every page once (about 60 ms for 5,000 articles, an 82 MB file, from the
    page cache; it grows with the file). With a finite `budget_s` it stops after that long and
    the file counts as sound: a big store then costs a read command at most the budget, and what
    the check did not reach is still reported when a statement meets it.
    """
    # The pragma is one step of SQLite's virtual machine, so a progress handler never runs
    # during it; sqlite3_interrupt() from a timer thread stops it (the connection must allow
    # other threads, as LocalStore's does).
    timer = threading.Timer(budget_s, db.interrupt) if math.isfinite(budget_s) else None
    if timer is not None:
        timer.daemon = True
        timer.start()
    try:
        rows = db.execute("PRAGMA quick_check(3)").fetchall()
    except sqlite3.OperationalError as exc:
        if math.isfinite(budget_s) and "interrupt" in str(exc).lower():
            _log.debug("integrity check of %s stopped after %.1f s (a big store)", path, budget_s)
            return
        if is_damage(exc):
            raise StoreDamagedError(path, str(exc)) from exc
        raise
    except sqlite3.DatabaseError as exc:
        if is_damage(exc):
            raise StoreDamagedError(path, str(exc)) from exc
        raise
    finally:
        if timer is not None:
            timer.cancel()
            timer.join()  # an interrupt under way lands now, before the caller's next statement
    if [row[0] for row in rows] != ["ok"]:
        # A report starts with a "*** in database main ***" banner line: the first problem says more.
        problems = [line for row in rows for line in str(row[0]).splitlines() if not line.startswith("***")]
        raise StoreDamagedError(path, problems[0] if problems else str(rows[0][0]))


class _HasPath(Protocol):
    path: str


_C = TypeVar("_C", bound=type)


def _reporting_damage(method: Callable[..., Any]) -> Callable[..., Any]:
    if inspect.isgeneratorfunction(method):

        @functools.wraps(method)
        def generator(self: _HasPath, *args: Any, **kwargs: Any) -> Iterator[Any]:
            try:
                yield from method(self, *args, **kwargs)
            except sqlite3.DatabaseError as exc:
                if is_damage(exc):
                    raise StoreDamagedError(self.path, str(exc)) from exc
                raise

        return generator

    @functools.wraps(method)
    def plain(self: _HasPath, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.DatabaseError as exc:
            if is_damage(exc):
                raise StoreDamagedError(self.path, str(exc)) from exc
            raise

    return plain


def reports_damage(cls: _C) -> _C:
    """Class decorator: every public method of `cls` (which has `.path`) turns SQLite's corruption
    errors into StoreDamagedError. Per method, not per statement: damage is found by whatever
    statement reads the page, and every caller (CLI, pipeline workers) goes through a method."""
    for name, member in list(vars(cls).items()):
        if not name.startswith("_") and inspect.isfunction(member):
            setattr(cls, name, _reporting_damage(member))
    return cls
