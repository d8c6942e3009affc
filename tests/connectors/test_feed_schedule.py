"""The polling and feed-health rules, as pure functions, and the per-host limiter with a fake clock."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from connectors.feed_schedule import (
    HostLimiter,
    ScheduleBounds,
    cache_max_age_s,
    is_due,
    next_interval_s,
    update_state,
)
from connectors.http_fetch import FetchResult
from schemas.feeds import MAX_SEEN_IDS, FeedSpec, FeedState

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
URL = "https://news.example/feed.xml"
MOVED = "https://news.example/rss/feed.xml"
FEED = FeedSpec(url=URL, name="News")
BOUNDS = ScheduleBounds()


def interval(**overrides: object) -> int:
    arguments: dict[str, object] = {
        "feed_interval_s": None,
        "ttl_minutes": None,
        "update_period_s": None,
        "cache_max_age_s": None,
        "retry_after_s": None,
        "consecutive_failures": 0,
        "bounds": BOUNDS,
    }
    return next_interval_s(**{**arguments, **overrides})  # type: ignore[arg-type]


def ok(**overrides: object) -> FetchResult:
    return FetchResult.model_validate(
        {
            "requested_url": URL,
            "final_url": URL,
            "outcome": "ok",
            "status": 200,
            "body": b"<rss/>",
            **overrides,
        }
    )


def not_modified(**overrides: object) -> FetchResult:
    return FetchResult.model_validate(
        {"requested_url": URL, "final_url": URL, "outcome": "not_modified", "status": 304, **overrides}
    )


def failed(
    status: int | None = 500, error: str = "HTTP 500 Internal Server Error", **overrides: object
) -> FetchResult:
    return FetchResult.model_validate(
        {
            "requested_url": URL,
            "final_url": URL,
            "outcome": "error",
            "status": status,
            "error": error,
            **overrides,
        }
    )


def state(**overrides: object) -> FeedState:
    return FeedState.model_validate({"feed_url": URL, "effective_url": URL, **overrides})


# --- next_interval_s -----------------------------------------------------------------------------


def test_without_hints_the_default_interval_is_used():
    assert interval() == 900


@pytest.mark.parametrize(("feed_interval_s", "expected"), [(3600, 3600), (60, 300), (7 * 24 * 3600, 86400)])
def test_the_feeds_own_interval_wins_over_hints_and_is_clamped(feed_interval_s: int, expected: int):
    hints = {"ttl_minutes": 600, "update_period_s": 7200, "cache_max_age_s": 5000}
    assert interval(feed_interval_s=feed_interval_s, **hints) == expected


@pytest.mark.parametrize(
    ("hints", "expected"),
    [
        ({"ttl_minutes": 60, "update_period_s": 1800, "cache_max_age_s": 600}, 3600),
        ({"ttl_minutes": 10, "update_period_s": 7200, "cache_max_age_s": 600}, 7200),
        ({"ttl_minutes": 10, "update_period_s": 1800, "cache_max_age_s": 5400}, 5400),
        ({"ttl_minutes": 1}, 300),  # below the minimum
        ({"update_period_s": 10 * 86400}, 86400),  # above the maximum
        ({"ttl_minutes": 0, "update_period_s": -5, "cache_max_age_s": 0}, 900),  # meaningless hints
    ],
)
def test_the_largest_publisher_hint_is_used_and_clamped(hints: dict[str, int], expected: int):
    assert interval(**hints) == expected


@pytest.mark.parametrize(
    ("retry_after_s", "expected"),
    [(7200.0, 7200), (100.0, 900), (1000.2, 1001), (0.0, 900), (365 * 86400.0, 86400)],
)
def test_retry_after_raises_the_interval_up_to_the_maximum(retry_after_s: float, expected: int):
    assert interval(retry_after_s=retry_after_s) == expected


@pytest.mark.parametrize(
    ("failures", "expected"),
    [(1, 900), (2, 1800), (3, 3600), (4, 7200), (5, 14400), (6, 21600), (7, 21600), (10_000, 21600)],
)
def test_failures_back_off_exponentially_up_to_the_cap(failures: int, expected: int):
    assert interval(consecutive_failures=failures) == expected


def test_a_failing_feed_is_never_polled_more_often_than_a_healthy_one():
    assert interval(consecutive_failures=1, feed_interval_s=43200) == 43200
    assert interval(consecutive_failures=3, feed_interval_s=1800) == 3600


def test_retry_after_beats_a_shorter_backoff():
    assert interval(consecutive_failures=1, retry_after_s=5000.0) == 5000


def test_bounds_must_be_ordered():
    with pytest.raises(ValidationError, match="min_interval_s <= default_interval_s"):
        ScheduleBounds(min_interval_s=1000, default_interval_s=900)


# --- cache_max_age_s -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"cache-control": "max-age=600"}, 600),
        ({"Cache-Control": "public, max-age=600"}, 600),
        ({"cache-control": 'MAX-AGE="120", must-revalidate'}, 120),
        ({"cache-control": "max-age=0"}, 0),
        ({"cache-control": "no-cache, max-age=600"}, None),
        ({"cache-control": "max-age=600, no-store"}, None),
        ({"cache-control": "max-age=soon"}, None),
        ({"cache-control": "max-age=-1"}, None),
        ({"cache-control": "s-maxage=600"}, None),
        ({"expires": "Sun, 01 Mar 2026 13:00:00 GMT"}, None),
        ({}, None),
    ],
)
def test_cache_max_age(headers: dict[str, str], expected: int | None):
    assert cache_max_age_s(headers) == expected


# --- is_due --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("feed_state", "due"),
    [
        (None, True),
        (state(), True),
        (state(next_poll_at=NOW + timedelta(seconds=1)), False),
        (state(next_poll_at=NOW), True),
        (state(next_poll_at=NOW - timedelta(seconds=1)), True),
        (state(disabled=True), False),
        (state(disabled=True, next_poll_at=NOW - timedelta(days=1)), False),
    ],
    ids=["never-polled", "no-schedule", "early", "on-time", "late", "disabled", "disabled-and-late"],
)
def test_is_due(feed_state: FeedState | None, due: bool):
    assert is_due(feed_state, NOW) is due


# --- update_state --------------------------------------------------------------------------------


def test_a_first_good_fetch_records_validators_ids_and_the_hinted_interval():
    result = ok(etag='"v1"', last_modified="Sun, 01 Mar 2026 11:00:00 GMT")
    new = update_state(None, FEED, result, new_item_ids=["a", "b"], now=NOW, ttl_minutes=60)
    assert new == state(
        etag='"v1"',
        last_modified="Sun, 01 Mar 2026 11:00:00 GMT",
        last_polled_at=NOW,
        next_poll_at=NOW + timedelta(hours=1),
        last_status=200,
        last_new_items=2,
        seen_ids=("a", "b"),
    )


def test_a_304_keeps_validators_and_ids():
    before = state(
        etag='"v1"', last_modified="Sun, 01 Mar 2026 11:00:00 GMT", seen_ids=("a",), last_new_items=1
    )
    new = update_state(before, FEED, not_modified(), new_item_ids=[], now=NOW)
    assert new == before.model_copy(
        update={
            "last_polled_at": NOW,
            "next_poll_at": NOW + timedelta(seconds=900),
            "last_status": 304,
            "last_new_items": 0,
        }
    )


def test_a_304_that_sends_new_validators_updates_them():
    before = state(etag='"v1"', last_modified="Sun, 01 Mar 2026 11:00:00 GMT")
    new = update_state(before, FEED, not_modified(etag='"v1b"'), new_item_ids=[], now=NOW)
    assert (new.etag, new.last_modified) == ('"v1b"', "Sun, 01 Mar 2026 11:00:00 GMT")


def test_a_304_keeps_the_cadence_of_the_last_good_fetch():
    first = update_state(None, FEED, ok(), new_item_ids=[], now=NOW, ttl_minutes=120)
    later = NOW + timedelta(hours=2)
    second = update_state(first, FEED, not_modified(), new_item_ids=[], now=later)
    assert second.next_poll_at == later + timedelta(hours=2)


def test_a_304_after_a_failure_uses_the_default_cadence():
    before = state(
        consecutive_failures=1,
        last_polled_at=NOW - timedelta(hours=6),
        next_poll_at=NOW,
        last_error="HTTP 500",
    )
    new = update_state(before, FEED, not_modified(), new_item_ids=[], now=NOW)
    assert new.next_poll_at == NOW + timedelta(seconds=900)


def test_an_ok_response_without_validators_forgets_the_old_ones():
    before = state(etag='"v1"', last_modified="Sun, 01 Mar 2026 11:00:00 GMT")
    new = update_state(before, FEED, ok(), new_item_ids=[], now=NOW)
    assert (new.etag, new.last_modified) == (None, None)


def test_cache_control_from_the_response_sets_the_interval():
    new = update_state(None, FEED, ok(headers={"cache-control": "max-age=1800"}), new_item_ids=[], now=NOW)
    assert new.next_poll_at == NOW + timedelta(seconds=1800)


def test_the_feeds_own_interval_sets_the_next_poll():
    feed = FEED.model_copy(update={"poll_interval_s": 600})
    new = update_state(None, feed, ok(), new_item_ids=[], now=NOW, ttl_minutes=240)
    assert new.next_poll_at == NOW + timedelta(seconds=600)


def test_a_permanent_redirect_moves_the_effective_url_but_not_the_feed_url():
    new = update_state(None, FEED, ok(final_url=MOVED, permanent_redirect=MOVED), new_item_ids=[], now=NOW)
    assert (new.feed_url, new.effective_url) == (URL, MOVED)
    again = update_state(new, FEED, not_modified(final_url=MOVED), new_item_ids=[], now=NOW)
    assert again.effective_url == MOVED


def test_a_temporary_redirect_leaves_the_effective_url():
    new = update_state(None, FEED, ok(final_url=MOVED), new_item_ids=[], now=NOW)
    assert new.effective_url == URL


def test_new_ids_are_appended_once_and_counted():
    before = state(seen_ids=("a", "b"))
    new = update_state(before, FEED, ok(), new_item_ids=["b", "c", "d", "c"], now=NOW)
    assert (new.seen_ids, new.last_new_items) == (("a", "b", "c", "d"), 2)


def test_seen_ids_keep_only_the_newest():
    old = tuple(f"old-{n}" for n in range(MAX_SEEN_IDS))
    new = update_state(state(seen_ids=old), FEED, ok(), new_item_ids=["x", "y", "z"], now=NOW)
    assert len(new.seen_ids) == MAX_SEEN_IDS
    assert new.seen_ids[:2] == ("old-3", "old-4")
    assert new.seen_ids[-3:] == ("x", "y", "z")


def test_an_error_counts_a_failure_backs_off_and_keeps_everything_else():
    before = state(
        effective_url=MOVED,
        etag='"v1"',
        last_modified="Sun, 01 Mar 2026 11:00:00 GMT",
        seen_ids=("a",),
        consecutive_failures=2,
        last_new_items=1,
    )
    new = update_state(before, FEED, failed(), new_item_ids=["ignored"], now=NOW)
    assert new == before.model_copy(
        update={
            "last_polled_at": NOW,
            "next_poll_at": NOW + timedelta(seconds=3600),  # third failure: 900 * 2**2
            "last_status": 500,
            "last_error": "HTTP 500 Internal Server Error",
            "last_new_items": 0,
            "consecutive_failures": 3,
        }
    )


def test_a_network_error_has_no_status():
    new = update_state(
        None, FEED, failed(status=None, error="timed out after 20 s"), new_item_ids=[], now=NOW
    )
    assert (new.last_status, new.last_error, new.consecutive_failures) == (None, "timed out after 20 s", 1)


def test_retry_after_on_429_pushes_the_next_poll_out():
    result = failed(status=429, error="HTTP 429 Too Many Requests", retry_after_s=7200.0)
    new = update_state(None, FEED, result, new_item_ids=[], now=NOW)
    assert new.next_poll_at == NOW + timedelta(seconds=7200)


def test_a_feed_is_disabled_after_too_many_failures_and_keeps_its_last_error():
    bounds = ScheduleBounds(disable_after_failures=3)
    current: FeedState | None = None
    history = []
    for attempt in range(3):
        error = f"HTTP 503 Service Unavailable (attempt {attempt})"
        current = update_state(current, FEED, failed(503, error), new_item_ids=[], now=NOW, bounds=bounds)
        history.append((current.consecutive_failures, current.disabled))
    assert history == [(1, False), (2, False), (3, True)]
    assert current is not None
    assert current.last_error == "HTTP 503 Service Unavailable (attempt 2)"
    assert current.next_poll_at is None
    assert not is_due(current, NOW + timedelta(days=365))


def test_a_success_resets_failures_and_re_enables():
    before = state(consecutive_failures=10, disabled=True, last_error="HTTP 500", last_status=500)
    new = update_state(before, FEED, ok(), new_item_ids=[], now=NOW)
    assert (new.consecutive_failures, new.disabled, new.last_error, new.last_status) == (0, False, None, 200)
    assert is_due(new, NOW + timedelta(seconds=900))


def test_now_must_carry_a_timezone():
    with pytest.raises(ValidationError, match="timezone"):
        update_state(None, FEED, ok(), new_item_ids=[], now=datetime(2026, 3, 1, 12, 0))  # noqa: DTZ001


def test_a_non_utc_now_is_stored_as_utc():
    now = datetime(2026, 3, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))
    new = update_state(None, FEED, ok(), new_item_ids=[], now=now)
    assert new.last_polled_at == NOW
    assert new.last_polled_at is not None
    assert new.last_polled_at.tzinfo == UTC


# --- HostLimiter ---------------------------------------------------------------------------------


class FakeClock:
    """A monotonic clock that only moves when told to (or when something sleeps on it)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self.now += seconds


