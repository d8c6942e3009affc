"""`wirewatch feeds check` and the feed health shown by `feeds list`: fetch and parse, ingest nothing."""

from __future__ import annotations

import argparse
import datetime as dt
from typing import Any

import requests

from connectors.feed_parse import parse_feed
from connectors.http_fetch import FetchPolicy, fetch_feed
from pipelines.console import print_json
from pipelines.stores import NoStoreYetError, open_store
from schemas.errors import ConfigError
from schemas.feeds import FeedCatalog, FeedSpec, FeedState


def feed_states(args: argparse.Namespace, catalog: FeedCatalog) -> dict[str, FeedState]:
    """The saved state of the catalog's feeds; none yet when nothing has run."""
    try:
        store = open_store(es_url=args.es_url, store=args.store, es_prefix=args.es_index_prefix)
    except NoStoreYetError:
        return {}
    try:
        return store.feed_states([feed.url for feed in catalog.feeds])
    finally:
        store.close()


def reenable(args: argparse.Namespace, catalog: FeedCatalog, url: str) -> None:
    """Clear an auto-disabled feed's failure streak so the next poll tries it again."""
    if url not in {feed.url for feed in catalog.feeds}:
        raise ConfigError(f"not in the catalog: {url}")
    try:
        store = open_store(es_url=args.es_url, store=args.store, es_prefix=args.es_index_prefix)
    except NoStoreYetError as exc:
        raise ConfigError(f"no store at {exc} yet: nothing to re-enable") from exc
    try:
        state = store.feed_states([url]).get(url)
        if state is None:
            raise ConfigError(f"{url} has never been polled: nothing to re-enable")
        store.put_feed_state(
            state.model_copy(update={"disabled": False, "consecutive_failures": 0, "next_poll_at": None})
        )
    finally:
        store.close()


def check_one(feed: FeedSpec, session: requests.Session, policy: FetchPolicy) -> dict[str, Any]:
    """Fetch and parse one feed unconditionally; the report `feeds check` prints."""
    now = dt.datetime.now(dt.UTC)
    result = fetch_feed(
        feed.url, policy=policy.model_copy(update={"allow_private": feed.allow_private}), session=session
    )
    report: dict[str, Any] = {
        "url": feed.url,
        "name": feed.name,
        "status": result.status,
        "outcome": result.outcome,
        "elapsed_s": round(result.elapsed_s, 3),
        "items": 0,
        "entry_errors": [],
        "error": result.error,
        "moved_to": result.permanent_redirect,
    }
    if result.outcome == "ok":
        parsed = parse_feed(result.body, result.headers, feed, fetched_at=now, fetched_from=result.final_url)
        report.update(
            items=len(parsed.records), entry_errors=list(parsed.entry_errors), error=parsed.feed_error
        )
    return report


def check_feeds(args: argparse.Namespace, catalog: FeedCatalog) -> int:
    """Exit 0 when every checked feed answered with a usable feed, 1 otherwise."""
    feeds = (
        [feed for feed in catalog.feeds if feed.url in args.urls]
        if args.urls
        else [feed for feed in catalog.feeds if feed.enabled]
    )
    unknown = set(args.urls) - {feed.url for feed in catalog.feeds}
    if unknown:
        raise ConfigError(f"not in the catalog: {', '.join(sorted(unknown))}")
    policy = FetchPolicy()
    with requests.Session() as session:
        reports = []
        for feed in feeds:
            report = check_one(feed, session, policy)
            reports.append(report)
            if not args.json:
                _print_report(report)
    if args.json:
        print_json(reports)
    failed = [r for r in reports if r["error"]]
    if not args.json:
        print(f"\n{len(reports) - len(failed)} of {len(reports)} feeds OK")
    return 1 if failed else 0


def _print_report(report: dict[str, Any]) -> None:
    verdict = "OK  " if not report["error"] else "FAIL"
    status = report["status"] if report["status"] is not None else "-"
    print(f"{verdict} {report['name']}  [{status}, {report['items']} items, {report['elapsed_s']:.1f}s]")
    print(f"     {report['url']}")
    if report["moved_to"]:
        print(f"     moved permanently to {report['moved_to']}: update the catalog")
    if report["error"]:
        print(f"     {report['error']}")
    for line in report["entry_errors"][:5]:
        print(f"     skipped entry: {line}")
