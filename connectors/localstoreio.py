"""Beam transforms that write articles and dead letters to the embedded SQLite store."""

from __future__ import annotations

import logging
from collections.abc import Callable

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.pvalue import PCollection

import connectors.coders  # noqa: F401  (registers the record coders)
from connectors import counters
from connectors.localstore import LocalStore, prepare_articles
from connectors.progress import ProgressLog
from connectors.write_behind import WriteBehind
from schemas.records import Article, DeadLetter
from schemas.store import WriteCounts

# Articles per write transaction. Each batch rewrites the leaf pages its dedup postings and
# full-text terms land on, which in a big store are most of them: into a store of 200,000
# articles, batches of 2,000 cost 0.62-0.68 ms of CPU per article against 0.81-0.91 ms at 500
# (0.47-0.50 either way at 10,000; timed by hand, 5,000 articles). Larger ones gained nothing more.
DEFAULT_BATCH_SIZE = 2000
_log = logging.getLogger(__name__)


class _BatchWriteFn(beam.DoFn):
    """Buffers elements and writes each batch in one transaction, behind the pipeline
    (`connectors.write_behind`); a bundle ends when its rows are written, so a bundle the runner
    retries writes the same rows again, which the store ignores by id."""

    def __init__(self, path: str, batch_size: int, kind: str) -> None:
        self._path = path
        self._batch_size = batch_size
        self._kind = kind
        self._store: LocalStore | None = None
        self._buffer: list[Article | DeadLetter] = []
        if kind == "articles":
            self._written = Metrics.counter(counters.NAMESPACE, counters.ARTICLES_WRITTEN)
            self._duplicates = Metrics.counter(counters.NAMESPACE, counters.ARTICLES_DUPLICATE)
        else:
            self._written = Metrics.counter(counters.NAMESPACE, counters.DEAD_LETTERS)

    def setup(self) -> None:
        self._store = LocalStore(self._path)
        self._writer: WriteBehind[tuple[int, WriteCounts]] = WriteBehind()
        self._progress = ProgressLog(_log, self._kind.replace("_", " "))

    def start_bundle(self) -> None:
        self._buffer = []
        self._writer.forget()

    def process(self, element: Article | DeadLetter) -> None:
        self._buffer.append(element)
        if len(self._buffer) >= self._batch_size:
            self._count(self._writer.submit(self._write_buffer()))

    def finish_bundle(self) -> None:
        if self._buffer:
            self._count(self._writer.submit(self._write_buffer()))
        self._count(self._writer.wait())

    def teardown(self) -> None:
        if self._store is not None:
            self._writer.close()
            self._store.close()
            self._store = None

    def _write_buffer(self) -> Callable[[], tuple[int, WriteCounts]]:
        """The write of the buffered batch, to run on the writer thread; the buffer starts anew."""
        store, batch, self._buffer = self._store, self._buffer, []
        assert store is not None, "setup() opens the store before any element arrives"
        if self._kind == "articles":
            # Made ready here, on the bundle's thread: the writer thread then only waits on SQLite.
            prepared = prepare_articles(a for a in batch if isinstance(a, Article))
            return lambda: (len(batch), store.write_prepared(prepared))
        letters = [d for d in batch if isinstance(d, DeadLetter)]
        return lambda: (len(batch), WriteCounts(written=store.write_dead_letters(letters), duplicates=0))

    def _count(self, done: tuple[int, WriteCounts] | None) -> None:
        """Counters and progress, on the bundle's thread (where Beam keeps them)."""
        if done is None:
            return
        size, outcome = done
        self._written.inc(outcome.written)
        if self._kind == "articles":
            self._duplicates.inc(outcome.duplicates)
        self._progress.add(size)


class WriteToLocalStore(beam.PTransform[PCollection[Article], PCollection[DeadLetter]]):
    """Writes articles to the embedded store at `path`.

    Bounded or unbounded. Idempotent: an id already stored is not written again and counts as a
    duplicate, so re-runs and retried bundles never create a second row. Metrics:
    ``articles_written``, ``articles_duplicate``. Returns the articles the store rejected as dead
    letters; SQLite accepts every valid Article, so that PCollection stays empty.
    """

    def __init__(self, *, path: str, batch_size: int = DEFAULT_BATCH_SIZE) -> None:
        super().__init__()
        _check_batch_size(batch_size)
        self._path = path
        self._batch_size = batch_size

    def expand(self, articles: PCollection[Article]) -> PCollection[DeadLetter]:
        rejected: PCollection[DeadLetter] = articles | "WriteBatches" >> beam.ParDo(
            _BatchWriteFn(self._path, self._batch_size, "articles")
        ).with_output_types(DeadLetter)
        return rejected


class WriteDeadLettersToLocalStore(beam.PTransform[PCollection[DeadLetter], PCollection[None]]):
    """Writes dead letters to the embedded store's ``dead_letters`` table.

    Bounded or unbounded. The same input rejected again replaces its earlier row. Metric:
    ``dead_letters``.
    """

    def __init__(self, *, path: str, batch_size: int = DEFAULT_BATCH_SIZE) -> None:
        super().__init__()
        _check_batch_size(batch_size)
        self._path = path
        self._batch_size = batch_size

    def expand(self, letters: PCollection[DeadLetter]) -> PCollection[None]:
        done: PCollection[None] = letters | "WriteBatches" >> beam.ParDo(
            _BatchWriteFn(self._path, self._batch_size, "dead_letters")
        )
        return done


def _check_batch_size(batch_size: int) -> None:
    if not 1 <= batch_size <= 10_000:
        raise ValueError(f"batch_size must be between 1 and 10000, got {batch_size}")


class LocalStoreSink:
    """The embedded store as the pipeline's sink (see connectors.store.ArticleSink)."""

    def __init__(self, path: str) -> None:
        self.path = path

    def write_articles(self) -> WriteToLocalStore:
        return WriteToLocalStore(path=self.path)

    def write_dead_letters(self) -> WriteDeadLettersToLocalStore:
        return WriteDeadLettersToLocalStore(path=self.path)

    def open_state_store(self) -> LocalStore:
        return LocalStore(self.path)

    def open_dedup_index(self) -> LocalStore:
        return LocalStore(self.path)

    def open_alert_store(self) -> LocalStore:
        return LocalStore(self.path)
