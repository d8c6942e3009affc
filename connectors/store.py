"""The one interface both stores (embedded SQLite, Elasticsearch) offer to the pipeline and the CLI."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

from connectors.retag import RetagRequest
from schemas.alerts import Alert
from schemas.dedup import LineageUpdate, StoredDoc
from schemas.feeds import FeedState
from schemas.records import DeadLetter
from schemas.store import FACET_SIZE, QueryFacets, RetagSummary, SearchHit, StoreFacets, StoreStats

if TYPE_CHECKING:  # the read side (search, show, stats) must not pay for importing Beam
    import apache_beam as beam
    from apache_beam.pvalue import PCollection

    from pipelines.search_sets import Spec
    from schemas.records import Article


class StoreError(RuntimeError):
    """The store cannot be opened or used; the message is one line a user can act on."""


@dataclass(frozen=True)
class OwnArticles:
    """The articles one run writes: stored with its run id and ingested at or after its start.

    A history read leaves them out (the run holds them already). Both marks, because a run id is
    a label a user may give every run (`--run-id nightly`): an earlier run with the same id
    started before this one, so its articles still count as history.
    """

    run_id: str
    started_at: dt.datetime  # timezone-aware


class SearchFilters(Protocol):
    """The filter flags of a search (pipelines.search_query.Filters), which a store may use to read
    fewer candidates: any of each field's values is required."""

    @property
    def actors(self) -> tuple[str, ...]: ...
    @property
    def topics(self) -> tuple[str, ...]: ...  # each with its sub-topics
    @property
    def countries(self) -> tuple[str, ...]: ...
    @property
    def outlets(self) -> tuple[str, ...]: ...
    @property
    def feeds(self) -> tuple[str, ...]: ...
    @property
    def languages(self) -> tuple[str, ...]: ...
    @property
    def since(self) -> dt.datetime | None: ...
    @property
    def until(self) -> dt.datetime | None: ...
    @property
    def all_copies(self) -> bool: ...  # copies too, not only canonical articles


