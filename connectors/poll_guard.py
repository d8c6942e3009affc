"""What every poll of a run in one process shares: the per-host limiter, one poll at a time per feed, and the
items a run has emitted that the store does not hold yet.

A runner makes many instances of the polling DoFn in one process (Prism runs bundles on a pool of
threads, each with DoFns of its own), and a stream's clock emits every feed on every tick, also
while the previous poll of that feed is still running. Per-instance limiters and checks let five
requests a second reach one host and fetch one feed two or three times for one due time; these
guards live at module level so that every instance in the process obeys the same ones.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from connectors.feed_schedule import HostLimiter

_HOSTS_LOCK = threading.Lock()
_HOSTS: dict[str, HostLimiter] = {}


def host_limiter(run_id: str) -> HostLimiter:
    """One request at a time per host and at least a second between two, for every poll of the run
    `run_id` in this process. Per run, not per process: a worker process a runner keeps between
    jobs (Flink) may hold a host's slot in a thread its cancelled job abandoned, and a new job
    must not wait for it."""
    with _HOSTS_LOCK:
        return _HOSTS.setdefault(run_id, HostLimiter())


class FeedFlights:
    """Single flight per feed, and per (run, feed) the ids emitted but not yet stored.

    An item a poll emitted takes a moment (a second or more in a stream) to reach the store; the
    next poll of its feed finds it missing from the store and would emit, and count, it again.
    The run that emitted it knows it is on its way: it is not emitted twice, yet it stays among
    the feed's unconfirmed ids (seen_ids), so a crash still brings it back on the next start.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._flying: set[tuple[str, str]] = set()
        self._emitted: dict[tuple[str, str], frozenset[str]] = {}

    @contextmanager
    def claim(self, run_id: str, feed_url: str) -> Iterator[bool]:
        """True (and held for the block) when no other poll of this feed is running; else False."""
        key = (run_id, feed_url)
        with self._lock:
            mine = key not in self._flying
            self._flying.add(key)
        try:
            yield mine
        finally:
            if mine:
                with self._lock:
                    self._flying.discard(key)

    def emitted(self, run_id: str, feed_url: str) -> frozenset[str]:
        """Ids this run emitted from the feed that the store did not hold at the last poll."""
        with self._lock:
            return self._emitted.get((run_id, feed_url), frozenset())

    def remember(self, run_id: str, feed_url: str, in_flight: Iterable[str]) -> None:
        """Replace the feed's emitted-not-stored ids; ids gone from the feed need no memory."""
        ids = frozenset(in_flight)
        with self._lock:
            if ids:
                self._emitted[(run_id, feed_url)] = ids
            else:
                self._emitted.pop((run_id, feed_url), None)


FLIGHTS = FeedFlights()
