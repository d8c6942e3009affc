"""poll_feed and ReadFeeds against a real scripted HTTP server, with a real SQLite store for the state.

Every test looks at three things: the exact requests the server saw (and which validators they
carried), the exact records and dead letters produced, and the FeedState saved for the next poll.
"""

from __future__ import annotations

import datetime as dt
import pathlib
import socket
from collections.abc import Iterator
from typing import Any

import apache_beam as beam
import pytest
import requests
from apache_beam.testing import test_pipeline, util

from connectors.feed_schedule import ScheduleBounds
from connectors.http_fetch import FetchPolicy
from connectors.localstore import LocalStore
from connectors.localstoreio import LocalStoreSink
from connectors.rssio import PollOutcome, ReadFeeds, poll_feed
from pipelines.normalize import normalize_record
from schemas.dedup import DedupConfig, fingerprint, with_keys
from schemas.errors import BadRecordError
from schemas.feeds import FeedSpec, FeedState
from schemas.identity import record_id
from schemas.records import Article, DeadLetter, RawRecord, Source
from tests.conftest import PIPELINE
from tests.feed_server import ConditionalFeed, FeedServer, RecordedRequest, Response, http_date

pytestmark = pytest.mark.integration

NOW = dt.datetime(2026, 3, 1, 12, 0, 0, tzinfo=dt.UTC)
RUN_ID = "test-run"
POLICY = FetchPolicy(allow_private=True, timeout_s=5.0)
# Small numbers so that backoff, Retry-After and disabling are all visible in a few polls.
BOUNDS = ScheduleBounds(
    default_interval_s=60,
    min_interval_s=60,
    max_interval_s=86_400,
    max_backoff_s=3600,
    disable_after_failures=3,
)

A1 = ("a1", "Parliament passes the budget")
A2 = ("a2", "Floods close the northern highway")
A3 = ("a3", "Central bank holds rates")


def link(guid: str) -> str:
    return f"https://news.example/story/{guid}"


def item(guid: str, title: str) -> str:
    return (
        f"<item><title>{title}</title><link>{link(guid)}</link>"
        f'<guid isPermaLink="false">{guid}</guid>'
        f"<description>{title}: the full report.</description></item>"
    )


def rss(*items: tuple[str, str], ttl: int | None = None, extra: str = "") -> bytes:
    """A small RSS 2.0 document; `extra` is raw XML appended after the items."""
    channel = "<title>Test wire</title><link>https://news.example/</link>"
    if ttl is not None:
        channel += f"<ttl>{ttl}</ttl>"
    body = "".join(item(guid, title) for guid, title in items)
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>{channel}{body}{extra}'
        "</channel></rss>"
    ).encode()


def expected_record(guid: str, title: str) -> tuple[str | None, str | None, str | None]:
    return (title, guid, link(guid))


def records_of(outcome: PollOutcome) -> list[tuple[str | None, str | None, str | None]]:
    return [(r.title, r.guid, r.url) for r in outcome.records]


def conditional(request: RecordedRequest) -> tuple[str, str | None, str | None]:
    return (request.path, request.headers.get("if-none-match"), request.headers.get("if-modified-since"))


def requests_seen(server: FeedServer) -> list[tuple[str, str | None, str | None]]:
    return [conditional(r) for r in server.requests]


def articles(records: list[RawRecord]) -> list[Article]:
    return [normalize_record(r, ingested_at=NOW, pipeline=PIPELINE) for r in records]


def ids(records: list[RawRecord]) -> tuple[str, ...]:
    """The ids Normalize stamps on these records: the ones the store will hold."""
    return tuple(a.id for a in articles(records))


def state_fields(state: FeedState) -> dict[str, Any]:
    """Every field but last_new_items: it has its own test, so a wrong count fails that test alone."""
    return state.model_dump(exclude={"last_new_items"})


def expected_state(url: str, **overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "feed_url": url,
        "effective_url": url,
        "etag": None,
        "last_modified": None,
        "last_polled_at": NOW,
        "next_poll_at": None,
        "last_status": 200,
        "last_error": None,
        "consecutive_failures": 0,
        "disabled": False,
        "seen_ids": (),
    }
    return {**fields, **overrides}


