"""Deduplicate: fold exact and near copies into the first-seen article, with lineage.

Batch: every article's fingerprint (keys + MinHash signature, ~1 KB) is gathered in one place and
decided in first-seen order (published time, then id), so the outcome does not depend on how the
runner split the work; the decisions are joined back to the articles by id. Streaming: articles
are decided as they arrive by one stateful step whose memory of recent canonical articles lives
in Beam state, so copies arriving together are merged before the store has the first one.

In both modes the store answers for everything written before (earlier runs, a restarted stream,
other workers): `connectors.store.DedupIndex.lookup` by exact key and LSH band key.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, NamedTuple

import apache_beam as beam
from apache_beam.coders import PickleCoder
from apache_beam.metrics import Metrics
from apache_beam.pvalue import PCollection, TaggedOutput
from apache_beam.transforms.userstate import ReadModifyWriteStateSpec

import connectors.coders  # noqa: F401  (registers the record coders)
from connectors import counters
from connectors.store import ArticleSink, DedupIndex
from schemas.dedup import (
    Decision,
    DedupConfig,
    DuplicateResolver,
    Fingerprint,
    LineageUpdate,
    StoredDoc,
    apply_decision,
    fingerprint,
    with_keys,
)
from schemas.records import Article, Sighting

LINEAGE = "lineage"
# Fingerprints looked up in the store together: one query per chunk instead of one per article.
LOOKUP_CHUNK = 200


class DedupResult(NamedTuple):
    articles: PCollection[Article]  # every article, canonical or marked duplicate_of
    lineage: PCollection[LineageUpdate]  # copies to add to canonical articles already stored


class Resolved(NamedTuple):
    """A batch decision on its way back to its article."""

    decision: Decision
    fingerprint: Fingerprint
    copies: tuple[Sighting, ...]  # for a canonical article: the copies found in this run


def relevant(fp: Fingerprint, stored: Iterable[StoredDoc]) -> list[StoredDoc]:
    """The stored articles that share a key with `fp` (a chunk's lookup answers many fingerprints)."""
    exact, near = set(fp.exact_keys), set(fp.near_keys)
    return [d for d in stored if d.exact_keys & exact or d.near_keys & near]


def lookup_chunk(index: DedupIndex, chunk: Sequence[Fingerprint]) -> list[StoredDoc]:
    return index.lookup(
        {k for fp in chunk for k in fp.exact_keys},
        {k for fp in chunk for k in fp.near_keys},
    )


class _Counters:
    def __init__(self) -> None:
        self.canonical = Metrics.counter(counters.NAMESPACE, counters.ARTICLES_CANONICAL)
        self.folded = Metrics.counter(counters.NAMESPACE, counters.ARTICLES_FOLDED)
        self.near = Metrics.counter(counters.NAMESPACE, counters.ARTICLES_NEAR_DUPLICATE)

    def count(self, decision: Decision) -> None:
        if decision.already_stored:
            return  # the sink counts re-reads as duplicates
        if decision.duplicate_of is None:
            self.canonical.inc()
            return
        self.folded.inc()
        if decision.reason == "near":
            self.near.inc()


class _ResolveFn(beam.DoFn):
    """What both resolving steps share: the store's dedup index, opened once per worker."""

    def __init__(self, sink: ArticleSink, config: DedupConfig) -> None:
        self._sink = sink
        self._config = config
        self._index: DedupIndex | None = None

    def setup(self) -> None:
        self._index = self._sink.open_dedup_index()
        self._counters = _Counters()

    def teardown(self) -> None:
        if self._index is not None:
            self._index.close()
            self._index = None


class _ResolveRunFn(_ResolveFn):
    """Decides a whole batch run in first-seen order (one element: every fingerprint of the run)."""

    def process(self, element: tuple[Any, Iterable[Fingerprint]]) -> Iterator[Any]:
        assert self._index is not None, "setup() opens the index before any element arrives"
        ordered = sorted(element[1], key=lambda fp: fp.order)
        resolver = DuplicateResolver(self._config)
        decided: list[tuple[Fingerprint, Decision]] = []
        for start in range(0, len(ordered), LOOKUP_CHUNK):
            chunk = ordered[start : start + LOOKUP_CHUNK]
            stored = lookup_chunk(self._index, chunk)
            for fp in chunk:
                decision = resolver.decide(fp, relevant(fp, stored))
                self._counters.count(decision)
                decided.append((fp, decision))
        # Copies of a canonical article from this run go into its own document; copies of one
        # already stored become one lineage update per canonical article.
        new_canonical = {
            fp.article_id for fp, d in decided if d.duplicate_of is None and not d.already_stored
        }
        copies: dict[str, list[Sighting]] = defaultdict(list)
        for fp, d in decided:
            if d.duplicate_of is not None and not d.already_stored:  # a re-read copy is recorded
                copies[d.duplicate_of].append(fp.sighting)
        for fp, d in decided:
            own = tuple(copies.get(fp.article_id, ())) if fp.article_id in new_canonical else ()
            yield fp.article_id, Resolved(d, fp, own)
        for canonical_id in sorted(copies.keys() - new_canonical):
            yield TaggedOutput(
                LINEAGE, LineageUpdate(canonical_id=canonical_id, sightings=tuple(copies[canonical_id]))
            )


def _apply(element: tuple[str, dict[str, list[Any]]]) -> Iterator[Article]:
    _, joined = element
    resolved: list[Resolved] = joined["resolved"]
    for article in joined["article"]:
        r = resolved[0]
        yield with_keys(apply_decision(article, r.decision, r.copies), r.fingerprint)


_RESOLVER = ReadModifyWriteStateSpec("resolver", PickleCoder())
_RESOLVER_STATE = beam.DoFn.StateParam(_RESOLVER)

# Prism (Beam 2.77) splits a slow bundle of a stateful step and runs the rest concurrently, each
# part reading the state as it was before the bundle: two copies in one poll could both become
# canonical. The newest resolver is therefore also kept per process, under a lock, and the newer
# of it and the state's is used. Runners that keep a key on one worker in order (Flink, Dataflow)
# never need it; a retried bundle replays the same decisions (DuplicateResolver remembers them).
_LIVE_LOCK = threading.Lock()
_LIVE: dict[str, tuple[int, DuplicateResolver]] = {}


class _ResolveStreamFn(_ResolveFn):
    """Decides each article as it arrives; one key, so one decision at a time, in arrival order.

    The resolver (recent canonical articles, their keys and signatures) is Beam state: it survives
    bundle retries and moves with the key on a distributed runner, and forgets what the store has
    had time to make searchable (`DedupConfig.memory_s`).
    """

    def __init__(self, sink: ArticleSink, config: DedupConfig) -> None:
        super().__init__(sink, config)
        self._token = uuid.uuid4().hex  # the same for every copy of this DoFn in this pipeline

    def process(
        self,
        element: tuple[Any, Article],
        resolver_state: Any = _RESOLVER_STATE,
    ) -> Iterator[Any]:
        assert self._index is not None, "setup() opens the index before any element arrives"
        article = element[1]
        with _LIVE_LOCK:
            candidates = [v for v in (resolver_state.read(), _LIVE.get(self._token)) if v is not None]
            version, resolver = max(
                candidates, key=lambda v: v[0], default=(0, DuplicateResolver(self._config))
            )
            now = time.time()
            resolver.forget_before(now - self._config.memory_s)
            fp = fingerprint(article, self._config)
            decision = resolver.decide(fp, relevant(fp, lookup_chunk(self._index, [fp])), now)
            resolver_state.write((version + 1, resolver))
            _LIVE[self._token] = (version + 1, resolver)
        self._counters.count(decision)
        yield with_keys(apply_decision(article, decision), fp)
        if decision.duplicate_of is not None and not decision.already_stored:
            yield TaggedOutput(
                LINEAGE, LineageUpdate(canonical_id=decision.duplicate_of, sightings=(fp.sighting,))
            )


class Deduplicate(beam.PTransform[PCollection[Article], DedupResult]):
    """Marks copies (`duplicate_of`, `duplicate_reason`, `similarity`) and gives canonical articles
    their lineage (`sources_seen`, `first_seen`, `source_count`, `independent_source_count`).

    Nothing is dropped: every input article comes out once (an article read twice in one run comes
    out twice, and the sink keeps one). Copies of articles already stored come out too, plus a
    `LineageUpdate` for the stored article. Metrics: ``articles_canonical``, ``articles_folded``,
    ``articles_near_duplicate``.
    """

    def __init__(self, *, config: DedupConfig, sink: ArticleSink, streaming: bool = False) -> None:
        super().__init__()
        self._config = config
        self._sink = sink
        self._streaming = streaming

    def expand(self, articles: PCollection[Article]) -> DedupResult:
        if not self._config.enabled:
            own = articles | "OwnLineage" >> beam.Map(
                lambda a: apply_decision(a, Decision(a.id))
            ).with_output_types(Article)
            none = articles.pipeline | "NoLineage" >> beam.Create([]).with_output_types(LineageUpdate)
            return DedupResult(own, none)
        if self._streaming:
            return self._expand_stream(articles)
        return self._expand_batch(articles)

    def _expand_batch(self, articles: PCollection[Article]) -> DedupResult:
        config = self._config
        decided = (
            articles
            | "Fingerprint"
            >> beam.Map(lambda a: (0, fingerprint(a, config))).with_output_types(tuple[int, Fingerprint])
            | "GatherRun" >> beam.GroupByKey()
            | "Resolve"
            >> beam.ParDo(_ResolveRunFn(self._sink, config))
            .with_output_types(tuple[str, Resolved], lineage=LineageUpdate)
            .with_outputs(LINEAGE, main="resolved")
        )
        keyed = articles | "KeyById" >> beam.Map(lambda a: (a.id, a)).with_output_types(tuple[str, Article])
        marked = (
            {"article": keyed, "resolved": decided.resolved}
            | "JoinDecisions" >> beam.CoGroupByKey()
            | "Apply" >> beam.FlatMap(_apply).with_output_types(Article)
        )
        return DedupResult(marked, decided[LINEAGE])

    def _expand_stream(self, articles: PCollection[Article]) -> DedupResult:
        decided = (
            articles
            | "OneKey" >> beam.Map(lambda a: ("dedup", a)).with_output_types(tuple[str, Article])
            | "Resolve"
            >> beam.ParDo(_ResolveStreamFn(self._sink, self._config))
            .with_output_types(Article, lineage=LineageUpdate)
            .with_outputs(LINEAGE, main="articles")
        )
        return DedupResult(decided.articles, decided[LINEAGE])
