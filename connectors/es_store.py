"""Elasticsearch for the CLI (search, show, stats, dead letters, feed state, retag), answering like the
embedded store."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from typing import Any

from elasticsearch import Elasticsearch, NotFoundError

from connectors import es_retag
from connectors.es_alerts import ElasticsearchAlertStore
from connectors.es_indices import IndexNames, search_pages, server_errors
from connectors.retag import RetagRequest
from connectors.store import OwnArticles, Search
from schemas.alerts import Alert
from schemas.feeds import FeedState
from schemas.ids import stable_id
from schemas.records import DeadLetter
from schemas.store import (
    FACET_DAYS,
    FACET_SIZE,
    HIGHLIGHT_END,
    HIGHLIGHT_START,
    HIT_FIELDS,
    SNIPPET_CHARS,
    Counts,
    QueryFacets,
    RetagSummary,
    SearchHit,
    StoreFacets,
    StoreStats,
    hit_fields,
)

# The same "shortest prefix worth trusting" as the embedded store.
MIN_ID_PREFIX = 6
# Highlighting re-analyzes the text; past this many characters it stops instead of failing the search.
MAX_HIGHLIGHT_CHARS = 1_000_000
_KEYS = ("dedup_keys", "near_dup_keys")  # lookup keys: never needed once read back
# index.max_result_window: a larger `size` is refused, where the embedded store just returns everything.
MAX_HITS = 10_000
EXPORT_PAGE = 500
MAX_TERMS = 1_000  # dead-letter stages and alert rules: all of them


_HIGHLIGHT: dict[str, Any] = {
    "pre_tags": [HIGHLIGHT_START],
    "post_tags": [HIGHLIGHT_END],
    "max_analyzed_offset": MAX_HIGHLIGHT_CHARS,
    "fields": {
        "body": {"fragment_size": 160, "number_of_fragments": 1, "no_match_size": SNIPPET_CHARS},
        "title": {"number_of_fragments": 0},
    },
}


def _buckets(agg: dict[str, Any] | None, key: str = "key") -> Counts:
    return tuple((str(b[key]), int(b["doc_count"])) for b in (agg or {}).get("buckets", ()))


def _snippet(highlight: dict[str, list[str]], title: str) -> str:
    """The body passage that matched; else the title if only it matched; else the body's start."""
    body = highlight.get("body", [])
    marked_title = highlight.get("title", [])
    if body and HIGHLIGHT_START in body[0]:
        return body[0]
    if marked_title:
        return marked_title[0]
    return body[0] if body else title[:SNIPPET_CHARS]


def _since_query(since: dt.datetime | None, until: dt.datetime | None = None) -> dict[str, Any]:
    """Articles published (else ingested) at or after `since` and at or before `until` (either
    bound left open when None)."""
    if since is None and until is None:
        return {"match_all": {}}
    bounds = {"gte": since.isoformat()} if since is not None else {}
    if until is not None:
        bounds["lte"] = until.isoformat()
    return {
        "bool": {
            "should": [
                {"range": {"published_at": bounds}},
                {
                    "bool": {
                        "must_not": [{"exists": {"field": "published_at"}}],
                        "filter": [{"range": {"ingested_at": bounds}}],
                    }
                },
            ],
            "minimum_should_match": 1,
        }
    }