def dead_letter_fields(letter: DeadLetter) -> tuple[str, str, str, str, str | None, dt.datetime, str | None]:
    return (
        letter.stage,
        letter.error_type,
        letter.error,
        letter.payload,
        letter.source,
        letter.occurred_at,
        letter.run_id,
    )


@pytest.fixture
def store(tmp_path: pathlib.Path) -> Iterator[LocalStore]:
    opened = LocalStore(str(tmp_path / "w.db"))
    yield opened
    opened.close()


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as opened:
        yield opened


def feed_at(server: FeedServer, path: str = "/a.xml", name: str = "Test wire") -> FeedSpec:
    return FeedSpec(url=server.url(path), name=name, allow_private=True)


def poll(
    feed: FeedSpec,
    store: LocalStore,
    session: requests.Session,
    now: dt.datetime,
    *,
    bounds: ScheduleBounds = BOUNDS,
    write: bool = True,
) -> PollOutcome:
    """One poll as the pipeline does it: read the state, poll, save the state, then write the articles.

    `write=False` is a crash between saving the state and writing the articles.
    """
    state = store.feed_states([feed.url]).get(feed.url)
    outcome = poll_feed(
        feed, state, store, policy=POLICY, bounds=bounds, session=session, now=now, run_id=RUN_ID
    )
    store.put_feed_state(outcome.state)
    if write:
        store.write_articles(articles(outcome.records))
    return outcome


def closed_port_url(path: str = "/gone.xml") -> str:
    with socket.socket() as probe:  # a port that was just free: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}{path}"


# --- conditional GET ---------------------------------------------------------------------------


def test_first_poll_sends_no_validators_and_emits_every_item(server, store, session):
    document = ConditionalFeed(rss(A1, A2, ttl=60))
    server.route("/a.xml", document)
    feed = feed_at(server)

    outcome = poll(feed, store, session, NOW)

    assert requests_seen(server) == [("/a.xml", None, None)]
    assert (outcome.result.outcome, outcome.result.status) == ("ok", 200)
    assert records_of(outcome) == [expected_record(*A1), expected_record(*A2)]
    assert {r.source for r in outcome.records} == {Source(kind="feed", name="Test wire", feed_url=feed.url)}
    assert outcome.dead_letters == []
    # <ttl>60</ttl> is 60 minutes: the next poll is an hour away.
    assert state_fields(outcome.state) == expected_state(
        feed.url,
        etag=document.etag,
        next_poll_at=NOW + dt.timedelta(hours=1),
        seen_ids=ids(outcome.records),
    )
    assert store.feed_states() == {feed.url: outcome.state}


def test_etag_then_304_emits_nothing_keeps_the_etag_and_moves_the_next_poll(server, store, session):
    document = ConditionalFeed(rss(A1, A2, ttl=60))
    server.route("/a.xml", document)
    feed = feed_at(server)
    later = NOW + dt.timedelta(hours=1)

    first = poll(feed, store, session, NOW)
    second = poll(feed, store, session, later)

    assert document.etag is not None
    assert requests_seen(server) == [("/a.xml", None, None), ("/a.xml", document.etag, None)]
    assert (second.result.outcome, second.result.status) == ("not_modified", 304)
    assert second.records == []
    assert second.dead_letters == []
    # A 304 has no body, so no <ttl>: the cadence the last 200 set (one hour) is kept.
    assert state_fields(second.state) == expected_state(
        feed.url,
        etag=document.etag,
        last_polled_at=later,
        next_poll_at=later + dt.timedelta(hours=1),
        last_status=304,
        seen_ids=first.state.seen_ids,
    )
    assert len(first.state.seen_ids) == 2


