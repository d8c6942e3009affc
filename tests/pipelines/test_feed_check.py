"""Re-enabling an auto-disabled feed, against a real SQLite store."""

from __future__ import annotations

import argparse
import datetime as dt
import pathlib

import pytest

from connectors.localstore import LocalStore
from pipelines.feed_check import reenable
from schemas.errors import ConfigError
from schemas.feeds import FeedCatalog, FeedSpec, FeedState

URL = "https://example.com/feed.xml"
CATALOG = FeedCatalog(feeds=(FeedSpec(url=URL, name="Example"),))


def _args(store: pathlib.Path) -> argparse.Namespace:
    return argparse.Namespace(es_url=None, store=str(store), es_index_prefix=None)


def test_reenable_clears_the_failure_streak(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("ELASTICSEARCH_URL", raising=False)
    path = tmp_path / "w.db"
    store = LocalStore(str(path))
    store.put_feed_state(
        FeedState(
            feed_url=URL,
            effective_url=URL,
            consecutive_failures=10,
            disabled=True,
            last_error="HTTP 500",
            last_polled_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        )
    )
    store.close()

    reenable(_args(path), CATALOG, URL)

    store = LocalStore(str(path))
    state = store.feed_states([URL])[URL]
    store.close()
    assert (state.disabled, state.consecutive_failures, state.next_poll_at) == (False, 0, None)
    assert state.last_error == "HTTP 500"  # history is kept, only the streak is cleared


def test_reenable_refuses_unknown_or_never_polled_feeds(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.delenv("ELASTICSEARCH_URL", raising=False)
    path = tmp_path / "w.db"
    with pytest.raises(ConfigError, match="no store at"):
        reenable(_args(path), CATALOG, URL)
    LocalStore(str(path)).close()
    with pytest.raises(ConfigError, match="never been polled"):
        reenable(_args(path), CATALOG, URL)
    with pytest.raises(ConfigError, match="not in the catalog"):
        reenable(_args(path), CATALOG, "https://example.org/other.xml")