def _datetime(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None


def _millis(value: float | None) -> dt.datetime | None:
    """A date aggregation's value (epoch milliseconds, None over no documents) as a UTC datetime."""
    return dt.datetime.fromtimestamp(value / 1000, tz=dt.UTC) if value is not None else None


# Articles per day of publication (UTC), newest first: the stores list the newest FACET_DAYS days.
PER_DAY = {
    "date_histogram": {
        "field": "published_at",
        "calendar_interval": "day",
        "format": "yyyy-MM-dd",
        "min_doc_count": 1,
        "order": {"_key": "desc"},
    }
}


class ElasticsearchStore:
    """Articles and dead letters behind the write aliases of `names` (see connectors.store.ArticleStore).

    Nothing written yet (no alias) reads as an empty store, not an error. The store owns `client`:
    close() closes it.
    """

    def __init__(self, client: Elasticsearch, names: IndexNames, location: str) -> None:
        self._client = client
        self._names = names
        self._location = location
        self._alerts = ElasticsearchAlertStore(client, names, owns_client=False)

    @property
    def location(self) -> str:
        return self._location

    def close(self) -> None:
        self._client.close()

    def refresh(self) -> None:
        """Make everything written so far searchable now rather than within the refresh interval."""
        with server_errors(self._location):
            self._client.indices.refresh(
                index=[self._names.articles_alias, self._names.deadletters_alias], ignore_unavailable=True
            )

    def _search(self, index: str, *, size: int, **request: Any) -> list[dict[str, Any]]:
        """The hits of one search (at most MAX_HITS); an alias that does not exist yet has none."""
        size = min(max(size, 0), MAX_HITS)
        with server_errors(self._location):
            try:
                response = self._client.search(index=index, size=size, **request)
                hits: list[dict[str, Any]] = response["hits"]["hits"]
            except NotFoundError:
                return []
        return hits

    def search(self, request: Search) -> list[SearchHit]:
        """The articles `request` matches, best first (title matches count 4x) or newest first."""
        newest = {"published_at": {"order": "desc", "missing": "_last"}}
        if request.offset >= MAX_HITS:
            return []  # past Elasticsearch's result window, where from + size must stay
        hits = self._search(
            self._names.articles_alias,
            query=request.es_query(),
            highlight=_HIGHLIGHT,
            source_includes=list(HIT_FIELDS),
            # Ties go to the newer article, then the smaller id, as in the embedded store.
            sort=["_score", newest, "id"] if request.sort == "relevance" else [newest, "id"],
            track_scores=True,
            from_=request.offset,
            size=min(request.limit, MAX_HITS - request.offset),
        )
        return [
            SearchHit(
                **hit_fields(hit["_source"]),
                snippet=_snippet(hit.get("highlight", {}), hit["_source"]["title"]),
                score=float(hit["_score"] or 0.0),
            )
            for hit in hits
        ]

    def export(self, request: Search) -> Iterator[dict[str, Any]]:
        """Every stored document `request` matches, in id order (search_after pages)."""
        with server_errors(self._location):
            for page in search_pages(
                self._client,
                self._names.articles_alias,
                request.es_query(),
                EXPORT_PAGE,
                source_excludes=list(_KEYS),
            ):
                for hit in page:
                    yield dict(hit["_source"])

    def get(self, article_id: str) -> dict[str, Any] | None:
        """The stored document for an id, or for a unique id prefix of at least 6 characters.

        A term query rather than GET by id: after a rollover the alias spans several indices,
        where a single-document GET is refused.
        """
        hits = self._search(self._names.articles_alias, query={"term": {"id": article_id}}, size=1)
        if not hits and len(article_id) >= MIN_ID_PREFIX:
            hits = self._search(self._names.articles_alias, query={"prefix": {"id": article_id}}, size=2)
            hits = hits if len(hits) == 1 else []
        return dict(hits[0]["_source"]) if hits else None

    def _count(self, index: str) -> int:
        with server_errors(self._location):
            try:
                return int(self._client.count(index=index)["count"])
            except NotFoundError:
                return 0

    def _published_range(self) -> tuple[dt.datetime | None, dt.datetime | None]:
        with server_errors(self._location):
            try:
                aggs = self._client.search(
                    index=self._names.articles_alias,
                    size=0,
                    aggs={
                        "earliest": {"min": {"field": "published_at"}},
                        "latest": {"max": {"field": "published_at"}},
                    },
                )["aggregations"]
            except NotFoundError:
                return None, None
        return _millis(aggs["earliest"]["value"]), _millis(aggs["latest"]["value"])

    def stats(self) -> StoreStats:
        earliest, latest = self._published_range()
        return StoreStats(
            location=self._location,
            articles=self._count(self._names.articles_alias),
            dead_letters=self._count(self._names.deadletters_alias),
            earliest_published=earliest,
            latest_published=latest,
        )

    def facets(self) -> StoreFacets:
        def terms(field: str, size: int = FACET_SIZE) -> dict[str, Any]:
            return {"terms": {"field": field, "size": size, "order": [{"_count": "desc"}, {"_key": "asc"}]}}

        canonical = {"bool": {"must_not": {"exists": {"field": "duplicate_of"}}}}
        lists = {"actors": "actor_names", "topics": "topic_ids", "countries": "countries"}
        articles = self._aggregate(
            self._names.articles_alias,
            {
                "canonical": {
                    "filter": canonical,
                    "aggs": {name: terms(field) for name, field in lists.items()},
                },
                "outlets": terms("source.name"),
                "body_sources": terms("body_source", MAX_TERMS),
                "page_statuses": terms("page.status", MAX_TERMS),
                "per_day": PER_DAY,
            },
        )
        dead = self._aggregate(self._names.deadletters_alias, {"stage": terms("stage", MAX_TERMS)})
        alerts = self._aggregate(self._names.alerts_alias, {"rule": terms("rule_id", MAX_TERMS)})
        total = articles.get("total", 0)
        kept = articles.get("canonical", {})
        return StoreFacets(
            canonical=kept.get("doc_count", 0),
            copies=total - kept.get("doc_count", 0),
            per_day=_buckets(articles.get("per_day"), key="key_as_string")[:FACET_DAYS],
            outlets=_buckets(articles.get("outlets")),
            **{name: _buckets(kept.get(name)) for name in lists},
            body_sources=_buckets(articles.get("body_sources")),
            page_statuses=_buckets(articles.get("page_statuses")),
            dead_letters_by_stage=_buckets(dead.get("stage")),
            alerts_by_rule=_buckets(alerts.get("rule")),
        )

    def search_facets(self, request: Search, *, size: int = FACET_SIZE) -> QueryFacets:
        """What `request` matches, counted by one size-0 search: terms aggregations per facet and
        a daily histogram of the newest FACET_DAYS days with articles."""
        terms = {"terms": {"size": size, "order": [{"_count": "desc"}, {"_key": "asc"}]}}
        fields = {
            "actors": "actor_names",
            "actor_ids": "actor_ids",
            "topics": "topic_ids",
            "countries": "countries",
            "outlets": "source.name",
            "languages": "language",
            "feeds": "source.feed_url",
        }
        aggs: dict[str, Any] = {name: {"terms": {**terms["terms"], "field": f}} for name, f in fields.items()}
        aggs["per_day"] = PER_DAY
        with server_errors(self._location):
            try:
                response = self._client.search(
                    index=self._names.articles_alias,
                    size=0,
                    query=request.es_query(),
                    aggs=aggs,
                    track_total_hits=True,
                )
            except NotFoundError:
                return QueryFacets(total=0)
        found = response["aggregations"]
        days = _buckets(found["per_day"], key="key_as_string")[:FACET_DAYS]
        return QueryFacets(
            total=response["hits"]["total"]["value"],
            per_day=days[::-1],
            **{name: _buckets(found[name]) for name in fields},
        )

    def prepare_search(self) -> None:
        """Nothing to do: Elasticsearch indexes on write."""

    def _aggregate(self, index: str, aggs: dict[str, Any]) -> dict[str, Any]:
        """The aggregations of `aggs` over `index`, plus its document count as "total"; {} when the
        index does not exist yet."""
        with server_errors(self._location):
            try:
                response = self._client.search(index=index, size=0, aggs=aggs, track_total_hits=True)
            except NotFoundError:
                return {}
        return {**response["aggregations"], "total": response["hits"]["total"]["value"]}

    def dead_letters(self, *, limit: int = 100, run_id: str | None = None) -> list[DeadLetter]:
        """Most recent dead letters first, optionally only those of one run."""
        query = {"term": {"run_id": run_id}} if run_id else {"match_all": {}}
        hits = self._search(
            self._names.deadletters_alias,
            query=query,
            sort=[{"occurred_at": {"order": "desc"}}, {"id": {"order": "asc"}}],
            size=limit,
        )
        return [DeadLetter.model_validate(hit["_source"]) for hit in hits]

    # --- retag (connectors.store.RetagStore) --------------------------------------------------

    def articles_since(self, since: dt.datetime | None, *, page_size: int = 500) -> Iterator[dict[str, Any]]:
        """Every stored article published (else ingested) at or after `since`, page by page."""
        yield from self._articles(_since_query(since), page_size, source_excludes=list(_KEYS))

    def _articles(self, query: dict[str, Any], page_size: int, **request: Any) -> Iterator[dict[str, Any]]:
        with server_errors(self._location):
            for page in search_pages(self._client, self._names.articles_alias, query, page_size, **request):
                for hit in page:
                    yield dict(hit["_source"])

    # --- alerts (the same client, through connectors.es_alerts) -------------------------------------

    def alert_history(
        self,
        since: dt.datetime | None,
        fields: Sequence[str] | None,
        *,
        until: dt.datetime | None = None,
        exclude: OwnArticles | None = None,
        page_size: int = 1000,
    ) -> Iterator[dict[str, Any]]:
        """The stored articles rules' memories are rebuilt from (connectors.store.AlertStore):
        `fields` as `_source` includes, `exclude` as a must_not on `pipeline.run_id` and
        `ingested_at`."""
        query = _since_query(since, until)
        if exclude is not None:
            started = exclude.started_at.astimezone(dt.UTC)
            # Dates are kept in milliseconds: the run's start rounded down still precedes its articles.
            started = started.replace(microsecond=started.microsecond // 1000 * 1000)
            own = [
                {"term": {"pipeline.run_id": exclude.run_id}},
                {"range": {"ingested_at": {"gte": started.isoformat()}}},
            ]
            query = {"bool": {"filter": [query], "must_not": [{"bool": {"filter": own}}]}}
        source: dict[str, Any] = (
            {"source_excludes": list(_KEYS)} if fields is None else {"source_includes": list(fields)}
        )
        yield from self._articles(query, page_size, **source)

    def get_alert(self, alert_id: str) -> Alert | None:
        return self._alerts.get_alert(alert_id)

    def upsert_alert(self, alert: Alert) -> Alert:
        return self._alerts.upsert_alert(alert)

    def alerts(self, *, limit: int = 50, rule_id: str | None = None) -> list[Alert]:
        return self._alerts.alerts(limit=limit, rule_id=rule_id)

    def retag_articles(self, request: RetagRequest) -> RetagSummary:
        return es_retag.retag_articles(self._client, self._names, self._location, request)

    # --- feed state (polling validators, schedule, health) ------------------------------------

    def existing_ids(self, ids: Sequence[str]) -> set[str]:
        """The subset of `ids` already stored as articles (any index behind the alias)."""
        if not ids:
            return set()
        hits = self._search(
            self._names.articles_alias, size=len(ids), query={"ids": {"values": list(ids)}}, _source=False
        )
        return {str(hit["_id"]) for hit in hits}

    def accounted_ids(self, ids: Sequence[str]) -> set[str]:
        """The subset of `ids` stored as articles or as dead letters (by their record_id)."""
        found = self.existing_ids(ids)
        rest = [i for i in ids if i not in found]
        if rest:
            hits = self._search(
                self._names.deadletters_alias,
                size=len(rest),
                query={"terms": {"record_id": rest}},
                _source=["record_id"],
            )
            found.update(str(hit["_source"]["record_id"]) for hit in hits)
        return found

    def feed_states(self, urls: Sequence[str] | None = None) -> dict[str, FeedState]:
        """Stored states by feed URL: those of `urls` (read by id, so real-time), or all of them."""
        index = self._names.feedstate_index
        with server_errors(self._location):
            if urls is None:
                docs = [hit["_source"] for hit in self._search(index, size=10_000, query={"match_all": {}})]
            else:
                found = self._client.options(ignore_status=404).mget(
                    index=index, ids=[_state_id(url) for url in urls]
                )
                docs = [d["_source"] for d in found.body.get("docs", []) if d.get("found")]
        states = (FeedState.model_validate(doc) for doc in docs)
        return {state.feed_url: state for state in states}

    def put_feed_state(self, state: FeedState) -> None:
        with server_errors(self._location):
            self._client.index(
                index=self._names.feedstate_index,
                id=_state_id(state.feed_url),
                document=state.model_dump(mode="json"),
            )


def _state_id(feed_url: str) -> str:
    return stable_id("feed", feed_url)