def test_last_modified_is_sent_back_and_a_change_brings_only_the_new_item(server, store, session):
    modified = http_date(dt.datetime(2026, 2, 28, 8, 0, tzinfo=dt.UTC))
    modified_again = http_date(dt.datetime(2026, 3, 1, 12, 30, tzinfo=dt.UTC))
    document = ConditionalFeed(rss(A1, A2), last_modified=modified, use_etag=False)
    server.route("/a.xml", document)
    feed = feed_at(server)
    times = [NOW, NOW + dt.timedelta(minutes=15), NOW + dt.timedelta(minutes=45)]

    first = poll(feed, store, session, times[0])
    unchanged = poll(feed, store, session, times[1])
    document.update(rss(A3, A1, A2), last_modified=modified_again)
    changed = poll(feed, store, session, times[2])

    assert requests_seen(server) == [
        ("/a.xml", None, None),
        ("/a.xml", None, modified),
        ("/a.xml", None, modified),
    ]
    assert records_of(first) == [expected_record(*A1), expected_record(*A2)]
    assert (unchanged.result.status, unchanged.records) == (304, [])
    assert records_of(changed) == [expected_record(*A3)]
    assert state_fields(first.state) == expected_state(
        feed.url,
        last_modified=modified,
        next_poll_at=times[0] + dt.timedelta(seconds=60),
        seen_ids=ids(first.records),
    )
    assert state_fields(unchanged.state) == expected_state(
        feed.url,
        last_modified=modified,
        last_polled_at=times[1],
        next_poll_at=times[1] + dt.timedelta(seconds=60),
        last_status=304,
        seen_ids=ids(first.records),
    )
    assert state_fields(changed.state) == expected_state(
        feed.url,
        last_modified=modified_again,
        last_polled_at=times[2],
        next_poll_at=times[2] + dt.timedelta(seconds=60),
        seen_ids=ids(changed.records),
    )


def test_a_feed_that_gains_an_item_emits_only_the_item_the_store_lacks(server, store, session):
    document = ConditionalFeed(rss(A1, A2))
    server.route("/a.xml", document)
    feed = feed_at(server)
    first = poll(feed, store, session, NOW, write=False)
    assert store.write_articles(articles(first.records)).written == 2
    old_etag = document.etag
    document.update(rss(A3, A1, A2))  # the publisher puts the new story on top
    later = NOW + dt.timedelta(minutes=5)

    second = poll(feed, store, session, later)

    assert old_etag != document.etag
    assert requests_seen(server) == [("/a.xml", None, None), ("/a.xml", old_etag, None)]
    assert records_of(second) == [expected_record(*A3)]
    assert second.dead_letters == []
    assert state_fields(second.state) == expected_state(
        feed.url,
        etag=document.etag,
        last_polled_at=later,
        next_poll_at=later + dt.timedelta(seconds=60),
        seen_ids=ids(second.records),
    )
    assert store.existing_ids(list(ids(first.records) + ids(second.records))) == set(
        ids(first.records) + ids(second.records)
    )


def test_last_new_items_counts_the_items_each_poll_emitted(server, store, session):
    """`feeds list` prints "N new" from last_new_items: 2 on the first poll, 0 on a 304, 1 after a change."""
    document = ConditionalFeed(rss(A1, A2))
    server.route("/a.xml", document)
    feed = feed_at(server)

    first = poll(feed, store, session, NOW)
    unchanged = poll(feed, store, session, NOW + dt.timedelta(minutes=5))
    document.update(rss(A3, A1, A2))
    changed = poll(feed, store, session, NOW + dt.timedelta(minutes=10))

    assert [len(first.records), len(unchanged.records), len(changed.records)] == [2, 0, 1]
    assert [first.state.last_new_items, unchanged.state.last_new_items, changed.state.last_new_items] == [
        2,
        0,
        1,
    ]


# --- failures, backoff and Retry-After ---------------------------------------------------------


