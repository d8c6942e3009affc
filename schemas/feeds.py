"""The feed catalog (what to poll) and each feed's polling state (how the last polls went)."""

from __future__ import annotations

import os
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, Field, field_validator, model_validator

from schemas.types import FROZEN, NonEmptyStr, UtcDatetime

Reliability = Literal["A", "B", "C", "D", "E", "F"]
MAX_SEEN_IDS = 2000


def check_feed_location(value: str) -> str:
    """An http(s) URL, a file:// URL or an absolute local path: nothing else can be fetched."""
    value = value.strip()
    parts = urlsplit(value)
    if parts.scheme in ("http", "https") and parts.hostname:
        return value
    if parts.scheme == "file" or (not parts.scheme and os.path.isabs(value)):
        return value
    raise ValueError(f"must be an http(s) URL, a file:// URL or an absolute path, got {value[:200]!r}")


FeedLocation = Annotated[str, AfterValidator(check_feed_location)]


class FeedSpec(BaseModel):
    """One feed an analyst follows, as written in `seeds/feeds.yaml`."""

    model_config = FROZEN

    url: FeedLocation
    name: NonEmptyStr
    outlet: NonEmptyStr | None = None  # the publisher's domain; derived from the URL when absent
    country: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")
    language: str | None = Field(default=None, pattern=r"^[a-z]{2,3}$")
    poll_interval_s: int | None = Field(default=None, ge=60, le=7 * 24 * 3600)
    tags: tuple[NonEmptyStr, ...] = ()
    reliability: Reliability = "C"
    state_affiliated: bool = False
    enabled: bool = True
    # Loopback, private and link-local addresses are refused unless the feed says so (tests, intranets).
    allow_private: bool = False

    @property
    def domain(self) -> str:
        """The outlet's domain: `outlet` when given, else the URL's host without `www.`."""
        if self.outlet:
            return self.outlet
        host = urlsplit(self.url).hostname or "local"
        return host.removeprefix("www.")


class FeedCatalog(BaseModel):
    """The whole catalog: a version and the feeds, each URL once."""

    model_config = FROZEN

    version: int = Field(default=1, ge=1)
    feeds: tuple[FeedSpec, ...] = ()

    @field_validator("feeds")
    @classmethod
    def _unique_urls(cls, feeds: tuple[FeedSpec, ...]) -> tuple[FeedSpec, ...]:
        seen: set[str] = set()
        for feed in feeds:
            if feed.url in seen:
                raise ValueError(f"feed {feed.url} is listed twice")
            seen.add(feed.url)
        return feeds


class FeedState(BaseModel):
    """What Wirewatch remembers about a feed between polls and across restarts."""

    model_config = FROZEN

    feed_url: NonEmptyStr
    effective_url: NonEmptyStr  # differs from feed_url after a permanent redirect
    etag: str | None = None
    last_modified: str | None = None
    last_polled_at: UtcDatetime | None = None
    next_poll_at: UtcDatetime | None = None
    last_status: int | None = None
    last_error: str | None = None
    last_new_items: int = Field(default=0, ge=0)
    consecutive_failures: int = Field(default=0, ge=0)
    disabled: bool = False
    # Ids of the items the last successful poll emitted. The next poll sends its validators only
    # when the store has all of them, so a crash before they were written costs a full fetch,
    # never a missed item.
    seen_ids: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _bounded(self) -> FeedState:
        if len(self.seen_ids) > MAX_SEEN_IDS:
            raise ValueError(f"seen_ids holds at most {MAX_SEEN_IDS} ids")
        return self
