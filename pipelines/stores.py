"""Open the store a command talks to: Elasticsearch when a URL is set, else the embedded SQLite file."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Protocol

from connectors.localstore import LocalStore
from connectors.store import AlertStore, ArticleStore, FeedStateStore, RetagStore
from pipelines.store_location import es_index_prefix, resolve_store_path
from schemas.errors import ConfigError


class Store(ArticleStore, FeedStateStore, RetagStore, AlertStore, Protocol):
    """Both stores answer searches, keep feed state and alerts, and re-tag their articles."""


# How long a command may spend checking the embedded store's file before it reads it (PRAGMA
# quick_check, which reads every page); a bigger store is checked that far, and damage beyond is
# reported when a statement meets it (connectors/localstore_health.py).
INTEGRITY_BUDGET_S = 2.0
# `run` checks before it writes, for less: it is paid on every (scheduled) run, and a whole check
# of a store of 200,000 articles (3 GB) takes seconds; some hundreds of MB are still checked whole.
RUN_INTEGRITY_BUDGET_S = 0.5


class NoStoreYetError(LookupError):
    """The embedded store file does not exist: nothing has been run yet."""


def open_existing_store(
    *,
    es_url: str | None,
    store: str | None,
    es_prefix: str | None,
    integrity_budget_s: float | None = INTEGRITY_BUDGET_S,
) -> Store:
    """`open_store` for a command that reads: a missing embedded store is one line (ConfigError)."""
    try:
        return open_store(
            es_url=es_url, store=store, es_prefix=es_prefix, integrity_budget_s=integrity_budget_s
        )
    except NoStoreYetError as exc:
        raise ConfigError(f"no store at {exc} yet: run `wirewatch run` first (or pass --store)") from exc


def open_store(
    *,
    es_url: str | None,
    store: str | None,
    es_prefix: str | None,
    env: Mapping[str, str] | None = None,
    integrity_budget_s: float | None = INTEGRITY_BUDGET_S,
) -> Store:
    """The store for these flags; raises NoStoreYetError for a missing embedded store file.

    `integrity_budget_s`: how long to check the embedded store's file first (None: not at all)."""
    env = os.environ if env is None else env
    # The client library loads only when Elasticsearch is asked for.
    from connectors.es_client import settings_from_env

    settings = settings_from_env(es_url, env)
    if settings is not None:
        from connectors.es_client import make_client
        from connectors.es_indices import IndexNames
        from connectors.es_store import ElasticsearchStore

        names = IndexNames(es_index_prefix(es_prefix, env))
        return ElasticsearchStore(make_client(settings), names, location=settings.url)
    path = resolve_store_path(store, env)
    if not os.path.exists(path):
        raise NoStoreYetError(path)
    return LocalStore(path, integrity_budget_s=integrity_budget_s)