def test_429_with_retry_after_is_an_error_a_dead_letter_and_a_later_poll(server, store, session):
    document = ConditionalFeed(rss(A1))
    server.route("/a.xml", document)
    feed = feed_at(server)
    first = poll(feed, store, session, NOW)
    server.route("/a.xml", [Response(429, b"slow down", {"Retry-After": "120"})])
    later = NOW + dt.timedelta(minutes=1)

    limited = poll(feed, store, session, later)

    assert (limited.result.outcome, limited.result.status, limited.result.retry_after_s) == (
        "error",
        429,
        120.0,
    )
    assert limited.records == []
    assert [dead_letter_fields(d) for d in limited.dead_letters] == [
        ("fetch_feed", "FeedError", "HTTP 429 Too Many Requests", "", feed.url, later, RUN_ID)
    ]
    # Without Retry-After the first failure waits the default 60 s; the server asked for 120.
    assert limited.state.next_poll_at is not None
    assert limited.state.next_poll_at >= later + dt.timedelta(seconds=120)
    assert state_fields(limited.state) == expected_state(
        feed.url,
        etag=document.etag,  # validators and ids survive a failure
        last_polled_at=later,
        next_poll_at=later + dt.timedelta(seconds=120),
        last_status=429,
        last_error="HTTP 429 Too Many Requests",
        consecutive_failures=1,
        seen_ids=first.state.seen_ids,
    )

    server.route("/a.xml", document)
    recovered = poll(feed, store, session, later + dt.timedelta(seconds=120))
    assert requests_seen(server) == [
        ("/a.xml", None, None),
        ("/a.xml", document.etag, None),
        ("/a.xml", document.etag, None),
    ]
    assert (recovered.result.status, recovered.records) == (304, [])
    assert (recovered.state.consecutive_failures, recovered.state.last_error) == (0, None)


def test_repeated_500s_back_off_exponentially_then_disable_the_feed(server, store, session):
    server.route("/a.xml", [Response(500, b"oops")])
    feed = feed_at(server)
    times = [NOW, NOW + dt.timedelta(minutes=1), NOW + dt.timedelta(minutes=3)]

    failures = [poll(feed, store, session, when) for when in times]

    assert requests_seen(server) == [("/a.xml", None, None)] * 3
    assert [
        (
            o.state.consecutive_failures,
            o.state.next_poll_at - when if o.state.next_poll_at else None,
            o.state.disabled,
            o.state.last_status,
            o.state.last_error,
        )
        for o, when in zip(failures, times, strict=True)
    ] == [
        (1, dt.timedelta(seconds=60), False, 500, "HTTP 500 Internal Server Error"),
        (2, dt.timedelta(seconds=120), False, 500, "HTTP 500 Internal Server Error"),
        (3, None, True, 500, "HTTP 500 Internal Server Error"),  # disable_after_failures=3
    ]
    # The same failure again is no news: one dead letter, then the feed state counts the failures.
    assert [[dead_letter_fields(d) for d in o.dead_letters] for o in failures] == [
        [("fetch_feed", "FeedError", "HTTP 500 Internal Server Error", "", feed.url, NOW, RUN_ID)],
        [],
        [],
    ]
    assert all(o.records == [] for o in failures)
    assert store.feed_states()[feed.url].disabled is True

    # A disabled feed that answers again is re-enabled, with its failures forgotten.
    server.route("/a.xml", ConditionalFeed(rss(A1)))
    back = poll(feed, store, session, NOW + dt.timedelta(hours=1))
    assert records_of(back) == [expected_record(*A1)]
    assert (back.state.disabled, back.state.consecutive_failures, back.state.last_error) == (False, 0, None)


# --- redirects ---------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 308])
def test_a_permanent_redirect_moves_the_effective_url_and_the_next_poll_goes_there(
    server, store, session, status: int
):
    document = ConditionalFeed(rss(A1, A2))
    server.route("/old.xml", [Response.redirect(status, server.url("/new.xml"))])
    server.route("/new.xml", document)
    feed = feed_at(server, "/old.xml")

    first = poll(feed, store, session, NOW)
    second = poll(feed, store, session, NOW + dt.timedelta(minutes=5))

    assert requests_seen(server) == [
        ("/old.xml", None, None),
        ("/new.xml", None, None),
        ("/new.xml", document.etag, None),
    ]
    assert first.result.permanent_redirect == server.url("/new.xml")
    assert records_of(first) == [expected_record(*A1), expected_record(*A2)]
    # Items stay filed under the catalog's URL: that is the feed the analyst added.
    assert {r.source.feed_url for r in first.records} == {feed.url}
    assert (first.state.feed_url, first.state.effective_url) == (feed.url, server.url("/new.xml"))
    assert (second.result.status, second.records) == (304, [])
    assert (second.state.feed_url, second.state.effective_url) == (feed.url, server.url("/new.xml"))
    assert set(store.feed_states()) == {feed.url}


