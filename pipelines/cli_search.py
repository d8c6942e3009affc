"""`wirewatch search` and `export`: the query language and the filters, on either store
(pipelines/search_query.py)."""

from __future__ import annotations

import argparse
import datetime as dt
import difflib
import logging
import re
import sys
import textwrap
from typing import Any

from connectors.progress import ProgressLog
from pipelines.alert_query import QueryError
from pipelines.cli_tag import find_actor
from pipelines.console import parse_moment, print_json, printable_line, with_highlights
from pipelines.export import CSV_COLUMNS, open_output, write_export
from pipelines.search_query import FIELD_ALIASES, QID, Filters, SearchRequest, search_request
from pipelines.stores import open_existing_store
from schemas.actors import load_registry
from schemas.errors import ConfigError
from schemas.store import SearchHit
from schemas.topics import load_taxonomy

_log = logging.getLogger("wirewatch")
_COUNTRY = re.compile(r"[A-Za-z]{3}")

QUERY_HELP = (
    'words (all required), "a phrase", AND OR NOT ( ), prefix*, field:value on the fields '
    f"{', '.join(sorted(FIELD_ALIASES))}, title, body or any stored field"
)


def add_parsers(commands: Any, common: argparse.ArgumentParser) -> None:
    search = commands.add_parser(
        "search",
        help="Search the stored articles: a query, filters, or both.",
        description="Search the stored articles, best matches first. Copies of a story are shown "
        "under their canonical article (+N outlets) unless --all-copies.",
        parents=[common],
    )
    _add_query_and_filters(search)
    search.add_argument(
        "--sort", choices=("relevance", "date"), default="relevance", help="order (default relevance)"
    )
    search.add_argument("--limit", type=int, default=10, help="how many results (default 10)")
    search.add_argument("--offset", type=int, default=0, help="skip this many results first (paging)")
    export = commands.add_parser(
        "export",
        help="Write the stored articles a search finds as JSON Lines or CSV.",
        description="Write every stored article the query and filters find (all of them without "
        "either), streamed in id order: JSON Lines (the stored documents) or CSV (one row "
        f"per article: {', '.join(CSV_COLUMNS)}).",
        parents=[common],
    )
    _add_query_and_filters(export)
    export.add_argument("--format", choices=("jsonl", "csv"), default="jsonl", help="default jsonl")
    export.add_argument("-o", "--output", help="file to write (default: standard output)")


def _add_query_and_filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("query", nargs="?", default="", help=QUERY_HELP)
    parser.add_argument(
        "--actor",
        action="append",
        default=[],
        help="an actor's QID or registry name (repeatable: any of them)",
    )
    parser.add_argument(
        "--topic", action="append", default=[], help="a topic id, sub-topics included (repeatable)"
    )
    parser.add_argument(
        "--country", action="append", default=[], help="ISO 3166-1 alpha-3 code, e.g. UKR (repeatable)"
    )
    parser.add_argument(
        "--outlet", action="append", default=[], help="outlet (source) name as stored (repeatable)"
    )
    parser.add_argument("--feed", action="append", default=[], help="feed URL (repeatable)")
    parser.add_argument("--lang", action="append", default=[], help="language code, e.g. en (repeatable)")
    parser.add_argument(
        "--since", help="published at or after: 2026-01-31, 2026-01-31T08:00Z, or 7d, 12h ago"
    )
    parser.add_argument("--until", help="published before (same forms as --since)")
    parser.add_argument(
        "--all-copies", action="store_true", help="copies of a story as articles of their own"
    )


def _request(args: argparse.Namespace, **paging: Any) -> SearchRequest:
    now = dt.datetime.now(dt.UTC)
    filters = Filters(
        actors=tuple(resolve_actor(value) for value in args.actor),
        topics=tuple(resolve_topic(value) for value in args.topic),
        countries=tuple(resolve_country(value) for value in args.country),
        outlets=tuple(args.outlet),
        feeds=tuple(args.feed),
        languages=tuple(value.lower() for value in args.lang),
        since=parse_moment("--since", args.since, now) if args.since else None,
        until=parse_moment("--until", args.until, now) if args.until else None,
        all_copies=args.all_copies,
    )
    try:
        return search_request(args.query, filters, **paging)
    except QueryError as exc:
        raise ConfigError(f"{args.command}: {exc}") from None


def run_search(args: argparse.Namespace) -> int:
    if args.limit < 1:
        raise ConfigError(f"--limit must be at least 1, got {args.limit}")
    if args.offset < 0:
        raise ConfigError(f"--offset cannot be negative, got {args.offset}")
    request = _request(args, sort=args.sort, limit=args.limit, offset=args.offset)
    store = open_existing_store(es_url=args.es_url, store=args.store, es_prefix=args.es_index_prefix)
    try:
        hits = store.search(request)
    finally:
        store.close()
    if args.json:
        print_json([hit.model_dump(mode="json") for hit in hits])
        return 0
    if not hits:
        print(
            "No articles match." if args.offset == 0 else f"No articles match past the first {args.offset}."
        )
        return 0
    for rank, hit in enumerate(hits, args.offset + 1):
        print_hit(rank, hit)
    return 0


def run_export(args: argparse.Namespace) -> int:
    request = _request(args, everything=True)
    store = open_existing_store(es_url=args.es_url, store=args.store, es_prefix=args.es_index_prefix)
    try:
        with open_output(args.output) as out:
            written = write_export(
                store.export(request), out, args.format, ProgressLog(_log, "articles", done="exported")
            )
    finally:
        store.close()
    print(f"exported {written:,} articles{f' to {args.output}' if args.output else ''}", file=sys.stderr)
    return 0


def print_hit(rank: int, hit: SearchHit) -> None:
    date = hit.published_at.date().isoformat() if hit.published_at else "----------"
    more = f"  +{hit.sources - 1} outlet{'s' if hit.sources > 2 else ''}" if hit.sources > 1 else ""
    copy = f"  copy of {hit.duplicate_of[:12]}" if hit.duplicate_of else ""
    print(f"{rank:>2}. {date}  {hit.outlet or '-'}{more}{copy}  {hit.id}")
    print(f"    {printable_line(hit.title)}")
    if hit.url:
        print(f"    {hit.url}")
    tags = [f"actors: {', '.join(hit.actors)}"] if hit.actors else []
    tags += [f"topics: {', '.join(hit.topics)}"] if hit.topics else []
    if tags:
        print(f"    {' · '.join(tags)}")
    for line in textwrap.wrap(with_highlights(printable_line(hit.snippet)), width=96):
        print(f"    {line}")


def resolve_actor(value: str) -> str:
    """An actor's QID, from a QID or a name the registry knows (`wirewatch actors show` finds it);
    the registry is read only for a name."""
    value = value.strip()
    if QID.fullmatch(value):
        return value  # an id from an older registry still finds the articles tagged with it
    try:
        return find_actor(load_registry(), value).id
    except ConfigError as exc:
        raise ConfigError(f"--actor: {exc}") from None


def resolve_topic(value: str) -> str:
    ids = [topic.id for topic in load_taxonomy().topics]
    if value in ids:
        return value
    close = difflib.get_close_matches(value, ids, n=3)
    hint = f" (did you mean {' or '.join(close)}?)" if close else ""
    raise ConfigError(f"--topic {value!r}: no such topic{hint}; the topics are in seeds/topics.yaml")


def resolve_country(value: str) -> str:
    if not _COUNTRY.fullmatch(value.strip()):
        raise ConfigError(f"--country {value!r}: give an ISO 3166-1 alpha-3 code, e.g. UKR")
    return value.strip().upper()
