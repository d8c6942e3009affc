"""What `wirewatch search` asks a store: one query language, the same answers from both stores.

The language is Lucene's, as Elasticsearch's `query_string` reads it (pipelines/alert_query.py
holds its semantics): words, "phrases", AND/OR/NOT and parentheses, prefix*, and field:value on
the stored fields. For a search, bare words must all be found (default operator AND), each in the
title or the body (`cross_fields`); the friendlier field names below stand for stored ones, and
`topic:` includes the sub-topics.

Filters (`--actor`, `--since`, …) are written into the same query as required clauses, so one
string says everything: Elasticsearch runs it as `query_string`, the embedded store narrows its
candidates with its full-text index and then decides each with `CompiledQuery.matches`, the
evaluator held to Elasticsearch's answers by tests/integration/test_alert_query_es.py. Hence the
same articles from both stores; only the ranking of the matches differs (BM25 either way, but
each engine counts its own statistics).
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from luqum import tree

from pipelines.alert_query import CompiledQuery, Mode, QueryError, compile_query, index_fields, parse_query
from pipelines.search_sets import Spec
from schemas.store import TITLE_BOOST

SEARCH_MODE = Mode(
    operator="AND", fields=("title", "body"), cross_fields=True, fields_indexed=("title", "body")
)
ES_FIELDS = [f"title^{TITLE_BOOST}", "body"]

# Short names for the stored fields an analyst filters on.
FIELD_ALIASES = {
    "actor": "actor_ids",  # or actor_names, for a value that is no QID
    "topic": "topic_ids",
    "country": "countries",
    "outlet": "source.name",
    "feed": "source.feed_url",
    "lang": "language",
}
QID = re.compile(r"Q[1-9][0-9]*")  # a Wikidata id, as actor ids are

Sort = Literal["relevance", "date"]


@dataclass(frozen=True)
class Filters:
    """The command's filter flags, every value already checked (actor QIDs, topic ids, …)."""

    actors: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    outlets: tuple[str, ...] = ()
    feeds: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    all_copies: bool = False


@dataclass(frozen=True)
class SearchRequest:
    """One search, ready for either store: `query` is the whole Lucene string."""

    query: str
    compiled: CompiledQuery = field(repr=False)
    fts: str | None  # the embedded store's full-text candidates (a superset), None: every article
    sort: Sort = "relevance"
    limit: int = 10
    offset: int = 0
    now: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))  # for `now-7d`
    filters: Filters = Filters()  # already in `query`; a store may also use them to read less

    @property
    def spec(self) -> Spec | None:
        return self.compiled.spec

    def matches(self, doc: Mapping[str, Any]) -> bool:
        return self.compiled.matches(doc, now=self.now)

    def es_query(self) -> dict[str, Any]:
        return {
            "query_string": {
                "query": self.query,
                "fields": ES_FIELDS,
                "default_operator": "AND",
                "type": "cross_fields",
            }
        }


def search_request(
    text: str,
    filters: Filters = Filters(),
    *,
    sort: Sort = "relevance",
    limit: int = 10,
    offset: int = 0,
    everything: bool = False,
) -> SearchRequest:
    """The request for the user's query `text` (may be empty when a filter is given, or with
    `everything`: then it asks for every article) and filters; raises QueryError (one line) for a
    query that cannot be answered alike by both stores."""
    parts = []
    if text.strip():
        root = parse_query(text)
        _resolve_fields(root)
        parts.append(f"({str(root).strip()})")
    parts += _filter_clauses(filters)
    if not parts and not everything:
        raise QueryError("give a query, a filter (e.g. --actor Q7747), or both")
    if not parts:
        parts.append("_exists_:id")  # every article has an id
    if not filters.all_copies:
        parts.append("NOT _exists_:duplicate_of")  # copies show under their canonical article
    query = " AND ".join(parts)
    compiled = compile_query(query, SEARCH_MODE)
    return SearchRequest(query, compiled, compiled.fts, sort, limit, offset, filters=filters)


# --- the user's query ------------------------------------------------------------------------------


def _leaves(node: tree.Item) -> list[tree.Item]:
    if isinstance(node, tree.Word | tree.Phrase):
        return [node]
    return [leaf for child in node.children for leaf in _leaves(child)]


def _value(leaf: tree.Item) -> str:
    return str(leaf.value)[1:-1] if isinstance(leaf, tree.Phrase) else str(leaf.value)


def _resolve_fields(node: tree.Item) -> None:
    """Rename the short field names in place, and check every field name against the stored ones."""
    if isinstance(node, tree.SearchField):
        name = node.name
        if name == "_exists_":
            return
        if name == "actor":
            qids = [QID.fullmatch(_value(leaf)) is not None for leaf in _leaves(node.expr)]
            if any(qids) and not all(qids):
                raise QueryError(f"{str(node).strip()!r}: give actor ids (Q7747) or names, not both")
            node.name = "actor_ids" if all(qids) else "actor_names"
        elif name == "topic":
            node.name = "topic_ids"
            for leaf in _leaves(node.expr):  # a topic and its sub-topics: topic:military → military.*
                value = _value(leaf)
                leaf.value = f"({_escape(value)} OR {_escape(value)}.*)"
        elif name == "country":
            node.name = "countries"
            for leaf in _leaves(node.expr):
                leaf.value = leaf.value.upper()
        elif name in FIELD_ALIASES:
            node.name = FIELD_ALIASES[name]
        elif name not in index_fields().fields:
            raise QueryError(_unknown_field(name))
        return
    for child in node.children:
        _resolve_fields(child)


def _unknown_field(name: str) -> str:
    known = sorted({*FIELD_ALIASES, "title", "body"})
    close = difflib.get_close_matches(name, sorted({*known, *index_fields().fields}), n=3)
    hint = f"did you mean {' or '.join(close)}? " if close else ""
    return f"unknown field {name!r} ({hint}search fields: {', '.join(known)}, or any stored field)"


_SPECIAL = re.compile(r'([+\-!(){}\[\]^"~*?:\\/&|\s])')


def _escape(value: str) -> str:
    return _SPECIAL.sub(r"\\\1", value)


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


# --- the filters -----------------------------------------------------------------------------------


def _any_of(name: str, values: tuple[str, ...], render: Any = _quoted) -> str:
    return f"{name}:({' OR '.join(render(value) for value in values)})"


def _filter_clauses(filters: Filters) -> list[str]:
    clauses = []
    if filters.actors:
        clauses.append(_any_of("actor_ids", filters.actors))
    if filters.topics:
        clauses.append(_any_of("topic_ids", filters.topics, lambda t: f"{_quoted(t)} OR {_escape(t)}.*"))
    if filters.countries:
        clauses.append(_any_of("countries", tuple(code.upper() for code in filters.countries)))
    if filters.outlets:
        clauses.append(_any_of("source.name", filters.outlets))
    if filters.feeds:
        clauses.append(_any_of("source.feed_url", filters.feeds))
    if filters.languages:
        clauses.append(_any_of("language", filters.languages))
    if filters.since or filters.until:
        low = _date(filters.since) if filters.since else "*"
        high = _date(filters.until) if filters.until else "*"
        clauses.append(f"published_at:[{low} TO {high}}}")  # until is exclusive: --until 2026-01-02
    return clauses


def _date(value: dt.datetime) -> str:
    return _escape(value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z")