@pytest.mark.parametrize("status", [301, 302])
def test_relative_links_resolve_against_the_url_the_feed_was_fetched_from(
    server, store, session, status: int
):
    """RFC 3986 §5.1.3: after redirects, the base URI is the URI the document was retrieved from."""
    relative = (
        "<item><title>Relative link</title><link>story-1.html</link>"
        '<guid isPermaLink="false">r1</guid></item>'
    )
    server.route("/old.xml", [Response.redirect(status, server.url("/news/feed.xml"))])
    server.route("/news/feed.xml", ConditionalFeed(rss(extra=relative)))
    feed = feed_at(server, "/old.xml")

    outcome = poll(feed, store, session, NOW)

    assert server.paths == ["/old.xml", "/news/feed.xml"]
    assert [(r.url, r.uri) for r in outcome.records] == [
        (server.url("/news/story-1.html"), server.url("/news/story-1.html"))
    ]


@pytest.mark.parametrize("status", [302, 307])
def test_a_temporary_redirect_does_not_move_the_feed(server, store, session, status: int):
    document = ConditionalFeed(rss(A1))
    server.route("/old.xml", [Response.redirect(status, server.url("/new.xml"))])
    server.route("/new.xml", document)
    feed = feed_at(server, "/old.xml")

    first = poll(feed, store, session, NOW)
    poll(feed, store, session, NOW + dt.timedelta(minutes=5))

    assert first.state.effective_url == feed.url
    assert requests_seen(server) == [
        ("/old.xml", None, None),
        ("/new.xml", None, None),
        ("/old.xml", document.etag, None),
        ("/new.xml", document.etag, None),
    ]


# --- crash safety: validators only when the last poll's items are stored -------------------------


def test_a_state_whose_items_never_reached_the_store_sends_no_validators(server, store, session):
    document = ConditionalFeed(rss(A1, A2))
    server.route("/a.xml", document)
    feed = feed_at(server)

    crashed = poll(feed, store, session, NOW, write=False)  # state saved, articles lost
    assert store.feed_states()[feed.url].etag == document.etag
    retried = poll(feed, store, session, NOW + dt.timedelta(minutes=1))
    confirmed = poll(feed, store, session, NOW + dt.timedelta(minutes=2))

    assert requests_seen(server) == [
        ("/a.xml", None, None),
        ("/a.xml", None, None),  # the saved ETag is not trusted: its items are not in the store
        ("/a.xml", document.etag, None),  # now they are
    ]
    assert records_of(crashed) == records_of(retried) == [expected_record(*A1), expected_record(*A2)]
    assert retried.state.seen_ids == crashed.state.seen_ids == ids(crashed.records)
    assert (confirmed.result.status, confirmed.records) == (304, [])


def test_a_partly_stored_poll_refetches_and_re_emits_only_the_missing_item(server, store, session):
    document = ConditionalFeed(rss(A1, A2))
    server.route("/a.xml", document)
    feed = feed_at(server)

    crashed = poll(feed, store, session, NOW, write=False)
    store.write_articles(articles(crashed.records[:1]))  # the crash came after the first article
    retried = poll(feed, store, session, NOW + dt.timedelta(minutes=1))

    assert requests_seen(server) == [("/a.xml", None, None), ("/a.xml", None, None)]
    assert records_of(retried) == [expected_record(*A2)]
    assert retried.state.seen_ids == ids(retried.records)


def test_items_this_run_emitted_and_not_yet_stored_are_not_emitted_again_but_stay_unconfirmed(
    server, store, session
):
    document = ConditionalFeed(rss(A1))
    server.route("/a.xml", document)
    feed = feed_at(server)
    first = poll(feed, store, session, NOW, write=False)  # A1 is on its way to the store
    document.update(rss(A1, A2))

    state = store.feed_states([feed.url])[feed.url]
    second = poll_feed(
        feed,
        state,
        store,
        policy=POLICY,
        bounds=BOUNDS,
        session=session,
        now=NOW + dt.timedelta(minutes=1),
        run_id=RUN_ID,
        in_flight=frozenset(first.unstored_ids),
    )

    assert records_of(second) == [expected_record(*A2)]  # A1 is not emitted (nor counted) twice
    assert (
        set(second.unstored_ids) == set(second.state.seen_ids) == {*ids(first.records), *ids(second.records)}
    )
    assert second.state.last_new_items == 1