class Search(Protocol):
    """A search, as either store runs it (pipelines.search_query.SearchRequest): Elasticsearch runs
    `es_query()`; the embedded store computes its `spec` from its indexes, else reads the candidates of `fts`
    (every article when None) and keeps those that `matches`."""

    @property
    def query(self) -> str: ...  # the whole Lucene string, filters included
    @property
    def fts(self) -> str | None: ...
    @property
    def sort(self) -> Literal["relevance", "date"]: ...
    @property
    def limit(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def now(self) -> dt.datetime: ...  # what `now` in the query stands for
    @property
    def filters(self) -> SearchFilters: ...
    @property
    def spec(self) -> Spec | None: ...  # the matches as sets the embedded store computes, or None

    def es_query(self) -> dict[str, Any]: ...

    def matches(self, doc: Mapping[str, Any]) -> bool: ...


class ArticleStore(Protocol):
    """Read side, used by `wirewatch search|show|stats|deadletters`."""

    @property
    def location(self) -> str: ...

    def search(self, request: Search) -> list[SearchHit]: ...

    def export(self, request: Search) -> Iterator[dict[str, Any]]:
        """Every stored document `request` matches (its limit and offset aside), streamed."""
        ...

    def get(self, article_id: str) -> dict[str, Any] | None: ...

    def stats(self) -> StoreStats: ...

    def facets(self) -> StoreFacets: ...

    def search_facets(self, request: Search, *, size: int = FACET_SIZE) -> QueryFacets:
        """What `request` matches (its sort, limit and offset aside), counted by the store: the
        total and the `size` most frequent values per facet."""
        ...

    def prepare_search(self) -> None:
        """Bring whatever searches read up to date now rather than in the first search."""
        ...

    def dead_letters(self, *, limit: int, run_id: str | None = None) -> list[DeadLetter]: ...

    def articles_since(self, since: dt.datetime | None, *, page_size: int = 500) -> Iterator[dict[str, Any]]:
        """Every stored article published (else ingested) at or after `since` (all when None)."""
        ...

    def close(self) -> None: ...


class FeedStateStore(Protocol):
    """Per-feed polling state, kept beside the articles so a restart resumes where it stopped."""

    def existing_ids(self, ids: Sequence[str]) -> set[str]:
        """The subset of `ids` stored as articles."""
        ...

    def accounted_ids(self, ids: Sequence[str]) -> set[str]:
        """The subset of `ids` stored as articles or as dead letters (rejected downstream)."""
        ...

    def feed_states(self, urls: Sequence[str] | None = None) -> dict[str, FeedState]: ...

    def put_feed_state(self, state: FeedState) -> None: ...

    def close(self) -> None: ...


class RetagStore(Protocol):
    """Re-tags the stored articles in place (`wirewatch retag`), so a registry edit reaches them."""

    def retag_articles(self, request: RetagRequest) -> RetagSummary:
        """Re-tag every stored article (up to `request.limit`) from its title and body; writes only
        the tag fields and the registry and taxonomy versions. A document that cannot be re-tagged
        is counted and listed as failed; only a store failure raises (StoreError)."""
        ...


class AlertStore(Protocol):
    """Where alerts live: one record per alert id, merged on every write (`schemas.alerts.merge_alert`)."""

    def get_alert(self, alert_id: str) -> Alert | None: ...

    def upsert_alert(self, alert: Alert) -> Alert:
        """Store `alert` merged into the stored one with the same id; returns what was stored."""
        ...

    def alerts(self, *, limit: int = 50, rule_id: str | None = None) -> list[Alert]:
        """The most recently updated alerts first."""
        ...

    def alert_history(
        self,
        since: dt.datetime | None,
        fields: Sequence[str] | None,
        *,
        until: dt.datetime | None = None,
        exclude: OwnArticles | None = None,
        page_size: int = 1000,
    ) -> Iterator[dict[str, Any]]:
        """The stored articles rules' memories are rebuilt from: those published (else ingested)
        at or after `since` and at or before `until` (open ends when None), except `exclude`'s,
        left out by the query itself. The read costs what it returns, not the store's size.
        Each holds only `fields` (dotted paths, nested as in the document: `source.name` comes as
        {"source": {"name": ...}}, a missing field as None or absent), or all of it when None."""
        ...

    def close(self) -> None: ...


class DedupIndex(Protocol):
    """What deduplication asks of a store: earlier articles by key, and lineage updates."""

    def lookup(
        self, exact_keys: Collection[str], near_keys: Collection[str], *, max_holders: int | None = None
    ) -> list[StoredDoc]:
        """Stored articles having any of `exact_keys`, and canonical ones having any of `near_keys`;
        with their text only where a band key found one stored without a signature (StoredDoc).
        With `max_holders`, a near key held by more canonical articles than that finds none
        (`schemas.dedup.MAX_KEY_HOLDERS` says why)."""
        ...

    def add_sightings(self, update: LineageUpdate) -> bool:
        """Merge copies into a stored canonical article's lineage (idempotent); False when that
        article is not stored (yet)."""
        ...

    def close(self) -> None: ...


class ArticleSink(Protocol):
    """Write side: the transforms the pipeline graph ends in.

    `write_articles` outputs the articles the store refused (e.g. a mapping conflict) as dead
    letters, which the graph routes to `write_dead_letters` with every other stage's.
    """

    def write_articles(self) -> beam.PTransform[PCollection[Article], PCollection[DeadLetter]]: ...

    def write_dead_letters(self) -> beam.PTransform[PCollection[DeadLetter], PCollection[None]]: ...

    def open_state_store(self) -> FeedStateStore:
        """Open the feed-state side of the same store (called in a worker's setup())."""
        ...

    def open_dedup_index(self) -> DedupIndex:
        """Open the deduplication side of the same store (called in a worker's setup())."""
        ...

    def open_alert_store(self) -> AlertStore:
        """Open the alerts side of the same store (called in a worker's setup())."""
        ...
