"""The embedded default store: one SQLite file with FTS5 search, safe for several writer processes."""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import logging
import os
import sqlite3
import time
from collections.abc import Collection, Iterable, Iterator, Sequence
from typing import Any, NamedTuple

import numpy as np
import orjson

from connectors.article_columns import ArticleColumns, top
from connectors.local_match import TERM_CODES, index_marks
from connectors.local_match import Matcher as SetMatcher
from connectors.localstore_health import StoreDamagedError, check_integrity, is_damage, reports_damage
from connectors.retag import RetagRequest, RetagRun, merged
from connectors.store import OwnArticles, Search, SearchFilters, StoreError
from schemas.alerts import Alert, merge_alert
from schemas.dedup import (
    Lineage,
    LineageUpdate,
    StoredDoc,
    crowded_keys,
    document_keys,
    is_id_key,
    key_hash,
    merge_sightings,
    stored_ladder,
    stored_signature,
)
from schemas.feeds import FeedState
from schemas.near_dup import is_lead_key, lead_keys
from schemas.records import Article, DeadLetter, Sighting, document_json, to_json
from schemas.store import (
    FACET_DAYS,
    FACET_SIZE,
    HIGHLIGHT_END,
    HIGHLIGHT_START,
    TITLE_BOOST,
    Counts,
    QueryFacets,
    RetagSummary,
    SearchHit,
    StoreFacets,
    StoreStats,
    WriteCounts,
    hit_fields,
    lead,
)

SCHEMA_VERSION = 8
_log = logging.getLogger(__name__)
# FTS5 merges a level's segments once this many have gathered (its default: 4). At 8 a write costs
# a quarter to a third less CPU, at 10,000 stored articles as at 200,000, and searches take as long
# (`make bench-fts`). Set in every store that has no setting of its own.
FTS_AUTOMERGE = 8
# Writers from several DirectRunner workers queue on SQLite's lock instead of failing at once.
BUSY_TIMEOUT_MS = 60_000

_FTS_UPDATE_TRIGGER = """
CREATE TRIGGER IF NOT EXISTS articles_fts_update AFTER UPDATE OF title, body ON articles BEGIN
    INSERT INTO articles_fts(articles_fts, rowid, title, body)
    VALUES ('delete', old.rowid, old.title, old.body);
    INSERT INTO articles_fts(rowid, title, body) VALUES (new.rowid, new.title, new.body);
END;
"""


# Words as written, case and diacritics folded: no stemming, which Elasticsearch's standard
# analyzer does not do either, and which would make `generat*` miss "generating" (stem "gener").
# Schemas 1-5 stemmed (porter): _migrate rebuilds their index once.
_FTS_TABLE = """
CREATE VIRTUAL TABLE IF NOT EXISTS articles_fts USING fts5(
    title, body, content='articles', content_rowid='rowid',
    tokenize='unicode61 remove_diacritics 2'
);
"""

# What a search's facets count and its filters select, one row per article and value (schema 7):
# counting these for the matching rowids is a join on small rows, where the same values from
# `doc` cost a JSON parse of every matching article. `field` is a code of TERM_CODES; `canonical`
# says the article is no copy. Filled by LocalStore._index_terms on the first search after new
# articles (and anew for a retagged article's doc).
_TERMS = """
CREATE TABLE IF NOT EXISTS article_terms (
    article INTEGER NOT NULL,  -- the article's rowid in `articles`
    field INTEGER NOT NULL,
    value TEXT NOT NULL,
    canonical INTEGER NOT NULL,
    PRIMARY KEY (article, field, value)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS article_terms_value ON article_terms(field, value, canonical);
-- Each value's articles, all and canonical: an unfiltered query's facets, read without counting.
CREATE TABLE IF NOT EXISTS article_term_counts (
    field INTEGER NOT NULL,
    value TEXT NOT NULL,
    articles INTEGER NOT NULL,
    canonical INTEGER NOT NULL,
    PRIMARY KEY (field, value)
) WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS article_terms_insert AFTER INSERT ON article_terms BEGIN
    INSERT INTO article_term_counts(field, value, articles, canonical)
    VALUES (new.field, new.value, 1, new.canonical)
    ON CONFLICT (field, value) DO UPDATE SET articles = articles + 1, canonical = canonical + new.canonical;
END;
CREATE TRIGGER IF NOT EXISTS article_terms_delete AFTER DELETE ON article_terms BEGIN
    UPDATE article_term_counts SET articles = articles - 1, canonical = canonical - old.canonical
    WHERE field = old.field AND value = old.value;
END;
CREATE TRIGGER IF NOT EXISTS articles_terms_delete AFTER DELETE ON articles BEGIN
    DELETE FROM article_terms WHERE article = old.rowid;
END;
"""

_SCHEMA = (
    """
CREATE TABLE IF NOT EXISTS articles (
    rowid INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    published_at TEXT,
    ingested_at TEXT NOT NULL,
    source_kind TEXT NOT NULL,
    source_name TEXT NOT NULL,
    language TEXT,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS articles_published ON articles(published_at);
-- An article's event time (published, else ingested): what alert history is read by.
CREATE INDEX IF NOT EXISTS articles_event ON articles(coalesce(published_at, ingested_at));
{fts_table}
-- No insert trigger: LocalStore.write_prepared indexes a batch's new rows in one statement.
CREATE TRIGGER IF NOT EXISTS articles_fts_delete AFTER DELETE ON articles BEGIN
    INSERT INTO articles_fts(articles_fts, rowid, title, body)
    VALUES ('delete', old.rowid, old.title, old.body);
END;
{fts_update}
CREATE TABLE IF NOT EXISTS dead_letters (
    id TEXT PRIMARY KEY,
    stage TEXT NOT NULL,
    error_type TEXT NOT NULL,
    error TEXT NOT NULL,
    source TEXT,
    occurred_at TEXT NOT NULL,
    run_id TEXT,
    record_id TEXT,
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS dead_letters_run ON dead_letters(run_id);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS feed_state (feed_url TEXT PRIMARY KEY, doc TEXT NOT NULL);
-- Deduplication state, kept small (see posting()): one integer per key of an article, the key's
-- hash and the article's rowid packed in one integer primary key, so finding a key's articles is
-- one range scan. The id key is not stored: articles.id answers for it.
CREATE TABLE IF NOT EXISTS dedup_index (posting INTEGER PRIMARY KEY);
-- What a dedup lookup reads of each article it finds: one small row, where the same fields of
-- `doc` cost a read of its overflow pages and a parse of ~7 KB of JSON (schema 5).
CREATE TABLE IF NOT EXISTS dedup_docs (
    rowid INTEGER PRIMARY KEY,  -- the article's rowid in `articles`
    id TEXT NOT NULL,
    duplicate_of TEXT,
    canonical_url TEXT,
    guid TEXT,
    content_hash TEXT,
    signature TEXT,  -- near_dup_signature (base64): canonical articles with near keys only
    ladder TEXT  -- near_dup_ladder (base64), likewise (schema 8)
);
-- Alerts: one row per alert id (rule + story, window or bucket), updated in place.
CREATE TABLE IF NOT EXISTS alerts (
    id TEXT PRIMARY KEY,
    rule_id TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    doc TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS alerts_updated ON alerts(updated_at);
{terms}""".replace("{fts_update}", _FTS_UPDATE_TRIGGER)
    .replace("{fts_table}", _FTS_TABLE)
    .replace("{terms}", _TERMS)
)

