"""When to poll each feed next and how its health changes after a fetch: pure politeness rules.

Nothing here does I/O. `update_state` folds one `FetchResult` into a feed's `FeedState`;
`next_interval_s` is the polling policy; `HostLimiter` keeps one process from hammering a host.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, model_validator

from connectors.http_fetch import FetchResult
from schemas.feeds import MAX_SEEN_IDS, FeedSpec, FeedState
from schemas.types import FROZEN


class ScheduleBounds(BaseModel):
    """The polling policy's limits, in seconds."""

    model_config = FROZEN

    default_interval_s: int = Field(default=900, ge=1)
    min_interval_s: int = Field(default=300, ge=1)
    max_interval_s: int = Field(default=86400, ge=1)
    max_backoff_s: int = Field(default=6 * 3600, ge=1)
    disable_after_failures: int = Field(default=10, ge=1)

    @model_validator(mode="after")
    def _ordered(self) -> ScheduleBounds:
        if not self.min_interval_s <= self.default_interval_s <= self.max_interval_s:
            raise ValueError(
                "need min_interval_s <= default_interval_s <= max_interval_s, got "
                f"{self.min_interval_s}, {self.default_interval_s}, {self.max_interval_s}"
            )
        return self


def _clamp(value: int, bounds: ScheduleBounds) -> int:
    return max(bounds.min_interval_s, min(bounds.max_interval_s, value))


def _healthy_interval_s(
    feed_interval_s: int | None,
    ttl_minutes: int | None,
    update_period_s: int | None,
    cache_max_age_s: int | None,
    bounds: ScheduleBounds,
) -> int:
    """The analyst's interval wins; else the publisher's largest hint (the politest); else the default."""
    if feed_interval_s is not None:
        return _clamp(feed_interval_s, bounds)
    ttl_s = ttl_minutes * 60 if ttl_minutes is not None else None
    hints = [hint for hint in (ttl_s, update_period_s, cache_max_age_s) if hint is not None and hint > 0]
    return _clamp(max(hints) if hints else bounds.default_interval_s, bounds)


def _backoff_s(consecutive_failures: int, bounds: ScheduleBounds) -> int:
    # The exponent is capped first: 2**failures grows without bound for a long-dead feed.
    exponent = min(consecutive_failures - 1, 62)
    return min(bounds.default_interval_s << exponent, bounds.max_backoff_s)


def next_interval_s(
    *,
    feed_interval_s: int | None,
    ttl_minutes: int | None,
    update_period_s: int | None,
    cache_max_age_s: int | None,
    retry_after_s: float | None,
    consecutive_failures: int,
    bounds: ScheduleBounds,
) -> int:
    """Seconds until the next poll.

    Healthy: the feed's own `poll_interval_s`, else the largest of the feed's `<ttl>` (minutes),
    `sy:updatePeriod` and Cache-Control max-age, else the default; clamped to [min, max].
    Failing: exponential backoff, default * 2^(failures-1) capped at `max_backoff_s`, but never sooner
    than the healthy interval: a failing feed is not polled more often than a working one.
    A Retry-After raises the result to at least that many seconds, up to `max_interval_s` so a bogus
    "come back next year" cannot silence a feed.
    """
    interval = _healthy_interval_s(feed_interval_s, ttl_minutes, update_period_s, cache_max_age_s, bounds)
    if consecutive_failures > 0:
        interval = max(interval, _backoff_s(consecutive_failures, bounds))
    if retry_after_s is not None and retry_after_s > 0:
        interval = max(interval, min(math.ceil(retry_after_s), bounds.max_interval_s))
    return interval


def cache_max_age_s(headers: Mapping[str, str]) -> int | None:
    """Cache-Control max-age in seconds, or None when absent, malformed or overridden by no-store/no-cache."""
    value = next((v for k, v in headers.items() if k.lower() == "cache-control"), None)
    if value is None:
        return None
    max_age: int | None = None
    for directive in value.split(","):
        name, _, argument = directive.strip().partition("=")
        name = name.strip().lower()
        if name in ("no-store", "no-cache"):
            return None
        if name == "max-age":
            argument = argument.strip().strip('"')
            if not argument.isdigit():
                return None
            max_age = int(argument)
    return max_age


def is_due(state: FeedState | None, now: datetime) -> bool:
    """Whether a feed should be polled at `now`: never-polled feeds are due, disabled ones never are."""
    if state is None:
        return True
    if state.disabled:
        return False
    return state.next_poll_at is None or now >= state.next_poll_at


def _remember_ids(seen: tuple[str, ...], new_item_ids: Sequence[str]) -> tuple[tuple[str, ...], int]:
    """(seen ids with the unseen new ones appended, newest MAX_SEEN_IDS kept; how many were appended)."""
    known = set(seen)
    added: list[str] = []
    for item_id in new_item_ids:
        if item_id not in known:
            known.add(item_id)
            added.append(item_id)
    return (seen + tuple(added))[-MAX_SEEN_IDS:], len(added)


def _previous_interval_s(state: FeedState) -> int | None:
    """The interval set after the last poll, when that poll succeeded.

    A 304 carries no body, so no <ttl> or sy:updatePeriod; keeping the last cadence stops a feed that
    asked for hourly polls from being polled every 15 minutes just because nothing changed.
    """
    if state.consecutive_failures or state.last_polled_at is None or state.next_poll_at is None:
        return None
    return int((state.next_poll_at - state.last_polled_at).total_seconds())


