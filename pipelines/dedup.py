"""Deduplicate: fold exact copies, near copies and teasers into the first-seen article, with lineage.

Batch (data-parallel): each article is fingerprinted (exact keys, MinHash signature, LSH band keys,
the first lead key and the lead ladder) and its stored matches looked up where it is read; the run's
articles sharing a key are linked (an exact or lead key, or a band key and similarity at or above
the threshold; found in key shards, `pipelines.copy_links`), the links merged into copy groups in a
fixed number of shuffle rounds (hash-to-min connected components, as large-scale MinHash dedup
does), and each group decided in first-seen order
(published time, then id) by one resolver. A decision only looks at articles sharing a key with
it, so this equals one resolver over the whole run, whatever the runner's split. Only
fingerprints travel through these steps, and only those of articles with links (a few percent of
a run) are grouped: their decisions reach the articles as a side input, and every other article
is decided alone where it already is, against the store's matches.

Streaming: articles are decided as they arrive by one stateful step whose memory of recent
canonical articles lives in Beam state, so copies arriving together are merged before the store
has the first one.

In both modes the store answers for everything written before (earlier runs, a restarted stream,
other workers): `connectors.store.DedupIndex.lookup` by exact key and near key (LSH band keys and
the lead key ride together in `near_dup_keys`).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from typing import Any, NamedTuple

import apache_beam as beam
from apache_beam.coders import PickleCoder
from apache_beam.metrics import Metrics
from apache_beam.pvalue import AsDict, PCollection, TaggedOutput
from apache_beam.transforms.userstate import ReadModifyWriteStateSpec
from apache_beam.transforms.window import GlobalWindows

from connectors import counters
from connectors.coders import CandidateCoder  # (importing it registers the record coders)
from connectors.store import ArticleSink, DedupIndex
from pipelines.copy_links import KEY_BATCH_ARTICLES, KeyBatch, KeyBatcher, shard_links
from schemas.dedup import (
    MAX_KEY_HOLDERS,
    Candidate,
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
from schemas.near_dup import NearDupConfig, is_lead_key
from schemas.records import Article, Sighting

LINEAGE = "lineage"
# Fingerprints looked up in the store together: one query per chunk instead of one per article.
LOOKUP_CHUNK = 200
# Shuffle rounds that merge copy links into groups. Each round of hash-to-min about halves what is
# left to merge: six settle a chain of ~30 copies each matching only its neighbours (syndication
# chains are a few hops; a longer one is split, deterministically, and counted as `dedup_unsettled`).
GROUP_ROUNDS = 6
_BUCKETS, _CANDIDATES = "buckets", "candidates"


class DedupResult(NamedTuple):
    articles: PCollection[Article]  # every article, canonical or marked duplicate_of
    lineage: PCollection[LineageUpdate]  # copies to add to canonical articles already stored


def lookup_chunk(
    index: DedupIndex, chunk: Sequence[Fingerprint], config: NearDupConfig
) -> list[tuple[StoredDoc, ...]]:
    """For each fingerprint of `chunk`, the stored articles sharing a key with it (in the order the
    store gave them), with their signatures: one store query for the whole chunk. A near key held
    by more than MAX_KEY_HOLDERS stored canonical articles finds none (it names no story).

    The answer is matched to the fingerprints through its keys, not by testing every stored article
    against every fingerprint: in a store that has grown, a chunk's answer runs into thousands."""
    stored = [
        doc.with_signature(config)
        for doc in index.lookup(
            {k for fp in chunk for k in fp.exact_keys},
            {k for fp in chunk for k in fp.near_keys},
            max_holders=MAX_KEY_HOLDERS,
        )
    ]
    by_exact: dict[str, list[int]] = defaultdict(list)
    by_band: dict[str, list[int]] = defaultdict(list)
    for i, doc in enumerate(stored):
        for key in doc.exact_keys:
            by_exact[key].append(i)
        for key in doc.near_keys:
            by_band[key].append(i)
    found = []
    for fp in chunk:
        hits = {i for key in fp.exact_keys for i in by_exact.get(key, ())}
        hits.update(i for key in fp.near_keys for i in by_band.get(key, ()))
        found.append(tuple(stored[i] for i in sorted(hits)))
    return found


class _Counters:
    def __init__(self) -> None:
        self.canonical = Metrics.counter(counters.NAMESPACE, counters.ARTICLES_CANONICAL)
        self.folded = Metrics.counter(counters.NAMESPACE, counters.ARTICLES_FOLDED)
        self.near = Metrics.counter(counters.NAMESPACE, counters.ARTICLES_NEAR_DUPLICATE)
        self.already_stored = Metrics.counter(counters.NAMESPACE, counters.ARTICLES_ALREADY_STORED)

    def count(self, decision: Decision) -> None:
        if decision.already_stored:
            self.already_stored.inc()
            return
        if decision.duplicate_of is None:
            self.canonical.inc()
            return
        self.folded.inc()
        if decision.reason in ("near", "contained"):
            self.near.inc()