# A posting: 31 bits of key hash, then 25 bits of article rowid. 56 bits take 8 bytes in SQLite's
# varint where 63 would take 9; 25 bits allow 33 million articles. A 31-bit hash lets unrelated
# keys share a bucket (measured: 13 % of lookups at a million articles meet one stranger,
# benchmarks/results/dedup_bench.md): every exact key is checked against the article's own
# fields, and band-key candidates are compared by text anyway, so a collision costs time only.
_ROWID_BITS = 25
MAX_ROWID = (1 << _ROWID_BITS) - 1
_HASH_BITS = 31
# The keys live in the dedup index; the stored JSON leaves them out rather than keep them twice.
NOT_IN_DOC = {"dedup_keys", "near_dup_keys"}
# Title and body are columns of their own (the full-text index reads them), so the stored JSON
# holds them empty rather than keep a second copy (~45 % of a document); every read of a whole
# document puts them back in place (FULL_DOC). Stores written before keep both copies, which
# FULL_DOC reads the same way.
IN_COLUMNS = {"title": "", "body": ""}
FULL_DOC = "json_set(doc, '$.title', title, '$.body', body)"
FULL_DOC_OF_A = "json_set(a.doc, '$.title', a.title, '$.body', a.body)"


def _bucket(key: str) -> int:
    return key_hash(key) >> (64 - _HASH_BITS)


def posting(key: str, rowid: int) -> int:
    """The dedup_index entry saying that the article at `rowid` has `key`."""
    return (_bucket(key) << _ROWID_BITS) | rowid


class PreparedArticles(NamedTuple):
    """A batch of articles as `LocalStore.write_prepared` takes it: JSON arrays with one entry per
    distinct article (an article read twice is written once), in the same order."""

    given: int  # articles in the batch as given, repeats included
    rows: bytes  # [id, published_at, ingested_at, source kind, source name, language, title, body, doc]
    dedup: bytes  # [duplicate_of, canonical_url, guid, content_hash, near_dup_signature, near_dup_ladder]
    buckets: bytes  # [the dedup-index bucket of each key but the id key, ...]


def prepare_articles(articles: Iterable[Article]) -> PreparedArticles:
    """The rows of `articles` for `LocalStore.write_prepared`: every Python step of a write."""
    batch = list(articles)
    distinct = list({a.id: a for a in batch}.values())
    rows = [
        (
            a.id,
            _iso(a.published_at),
            _iso(a.ingested_at),
            a.source.kind,
            a.source.name,
            a.language,
            a.title,
            a.body,
            document_json(a, NOT_IN_DOC, IN_COLUMNS).decode(),
        )
        for a in distinct
    ]
    dedup = [
        (a.duplicate_of, a.canonical_url, a.guid, a.content_hash, a.near_dup_signature, a.near_dup_ladder)
        for a in distinct
    ]
    buckets = [[_bucket(k) for k in (*a.dedup_keys, *a.near_dup_keys) if not is_id_key(k)] for a in distinct]
    return PreparedArticles(len(batch), orjson.dumps(rows), orjson.dumps(dedup), orjson.dumps(buckets))


# A lookup's keys in one statement for their buckets and one for their id prefixes, not one per key
# (3,800 for a chunk of 200 articles): each statement takes its buckets or prefixes as one JSON
# array, so SQLite's cap on bound parameters does not apply. CROSS JOIN keeps the array the outer
# loop, so each element is one range search, of dedup_index's rowid (a bucket's postings) or of
# the articles' id index; each row says which element found which article.
_BUCKET_HITS = f"""
SELECT b.value, posting & {MAX_ROWID} FROM json_each(?) AS b CROSS JOIN dedup_index
WHERE posting BETWEEN b.value << {_ROWID_BITS} AND (b.value << {_ROWID_BITS}) | {MAX_ROWID}
"""
_ID_PREFIX_HITS = """
SELECT b.value, a.rowid FROM json_each(?) AS b CROSS JOIN articles AS a
WHERE a.id >= b.value AND a.id < b.value || 'g'
"""


# A dedup lookup's hits, as (rowid, id, duplicate_of, canonical_url, guid, content_hash, signature,
# ladder, title, body): from dedup_docs without the text, or from the article's own document.
_DEDUP_DOC_ROWS = """
SELECT rowid, id, duplicate_of, canonical_url, guid, content_hash, signature, ladder, '', ''
FROM dedup_docs WHERE rowid IN ({})
"""
_ARTICLE_DEDUP_FIELDS = """
rowid, id, json_extract(doc, '$.duplicate_of'), json_extract(doc, '$.canonical_url'),
json_extract(doc, '$.guid'), json_extract(doc, '$.content_hash'),
json_extract(doc, '$.near_dup_signature'), json_extract(doc, '$.near_dup_ladder')
"""
_ARTICLE_DEDUP_ROWS = f"SELECT {_ARTICLE_DEDUP_FIELDS}, title, body FROM articles WHERE rowid IN ({{}})"
# Schema 5: dedup_docs rows for the articles stored before it.
_DEDUP_DOCS_FROM_ARTICLES = f"INSERT OR IGNORE INTO dedup_docs SELECT {_ARTICLE_DEDUP_FIELDS} FROM articles"


# A search's candidates: the full-text index's matches, title matches counting 4x (as in
# Elasticsearch, pipelines/search_query.py), else every article; `{order}` by relevance or date.
_SEARCH_FTS = f"""
SELECT {FULL_DOC_OF_A}, snippet(articles_fts, -1, '{HIGHLIGHT_START}', '{HIGHLIGHT_END}', '…', 24),
       bm25(articles_fts, {TITLE_BOOST}, 1.0) AS score
FROM articles_fts JOIN articles AS a ON a.rowid = articles_fts.rowid
WHERE articles_fts MATCH ? AND {{narrowed}}
ORDER BY {{order}}
"""
_SEARCH_ALL = (
    f"SELECT {FULL_DOC_OF_A}, NULL, 0.0 AS score FROM articles AS a WHERE {{narrowed}} ORDER BY {{order}}"
)
# Undated articles last: SQLite sorts NULL lowest, so last when descending, and a plain
# `published_at DESC` reads the date index instead of sorting every candidate (100,000: 2.2 s -> 0.1 s).
_ORDER = {
    "relevance": "score, a.published_at DESC, a.id",
    "date": "a.published_at DESC, a.id",
}
_SEARCH_BATCH = 200  # candidates read and checked at a time
# A search page's parts: the bm25 score of every full-text match; the keys that order a few
# matches (a JSON array of rowids); then their documents and snippets.
_SCORES = f"SELECT rowid, bm25(articles_fts, {TITLE_BOOST}, 1.0) FROM articles_fts WHERE articles_fts MATCH ?"
_IN_JSON = "rowid IN (SELECT value FROM json_each(?))"
# Every match's rowid and score as two texts that numpy parses (17 digits: the same doubles).
_ALL_SCORES = f"""
WITH scored AS MATERIALIZED (  -- bm25() cannot sit inside an aggregate
    SELECT rowid, bm25(articles_fts, {TITLE_BOOST}, 1.0) AS score FROM articles_fts WHERE articles_fts MATCH ?
)
SELECT group_concat(rowid), group_concat(printf('%.17g', score)) FROM scored
"""
_ORDER_KEYS = f"SELECT rowid, published_at, id FROM articles WHERE {_IN_JSON}"
_DOCS_OF = f"SELECT rowid, {FULL_DOC} FROM articles WHERE {_IN_JSON}"
_SNIPPETS_OF = f"""
SELECT rowid, snippet(articles_fts, -1, '{HIGHLIGHT_START}', '{HIGHLIGHT_END}', '…', 24) FROM articles_fts
WHERE articles_fts MATCH ? AND {_IN_JSON}
"""
_MARKS_BATCH = 2_000  # articles given search marks per write transaction
_CANONICAL = "json_extract(doc, '$.duplicate_of') IS NULL"
# The values of a single-valued field of every article that has it, counted.
_VALUED = (
    "SELECT json_extract(doc, '{path}') AS value, count(*) FROM articles WHERE value IS NOT NULL GROUP BY 1"
)
# The values of a list field of the canonical articles, counted (a facet of `wirewatch stats`).
_LISTED = (
    "SELECT j.value, count(*) FROM articles AS a, json_each(a.doc, '{path}') AS j "
    "WHERE json_extract(a.doc, '$.duplicate_of') IS NULL GROUP BY 1"
)

