"""Write-behind for the sinks: a batch is written on a thread of its own while the pipeline prepares
the next one.

A sink's write mostly waits: on Elasticsearch indexing the bulk request in another process, or on
SQLite's C code (which runs without the GIL, `LocalStore.write_prepared`). Written inline, the
pipeline stands still meanwhile; written behind, the two overlap, and on two cores `make bench-e2e`'s
pipeline keeps up with a plain loop of the same functions that writes inline. At most one batch is
in flight, so memory stays bounded and a failure surfaces within one batch.

Results (and failures) come back to the caller's thread: Beam counts metrics and takes outputs
only on the thread that runs the bundle.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Generic, TypeVar

T = TypeVar("T")


class WriteBehind(Generic[T]):
    """One writer thread with at most one write in flight.

    `submit` starts a write once the one in flight has finished and returns that one's result;
    `wait` returns the last result. A write that raised raises in the caller at `submit` or
    `wait`, so a bundle whose write failed fails like an inline write would have. A DoFn calls
    `wait` in finish_bundle: a bundle ends only when all its rows are written.
    """

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="wirewatch-writer")
        self._pending: Future[T] | None = None

    def submit(self, write: Callable[[], T]) -> T | None:
        done = self.wait()
        self._pending = self._pool.submit(write)
        return done

    def wait(self) -> T | None:
        pending, self._pending = self._pending, None
        return None if pending is None else pending.result()

    def forget(self) -> None:
        """Wait for the write in flight without its result or its failure: a bundle the runner
        retries starts clean, and the failed one already reported why."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.exception()

    def close(self) -> None:
        self.forget()
        self._pool.shutdown(wait=True)