class _ResolveFn(beam.DoFn):
    """What the steps that ask the store share (batch fingerprinting, the stream's resolver): the
    store's dedup index, opened once per worker."""

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


class _FingerprintFn(_ResolveFn):
    """Batch: fingerprints each article and looks the stored articles sharing its keys up, LOOKUP_CHUNK
    articles per store query. Out: a chunk of (article, encoded Candidate) for `_ApplyFn` (one element
    per chunk: the articles wait, materialized, for the group decisions, and a runner moves and
    frames each element there at a cost per element, not per byte); tagged `candidates`
    a list of (id, the same encoded Candidate) per chunk, for the articles that turn out to have
    copy links (encoded once; decoded only where it is decided); tagged `buckets` the keys of every
    KEY_BATCH_ARTICLES articles packed by shard (`copy_links.KeyBatcher`), for the link step."""

    def setup(self) -> None:
        super().setup()
        self._coder = CandidateCoder()

    def start_bundle(self) -> None:
        self._pending: list[tuple[Article, Fingerprint]] = []
        self._keys = KeyBatcher()

    def process(self, article: Article) -> Iterator[Any]:
        self._pending.append((article, fingerprint(article, self._config)))
        if len(self._pending) >= LOOKUP_CHUNK:
            yield from self._flush()
        if len(self._keys) >= KEY_BATCH_ARTICLES:
            yield from (TaggedOutput(_BUCKETS, batch) for batch in self._keys.batches())

    def finish_bundle(self) -> Iterator[Any]:
        # Batch only: every element is in the global window.
        for out in self._flush():
            if isinstance(out, TaggedOutput):
                yield TaggedOutput(out.tag, GlobalWindows.windowed_value(out.value))
            else:
                yield GlobalWindows.windowed_value(out)
        for batch in self._keys.batches():
            yield TaggedOutput(_BUCKETS, GlobalWindows.windowed_value(batch))

    def _flush(self) -> Iterator[Any]:
        assert self._index is not None, "setup() opens the index before any element arrives"
        pending, self._pending = self._pending, []
        if not pending:
            return
        found = lookup_chunk(self._index, [fp for _, fp in pending], self._config.near)
        chunk, candidates = [], []
        for (article, fp), stored in zip(pending, found, strict=True):
            encoded = self._coder.encode(Candidate(fp, stored))
            chunk.append((article, encoded))
            candidates.append((fp.article_id, encoded))
            # The lead key links every article holding it, like exact keys: a teaser and its full
            # version are far apart in Jaccard, and only their group's resolver measures containment.
            leads = [key for key in fp.near_keys if is_lead_key(key)]
            bands = [key for key in fp.near_keys if not is_lead_key(key)]
            self._keys.add(fp.article_id, (*fp.exact_keys, *leads), bands, fp.signature)
        yield chunk
        # One element per chunk: nearly all of them are dropped by Route, unread.
        yield TaggedOutput(_CANDIDATES, candidates)


def _both_ways(link: tuple[str, str]) -> Iterator[tuple[str, str]]:
    yield link
    yield link[1], link[0]


# A node's group travels as a sorted list of ids (a list of str has a coder of its own; a tuple of
# any length would go through Beam's catch-all coder).
Group = list[str]


def _neighbourhood(element: tuple[str, Iterable[str]]) -> tuple[str, Group]:
    node, linked = element
    return node, sorted({node, *linked})


def _hop(element: tuple[str, Group]) -> Iterator[tuple[str, tuple[bool, Group]]]:
    """One round of hash-to-min: a node sends the group it knows to the group's least id, and that
    id to every member (itself flagged, so the next step sees whether its label still moves)."""
    node, group = element
    least = group[0]
    yield least, (False, group)
    for member in group:
        yield member, (member == node, [least])


class _MergeFn(beam.DoFn):
    """The group a node knows after a round: everything it was sent. On the last round, counts the
    nodes whose least id still changed (a chain of copies longer than the rounds could follow)."""

    def __init__(self, last: bool) -> None:
        self._last = last
        self._unsettled = Metrics.counter(counters.NAMESPACE, counters.DEDUP_UNSETTLED)

    def process(self, element: tuple[str, Iterable[tuple[bool, Group]]]) -> Iterator[tuple[str, Group]]:
        node, messages = element
        known = {node}
        before = node
        for own, members in messages:
            known.update(members)
            if own:
                before = members[0]
        group = sorted(known)
        if self._last and group[0] < before:
            self._unsettled.inc()
        yield node, group