_FACETS = tuple(TERM_CODES)
_OUTLET = TERM_CODES["outlets"]
# The article_terms rows of the articles `{where}` picks (`a`: articles), each value once.
_LIST_TERMS = (
    "SELECT a.rowid, {code}, j.value, {canonical} FROM articles AS a, json_each(a.doc, '$.{path}') AS j "
)
_INDEX_TERMS = " UNION ALL ".join(
    [
        *(
            _LIST_TERMS.format(code=TERM_CODES[name], path=path, canonical="{canonical}")
            + "WHERE j.type = 'text' AND {where}"
            for name, path in (
                ("actors", "actor_names"),
                ("actor_ids", "actor_ids"),
                ("topics", "topic_ids"),
                ("countries", "countries"),
            )
        ),
        *(
            f"SELECT a.rowid, {TERM_CODES[name]}, {column}, {{canonical}} FROM articles AS a "
            f"WHERE {column} IS NOT NULL AND {{where}}"
            for name, column in (
                ("outlets", "a.source_name"),
                ("languages", "a.language"),
                ("per_day", "substr(a.published_at, 1, 10)"),
                ("feeds", "a.doc ->> '$.source.feed_url'"),
            )
        ),
    ]
).replace("{canonical}", "(a.doc ->> '$.duplicate_of' IS NULL)")
_INSERT_TERMS = "INSERT OR IGNORE INTO article_terms(article, field, value, canonical) " + _INDEX_TERMS
_FACET_CACHE = 64  # search_facets answers kept per store connection, until the store changes


def _term_sets(filters: SearchFilters, *, dates: bool = True) -> tuple[list[str], list[Any]]:
    """SELECTs of the rowids that pass each of the filters (all of them must), exactly as the
    search query's filter clauses select them (the date range left out unless `dates`); [] for
    no filter."""
    sets: list[str] = []
    params: list[Any] = []
    for name, values in (
        ("actor_ids", filters.actors),
        ("countries", tuple(code.upper() for code in filters.countries)),
        ("outlets", filters.outlets),
        ("feeds", filters.feeds),
        ("languages", filters.languages),
    ):
        if values:
            sets.append(
                f"SELECT article AS m FROM article_terms WHERE field = {TERM_CODES[name]} "
                f"AND value IN ({_marks(values)})"
            )
            params += values
    if filters.topics:  # a topic and its sub-topics: `military`, `military.*`
        either = " OR ".join("value = ? OR (value >= ? AND value < ?)" for _ in filters.topics)
        sets.append(
            f"SELECT article AS m FROM article_terms WHERE field = {TERM_CODES['topics']} AND ({either})"
        )
        params += [value for topic in filters.topics for value in (topic, f"{topic}.", f"{topic}/")]
    if dates and (filters.since is not None or filters.until is not None):
        window, bounds = ["1"], []
        if filters.since is not None:
            window.append("published_at >= ?")
            bounds.append(_iso_millis(filters.since))
        if filters.until is not None:  # exclusive, as the query's `published_at:[since TO until}`
            window.append("published_at < ?")
            bounds.append(_iso_millis(filters.until))
        sets.append(f"SELECT rowid AS m FROM articles WHERE {' AND '.join(window)}")
        params += bounds
    return sets, params