def test_a_state_whose_items_are_all_stored_sends_its_validators(server, store, session):
    modified = http_date(dt.datetime(2026, 2, 28, 8, 0, tzinfo=dt.UTC))
    document = ConditionalFeed(rss(A1, A2), last_modified=modified)
    server.route("/a.xml", document)
    feed = feed_at(server)
    first = poll(feed, store, session, NOW)
    assert len(first.state.seen_ids) == 2

    second = poll(feed, store, session, NOW + dt.timedelta(minutes=1))

    assert requests_seen(server) == [("/a.xml", None, None), ("/a.xml", document.etag, modified)]
    assert (second.result.status, second.records, second.dead_letters) == (304, [], [])


def test_an_item_that_normalize_rejects_does_not_end_conditional_polling(server, store, session):
    """An item Normalize dead-letters is never stored. It must not count as "lost in a crash" forever:
    an unchanged feed is still polled with its ETag (README: "unchanged feed: If-None-Match; a 304 is a
    normal no-op") and the rejected item is not emitted again on every poll."""
    script_only = (
        '<item><guid isPermaLink="false">tracker</guid>'
        "<description>&lt;script&gt;track()&lt;/script&gt;</description></item>"
    )
    document = ConditionalFeed(rss(A1, extra=script_only))
    server.route("/a.xml", document)
    feed = feed_at(server)

    first = poll(feed, store, session, NOW, write=False)
    assert [r.guid for r in first.records] == ["a1", "tracker"]
    good, rejected = first.records[0], first.records[1]
    store.write_articles(articles([good]))  # what the pipeline stores
    with pytest.raises(
        BadRecordError, match="no text left after cleaning"
    ) as refused:  # what it dead-letters
        normalize_record(rejected, ingested_at=NOW, pipeline=PIPELINE)
    store.write_dead_letters(
        [
            DeadLetter.build(
                stage="normalize",
                error=refused.value.reason,
                error_type="BadRecordError",
                payload=rejected.model_dump_json(),
                source=rejected.uri,
                occurred_at=NOW,
                record_id=record_id(rejected),  # as Normalize records it
            )
        ]
    )
    second = poll(feed, store, session, NOW + dt.timedelta(minutes=15), write=False)

    assert requests_seen(server) == [("/a.xml", None, None), ("/a.xml", document.etag, None)]
    assert (second.result.status, [r.guid for r in second.records]) == (304, [])


# --- bad documents -----------------------------------------------------------------------------


def test_broken_entries_become_parse_feed_dead_letters_and_the_rest_is_emitted(server, store, session):
    bad_guid = "http://news.example:99999/story/x"  # a permalink whose port does not exist
    broken = (
        "<item><description>An item with nothing to identify it.</description></item>"
        f'<item><title>Broken permalink</title><guid isPermaLink="true">{bad_guid}</guid></item>'
    )
    server.route("/a.xml", ConditionalFeed(rss(A1, extra=broken + item(*A2))))
    feed = feed_at(server)

    outcome = poll(feed, store, session, NOW)

    assert records_of(outcome) == [expected_record(*A1), expected_record(*A2)]
    fields = [dead_letter_fields(d) for d in outcome.dead_letters]
    assert fields[0] == (
        "parse_feed",
        "EntryError",
        "entry 2: no guid, link or title",
        "entry 2: no guid, link or title",
        feed.url,
        NOW,
        RUN_ID,
    )
    assert len(fields) == 2
    stage, error_type, error, payload, source, occurred_at, run_id = fields[1]
    assert (stage, error_type, error, source, occurred_at, run_id) == (
        "parse_feed",
        "EntryError",
        "bad permalink GUID: Port out of range 0-65535",
        feed.url,
        NOW,
        RUN_ID,
    )
    assert RawRecord.model_validate_json(payload).guid == bad_guid  # the record itself, to inspect
    assert outcome.state.seen_ids == ids(outcome.records)
    assert outcome.state.last_status == 200


