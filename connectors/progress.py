"""Progress lines for long work: a count every few seconds on stderr, never one line per element."""

from __future__ import annotations

import logging
import time

_EVERY_S = 5.0


class ProgressLog:
    """Counts what a worker stored (or did: `done`) and logs the running total at most every few
    seconds."""

    def __init__(self, logger: logging.Logger, what: str, *, done: str = "stored by this worker") -> None:
        self._logger = logger
        self._what = what
        self._done = done
        self._total = 0
        self._started = self._last = time.monotonic()

    def add(self, count: int) -> None:
        self._total += count
        now = time.monotonic()
        if now - self._last >= _EVERY_S:
            self._last = now
            rate = self._total / max(now - self._started, 1e-9)
            self._logger.info("%d %s %s so far (%.0f/s)", self._total, self._what, self._done, rate)