def run(target) -> threading.Thread:
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread


def test_the_same_host_is_serialized_with_the_minimum_delay():
    clock = FakeClock()
    limiter = HostLimiter(min_delay_s=2.0, clock=clock, sleep=clock.sleep)
    a_inside, a_may_finish, b_inside = threading.Event(), threading.Event(), threading.Event()
    timeline: list[tuple[str, float]] = []

    def first() -> None:
        with limiter.slot("https://news.example/a.xml"):
            a_inside.set()
            assert a_may_finish.wait(5)
            clock.advance(3.0)  # the request took 3 s
            timeline.append(("a ends", clock()))

    def second() -> None:
        # Another scheme and port: still the same host, so still one at a time.
        with limiter.slot("http://NEWS.example:8080/b.xml"):
            timeline.append(("b starts", clock()))
            b_inside.set()

    threads = [run(first)]
    assert a_inside.wait(5)
    threads.append(run(second))
    # A negative can only be observed over a window: B must still be outside while A is in flight.
    assert not b_inside.wait(0.2)
    a_may_finish.set()
    for thread in threads:
        thread.join(5)
    assert timeline == [("a ends", 1003.0), ("b starts", 1005.0)]
    assert clock.sleeps == [2.0]


def test_different_hosts_run_concurrently_without_waiting():
    clock = FakeClock()
    limiter = HostLimiter(min_delay_s=2.0, clock=clock, sleep=clock.sleep)
    a_inside, b_inside = threading.Event(), threading.Event()

    def first() -> None:
        with limiter.slot("https://one.example/a.xml"):
            a_inside.set()
            # Holds its slot until the other host's request is in flight: deadlocks if serialized.
            assert b_inside.wait(5)

    def second() -> None:
        with limiter.slot("https://two.example/b.xml"):
            b_inside.set()

    threads = [run(first)]
    assert a_inside.wait(5)
    threads.append(run(second))
    assert b_inside.wait(5)
    for thread in threads:
        thread.join(5)
    assert not any(thread.is_alive() for thread in threads)
    assert clock.sleeps == []


def test_the_delay_counts_from_the_end_of_the_previous_request():
    clock = FakeClock()
    limiter = HostLimiter(min_delay_s=2.0, clock=clock, sleep=clock.sleep)
    with limiter.slot(URL):
        clock.advance(10.0)
    clock.advance(0.5)
    with limiter.slot(URL):
        pass
    clock.advance(5.0)
    with limiter.slot(URL):
        pass
    assert clock.sleeps == [1.5]


def test_a_request_that_raises_still_frees_the_host_and_counts():
    clock = FakeClock()
    limiter = HostLimiter(min_delay_s=1.0, clock=clock, sleep=clock.sleep)
    with pytest.raises(RuntimeError, match="boom"), limiter.slot(URL):
        raise RuntimeError("boom")
    with limiter.slot(URL):
        pass
    assert clock.sleeps == [1.0]


def test_a_negative_delay_is_refused():
    with pytest.raises(ValueError, match="min_delay_s"):
        HostLimiter(min_delay_s=-1)
