"""The Beam transform that records folded copies on their canonical article, in either store."""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Iterator

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.pvalue import PCollection

import connectors.coders  # noqa: F401  (registers the record coders)
from connectors import counters
from connectors.store import ArticleSink, DedupIndex
from schemas.dedup import LineageUpdate
from schemas.records import DeadLetter

STAGE = "dedup"
# How long to wait for a canonical article that is not in the store yet: in a stream its copy can
# be decided while the canonical article itself is still in the sink's batch.
DEFAULT_WAIT_S = 120.0


class _AddSightingsFn(beam.DoFn):
    def __init__(self, sink: ArticleSink, wait_s: float, run_id: str | None) -> None:
        self._sink = sink
        self._wait_s = wait_s
        self._run_id = run_id
        self._index: DedupIndex | None = None
        self._updated = Metrics.counter(counters.NAMESPACE, counters.LINEAGE_UPDATES)

    def setup(self) -> None:
        self._index = self._sink.open_dedup_index()

    def teardown(self) -> None:
        if self._index is not None:
            self._index.close()
            self._index = None

    def process(self, update: LineageUpdate) -> Iterator[DeadLetter]:
        assert self._index is not None, "setup() opens the index before any element arrives"
        deadline = time.monotonic() + self._wait_s
        delay = 0.2
        while not self._index.add_sightings(update):
            if time.monotonic() >= deadline:
                yield DeadLetter.build(
                    stage=STAGE,
                    error_type="CanonicalNotFound",
                    error=(
                        f"could not record {len(update.sightings)} copies on article {update.canonical_id}: "
                        f"it is not in the store after {self._wait_s:g} s"
                    ),
                    payload=update.model_dump_json(),
                    source=update.canonical_id,
                    occurred_at=dt.datetime.now(dt.UTC),
                    run_id=self._run_id,
                    record_id=update.sightings[0].article_id,
                )
                return
            time.sleep(delay * random.uniform(0.5, 1.0))
            delay = min(delay * 2, 5.0)
        self._updated.inc()


class WriteLineage(beam.PTransform[PCollection[LineageUpdate], PCollection[DeadLetter]]):
    """Adds folded copies to their canonical article's `sources_seen` (idempotent merges).

    Bounded or unbounded. An update whose canonical article does not appear in the store within
    `wait_s` becomes a dead letter (stage ``dedup``) holding the update, never a silent loss.
    Metric: ``lineage_updates``.
    """

    def __init__(
        self, sink: ArticleSink, *, wait_s: float = DEFAULT_WAIT_S, run_id: str | None = None
    ) -> None:
        super().__init__()
        self._sink = sink
        self._wait_s = wait_s
        self._run_id = run_id

    def expand(self, updates: PCollection[LineageUpdate]) -> PCollection[DeadLetter]:
        # A fusion break: in a stream, a copy's update is made in the same bundle as its canonical
        # article, which the article sink writes only when that bundle finishes. Waiting for the
        # article inside that bundle would wait for ever; in a bundle of its own it waits seconds.
        refused: PCollection[DeadLetter] = (
            updates
            | "Detach" >> beam.Reshuffle()
            | "AddSightings"
            >> beam.ParDo(_AddSightingsFn(self._sink, self._wait_s, self._run_id)).with_output_types(
                DeadLetter
            )
        )
        return refused