class _RouteFn(beam.DoFn):
    """Of a chunk of (id, encoded Candidate), an article with copy links (`labels`: id -> its
    group's least id) goes to its group's key; the others are decided where they are applied."""

    def process(
        self, chunk: list[tuple[str, bytes]], labels: Mapping[str, str]
    ) -> Iterator[tuple[str, bytes]]:
        for article_id, encoded in chunk:
            label = labels.get(article_id)
            if label is not None:
                yield label, encoded


class _DecideFn(beam.DoFn):
    """What the two deciding steps share: the config, the decision counters, the candidate coder."""

    def __init__(self, config: DedupConfig) -> None:
        self._config = config

    def setup(self) -> None:
        self._counters = _Counters()
        self._coder = CandidateCoder()


class _DecideGroupFn(_DecideFn):
    """Decides one copy group: (id, decided Candidate) once per article, and tagged `lineage` the
    copies of stored articles."""

    def process(self, element: tuple[str, Iterable[bytes]]) -> Iterator[Any]:
        candidates = [self._coder.decode(encoded) for encoded in element[1]]
        decided, lineage = decide_together(candidates, self._config, self._counters.count)
        # An article read twice has one decision.
        yield from {c.fingerprint.article_id: c for c in decided}.items()
        for update in lineage:
            yield TaggedOutput(LINEAGE, (update.canonical_id, update))


class _ApplyFn(_DecideFn):
    """Each reading of an article of a chunk with its dedup fields set: from its group's decision
    (`decided`, the articles with copy links), else decided here, alone, against the store's
    matches it was looked up with. One read twice comes out twice, the sink keeping one; both
    readings reach the alert rules, which count the outlets that carried it. Tagged `lineage`: a
    lone article's copy of a stored one."""

    def process(self, chunk: list[tuple[Article, bytes]], decided: Mapping[str, Candidate]) -> Iterator[Any]:
        for article, encoded in chunk:
            settled = decided.get(article.id)
            if settled is None:
                candidate = self._coder.decode(encoded)
                if candidate.stored:
                    (settled,), lineage = decide_together([candidate], self._config, self._counters.count)
                    for update in lineage:
                        yield TaggedOutput(LINEAGE, (update.canonical_id, update))
                else:
                    # Nothing in the run or the store shares a key with it (most articles): a new
                    # story, as a resolver decides it, without making one.
                    decision = Decision(candidate.fingerprint.article_id)
                    settled = replace(candidate, decision=decision)
                    self._counters.count(decision)
            assert settled.decision is not None, "decide_together decides every candidate"
            yield with_keys(apply_decision(article, settled.decision, settled.copies), settled.fingerprint)


def _first_seen(candidate: Candidate) -> tuple[str, ...]:
    """First-seen order; the readings of one article (same id and time) by where they were read."""
    s = candidate.fingerprint.sighting
    return (*candidate.fingerprint.order, s.feed_url or "", s.url or "", s.outlet)


def decide_together(
    candidates: Iterable[Candidate], config: DedupConfig, count: Callable[[Decision], None]
) -> tuple[list[Candidate], list[LineageUpdate]]:
    """Articles that may copy each other, decided in first-seen order by one resolver: the same
    decisions as one resolver over the whole run, since a decision only looks at articles that
    share a key with it (and so are in its group). Out: the candidates with their decisions (a
    canonical one with the copies found in this run), and the copies of articles stored before.
    `count` sees each article's decision once (a story read twice counts once)."""
    resolver = DuplicateResolver(config)
    decided = [(c, resolver.decide(c.fingerprint, c.stored)) for c in sorted(candidates, key=_first_seen)]
    for decision in {d.article_id: d for _, d in decided}.values():
        count(decision)
    # Copies of a canonical article from this run go into its own document; copies of one
    # already stored become one lineage update per canonical article.
    new_canonical = {
        c.fingerprint.article_id for c, d in decided if d.duplicate_of is None and not d.already_stored
    }
    copies: dict[str, list[Sighting]] = defaultdict(list)
    for c, d in decided:
        if d.duplicate_of is not None and (
            not d.already_stored or _lineage_may_lack(d.duplicate_of, c.stored, new_canonical)
        ):
            copies[d.duplicate_of].append(c.fingerprint.sighting)
    # Decided, a candidate needs its stored matches no more, and its signature only if canonical
    # (the store keeps it, `with_keys`).
    out = [
        Candidate(
            c.fingerprint if d.duplicate_of is None else replace(c.fingerprint, signature=b""),
            (),
            d,
            tuple(copies.get(d.article_id, ())) if d.article_id in new_canonical else (),
        )
        for c, d in decided
    ]
    lineage = [
        LineageUpdate(canonical_id=canonical_id, sightings=tuple(copies[canonical_id]))
        for canonical_id in sorted(copies.keys() - new_canonical)
    ]
    return out, lineage


