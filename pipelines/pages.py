"""The page stage: a feed item whose text is short (a teaser) gets the article text of the page it
links to, so normalization, deduplication and tagging read the whole story.

Only feed items with an http(s) link and fewer words than `PageConfig.min_words` are fetched. The
feed's own text is never lost: an extracted body moves it to `summary`; any failure (robots.txt,
HTTP error, timeout, not HTML, no text) keeps it as the body and records why in `RawRecord.page`,
which the article keeps (`show`, `stats`). Nothing here makes a dead letter.

Politeness: every request (robots.txt and page) takes the run's per-host slot that feed polls
take too (connectors.poll_guard), so pages and feeds of one host share one request at a time and
the pause between two. A bundle's pages are fetched host by host, several hosts at once.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

import apache_beam as beam
import requests
from apache_beam.metrics import Metrics
from apache_beam.pvalue import PCollection, TaggedOutput
from apache_beam.utils.windowed_value import WindowedValue

from connectors import counters
from connectors.http_fetch import FetchPolicy
from connectors.page_fetch import PageResult, fetch_page
from connectors.poll_guard import host_limiter
from connectors.robots import RobotsCache
from schemas.feeds import FeedSpec
from schemas.pages import PageConfig
from schemas.records import RawRecord
from schemas.text import count_words, markup_to_text

_log = logging.getLogger(__name__)

# Hosts fetched at once by one bundle: each host's pages still go one at a time.
HOSTS_AT_ONCE = 8
# robots.txt read once per host for every bundle of this process.
ROBOTS = RobotsCache()


def feed_text(record: RawRecord) -> str:
    return markup_to_text(record.body, record.body_format == "html")


def wants_page(record: RawRecord, config: PageConfig) -> bool:
    """A feed item with a web link and a short text. Items told apart by their content (their feed
    gave several the same GUID and link) keep it: their id depends on the text."""
    return (
        config.enabled
        and record.source.kind == "feed"
        and record.page is None
        and record.guid_shared != "content"
        and bool(record.url)
        and urlsplit(record.url or "").scheme in ("http", "https")
        and count_words(feed_text(record)) < config.min_words
    )


def with_page(record: RawRecord, result: PageResult) -> RawRecord:
    """The record as normalization should read it: the page's text as the body when it is longer
    than the feed's, the feed's text then as the summary; else the record as it was."""
    page = result.extraction
    html = record.body_format == "html"
    own = feed_text(record)
    if result.text is None:
        return record.model_copy(update={"page": page})
    own_words, page_words = count_words(own), count_words(result.text)
    if page_words <= own_words:
        reason = f"the page's text ({page_words} words) is no longer than the feed's ({own_words})"
        return record.model_copy(
            update={"page": page.model_copy(update={"status": "no_text", "reason": reason})}
        )
    summary = markup_to_text(record.summary, html) if record.summary else own
    # The body is plain text now, so title and summary must be too: one format per record.
    title = markup_to_text(record.title, html) if record.title else record.title
    return record.model_copy(
        update={
            "body": result.text,
            "body_format": "text",
            "summary": summary or None,
            "title": title,
            "page": page,
        }
    )


class _FetchPagesFn(beam.DoFn):
    def __init__(self, config: PageConfig, run_id: str, private_feeds: frozenset[str]) -> None:
        self._config = config
        self._run_id = run_id
        self._private_feeds = private_feeds
        self._fetched = Metrics.counter(counters.NAMESPACE, counters.PAGES_FETCHED)
        self._extracted = Metrics.counter(counters.NAMESPACE, counters.PAGES_EXTRACTED)

    def setup(self) -> None:
        self._policy = FetchPolicy(timeout_s=self._config.timeout_s, max_bytes=self._config.max_bytes)
        self._sessions: dict[str, requests.Session] = {}

    def teardown(self) -> None:
        for session in self._sessions.values():
            session.close()

    def start_bundle(self) -> None:
        self._pending: list[tuple[RawRecord, Any, Any]] = []

    def process(
        self,
        record: RawRecord,
        timestamp: Any = beam.DoFn.TimestampParam,
        window: Any = beam.DoFn.WindowParam,
    ) -> None:
        self._pending.append((record, timestamp, window))

    def finish_bundle(self) -> Iterator[WindowedValue]:
        pending, self._pending = self._pending, []
        by_host: dict[str, list[tuple[RawRecord, Any, Any]]] = defaultdict(list)
        for item in pending:
            by_host[urlsplit(item[0].url or "").hostname or ""].append(item)
        if not by_host:
            return
        with ThreadPoolExecutor(max_workers=min(HOSTS_AT_ONCE, len(by_host))) as pool:
            for done in pool.map(self._fetch_host, by_host.items()):
                for record, timestamp, window in done:
                    # Counted here: Beam's metrics belong to the bundle's thread, not the pool's.
                    self._fetched.inc()
                    if record.page is not None and record.page.status == "extracted":
                        self._extracted.inc()
                    yield WindowedValue(record, timestamp, (window,))

    def _fetch_host(
        self, item: tuple[str, list[tuple[RawRecord, Any, Any]]]
    ) -> list[tuple[RawRecord, Any, Any]]:
        host, records = item
        session = self._sessions.setdefault(host, requests.Session())  # one thread per host: no sharing
        return [(self._fetch(record, session), timestamp, window) for record, timestamp, window in records]

    def _fetch(self, record: RawRecord, session: requests.Session) -> RawRecord:
        allow_private = record.source.feed_url in self._private_feeds
        policy = (
            self._policy.model_copy(update={"allow_private": allow_private})
            if allow_private
            else self._policy
        )
        result = fetch_page(
            record.url or "",
            policy=policy,
            session=session,
            robots=ROBOTS,
            limiter=host_limiter(self._run_id),
            now=dt.datetime.now(dt.UTC),
            max_host_wait_s=self._config.max_host_wait_s,
        )
        updated = with_page(record, result)
        if updated.page is not None and updated.page.status != "extracted":
            _log.debug("page %s kept the feed's text: %s", record.url, updated.page.reason)
        return updated


_SHORT = "short"


class _SplitShort(beam.DoFn):
    """The records that want their page, tagged `short`; the others on the main output."""

    def __init__(self, config: PageConfig) -> None:
        self._config = config

    def process(self, record: RawRecord) -> Iterator[Any]:
        yield TaggedOutput(_SHORT, record) if wants_page(record, self._config) else record


class FetchPages(beam.PTransform[PCollection[RawRecord], PCollection[RawRecord]]):
    """Feed items whose text is short get their linked page's text (see the module). The others
    pass untouched, never shuffled; the ones to fetch are spread over the workers first, so a
    stream's polls never wait for pages. Metrics: ``pages_fetched``, ``pages_extracted``."""

    def __init__(self, config: PageConfig, *, run_id: str, feeds: Iterable[FeedSpec]) -> None:
        super().__init__()
        self._config = config
        self._run_id = run_id
        self._private_feeds = frozenset(feed.url for feed in feeds if feed.allow_private)

    def expand(self, records: PCollection[RawRecord]) -> PCollection[RawRecord]:
        # One look at each record (its words are counted once); typed, so the shuffle below uses
        # the records' coder instead of pickling them.
        split = records | "ShortItems" >> beam.ParDo(_SplitShort(self._config)).with_output_types(
            RawRecord, short=RawRecord
        ).with_outputs(_SHORT, main="rest")
        short, rest = split[_SHORT], split.rest
        fetched = (
            short
            | "SpreadPages" >> beam.Reshuffle()
            | "FetchPage"
            >> beam.ParDo(_FetchPagesFn(self._config, self._run_id, self._private_feeds)).with_output_types(
                RawRecord
            )
        )
        merged: PCollection[RawRecord] = (fetched, rest) | "WithPages" >> beam.Flatten()
        return merged
