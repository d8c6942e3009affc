"""`wirewatch feeds list|add|remove|import|export|check`: manage the feed catalog."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from pydantic import ValidationError

from connectors.feed_catalog import (
    edit_catalog,
    export_opml,
    import_opml,
    load_catalog,
    validation_line,
    with_feeds,
    without_feed,
)
from pipelines.console import print_json
from pipelines.store_location import resolve_catalog_path
from schemas.errors import ConfigError
from schemas.feeds import FeedCatalog, FeedSpec


def add_parser(commands: Any, common: argparse.ArgumentParser) -> None:
    feeds = commands.add_parser(
        "feeds",
        help="Manage the feed catalog (list, add, remove, enable, import, export, check).",
        description="Manage the RSS/Atom feed catalog: yours, in the user config folder "
        "(~/.config/wirewatch/feeds.yaml, made from the bundled one on first use), $WIREWATCH_FEEDS "
        "or --feeds FILE.",
    )
    catalog = argparse.ArgumentParser(add_help=False)
    catalog.add_argument(
        "--feeds", help="catalog file (default: $WIREWATCH_FEEDS, else ~/.config/wirewatch/feeds.yaml)"
    )
    parents = [common, catalog]
    actions = feeds.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser("list", help="the feeds, with their polling health", parents=parents)
    add = actions.add_parser("add", help="add a feed", parents=parents)
    add.add_argument("url")
    add.add_argument("--name", required=True, help="a readable name, e.g. 'BBC News - World'")
    add.add_argument("--outlet", help="publisher domain (default: the URL's host)")
    add.add_argument("--country", help="ISO 3166 alpha-2, e.g. GB")
    add.add_argument("--language", help="ISO 639-1, e.g. en")
    add.add_argument("--tags", default="", help="comma-separated")
    add.add_argument("--reliability", default="C", choices=list("ABCDEF"))
    add.add_argument("--state-affiliated", action="store_true")
    add.add_argument("--interval", type=int, help="poll interval in seconds (60 … 604800)")
    add.add_argument("--allow-private", action="store_true", help="allow a private or loopback address")
    remove = actions.add_parser("remove", help="remove a feed", parents=parents)
    remove.add_argument("url")
    enable = actions.add_parser(
        "enable", help="re-enable a feed disabled after repeated failures", parents=parents
    )
    enable.add_argument("url")
    opml_in = actions.add_parser("import", help="add the feeds of an OPML file", parents=parents)
    opml_in.add_argument("file")
    opml_in.add_argument(
        "--allow-private",
        action="store_true",
        help="mark the imported feeds as allowed on private or loopback addresses",
    )
    opml_out = actions.add_parser("export", help="the catalog as OPML", parents=parents)
    opml_out.add_argument("-o", "--output", help="write to this file instead of stdout")
    check = actions.add_parser(
        "check", help="fetch feeds once and report, without ingesting", parents=parents
    )
    check.add_argument("urls", nargs="*", help="only these feeds (default: every enabled feed)")


def catalog_path(args: argparse.Namespace) -> str:
    return resolve_catalog_path(getattr(args, "feeds", None), os.environ)


def run_feeds(args: argparse.Namespace) -> int:
    path = catalog_path(args)
    if args.action == "import":
        return _import(args, path)
    # `add` may start a new catalog; every other action needs one.
    catalog = FeedCatalog() if args.action == "add" and not os.path.exists(path) else load_catalog(path)
    if args.action == "list":
        return _list(args, catalog)
    if args.action == "add":
        return _add(args, path, catalog)
    if args.action == "enable":
        from pipelines.feed_check import reenable

        reenable(args, catalog, args.url)
        print(f"re-enabled {args.url}: it is polled on the next run or tick")
        return 0
    if args.action == "remove":
        without_feed(catalog, args.url)  # one line when the catalog has no such feed
        edit_catalog(path, remove=args.url)
        print(f"removed {args.url} from {path}")
        return 0
    if args.action == "export":
        data = export_opml(catalog)
        if args.output:
            with open(args.output, "wb") as handle:
                handle.write(data)
            print(f"wrote {len(catalog.feeds)} feeds to {args.output}", file=sys.stderr)
        else:
            sys.stdout.write(data.decode("utf-8"))
        return 0
    from pipelines.feed_check import check_feeds  # fetching pulls in the HTTP stack only when asked

    return check_feeds(args, catalog)


def _list(args: argparse.Namespace, catalog: FeedCatalog) -> int:
    from pipelines.feed_check import feed_states  # state lives in the store the other commands use

    states = feed_states(args, catalog)
    if args.json:
        print_json(
            [
                {
                    **feed.model_dump(mode="json"),
                    "state": states[feed.url].model_dump(mode="json") if feed.url in states else None,
                }
                for feed in catalog.feeds
            ]
        )
        return 0
    for feed in catalog.feeds:
        state = states.get(feed.url)
        flags = "" if feed.enabled else " [disabled in catalog]"
        if state and state.disabled:
            flags += " [auto-disabled]"
        print(f"{feed.name}{flags}")
        print(f"    {feed.url}")
        meta = (
            f"{feed.domain}  {feed.country or '--'}  {feed.language or '--'}  reliability {feed.reliability}"
        )
        print(f"    {meta}{'  state-affiliated' if feed.state_affiliated else ''}")
        if state is not None:
            polled = f"{state.last_polled_at:%Y-%m-%d %H:%M}" if state.last_polled_at else "never"
            print(
                f"    last poll {polled}, status {state.last_status or '-'}, "
                f"{state.last_new_items} new, {state.consecutive_failures} failures in a row"
            )
            if state.last_error:
                print(f"    last error: {state.last_error}")
    print(f"\n{len(catalog.feeds)} feeds in {catalog_path(args)}")
    return 0


def _add(args: argparse.Namespace, path: str, catalog: FeedCatalog) -> int:
    fields: dict[str, Any] = {
        "url": args.url,
        "name": args.name,
        "outlet": args.outlet,
        "country": args.country.upper() if args.country else None,
        "language": args.language.lower() if args.language else None,
        "tags": tuple(t.strip() for t in args.tags.split(",") if t.strip()),
        "reliability": args.reliability,
        "state_affiliated": args.state_affiliated,
        "poll_interval_s": args.interval,
        "allow_private": args.allow_private,
    }
    try:
        feed = FeedSpec.model_validate({k: v for k, v in fields.items() if v is not None})
    except ValidationError as exc:
        raise ConfigError(validation_line(exc, "feeds add")) from exc
    _, added = with_feeds(catalog, [feed])
    if not added:
        raise ConfigError(f"{args.url} is already in {path}")
    edit_catalog(path, add=[feed])
    print(f"added {args.url} to {path}")
    return 0


def _import(args: argparse.Namespace, path: str) -> int:
    try:
        with open(args.file, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise ConfigError(f"feeds import: cannot read {args.file}: {exc.strerror}") from exc
    feeds, skipped = import_opml(data, allow_private=args.allow_private)
    catalog = load_catalog(path) if os.path.exists(path) else FeedCatalog()
    updated, added = with_feeds(catalog, feeds)
    edit_catalog(path, add=updated.feeds[len(catalog.feeds) :])  # each new URL once
    if args.json:
        print_json({"added": added, "already_present": len(feeds) - len(added), "skipped": skipped})
    else:
        print(f"added {len(added)} feeds to {path} ({len(feeds) - len(added)} already there)")
        for line in skipped:
            print(f"  skipped {line}")
    return 0