def _lineage_may_lack(canonical_id: str, stored: Iterable[StoredDoc], new_canonical: set[str]) -> bool:
    """Whether a copy stored before may be missing from its canonical article's lineage: a run that
    crashed can have written the copy and not its canonical article (or the update). Its sighting is
    sent again (merges are idempotent) when the canonical article is written in this run, or is
    stored (it shares the key the copy was matched by, so the lookup found it). One stored nowhere
    yet gets nothing: an update for it would wait in vain, then become a dead letter."""
    return canonical_id in new_canonical or any(doc.article_id == canonical_id for doc in stored)


def _one_update(element: tuple[str, Iterable[LineageUpdate]]) -> LineageUpdate:
    """Copies of one stored article found by several groups: one update, sightings in id order."""
    canonical_id, updates = element
    sightings = {s.article_id: s for u in updates for s in u.sightings}
    return LineageUpdate(canonical_id=canonical_id, sightings=tuple(sightings[i] for i in sorted(sightings)))


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
            (stored,) = lookup_chunk(self._index, [fp], self._config.near)
            decision = resolver.decide(fp, stored, now)
            resolver_state.write((version + 1, resolver))
            _LIVE[self._token] = (version + 1, resolver)
        self._counters.count(decision)
        yield with_keys(apply_decision(article, decision), fp)
        if decision.duplicate_of is not None and (
            not decision.already_stored or _lineage_may_lack(decision.duplicate_of, stored, set())
        ):
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
        """Data-parallel and deterministic: link the run's copies by shared key (found in key
        shards), merge the links into copy groups (GROUP_ROUNDS rounds of hash-to-min, keyed by
        article id), then decide each group in first-seen order; an article without links is
        decided where it is. No step sees the whole run under one key, and no article crosses a
        shuffle: it waits, materialized, for its group's decision."""
        config = self._config
        fingerprinted = articles | "Fingerprint" >> beam.ParDo(
            _FingerprintFn(self._sink, config)
        ).with_output_types(
            list[tuple[Article, bytes]], candidates=list[tuple[str, bytes]], buckets=KeyBatch
        ).with_outputs(_CANDIDATES, _BUCKETS, main="articles")
        threshold = config.near.threshold
        groups = (
            fingerprinted[_BUCKETS]
            | "ByShard" >> beam.GroupByKey()
            | "Links" >> beam.FlatMap(shard_links, threshold).with_output_types(tuple[str, str])
            | "BothWays" >> beam.FlatMap(_both_ways).with_output_types(tuple[str, str])
            | "Neighbours" >> beam.GroupByKey()
            | "Neighbourhood" >> beam.Map(_neighbourhood).with_output_types(tuple[str, Group])
        )
        for n in range(GROUP_ROUNDS):
            groups = (
                groups
                | f"Hop{n}" >> beam.FlatMap(_hop).with_output_types(tuple[str, tuple[bool, Group]])
                | f"Gather{n}" >> beam.GroupByKey()
                | f"Merge{n}"
                >> beam.ParDo(_MergeFn(last=n == GROUP_ROUNDS - 1)).with_output_types(tuple[str, Group])
            )
        labels = groups | "Labels" >> beam.Map(lambda g: (g[0], g[1][0])).with_output_types(tuple[str, str])
        # Only the articles with copy links (a few percent of a run) are grouped and reach every
        # worker as side inputs; every article is decided where it already is.
        in_groups = (
            fingerprinted[_CANDIDATES]
            | "Route" >> beam.ParDo(_RouteFn(), AsDict(labels)).with_output_types(tuple[str, bytes])
            | "ByGroup" >> beam.GroupByKey()
            | "DecideGroup"
            >> beam.ParDo(_DecideGroupFn(config))
            .with_output_types(tuple[str, Candidate], lineage=tuple[str, LineageUpdate])
            .with_outputs(LINEAGE, main="decided")
        )
        # One step sets every article's fields: a Flatten of two deciding steps in front of the rest
        # of the graph would make Flink run the rest twice over, and report one copy's metrics.
        marked = fingerprinted.articles | "Apply" >> beam.ParDo(
            _ApplyFn(config), AsDict(in_groups.decided)
        ).with_output_types(Article, lineage=tuple[str, LineageUpdate]).with_outputs(LINEAGE, main="articles")
        lineage = (
            (in_groups[LINEAGE], marked[LINEAGE])
            | "AllLineage" >> beam.Flatten()
            | "ByCanonical" >> beam.GroupByKey()
            | "OneUpdate" >> beam.Map(_one_update).with_output_types(LineageUpdate)
        )
        return DedupResult(marked.articles, lineage)

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