def test_a_page_that_is_not_a_feed_is_one_parse_feed_dead_letter_with_the_body(server, store, session):
    page = b"<!DOCTYPE html><html><head><title>Subscribe</title></head><body>Paywall</body></html>"
    server.route("/a.xml", [Response(200, page, {"Content-Type": "text/html"})])
    feed = feed_at(server)

    outcome = poll(feed, store, session, NOW)

    assert outcome.records == []
    assert len(outcome.dead_letters) == 1
    letter = outcome.dead_letters[0]
    assert (letter.stage, letter.error_type, letter.source, letter.payload) == (
        "parse_feed",
        "EntryError",
        feed.url,
        page.decode(),
    )
    assert letter.error.startswith("not an RSS/Atom feed (an HTML page)")
    # A paywall or error page is a failed poll: it counts toward backoff and shows in `feeds list`.
    assert (outcome.state.consecutive_failures, outcome.state.last_error) == (1, letter.error)
    assert outcome.state.etag is None


# --- ReadFeeds on a TestPipeline ---------------------------------------------------------------


def interval(state: FeedState) -> dt.timedelta | None:
    """How long after its last poll the feed is polled again."""
    if state.next_poll_at is None or state.last_polled_at is None:
        return None
    return state.next_poll_at - state.last_polled_at


def _record_key(record: RawRecord) -> tuple[str, str | None]:
    return (record.source.name, record.guid or record.url)


def _dead_letter_key(letter: DeadLetter) -> tuple[str, str | None]:
    return (letter.stage, letter.source)


def test_read_feeds_polls_every_feed_and_saves_each_state(server, tmp_path: pathlib.Path):
    alpha = ConditionalFeed(rss(A1, A2, ttl=30))
    beta = ConditionalFeed(
        rss(A3, extra="<item><description>Nothing identifies this one.</description></item>")
    )
    server.route("/alpha.xml", alpha)
    server.route("/beta.xml", beta)
    feeds = (
        feed_at(server, "/alpha.xml", "Alpha"),
        feed_at(server, "/beta.xml", "Beta"),
        FeedSpec(url=closed_port_url(), name="Gone", allow_private=True),
    )
    path = str(tmp_path / "w.db")
    started = dt.datetime.now(dt.UTC)

    with test_pipeline.TestPipeline() as p:
        out = p | ReadFeeds(feeds=feeds, sink=LocalStoreSink(path), run_id=RUN_ID, bounds=BOUNDS)
        util.assert_that(
            out.records | "RecordKeys" >> beam.Map(_record_key),
            util.equal_to([("Alpha", "a1"), ("Alpha", "a2"), ("Beta", "a3")]),
        )
        util.assert_that(
            out.dead_letters | "DeadLetterKeys" >> beam.Map(_dead_letter_key),
            util.equal_to([("parse_feed", feeds[1].url), ("fetch_feed", feeds[2].url)]),
            label="DeadLetters",
        )

    finished = dt.datetime.now(dt.UTC)
    assert sorted(requests_seen(server)) == [("/alpha.xml", None, None), ("/beta.xml", None, None)]
    reader = LocalStore(path)
    try:
        states = reader.feed_states()
    finally:
        reader.close()
    assert set(states) == {feed.url for feed in feeds}
    for state in states.values():
        assert state.last_polled_at is not None
        assert started <= state.last_polled_at <= finished
    alpha_state, beta_state, gone_state = (states[feed.url] for feed in feeds)
    assert (alpha_state.etag, alpha_state.last_status, alpha_state.consecutive_failures) == (
        alpha.etag,
        200,
        0,
    )
    assert interval(alpha_state) == dt.timedelta(minutes=30)
    assert len(alpha_state.seen_ids) == 2
    assert (beta_state.etag, beta_state.last_status, len(beta_state.seen_ids)) == (beta.etag, 200, 1)
    assert interval(beta_state) == dt.timedelta(seconds=60)
    assert (gone_state.etag, gone_state.last_status, gone_state.consecutive_failures) == (None, None, 1)
    assert gone_state.last_error is not None
    assert gone_state.last_error.startswith("connection failed:")
    assert interval(gone_state) == dt.timedelta(seconds=60)
    assert gone_state.disabled is False


