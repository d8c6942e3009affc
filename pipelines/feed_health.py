"""Which feeds failed in a run, read back from their saved state after it.

A failing feed is recorded in its state (failures in a row, last error), not as a dead letter per
poll (see connectors.rssio.failure_is_news); the run summary lists them from there, and a run
whose every source failed exits with its own status (pipelines.cli.EXIT_NO_SOURCE).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from pydantic import BaseModel

from connectors.store import FeedStateStore
from schemas.feeds import FeedSpec
from schemas.types import FROZEN


class FeedFailure(BaseModel):
    """A feed of the run that failed, or was skipped as disabled after failing too often."""

    model_config = FROZEN

    url: str
    error: str
    failures_in_a_row: int
    disabled: bool


def failed_feeds(store: FeedStateStore, feeds: Sequence[FeedSpec], since: dt.datetime) -> list[FeedFailure]:
    """The feeds of `feeds` whose poll at or after `since` failed, and those disabled (a run skips
    them), in catalog order."""
    states = store.feed_states([feed.url for feed in feeds]) if feeds else {}
    failures: list[FeedFailure] = []
    for feed in feeds:
        state = states.get(feed.url)
        if state is None or state.consecutive_failures == 0:
            continue
        polled_now = state.last_polled_at is not None and state.last_polled_at >= since
        if polled_now or state.disabled:
            failures.append(
                FeedFailure(
                    url=feed.url,
                    error=state.last_error or "failed",
                    failures_in_a_row=state.consecutive_failures,
                    disabled=state.disabled,
                )
            )
    return failures
