"""Beam transforms that fetch RSS/Atom feeds: `ReadFeeds` (once, bounded) and `PollFeeds` (forever).

Both run the same per-feed step (`poll_feed`): conditional GET, parse, skip items the store
already has, save the feed's state. Crash safety comes from the order of trust, not from the order
of writes: validators (ETag/Last-Modified) are only sent when every item the previous poll emitted
is confirmed in the store, so a crash between saving state and writing articles costs one full
fetch, never a missed item.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from collections.abc import Set as AbstractSet
from contextlib import nullcontext
from typing import Any, NamedTuple

import apache_beam as beam
import requests
from apache_beam.metrics import Metrics
from apache_beam.pvalue import PBegin, PCollection, TaggedOutput
from apache_beam.transforms.periodicsequence import PeriodicImpulse

import connectors.coders  # noqa: F401  (registers the record coders)
from connectors import counters
from connectors.feed_parse import parse_feed
from connectors.feed_schedule import ScheduleBounds, is_due, update_state
from connectors.feed_stored import stored_under_other_ids
from connectors.http_fetch import FetchPolicy, FetchResult, fetch_feed
from connectors.poll_guard import FLIGHTS, host_limiter
from connectors.store import ArticleSink, DedupIndex, FeedStateStore
from schemas.errors import BadRecordError
from schemas.feeds import MAX_SEEN_IDS, FeedSpec, FeedState
from schemas.identity import record_id
from schemas.records import DeadLetter, RawRecord

DEAD_LETTERS = "dead_letters"
_log = logging.getLogger(__name__)


class PollOutcome(NamedTuple):
    records: list[RawRecord]
    dead_letters: list[DeadLetter]
    state: FeedState
    result: FetchResult
    # Ids of the answer's items the store lacks: those emitted now and those `in_flight` held back.
    unstored_ids: tuple[str, ...] = ()


def _dead_letter(
    stage: str, feed: FeedSpec, error: str, payload: str, now: dt.datetime, run_id: str
) -> DeadLetter:
    return DeadLetter.build(
        stage=stage,
        error_type="FeedError" if stage == "fetch_feed" else "EntryError",
        error=error,
        payload=payload,
        source=feed.url,
        occurred_at=now,
        run_id=run_id,
    )


def _unconfirmed(state: FeedState | None, store: FeedStateStore) -> set[str]:
    """Items the previous poll emitted that the store has neither stored nor dead-lettered:
    lost in a crash between saving the feed state and writing the items."""
    if state is None or not state.seen_ids:
        return set()
    return set(state.seen_ids) - store.accounted_ids(list(state.seen_ids))


def poll_feed(
    feed: FeedSpec,
    state: FeedState | None,
    store: FeedStateStore,
    *,
    policy: FetchPolicy,
    bounds: ScheduleBounds,
    session: requests.Session,
    now: dt.datetime,
    run_id: str,
    in_flight: AbstractSet[str] = frozenset(),
    index: DedupIndex | None = None,
) -> PollOutcome:
    """One poll of one feed: the new records, the dead letters, and the feed's next state.

    `in_flight`: ids this run emitted from the feed earlier and the store does not hold yet; they
    are on their way, so they are not emitted (nor counted) again, but stay unconfirmed.
    `index` (the store's dedup side) also finds the items stored under an id an earlier rule or
    feed URL gave them (`connectors.feed_stored`); without it only ids are compared."""
    url = state.effective_url if state else feed.url
    missing = _unconfirmed(state, store)
    # Validators only when everything emitted last time arrived: else fetch it all again.
    etag, last_modified = (state.etag, state.last_modified) if state and not missing else (None, None)
    result = fetch_feed(url, etag=etag, last_modified=last_modified, policy=policy, session=session)
    dead: list[DeadLetter] = []
    feed_failure: DeadLetter | None = None  # the feed itself failed (not one of its entries)
    new_records: list[RawRecord] = []
    new_ids: list[str] = []
    ttl = period = None
    if result.outcome == "error":
        feed_failure = _dead_letter("fetch_feed", feed, result.error or "fetch failed", "", now, run_id)
    elif result.outcome == "ok":
        parsed = parse_feed(result.body, result.headers, feed, fetched_at=now, fetched_from=result.final_url)
        ttl, period = parsed.ttl_minutes, parsed.update_period_s
        if parsed.feed_error:
            # A page that is not a feed (a paywall, an error page) is a failed poll, not a quiet one.
            result = result.model_copy(update={"outcome": "error", "error": parsed.feed_error})
            feed_failure = _dead_letter(
                "parse_feed",
                feed,
                parsed.feed_error,
                result.body[:65536].decode("utf-8", "replace"),
                now,
                run_id,
            )
        dead += [_dead_letter("parse_feed", feed, line, line, now, run_id) for line in parsed.entry_errors]
        identified: list[tuple[str, RawRecord]] = []
        for record in parsed.records:
            try:
                identified.append((record_id(record), record))
            except BadRecordError as exc:
                dead.append(
                    _dead_letter("parse_feed", feed, exc.reason, record.model_dump_json(), now, run_id)
                )
        stored = store.existing_ids([i for i, _ in identified])
        if index is not None:
            stored |= stored_under_other_ids([(i, r) for i, r in identified if i not in stored], index)
        new_records = [r for i, r in identified if i not in stored and i not in in_flight]
        new_ids = [i for i, _ in identified if i not in stored]
    new_ids = new_ids if result.outcome == "ok" else []
    next_state = update_state(
        state,
        feed,
        result,
        new_item_ids=new_ids,
        now=now,
        ttl_minutes=ttl,
        update_period_s=period,
        bounds=bounds,
    )
    if result.outcome == "ok":
        # What the store must account for before validators are trusted again (see _unconfirmed).
        next_state = next_state.model_copy(update={"seen_ids": tuple(new_ids[-MAX_SEEN_IDS:])})
    if feed_failure is not None and failure_is_news(state, next_state):
        dead.insert(0, feed_failure)
    return PollOutcome(new_records, dead, next_state, result, tuple(new_ids))


def failure_is_news(before: FeedState | None, after: FeedState) -> bool:
    """Whether a failed poll deserves a dead letter: a feed's failure is not an article, and one
    failing the same way poll after poll (an unresolvable host polled every 15 minutes) is one
    fact, kept in its state (failures in a row, last error: `wirewatch feeds list`) and counted
    under `feeds failed`, not a dead letter per poll. So only the first failure after a success
    (or ever) is one, and a failure whose error differs from the previous poll's."""
    return before is None or before.consecutive_failures == 0 or before.last_error != after.last_error


class _PollFeedFn(beam.DoFn):
    """Polls one feed per element. The per-host limiter and the single flight per feed are the
    process's (connectors.poll_guard), shared by every instance of this DoFn the runner makes."""

    def __init__(
        self,
        sink: ArticleSink,
        policy: FetchPolicy,
        bounds: ScheduleBounds,
        run_id: str,
        *,
        only_when_due: bool,
    ) -> None:
        self._sink = sink
        self._policy = policy
        self._bounds = bounds
        self._run_id = run_id
        self._only_when_due = only_when_due
        self._polled = Metrics.counter(counters.NAMESPACE, counters.FEEDS_POLLED)
        self._unchanged = Metrics.counter(counters.NAMESPACE, counters.FEEDS_NOT_MODIFIED)
        self._failed = Metrics.counter(counters.NAMESPACE, counters.FEEDS_FAILED)
        self._read = Metrics.counter(counters.NAMESPACE, counters.RECORDS_READ)
        self._skipped = Metrics.counter(counters.NAMESPACE, "feeds_skipped_disabled")

    def setup(self) -> None:
        self._store = self._sink.open_state_store()
        self._index = self._sink.open_dedup_index()
        self._session = requests.Session()

    def teardown(self) -> None:
        self._session.close()
        self._index.close()
        self._store.close()

    def process(self, feed: FeedSpec) -> Iterator[Any]:
        # A stream's clock emits every feed on every tick: a tick that finds this feed's poll still
        # running (or waiting for its host) has nothing to add; that poll sets the next due time.
        with FLIGHTS.claim(self._run_id, feed.url) as mine:
            if mine:
                yield from self._poll(feed)

    def _poll(self, feed: FeedSpec) -> Iterator[Any]:
        state = self._store.feed_states([feed.url]).get(feed.url)
        if state is not None and state.disabled:
            self._skipped.inc()  # shown by `feeds list`; `wirewatch feeds enable URL` brings it back
            return
        if self._only_when_due and not is_due(state, dt.datetime.now(dt.UTC)):
            return
        url = state.effective_url if state else feed.url
        # Politeness is owed to web servers; local files are read at once.
        slot = (
            host_limiter(self._run_id).slot(url) if url.startswith(("http://", "https://")) else nullcontext()
        )
        with slot:
            # The time of the request, not of the tick: the next due time counts from here.
            now = dt.datetime.now(dt.UTC)
            outcome = poll_feed(
                feed,
                state,
                self._store,
                policy=self._policy.model_copy(
                    update={"allow_private": self._policy.allow_private or feed.allow_private}
                ),
                bounds=self._bounds,
                session=self._session,
                now=now,
                run_id=self._run_id,
                in_flight=FLIGHTS.emitted(self._run_id, feed.url),
                index=self._index,
            )
        self._store.put_feed_state(outcome.state)
        if outcome.result.outcome == "ok":
            FLIGHTS.remember(self._run_id, feed.url, outcome.unstored_ids)
        self._polled.inc()
        if outcome.result.outcome == "not_modified":
            self._unchanged.inc()
        elif outcome.result.outcome == "error":
            self._failed.inc()
            _log.warning("feed %s: %s", feed.url, outcome.result.error)
        if outcome.state.disabled and not (state and state.disabled):
            _log.warning(
                "feed %s disabled after %d failures in a row", feed.url, outcome.state.consecutive_failures
            )
        self._read.inc(len(outcome.records))
        yield from outcome.records
        for letter in outcome.dead_letters:
            yield TaggedOutput(DEAD_LETTERS, letter)


class FeedReadResult(NamedTuple):
    records: PCollection[RawRecord]
    dead_letters: PCollection[DeadLetter]


def _check_feeds(feeds: tuple[FeedSpec, ...]) -> tuple[FeedSpec, ...]:
    enabled = tuple(feed for feed in feeds if feed.enabled)
    if not enabled:
        raise ValueError("feeds must hold at least one enabled feed")
    return enabled


class ReadFeeds(beam.PTransform[PBegin, FeedReadResult]):
    """Fetches every enabled feed once (auto-disabled feeds are skipped) and emits the items the
    store does not have yet.

    Bounded. Each feed's state (validators, schedule, health) is saved in the sink's store after
    its poll. Fetch and parse failures become DeadLetters (stages ``fetch_feed`` and
    ``parse_feed``). Metrics: ``feeds_polled``, ``feeds_not_modified``, ``feeds_failed``,
    ``records_read``.
    """

    def __init__(
        self,
        *,
        feeds: tuple[FeedSpec, ...],
        sink: ArticleSink,
        run_id: str,
        policy: FetchPolicy | None = None,
        bounds: ScheduleBounds | None = None,
    ) -> None:
        super().__init__()
        self._feeds = _check_feeds(feeds)
        self._fn = _PollFeedFn(
            sink, policy or FetchPolicy(), bounds or ScheduleBounds(), run_id, only_when_due=False
        )

    def expand(self, pbegin: PBegin) -> FeedReadResult:
        polled = (
            pbegin
            | "Feeds" >> beam.Create(self._feeds).with_output_types(FeedSpec)
            | "Spread" >> beam.Reshuffle()
            | "Poll"
            >> beam.ParDo(self._fn)
            .with_output_types(RawRecord, dead_letters=DeadLetter)
            .with_outputs(DEAD_LETTERS, main="records")
        )
        return FeedReadResult(polled.records, polled[DEAD_LETTERS])


class PollFeeds(beam.PTransform[PBegin, FeedReadResult]):
    """Polls the feeds forever: every `tick_s` each enabled feed whose next poll time has come is
    fetched; the schedule (ttl, sy:updatePeriod, Cache-Control, Retry-After, backoff) lives in the
    feed state, so it survives restarts.

    Unbounded. Same outputs, state and metrics as ReadFeeds.
    """

    def __init__(
        self,
        *,
        feeds: tuple[FeedSpec, ...],
        sink: ArticleSink,
        run_id: str,
        start: dt.datetime,
        tick_s: float = 10.0,
        policy: FetchPolicy | None = None,
        bounds: ScheduleBounds | None = None,
    ) -> None:
        super().__init__()
        if not 0.5 <= tick_s <= 3600:
            raise ValueError(f"tick_s must be between 0.5 and 3600 seconds, got {tick_s}")
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        self._feeds = _check_feeds(feeds)
        self._start = start
        self._tick_s = tick_s
        self._fn = _PollFeedFn(
            sink, policy or FetchPolicy(), bounds or ScheduleBounds(), run_id, only_when_due=True
        )

    def expand(self, pbegin: PBegin) -> FeedReadResult:
        feeds = self._feeds
        polled = (
            pbegin
            # An explicit start: a restarted stream begins now, not at the epoch.
            | "Tick" >> PeriodicImpulse(start_timestamp=self._start.timestamp(), fire_interval=self._tick_s)
            | "DueFeeds" >> beam.FlatMap(lambda _tick: feeds).with_output_types(FeedSpec)
            # Fetches are slow and independent: let the runner spread them over workers.
            | "Spread" >> beam.Reshuffle()
            | "Poll"
            >> beam.ParDo(self._fn)
            .with_output_types(RawRecord, dead_letters=DeadLetter)
            .with_outputs(DEAD_LETTERS, main="records")
        )
        return FeedReadResult(polled.records, polled[DEAD_LETTERS])