def test_read_feeds_skips_auto_disabled_and_catalog_disabled_feeds(server, tmp_path: pathlib.Path):
    for path in ("/on.xml", "/auto-off.xml", "/off.xml"):
        server.route(path, ConditionalFeed(rss(A1)))
    on = feed_at(server, "/on.xml", "On")
    auto_off = feed_at(server, "/auto-off.xml", "Auto-off")
    off = FeedSpec(url=server.url("/off.xml"), name="Off", allow_private=True, enabled=False)
    db = str(tmp_path / "w.db")
    disabled = FeedState(
        feed_url=auto_off.url, effective_url=auto_off.url, consecutive_failures=3, disabled=True
    )
    seeded = LocalStore(db)
    seeded.put_feed_state(disabled)
    seeded.close()

    with test_pipeline.TestPipeline() as p:
        out = p | ReadFeeds(feeds=(on, auto_off, off), sink=LocalStoreSink(db), run_id=RUN_ID, bounds=BOUNDS)
        util.assert_that(out.records | beam.Map(_record_key), util.equal_to([("On", "a1")]))

    assert requests_seen(server) == [("/on.xml", None, None)]
    reader = LocalStore(db)
    try:
        states = reader.feed_states()
    finally:
        reader.close()
    assert set(states) == {on.url, auto_off.url}
    assert states[auto_off.url] == disabled


def test_read_feeds_needs_an_enabled_feed():
    off = FeedSpec(url="https://news.example/rss.xml", name="Off", enabled=False)
    with pytest.raises(ValueError, match=r"^feeds must hold at least one enabled feed$"):
        ReadFeeds(feeds=(off,), sink=LocalStoreSink("unused.db"), run_id=RUN_ID)


# --- items stored under another id (connectors.feed_stored) -------------------------------------


def opaque_item(guid: str, path: str, title: str) -> str:
    return (
        f"<item><title>{title}</title><link>https://news.example/{path}</link>"
        f'<guid isPermaLink="false">{guid}</guid><description>{title}: the full report.</description></item>'
    )


def test_an_item_stored_from_another_feed_url_is_skipped_only_with_its_guid_and_link(server, store, session):
    guid = "tag:news.example,2026:budget"

    def document(budget_path: str) -> bytes:
        return (
            '<?xml version="1.0"?><rss version="2.0"><channel><title>W</title>'
            + opaque_item(guid, budget_path, "Parliament passes the budget")
            + opaque_item("tag:news.example,2026:floods", "floods", "Floods close the highway")
            + "</channel></rss>"
        ).encode()

    server.route("/w.xml", [Response(200, document("budget"))])
    server.route("/w.xml?r=2", [Response(200, document("budget"))])
    server.route("/w.xml?r=3", [Response(200, document("budget-2"))])  # that GUID, another link
    kwargs: dict[str, Any] = {
        "policy": POLICY,
        "bounds": BOUNDS,
        "session": session,
        "now": NOW,
        "run_id": RUN_ID,
    }
    # The catalog had the feed at /w.xml: its budget story was stored (with its dedup keys) there.
    first = poll_feed(feed_at(server, "/w.xml"), None, store, **kwargs)
    budget = articles(list(first.records))[0]
    store.write_articles([with_keys(budget, fingerprint(budget, DedupConfig()))])

    moved = feed_at(server, "/w.xml?r=2")
    by_id = poll_feed(moved, None, store, **kwargs)
    by_keys = poll_feed(moved, None, store, index=store, **kwargs)
    relinked = poll_feed(feed_at(server, "/w.xml?r=3"), None, store, index=store, **kwargs)

    # The opaque GUID's id follows the feed URL: by id alone, the stored story looks new.
    assert budget.id not in ids(by_id.records)
    assert [r.title for r in by_id.records] == ["Parliament passes the budget", "Floods close the highway"]
    # By its GUID and canonical link it is the stored one, and the state expects only the other.
    assert [r.title for r in by_keys.records] == ["Floods close the highway"]
    assert by_keys.state.seen_ids == ids(by_keys.records)
    # The same GUID on another link is another article.
    assert [r.url for r in relinked.records] == [
        "https://news.example/budget-2",
        "https://news.example/floods",
    ]