def _iso_millis(value: dt.datetime) -> str:
    """`value` as the published_at column holds instants, cut to Elasticsearch's milliseconds."""
    value = value.astimezone(dt.UTC)
    return value.replace(microsecond=value.microsecond // 1000 * 1000).isoformat()


def _filters_only(request: Search) -> bool:
    """Whether `request` is its filters and nothing else: then _term_sets decide it exactly."""
    from pipelines.search_query import Filters, search_request  # the read side of one request

    filters = request.filters
    if not isinstance(filters, Filters):
        return False
    return request.query == search_request("", filters, everything=True).query


def _narrowing(filters: SearchFilters) -> tuple[str, list[Any]]:
    """SQL keeping at least the articles that pass a search's filters, so that a filter-only query
    reads (and decodes) those, not the whole store; the compiled query still decides each. Dates
    are widened by a day: the column's text compares like the instant only in one format."""
    sets, params = _term_sets(filters, dates=False)
    clauses = ["1", *(f"a.rowid IN ({chosen})" for chosen in sets)]
    if filters.since is not None:
        clauses.append("a.published_at >= ?")
        params.append((filters.since.astimezone(dt.UTC) - dt.timedelta(days=1)).isoformat())
    if filters.until is not None:
        clauses.append("a.published_at < ?")
        params.append((filters.until.astimezone(dt.UTC) + dt.timedelta(days=1)).isoformat())
    return " AND ".join(clauses), params


def _marks(values: Sequence[Any]) -> str:
    """One SQL parameter mark per value: `?, ?, ?`."""
    return ", ".join("?" * len(values))


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


def _nested(fields: Sequence[str], values: Sequence[Any]) -> dict[str, Any]:
    """{"source.name": v} as {"source": {"name": v}}, the shape of the document they came from."""
    doc: dict[str, Any] = {}
    for field, value in zip(fields, values, strict=False):
        *parents, name = field.split(".")
        node = doc
        for parent in parents:
            node = node.setdefault(parent, {})
        node[name] = value
    return doc


@reports_damage  # SQLite's "database disk image is malformed" from any method: one StoreDamagedError
class LocalStore:
    """A SQLite database holding articles (full JSON + FTS5 index) and dead letters.

    One row per article id: writing an article that is already there is a counted no-op, which makes
    re-runs and retried bundles idempotent.

    `integrity_budget_s`: check the file (PRAGMA quick_check) before anything else touches it,
    for at most that many seconds (math.inf: the whole file); StoreDamagedError when it is damaged.
    The CLI and the start of a run check; pipeline workers, opening it again and again, do not.
    """

    def __init__(self, path: str, *, integrity_budget_s: float | None = None) -> None:
        self.path = path
        folder = os.path.dirname(os.path.abspath(path))
        try:
            os.makedirs(folder, exist_ok=True)
            # Autocommit mode: transactions are explicit (BEGIN IMMEDIATE) so lock waits are predictable.
            self._db = sqlite3.connect(
                path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
            )
            self._db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            self._db.execute("PRAGMA synchronous = NORMAL")
            # 64 MiB of page cache instead of 2: writes touch the full-text index's and the dedup
            # index's pages all over the file (21,400 articles: write CPU -6 %).
            self._db.execute("PRAGMA cache_size = -65536")
            self._facet_cache: dict[tuple[Any, ...], QueryFacets] = {}
            self._columns = ArticleColumns(self._db)
            self._last_match: tuple[tuple[Any, ...], np.ndarray] | None = None
            if integrity_budget_s is not None:  # before the schema step writes into a damaged file
                check_integrity(self._db, path, integrity_budget_s)
            self._initialize()
        except StoreDamagedError:
            raise
        except (OSError, sqlite3.Error) as exc:
            if is_damage(exc):
                raise StoreDamagedError(path, str(exc)) from exc
            raise StoreError(f"cannot open the store at {path}: {exc}") from exc

    def _initialize(self) -> None:
        """WAL mode and the schema, once per file, safe when several worker processes open it at once.

        Switching to WAL needs an exclusive lock and SQLite reports "database is locked" at once
        instead of waiting, so that one step is retried; WAL then stays set in the file.
        """
        deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
        while self._db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            try:
                self._db.execute("PRAGMA journal_mode = WAL")
            except sqlite3.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        # One immediate transaction: concurrent openers wait on the lock, then find the schema there.
        # Every statement is IF NOT EXISTS, so a file from an older version gains the new tables.
        self._db.executescript(
            f"BEGIN IMMEDIATE; {_SCHEMA} "
            f"INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', '{SCHEMA_VERSION}'); COMMIT;"
        )
        self._migrate()

    def _migrate(self) -> None:
        """Bring a file from schema 1 up to date; under the write lock, so concurrent openers
        cannot both add the same column."""
        with self._transaction():
            (found,) = self._db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            if "ladder" not in {row[1] for row in self._db.execute("PRAGMA table_info(dedup_docs)")}:
                # Schemas 5-7: the rows of their articles stay without one (lookups make it, _stored_docs).
                self._db.execute("ALTER TABLE dedup_docs ADD COLUMN ladder TEXT")
            if int(found) < 5:  # the lookup fields of the articles stored before
                self._db.execute(_DEDUP_DOCS_FROM_ARTICLES)
            fts = self._db.execute("SELECT sql FROM sqlite_master WHERE name = 'articles_fts'").fetchone()
            if "porter" in fts[0]:  # schemas 1-5: the stemmed index, rebuilt unstemmed (once)
                _log.info("rebuilding the full-text index of %s without stemming (once)", self.path)
                self._db.execute("DROP TABLE articles_fts")
                self._db.execute(_FTS_TABLE)
                self._db.execute("INSERT INTO articles_fts(articles_fts) VALUES ('rebuild')")
            if self._db.execute("SELECT 1 FROM articles_fts_config WHERE k = 'automerge'").fetchone() is None:
                # Kept in the index's config table: every later writer merges the same way.
                self._db.execute(
                    "INSERT INTO articles_fts(articles_fts, rank) VALUES ('automerge', ?)", (FTS_AUTOMERGE,)
                )
            columns = {row[1] for row in self._db.execute("PRAGMA table_info(dead_letters)")}
            if "record_id" not in columns:
                self._db.execute("ALTER TABLE dead_letters ADD COLUMN record_id TEXT")
            self._db.execute("CREATE INDEX IF NOT EXISTS dead_letters_record ON dead_letters(record_id)")
            self._db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),))
            # Schema 2 re-indexed the full text on every update; lineage updates touch `doc` only.
            trigger = self._db.execute(
                "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = 'articles_fts_update'"
            ).fetchone()
            if trigger and "UPDATE OF" not in trigger[0]:
                self._db.execute("DROP TRIGGER articles_fts_update")
                self._db.execute(_FTS_UPDATE_TRIGGER)
            # Schemas 1-3 indexed new rows by trigger; kept, it would index every new article twice.
            self._db.execute("DROP TRIGGER IF EXISTS articles_fts_insert")

    @property
    def location(self) -> str:
        return self.path

    def close(self) -> None:
        self._db.close()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        """One write transaction (taking the write lock at once); rolled back on any error."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        """A write transaction whose SQLite errors become one StoreError line for the user."""
        try:
            with self._transaction():
                yield
        except sqlite3.Error as exc:
            if is_damage(exc):
                raise StoreDamagedError(self.path, str(exc)) from exc
            raise StoreError(f"cannot write to the store at {self.path}: {exc}") from exc

    def _write(self, sql: str, rows: Sequence[tuple[Any, ...]]) -> int:
        """Run one batch in one transaction; returns the rows the statement itself changed."""
        if not rows:
            return 0
        with self._writing():
            # rowcount sums sqlite3_changes(): the statement's own rows, not those of any trigger.
            changed: int = self._db.executemany(sql, rows).rowcount
        return changed

    def write_articles(self, articles: Iterable[Article]) -> WriteCounts:
        """Insert articles that are not stored yet, with their dedup keys; ones already stored count
        as duplicates. One transaction per call."""
        return self.write_prepared(prepare_articles(articles))

    def write_prepared(self, prepared: PreparedArticles) -> WriteCounts:
        """`write_articles` for a batch made ready by `prepare_articles` (which a pipeline does on
        its own thread, so that this one only waits on SQLite).

        Each table takes the whole batch in one statement reading a JSON array (`json_each`): SQLite
        parses, inserts and indexes it in C, without taking Python's lock back for every row. New
        rows get the rowids after the largest (this transaction holds the write lock), numbered by
        their place in the batch; those already stored are skipped and leave a gap."""
        if not prepared.given:
            return WriteCounts(written=0, duplicates=0)
        with self._writing():
            (last,) = self._db.execute("SELECT coalesce(max(rowid), 0) FROM articles").fetchone()
            if last + prepared.given > MAX_ROWID:
                raise sqlite3.DataError(f"more than {MAX_ROWID} articles: the dedup index is full")
            written = self._db.execute(
                "INSERT INTO articles(rowid, id, published_at, ingested_at, source_kind, source_name, "
                "language, title, body, doc) SELECT :last + 1 + key, value->>0, value->>1, value->>2, "
                "value->>3, value->>4, value->>5, value->>6, value->>7, value->>8 FROM json_each(:rows) "
                "WHERE value->>0 NOT IN (SELECT id FROM articles)",
                {"last": last, "rows": prepared.rows},
            ).rowcount
            self._db.execute(
                "INSERT INTO articles_fts(rowid, title, body) SELECT rowid, title, body FROM articles "
                "WHERE rowid > ?",
                (last,),
            )
            self._db.execute(
                "INSERT OR REPLACE INTO dedup_docs SELECT a.rowid, a.id, d.value->>0, d.value->>1, "
                "d.value->>2, d.value->>3, d.value->>4, d.value->>5 FROM json_each(:dedup) d "
                "JOIN articles a ON a.rowid = :last + 1 + d.key",
                {"last": last, "dedup": prepared.dedup},
            )
            # In posting order: each B-tree page of the index is visited once per batch, not per key.
            self._db.execute(
                f"INSERT OR IGNORE INTO dedup_index(posting) SELECT (b.value << {_ROWID_BITS}) | a.rowid "
                "FROM json_each(:buckets) k JOIN articles a ON a.rowid = :last + 1 + k.key, "
                "json_each(k.value) b ORDER BY 1",
                {"last": last, "buckets": prepared.buckets},
            )
        return WriteCounts(written=written, duplicates=prepared.given - written)

    def write_dead_letters(self, letters: Iterable[DeadLetter]) -> int:
        """Store dead letters; the same input rejected again replaces its earlier dead letter."""
        rows = [
            (
                d.id,
                d.stage,
                d.error_type,
                d.error,
                d.source,
                _iso(d.occurred_at),
                d.run_id,
                d.record_id,
                d.model_dump_json(),
            )
            for d in letters
        ]
        self._write(
            "INSERT OR REPLACE INTO dead_letters(id, stage, error_type, error, source, occurred_at, "
            "run_id, record_id, doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        return len(rows)

    def _index_terms(self) -> None:
        """Bring article_terms and the search marks up to the newest article. Writers leave them
        behind, so ingestion pays nothing for facets, filters and exact searches (it would cost
        a third more per article); the first search after new articles indexes them, once (about
        0.1 ms each for the terms, 0.2 ms for the marks)."""
        (newest,) = self._db.execute("SELECT coalesce(max(rowid), 0) FROM articles").fetchone()
        if newest > self._meta_int("terms_through"):
            with self._transaction():
                done = self._meta_int("terms_through")  # another process may have done it meanwhile
                (newest,) = self._db.execute("SELECT coalesce(max(rowid), 0) FROM articles").fetchone()
                if newest > done:
                    if newest - done > 10_000:
                        _log.info(
                            "indexing the facet values of %d new articles in %s", newest - done, self.path
                        )
                    self._db.execute(_INSERT_TERMS.replace("{where}", "a.rowid > :last"), {"last": done})
                    self._set_meta("terms_through", newest)
        if newest > (marked := self._meta_int("marks_through")):
            if newest - marked > 10_000:
                _log.info("indexing the search marks of %d new articles in %s", newest - marked, self.path)
            while marked < newest:  # a transaction per batch: writers wait for one batch at most
                with self._transaction():
                    done = index_marks(self._db, self._meta_int("marks_through"), _MARKS_BATCH)
                    self._set_meta("marks_through", done)
                if done == marked:
                    break
                marked = done

    def _meta_int(self, key: str) -> int:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return int(row[0]) if row else 0

    def _set_meta(self, key: str, value: int) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, str(value)))

    def search(self, request: Search) -> list[SearchHit]:
        """The articles `request` matches, ranked (bm25, title matches 4x) or newest first.

        A query of the shapes pipelines/search_sets.py lists (most are) is answered from the
        indexes: its matching rowids, then the best of them by score or date, then those documents.
        Any other query: the full-text index gives the candidates in order and each is checked
        against the query until the page is full (it reads articles until the page is full)."""
        sort = request.sort if request.fts is not None else "date"
        if request.spec is not None:
            return self._ranked_hits(request, sort)
        order = _ORDER[sort]
        found = itertools.islice(
            self._matching(request, order), request.offset, request.offset + request.limit
        )
        return [
            SearchHit(
                **hit_fields(doc),
                snippet=snippet or lead(doc.get("body") or ""),
                score=-score,  # bm25() is lower-is-better; users expect higher-is-better
            )
            for doc, snippet, score in found
        ]

    def _ranked_hits(self, request: Search, sort: str) -> list[SearchHit]:
        """One page of a search answered by its search sets: the best few matches picked from
        their bm25 scores or publication ranks (numpy), ties broken in the order's own terms."""
        matched = self._matched(request)
        need = request.offset + request.limit
        if sort == "relevance":
            listed = self._db.execute(_ALL_SCORES, (request.fts,)).fetchone()
            rowids, scores = (
                np.fromstring(text or "", dtype=kind, sep=",")
                for text, kind in zip(listed, (np.int64, np.float64), strict=True)
            )
            kept = np.isin(rowids, matched, assume_unique=True)
            rowids, scores = rowids[kept], scores[kept]
            best = top(-scores, need)  # bm25: lower is better
            score_of = dict(zip(rowids[best].tolist(), scores[best].tolist(), strict=True))
        else:
            score_of = dict.fromkeys(self._columns.newest(matched, need).tolist(), 0.0)
        found = self._db.execute(_ORDER_KEYS, (orjson.dumps(list(score_of)).decode(),)).fetchall()
        found.sort(key=lambda row: row[2])  # id, then newest first (undated last), then score
        found.sort(key=lambda row: (row[1] is not None, row[1] or ""), reverse=True)
        found.sort(key=lambda row: score_of[row[0]])
        page = [rowid for rowid, _, _ in found[request.offset : need]]
        chosen = orjson.dumps(page).decode()
        docs = dict(self._db.execute(_DOCS_OF, (chosen,)).fetchall())
        snippets = (
            dict(self._db.execute(_SNIPPETS_OF, (request.fts, chosen)).fetchall()) if request.fts else {}
        )
        if sort == "date" and request.fts:  # newest first, each still with its score
            score_of.update(self._db.execute(f"{_SCORES} AND {_IN_JSON}", (request.fts, chosen)))
        hits = []
        for rowid in page:
            doc = orjson.loads(docs[rowid])
            snippet = snippets.get(rowid) or lead(doc.get("body") or "")
            hits.append(SearchHit(**hit_fields(doc), snippet=snippet, score=-score_of[rowid]))
        return hits

    def _matched(self, request: Search) -> np.ndarray:
        """The sorted rowids of the articles `request` matches, from its search sets; kept for the
        next call, since a page's search and its facets ask for the same. Articles written after
        the indexes were brought up to date wait for the next request."""
        assert request.spec is not None
        indexed = self._indexed_columns()
        key = (request.query, request.now if "now" in request.query else None, self._version())
        if self._last_match is None or self._last_match[0] != key:
            rowids = SetMatcher(self._db, request.now).rowids(request.spec)
            self._last_match = (key, rowids[rowids <= indexed])
        return self._last_match[1]

    def export(self, request: Search) -> Iterator[dict[str, Any]]:
        """Every stored document `request` matches, in id order, read a batch at a time."""
        for doc, _, _ in self._matching(request, "a.id"):
            yield doc

    def _matching(self, request: Search, order: str) -> Iterator[tuple[dict[str, Any], str | None, float]]:
        """(document, snippet, bm25) of each article `request` matches, in `order`."""
        self._index_terms()  # the filters narrow through article_terms
        narrowed, params = _narrowing(request.filters)
        if request.fts is not None:
            sql, params = _SEARCH_FTS.format(order=order, narrowed=narrowed), [request.fts, *params]
        else:
            sql = _SEARCH_ALL.format(order=order, narrowed=narrowed)
        cursor = self._db.execute(sql, params)
        try:
            while rows := cursor.fetchmany(_SEARCH_BATCH):
                for text, snippet, score in rows:
                    doc = orjson.loads(text)
                    if request.matches(doc):
                        yield doc, snippet, float(score)
        finally:
            cursor.close()

    def get(self, article_id: str) -> dict[str, Any] | None:
        """The stored document for an id, or for a unique id prefix of at least 6 characters."""
        row = self._db.execute(f"SELECT {FULL_DOC} FROM articles WHERE id = ?", (article_id,)).fetchone()
        if row is None and len(article_id) >= 6:
            rows = self._db.execute(
                f"SELECT {FULL_DOC} FROM articles WHERE id LIKE ? || '%' LIMIT 2", (article_id,)
            ).fetchall()
            row = rows[0] if len(rows) == 1 else None
        return dict(orjson.loads(row[0])) if row else None

    def articles_since(self, since: dt.datetime | None, *, page_size: int = 500) -> Iterator[dict[str, Any]]:
        """Every stored article published (else ingested) at or after `since`, in storage order."""
        after, at = 0, _iso(since) or ""
        while True:
            rows = self._db.execute(
                f"SELECT rowid, {FULL_DOC} FROM articles "
                "WHERE rowid > ? AND coalesce(published_at, ingested_at) >= ? ORDER BY rowid LIMIT ?",
                (after, at, page_size),
            ).fetchall()
            for _, doc in rows:
                yield dict(orjson.loads(doc))
            if len(rows) < page_size:
                return
            after = rows[-1][0]

    def alert_history(
        self,
        since: dt.datetime | None,
        fields: Sequence[str] | None,
        *,
        until: dt.datetime | None = None,
        exclude: OwnArticles | None = None,
        page_size: int = 1000,
    ) -> Iterator[dict[str, Any]]:
        """The stored articles rules' memories are rebuilt from (connectors.store.AlertStore), in
        event-time order, read through the event-time index (pages resume after the last event
        and rowid seen), so a read costs what it returns whatever the store's size.

        SQLite takes `fields` out of the stored JSON (one json_extract per row), so only they
        reach Python. `exclude` is decided by the ingested_at column first: its run id is read
        only from articles ingested since that run started.
        """
        select, paths = FULL_DOC, []
        if fields is not None:
            paths = [f"$.{field}" for field in fields] or ["$.id"]
            paths += paths[:1] if len(paths) == 1 else []  # with two paths or more, an array comes back
            text = any(field.partition(".")[0] in IN_COLUMNS for field in fields)
            select = f"json_extract({FULL_DOC if text else 'doc'}, {_marks(paths)})"
        event = "coalesce(published_at, ingested_at)"  # the expression the articles_event index holds
        where, args = f"{event} >= ?", [_iso(since) or ""]
        if until is not None:
            where += f" AND {event} <= ?"
            args.append(until.astimezone(dt.UTC).isoformat())
        if exclude is not None:
            where += " AND NOT (ingested_at >= ? AND json_extract(doc, '$.pipeline.run_id') = ?)"
            args += [exclude.started_at.astimezone(dt.UTC).isoformat(), exclude.run_id]
        resume: list[Any] = []
        while True:
            after = f" AND ({event} > ? OR ({event} = ? AND rowid > ?))" if resume else ""
            rows = self._db.execute(
                f"SELECT {event}, rowid, {select} FROM articles WHERE {where}{after} "
                f"ORDER BY {event}, rowid LIMIT ?",
                (*paths, *args, *resume, page_size),
            ).fetchall()
            for _, _, value in rows:
                found = orjson.loads(value)
                yield dict(found) if fields is None else _nested(fields, found)
            if len(rows) < page_size:
                return
            last_event, last_rowid = rows[-1][0], rows[-1][1]
            resume = [last_event, last_event, last_rowid]

    def stats(self) -> StoreStats:
        articles, earliest, latest = self._db.execute(
            "SELECT count(*), min(published_at), max(published_at) FROM articles"
        ).fetchone()
        (dead,) = self._db.execute("SELECT count(*) FROM dead_letters").fetchone()
        return StoreStats(
            location=self.path,
            articles=articles,
            dead_letters=dead,
            earliest_published=dt.datetime.fromisoformat(earliest) if earliest else None,
            latest_published=dt.datetime.fromisoformat(latest) if latest else None,
        )

    def facets(self) -> StoreFacets:
        (total,) = self._db.execute("SELECT count(*) FROM articles").fetchone()
        (canonical,) = self._db.execute(f"SELECT count(*) FROM articles WHERE {_CANONICAL}").fetchone()
        return StoreFacets(
            canonical=canonical,
            copies=total - canonical,
            per_day=self._counts(
                "SELECT substr(published_at, 1, 10) AS day, count(*) FROM articles "
                "WHERE published_at IS NOT NULL GROUP BY day ORDER BY day DESC LIMIT ?",
                FACET_DAYS,
            ),
            outlets=self._top("SELECT source_name, count(*) FROM articles GROUP BY 1"),
            actors=self._top(_LISTED.format(path="$.actor_names")),
            topics=self._top(_LISTED.format(path="$.topic_ids")),
            countries=self._top(_LISTED.format(path="$.countries")),
            body_sources=self._top(_VALUED.format(path="$.body_source"), limit=-1),
            page_statuses=self._top(_VALUED.format(path="$.page.status"), limit=-1),
            dead_letters_by_stage=self._top("SELECT stage, count(*) FROM dead_letters GROUP BY 1", limit=-1),
            alerts_by_rule=self._top("SELECT rule_id, count(*) FROM alerts GROUP BY 1", limit=-1),
        )

    def search_facets(self, request: Search, *, size: int = FACET_SIZE) -> QueryFacets:
        """What `request` matches, counted in SQL over article_terms for its matching rowids.

        The rowids are decided once per request, into a temporary table: by SQL alone for a query
        of filters only (article_terms select exactly what the filter clauses do), else as
        `search` decides them (full-text candidates, each checked by the compiled query). An
        unfiltered query reads the counts kept with them (article_term_counts). Answers are kept
        until the store changes (a page and its facets, or paging, ask again)."""
        self._index_terms()
        key = (request.query, size, request.now if "now" in request.query else None, self._version())
        if (cached := self._facet_cache.get(key)) is not None:
            return cached
        canonical = not request.filters.all_copies
        if _filters_only(request) and not _term_sets(request.filters)[0]:
            found = self._all_facets(canonical, size)
        elif request.spec is not None:
            found = self._facets_of(self._columns.counts(self._matched(request)), size)
        else:
            found = self._matched_facets(request, size)
        if len(self._facet_cache) >= _FACET_CACHE:
            self._facet_cache.pop(next(iter(self._facet_cache)))
        self._facet_cache[key] = found
        return found

    def _version(self) -> tuple[int, int]:
        """Changes whenever anyone commits to the store: this connection or another."""
        (other,) = self._db.execute("PRAGMA data_version").fetchone()
        return int(other), self._db.total_changes

    def _all_facets(self, canonical: bool, size: int) -> QueryFacets:
        """Every article's facets (canonical ones only when `canonical`): the kept counts."""
        column = "canonical" if canonical else "articles"
        rows = self._db.execute(
            f"SELECT field, value, {column} FROM article_term_counts WHERE {column} > 0",
        ).fetchall()
        return self._facets_of(rows, size)

    def prepare_search(self) -> None:
        """The search indexes and the columns in memory, made now: `wirewatch serve` does this
        before it listens, so that its first page does not wait for them (~0.3 s per 1,000 new
        articles)."""
        self._indexed_columns()
        self._columns.read()

    def _matched_facets(self, request: Search, size: int) -> QueryFacets:
        """The facets of a query no search set answers: its matches decided one by one."""
        indexed = self._indexed_columns()
        rowids = np.array(sorted(self._matching_rowids(request)), dtype=np.int64)
        return self._facets_of(self._columns.counts(rowids[rowids <= indexed]), size)

    def _indexed_columns(self) -> int:
        """Bring the search indexes and the columns in memory up to date; returns the newest
        article they hold."""
        self._index_terms()
        indexed = self._meta_int("terms_through")
        self._columns.refresh(indexed, str(self._meta_int("terms_generation")))
        return indexed

    def _matching_rowids(self, request: Search) -> Iterator[int]:
        """The rowid of each article `request` matches, as `search` decides them."""
        narrowed, params = _narrowing(request.filters)
        if request.fts is not None:
            sql = (
                f"SELECT a.rowid, {FULL_DOC_OF_A} FROM articles_fts JOIN articles AS a "
                f"ON a.rowid = articles_fts.rowid WHERE articles_fts MATCH ? AND {narrowed}"
            )
            params = [request.fts, *params]
        else:
            sql = f"SELECT a.rowid, {FULL_DOC_OF_A} FROM articles AS a WHERE {narrowed}"
        for rowid, text in self._db.execute(sql, params).fetchall():
            if request.matches(orjson.loads(text)):
                yield rowid

    @staticmethod
    def _facets_of(rows: Iterable[tuple[int, str, int]], size: int) -> QueryFacets:
        """QueryFacets from (field, value, articles) rows: the most frequent values first, ties by
        value (byte order, as Elasticsearch's terms aggregation); the newest days, oldest first."""
        by_field: dict[int, list[tuple[str, int]]] = {}
        for field, value, count in rows:
            by_field.setdefault(field, []).append((value, count))
        counts: dict[str, Counts] = {}
        for name in _FACETS:
            values = by_field.get(TERM_CODES[name], [])
            if name == "per_day":
                counts[name] = tuple(sorted(values)[-FACET_DAYS:])
            else:
                values.sort(key=lambda vc: (-vc[1], vc[0].encode()))
                counts[name] = tuple(values[:size])
        total = sum(count for _, count in by_field.get(_OUTLET, []))
        return QueryFacets(total=total, **counts)

    def _top(self, grouped: str, limit: int = FACET_SIZE) -> Counts:
        """The (value, count) rows of `grouped`, most frequent first, ties by value (byte order, as
        Elasticsearch's terms aggregation); `limit` -1 for all."""
        return self._counts(f"{grouped} ORDER BY 2 DESC, 1 LIMIT ?", limit)

    def _counts(self, sql: str, *params: Any) -> Counts:
        return tuple((str(value), int(count)) for value, count in self._db.execute(sql, params))

    def dead_letters(self, *, limit: int = 100, run_id: str | None = None) -> list[DeadLetter]:
        """Most recent dead letters first, optionally only those of one run."""
        where, args = ("WHERE run_id = ?", (run_id,)) if run_id else ("", ())
        rows = self._db.execute(
            f"SELECT doc FROM dead_letters {where} ORDER BY occurred_at DESC LIMIT ?",
            (*args, limit),
        ).fetchall()
        return [DeadLetter.model_validate_json(r[0]) for r in rows]

    # --- deduplication (connectors.store.DedupIndex) ------------------------------------------

    def lookup(
        self, exact_keys: Collection[str], near_keys: Collection[str], *, max_holders: int | None = None
    ) -> list[StoredDoc]:
        """Stored articles having any of `exact_keys`, and canonical ones having any of `near_keys`."""
        return self._stored_docs(self._key_hits(exact_keys, near_keys, max_holders))

    def _key_hits(
        self, exact_keys: Collection[str], near_keys: Collection[str], max_holders: int | None = None
    ) -> dict[int, tuple[set[str], set[str]]]:
        """By rowid, the articles having any of the keys, with the exact and band keys found there."""
        by_prefix: dict[str, list[tuple[str, bool]]] = {}  # an id prefix: articles.id answers
        by_bucket: dict[int, list[tuple[str, bool]]] = {}
        for is_band, keys in ((False, exact_keys), (True, near_keys)):
            for key in keys:
                if is_id_key(key):
                    by_prefix.setdefault(key.split(":", 1)[1], []).append((key, is_band))
                else:
                    by_bucket.setdefault(_bucket(key), []).append((key, is_band))
        found: dict[int, tuple[set[str], set[str]]] = {}
        for sql, holders in ((_ID_PREFIX_HITS, by_prefix), (_BUCKET_HITS, by_bucket)):
            # Keys sharing a bucket all find its articles, as they would one by one; an exact key
            # is then checked against each article's own fields (_stored_docs).
            for element, rowid in self._db.execute(sql, (orjson.dumps(list(holders)).decode(),)):
                for key, is_band in holders[element]:
                    found.setdefault(rowid, (set(), set()))[is_band].add(key)
        # Crowded near keys find nobody: the articles only they found are not read at all.
        crowded = crowded_keys((key for _, bands in found.values() for key in bands), max_holders)
        if crowded:
            for rowid, (exact, bands) in list(found.items()):
                bands -= crowded
                if not exact and not bands:
                    del found[rowid]
        return found

    def _stored_docs(self, found: dict[int, tuple[set[str], set[str]]]) -> list[StoredDoc]:
        """The articles of `found` (from _key_hits) that an exact key or, canonical, a band key
        found, in rowid order. Their fields come from `dedup_docs`; from the article itself (its
        text included) for one stored without a signature where a band key found it, or without a
        lead ladder where a lead key did (schemas 1-7), or one a writer of schema 4 stored without
        a `dedup_docs` row."""
        ordered = sorted(found)
        rows = dict(self._rows(_DEDUP_DOC_ROWS, ordered))

        def needs_text(rowid: int) -> bool:
            if rowid not in rows:
                return True
            _, duplicate_of, _, _, _, signature, ladder, _, _ = rows[rowid]
            near_hits = found[rowid][1]
            if duplicate_of is not None or not near_hits:
                return False
            return signature is None or (ladder is None and any(map(is_lead_key, near_hits)))

        rows.update(self._rows(_ARTICLE_DEDUP_ROWS, [r for r in ordered if needs_text(r)]))
        docs: list[StoredDoc] = []
        for rowid in (r for r in ordered if r in rows):
            article_id, duplicate_of, url, guid, text_hash, signature, ladder, title, body = rows[rowid]
            exact_hits, near_hits = found[rowid]
            # A shared 31-bit bucket is not a shared key: an exact key must be the article's own.
            exact = frozenset(document_keys(article_id, url, guid, text_hash).intersection(exact_hits))
            bands = frozenset(near_hits) if duplicate_of is None else frozenset()
            if exact or bands:
                # Stored before ladders were (schemas 1-7): its text gives the ladder.
                leads = lead_keys(body, title) if bands and ladder is None and body else ()
                docs.append(
                    StoredDoc(
                        article_id,
                        duplicate_of,
                        exact,
                        bands,
                        body,
                        stored_signature(signature),
                        stored_ladder(ladder, leads) if bands else b"",
                    )
                )
        return docs

    def _rows(self, sql: str, rowids: Sequence[int]) -> Iterator[tuple[int, tuple[Any, ...]]]:
        """(rowid, the other columns) of `sql`'s rows for `rowids` (its `{}`: their placeholders)."""
        for start in range(0, len(rowids), 500):  # SQLite caps the number of bound parameters
            chunk = rowids[start : start + 500]
            for rowid, *rest in self._db.execute(sql.format(_marks(chunk)), chunk):
                yield rowid, tuple(rest)

    def add_sightings(self, update: LineageUpdate) -> bool:
        """Merge copies into a canonical article's lineage, in one write transaction.

        Only the lineage of the stored document is read as models and written anew; the rest of
        the document keeps its JSON as stored (validating the whole article cost more than all else).
        """
        with self._writing():
            row = self._db.execute("SELECT doc FROM articles WHERE id = ?", (update.canonical_id,)).fetchone()
            if row is None:
                return False
            doc = orjson.loads(row[0])
            seen = tuple(Sighting.model_validate(s) for s in doc.get("sources_seen", ()))
            merged = merge_sightings(seen, update.sightings)
            if len(merged) != len(seen):
                doc.update(Lineage.of(merged))
                self._db.execute(
                    "UPDATE articles SET doc = ? WHERE id = ?", (to_json(doc).decode(), update.canonical_id)
                )
        return True

    # --- retag (connectors.store.RetagStore) --------------------------------------------------

    def retag_articles(self, request: RetagRequest) -> RetagSummary:
        """Re-tag the stored articles in rowid order, `request.batch_size` at a time.

        Each batch is read and written inside one write transaction, so a lineage update from a
        running pipeline waits for it instead of being overwritten by a document read before it.
        Only `doc` changes: the tag fields live in the JSON alone, and the FTS index follows
        title and body, which stay as they are.
        """
        run = RetagRun(request, self.path)
        after = 0  # the last rowid read: a cursor that rewritten rows cannot move
        while (size := run.next_batch_size()) > 0:
            if request.dry_run:
                after, count = self._retag_batch(run, after, size)
            else:
                with self._writing():
                    after, count = self._retag_batch(run, after, size)
            run.batch_scanned(count)
            if count < size:
                break
        return run.summary()

    def _retag_batch(self, run: RetagRun, after: int, size: int) -> tuple[int, int]:
        """Re-tag up to `size` articles after rowid `after` (writing unless a dry run); returns
        the last rowid read and how many were read."""
        rows = self._db.execute(
            "SELECT rowid, id, doc, title, body FROM articles WHERE rowid > ? ORDER BY rowid LIMIT ?",
            (after, size),
        ).fetchall()
        updates: list[tuple[str, int]] = []
        for rowid, article_id, text, title, body in rows:
            try:
                doc = orjson.loads(text)
            except orjson.JSONDecodeError as exc:
                run.fail(article_id, f"the stored document is not valid JSON: {exc}")
                continue
            if not isinstance(doc, dict):
                run.fail(article_id, "the stored document is not a JSON object")
                continue
            # Tagged with its title and body; written back as stored (with them empty, or not).
            fields = run.fields_for(article_id, {**doc, "title": title, "body": body})
            if fields is not None:
                updates.append((orjson.dumps(merged(doc, fields)).decode(), rowid))
        if updates and not run.request.dry_run:
            self._db.executemany("UPDATE articles SET doc = ? WHERE rowid = ?", updates)
            self._reindex_terms([rowid for _, rowid in updates])
        run.changed += len(updates)
        return (rows[-1][0] if rows else after), len(rows)

    def _reindex_terms(self, rowids: Sequence[int]) -> None:
        """article_terms anew for articles whose doc was rewritten (inside the write transaction);
        the columns held in memory (ArticleColumns) read them again."""
        self._set_meta("terms_generation", self._meta_int("terms_generation") + 1)
        chosen = orjson.dumps(list(rowids)).decode()
        self._db.execute(
            "DELETE FROM article_terms WHERE article IN (SELECT value FROM json_each(?))", (chosen,)
        )
        self._db.execute(
            _INSERT_TERMS.replace("{where}", "a.rowid IN (SELECT value FROM json_each(:chosen))"),
            {"chosen": chosen},
        )

    def dedup_state_bytes(self) -> int:
        """Bytes the dedup tables take in the file (for benchmarks and `wirewatch stats`)."""
        try:
            row = self._db.execute("SELECT sum(pgsize) FROM dbstat WHERE name = 'dedup_index'").fetchone()
        except sqlite3.OperationalError:  # SQLite built without the dbstat table
            return -1
        return int(row[0] or 0)

    # --- feed state (polling validators, schedule, health) ------------------------------------

    def existing_ids(self, ids: Sequence[str]) -> set[str]:
        """The subset of `ids` already stored as articles."""
        found: set[str] = set()
        for start in range(0, len(ids), 500):  # SQLite caps the number of bound parameters
            chunk = list(ids[start : start + 500])
            rows = self._db.execute(
                f"SELECT id FROM articles WHERE id IN ({_marks(chunk)})", chunk
            ).fetchall()
            found.update(r[0] for r in rows)
        return found

    def accounted_ids(self, ids: Sequence[str]) -> set[str]:
        """The subset of `ids` stored as articles or as dead letters."""
        found = self.existing_ids(ids)
        rest = [i for i in ids if i not in found]
        for start in range(0, len(rest), 500):
            chunk = rest[start : start + 500]
            rows = self._db.execute(
                f"SELECT record_id FROM dead_letters WHERE record_id IN ({_marks(chunk)})", chunk
            )
            found.update(r[0] for r in rows)
        return found

    def feed_states(self, urls: Sequence[str] | None = None) -> dict[str, FeedState]:
        """Stored states by feed URL: all of them, or those of `urls`."""
        if urls is None:
            rows = self._db.execute("SELECT doc FROM feed_state").fetchall()
        else:
            rows = self._db.execute(
                f"SELECT doc FROM feed_state WHERE feed_url IN ({_marks(urls)})", list(urls)
            ).fetchall()
        states = (FeedState.model_validate_json(r[0]) for r in rows)
        return {s.feed_url: s for s in states}

    # --- alerts (connectors.store.AlertStore) ------------------------------------------------------

    def get_alert(self, alert_id: str) -> Alert | None:
        row = self._db.execute("SELECT doc FROM alerts WHERE id = ?", (alert_id,)).fetchone()
        return None if row is None else Alert.model_validate_json(row[0])

    def upsert_alert(self, alert: Alert) -> Alert:
        """Store `alert` merged into the stored one with its id (read and write in one transaction)."""
        with self._writing():
            row = self._db.execute("SELECT doc FROM alerts WHERE id = ?", (alert.id,)).fetchone()
            merged = merge_alert(None if row is None else Alert.model_validate_json(row[0]), alert)
            self._db.execute(
                "INSERT OR REPLACE INTO alerts(id, rule_id, updated_at, doc) VALUES (?, ?, ?, ?)",
                (merged.id, merged.rule_id, _iso(merged.updated_at), merged.model_dump_json()),
            )
        return merged

    def alerts(self, *, limit: int = 50, rule_id: str | None = None) -> list[Alert]:
        """The most recently updated alerts first (optionally of one rule)."""
        where, args = ("WHERE rule_id = ?", (rule_id,)) if rule_id else ("", ())
        rows = self._db.execute(
            f"SELECT doc FROM alerts {where} ORDER BY updated_at DESC, id LIMIT ?", (*args, limit)
        ).fetchall()
        return [Alert.model_validate_json(row[0]) for row in rows]

    def put_feed_state(self, state: FeedState) -> None:
        self._write(
            "INSERT OR REPLACE INTO feed_state(feed_url, doc) VALUES (?, ?)",
            [(state.feed_url, state.model_dump_json())],
        )