def _success_state(
    prev: FeedState,
    feed: FeedSpec,
    result: FetchResult,
    *,
    new_item_ids: Sequence[str],
    now: datetime,
    ttl_minutes: int | None,
    update_period_s: int | None,
    bounds: ScheduleBounds,
) -> FeedState:
    ok = result.outcome == "ok"
    if ok:
        seen, new_count = _remember_ids(prev.seen_ids, new_item_ids)
    else:
        seen, new_count = prev.seen_ids, 0
    hinted = ttl_minutes is not None or update_period_s is not None
    carried = None if ok or hinted else _previous_interval_s(prev)
    interval = next_interval_s(
        feed_interval_s=feed.poll_interval_s,
        ttl_minutes=ttl_minutes,
        update_period_s=update_period_s if update_period_s is not None else carried,
        cache_max_age_s=cache_max_age_s(result.headers),
        retry_after_s=result.retry_after_s,
        consecutive_failures=0,
        bounds=bounds,
    )
    return prev.model_copy(
        update={
            "effective_url": result.permanent_redirect or prev.effective_url,
            "etag": result.etag if ok else (result.etag or prev.etag),
            "last_modified": result.last_modified if ok else (result.last_modified or prev.last_modified),
            "last_polled_at": now,
            "next_poll_at": now + timedelta(seconds=interval),
            "last_status": result.status,
            "last_error": None,
            "last_new_items": new_count,
            "consecutive_failures": 0,
            "disabled": False,
            "seen_ids": seen,
        }
    )


def _failure_state(
    prev: FeedState, feed: FeedSpec, result: FetchResult, *, now: datetime, bounds: ScheduleBounds
) -> FeedState:
    failures = prev.consecutive_failures + 1
    disabled = failures >= bounds.disable_after_failures
    interval = next_interval_s(
        feed_interval_s=feed.poll_interval_s,
        ttl_minutes=None,
        update_period_s=None,
        cache_max_age_s=None,
        retry_after_s=result.retry_after_s,
        consecutive_failures=failures,
        bounds=bounds,
    )
    return prev.model_copy(
        update={
            "last_polled_at": now,
            "next_poll_at": None if disabled else now + timedelta(seconds=interval),
            "last_status": result.status,
            "last_error": result.error or f"fetch failed (HTTP status {result.status})",
            "last_new_items": 0,
            "consecutive_failures": failures,
            "disabled": disabled,
        }
    )


def update_state(
    state: FeedState | None,
    feed: FeedSpec,
    result: FetchResult,
    *,
    new_item_ids: Sequence[str],
    now: datetime,
    ttl_minutes: int | None = None,
    update_period_s: int | None = None,
    bounds: ScheduleBounds = ScheduleBounds(),  # noqa: B008 - frozen, so one shared default is safe
) -> FeedState:
    """The feed's state after one fetch.

    ok / not_modified: failures reset (a disabled feed that answers again is re-enabled), validators
    taken from an ok response (kept on a 304), a permanent redirect moves `effective_url`, new item ids
    appended to `seen_ids`. error: one more consecutive failure, backoff, and `disabled` once
    `bounds.disable_after_failures` is reached; validators, ids and URL are left alone.
    `ttl_minutes` / `update_period_s` are the hints the parser found in the body, if any.
    """
    prev = state or FeedState(feed_url=feed.url, effective_url=feed.url)
    if result.outcome == "error":
        new = _failure_state(prev, feed, result, now=now, bounds=bounds)
    else:
        new = _success_state(
            prev,
            feed,
            result,
            new_item_ids=new_item_ids,
            now=now,
            ttl_minutes=ttl_minutes,
            update_period_s=update_period_s,
            bounds=bounds,
        )
    # model_copy skips validation: re-validate so the UTC and seen_ids rules hold for what is returned.
    return FeedState.model_validate(new.model_dump())


class HostLimiter:
    """Per process and thread-safe: one request in flight per host, and a pause between two to the same host.

    The pause runs from the end of one request to the start of the next, so a slow host gets more rest,
    not less. Different hosts never wait for each other. A host that asked for a longer pause
    (Retry-After) is held off with `defer`: its next slot waits until then, and `held_for` lets a
    caller give up instead of waiting.
    """

    def __init__(
        self,
        min_delay_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if min_delay_s < 0:
            raise ValueError(f"min_delay_s must be >= 0, got {min_delay_s}")
        self._min_delay_s = min_delay_s
        self._clock = clock
        self._sleep = sleep
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        self._last_end: dict[str, float] = {}
        self._held_until: dict[str, float] = {}

    def _lock_for(self, host: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(host, threading.Lock())

    def slot(self, url: str) -> AbstractContextManager[None]:
        """Hold this while requesting `url`: it waits for the host's previous request and pause."""
        return self._slot(_host(url))

    def defer(self, url: str, seconds: float) -> None:
        """Hold `url`'s host off for `seconds` from now (a Retry-After); a shorter hold never shortens one."""
        if not seconds > 0:  # also refuses NaN
            return
        host = _host(url)
        until = self._clock() + seconds
        with self._guard:
            self._held_until[host] = max(until, self._held_until.get(host, until))

    def held_for(self, url: str) -> float:
        """Seconds until `url`'s host may be asked again after a `defer`; 0.0 when it is not held off."""
        with self._guard:
            until = self._held_until.get(_host(url))
        return max(0.0, until - self._clock()) if until is not None else 0.0

    @contextmanager
    def _slot(self, host: str) -> Iterator[None]:
        with self._lock_for(host):
            last_end = self._last_end.get(host)
            with self._guard:
                held_until = self._held_until.get(host)
            ready = max(
                last_end + self._min_delay_s if last_end is not None else -math.inf,
                held_until if held_until is not None else -math.inf,
            )
            wait = ready - self._clock()
            if wait > 0:
                self._sleep(wait)
            try:
                yield
            finally:
                self._last_end[host] = self._clock()


def _host(url: str) -> str:
    return urlsplit(url).hostname or ""
