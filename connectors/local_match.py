"""The articles a search matches, computed from the embedded store's indexes (pipelines/search_sets.py).

Each clause of a search becomes a sorted array of article rowids: words from the full-text index
corrected by the search marks, keyword values from `article_terms`, dates from the publication
index; Lucene's boolean logic is then set algebra on those arrays (numpy). So a query's answer
costs about the rows the indexes return, not a read and a tokenization of every candidate.

The search marks (table `search_marks`) say where an article's text is cut into words differently
by FTS5 and by Elasticsearch's standard analyzer (see pipelines/search_sets.py for the kinds).
Like `article_terms`, they are indexed on the first search after new articles, not on write.
"""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
from collections.abc import Callable, Iterator, Sequence

import numpy as np
import orjson

from pipelines.alert_query import analyze, decide
from pipelines.search_sets import (
    GAP,
    INSIDE,
    IRREGULAR,
    ONLY,
    TERM_FIELDS,
    Bool,
    Copies,
    Every,
    Published,
    Spec,
    Terms,
    Words,
    fts_words,
    regular,
)

MARKS_SCHEMA = """
CREATE TABLE IF NOT EXISTS search_marks (
    kind INTEGER NOT NULL,  -- pipelines.search_sets: IRREGULAR, INSIDE, ONLY or GAP
    token TEXT NOT NULL,
    article INTEGER NOT NULL,  -- the article's rowid in `articles`
    PRIMARY KEY (kind, token, article)
) WITHOUT ROWID
"""
Rowids = np.ndarray  # sorted, unique int64 article rowids

# Within a run of ASCII non-space characters, both tokenizers cut the same words (runs of letters
# and digits) unless Elasticsearch keeps two of them joined: across `.`, `'`, `:`, `,`, `;` or `_`.
_JOINED = re.compile(r"[A-Za-z0-9][.':,;]+[A-Za-z0-9]|_")
_ASCII_WORDS = re.compile(r"[a-z0-9]+")
# What may stand before or after a word without joining it to anything (ASCII punctuation,
# quotes, dashes, the ellipsis): stripped, it leaves the run as both tokenizers see it.
_EDGES = "".join(chr(c) for c in range(33, 127) if not chr(c).isalnum()) + "“”‘’—–…«»„‹›"


def text_marks(*texts: str) -> set[tuple[int, str]]:
    """The search marks of an article with these texts (title, body). Words never span a space,
    so each run of non-space characters is read alone: plain ASCII ones cheaply, the others (with
    a character beyond ASCII or a joined word) by the standard analyzer."""
    plain: set[str] = set()
    uneven: set[str] = set()
    for text in texts:
        for chunk in text.split():
            core = chunk.strip(_EDGES)
            if core.isascii():
                if core.isalnum():
                    plain.add(core.lower())
                    continue
                if not _JOINED.search(core):
                    plain.update(_ASCII_WORDS.findall(core.lower()))
                    continue
            for token in analyze(core):
                (plain if regular(token) else uneven).add(token)
    marks: set[tuple[int, str]] = set()
    inside: set[str] = set()
    for token in uneven:
        marks.add((IRREGULAR, token))
        parts = fts_words(token)
        inside |= parts
        if not parts:
            marks.add((GAP, ""))
    marks.update((INSIDE if word in plain else ONLY, word) for word in inside)
    return marks


def index_marks(db: sqlite3.Connection, after: int, limit: int) -> int:
    """Search marks for up to `limit` articles after rowid `after` (inside the caller's write
    transaction); returns the last rowid marked (`after` when there was none)."""
    db.execute(MARKS_SCHEMA)
    rows = db.execute(
        "SELECT rowid, title, body FROM articles WHERE rowid > ? ORDER BY rowid LIMIT ?", (after, limit)
    ).fetchall()
    db.executemany(
        "INSERT OR IGNORE INTO search_marks(kind, token, article) VALUES (?, ?, ?)",
        [(kind, token, rowid) for rowid, title, body in rows for kind, token in text_marks(title, body)],
    )
    return rows[-1][0] if rows else after


# --- sets -------------------------------------------------------------------------------------------

# article_terms.field (connectors/localstore.py): the facets of QueryFacets, in its order.
TERM_CODES = {
    "actors": 0,  # actor_names
    "actor_ids": 1,
    "topics": 2,  # topic_ids
    "countries": 3,
    "outlets": 4,  # source.name: one row per article, which says whether it is canonical
    "languages": 5,
    "per_day": 6,  # substr(published_at, 1, 10): published_at is stored in UTC
    "feeds": 7,  # source.feed_url
}
_OUTLET = TERM_CODES["outlets"]


def _successor(prefix: str) -> str:
    """The least string above every string starting with `prefix` (code point order, as SQLite's)."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1) if ord(prefix[-1]) < 0x10FFFF else prefix + "\U0010ffff"


def _iso(ms: float) -> str:
    """Epoch milliseconds as the published_at column holds instants (UTC, ISO 8601)."""
    return (dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(milliseconds=ms)).isoformat()


class Matcher:
    """Computes search sets over one store connection, for one request's `now`."""

    def __init__(self, db: sqlite3.Connection, now: dt.datetime) -> None:
        self.db, self.now = db, now
        self._every: Rowids | None = None

    def rowids(self, spec: Spec) -> Rowids:
        if isinstance(spec, Bool):
            return self._bool(spec)
        if isinstance(spec, Words):
            return self._words(spec)
        if isinstance(spec, Terms):
            return self._terms(spec)
        if isinstance(spec, Published):
            return self._published(spec)
        if isinstance(spec, Copies):
            return self._sql(
                f"SELECT article AS m FROM article_terms WHERE field = {_OUTLET} AND NOT canonical"
            )
        assert isinstance(spec, Every)
        return self.every()

    def every(self) -> Rowids:
        if self._every is None:
            self._every = self._sql("SELECT rowid AS m FROM articles")
        return self._every

    def _sql(self, sql: str, *params: object) -> Rowids:
        """The rowids `sql` selects (as its column `m`), sorted, each once. They cross from SQLite
        as one text that numpy parses: four times faster than a Python tuple per row."""
        (found,) = self.db.execute(f"SELECT group_concat(m) FROM ({sql})", params).fetchone()
        return np.unique(np.fromstring(found or "", dtype=np.int64, sep=","))

    def _bool(self, spec: Bool) -> Rowids:
        if spec.must:
            found = self.rowids(spec.must[0])
            for other in spec.must[1:]:
                found = np.intersect1d(found, self.rowids(other), assume_unique=True)
        elif spec.should:
            found = np.unique(np.concatenate([self.rowids(other) for other in spec.should]))
        else:
            found = self.every()
        for other in spec.not_:
            found = np.setdiff1d(found, self.rowids(other), assume_unique=True)
        return found

    def _terms(self, spec: Terms) -> Rowids:
        code = TERM_CODES[TERM_FIELDS[spec.field]]
        clauses = ["value = ?"] * len(spec.values) + ["(value >= ? AND value < ?)"] * len(spec.prefixes)
        if not clauses:
            return np.empty(0, dtype=np.int64)
        params = [*spec.values, *(bound for p in spec.prefixes for bound in (p, _successor(p)))]
        return self._sql(
            f"SELECT article AS m FROM article_terms WHERE field = {code} AND ({' OR '.join(clauses)})",
            *params,
        )

    def _published(self, spec: Published) -> Rowids:
        low, high = spec.bounds(self.now)
        where, params = ["published_at IS NOT NULL"], []
        if low != -np.inf:
            where.append("published_at >= ?")
            params.append(_iso(low))
        if high != np.inf:  # below the next millisecond: the column may hold microseconds
            where.append("published_at < ?")
            params.append(_iso(high + 1))
        return self._sql(f"SELECT rowid AS m FROM articles WHERE {' AND '.join(where)}", *params)

    # --- words ------------------------------------------------------------------------------------

    def _fts(self, query: str) -> Rowids:
        return self._sql("SELECT rowid AS m FROM articles_fts WHERE articles_fts MATCH ?", query)

    def _marked(self, kinds: Sequence[int], tokens: Sequence[str] = (), prefix: str | None = None) -> Rowids:
        """The articles with a mark of these kinds on one of `tokens`, or on a token with `prefix`."""
        kind = f"kind IN ({', '.join(map(str, kinds))})"
        if prefix is not None:
            return self._sql(
                f"SELECT article AS m FROM search_marks WHERE {kind} AND token >= ? AND token < ?",
                prefix,
                _successor(prefix),
            )
        marks = ", ".join("?" * len(tokens))
        return self._sql(
            f"SELECT article AS m FROM search_marks WHERE {kind} AND token IN ({marks})", *tokens
        )

    def _words(self, spec: Words) -> Rowids:
        if spec.kind == "word":
            (word,) = spec.words
            if not regular(word):  # the analyzer's word is irregular: the marks hold every article with it
                return self._marked([IRREGULAR], [word])
            # FTS5 finds it also inside irregular words (`s` in `korea's`): not where it is only there
            return np.setdiff1d(self._fts(spec.fts), self._marked([ONLY], [word]), assume_unique=True)
        if spec.kind == "prefix":
            (stem,) = spec.words
            candidates = self._fts(spec.fts)
            uneven = self._marked([ONLY], prefix=stem)
            irregular = self._marked([IRREGULAR], prefix=stem)  # words of the analyzer starting with it
            sure = np.setdiff1d(candidates, uneven, assume_unique=True)
            open_ = np.setdiff1d(
                np.intersect1d(candidates, uneven, assume_unique=True), irregular, assume_unique=True
            )
            return np.unique(np.concatenate([sure, irregular, self._decided(spec, open_)]))
        # A phrase: FTS5 finds its words next to each other; where one of them stands inside an
        # irregular word, or a word FTS5 drops sits in the text, the evaluator reads the article.
        candidates = self._fts(spec.fts)
        odd = [word for word in spec.words if not regular(word)]
        for word in odd:
            candidates = np.intersect1d(candidates, self._marked([IRREGULAR], [word]), assume_unique=True)
        if odd:
            return self._decided(spec, candidates)
        uneven = np.union1d(self._marked([INSIDE, ONLY], spec.words), self._marked([GAP], [""]))
        open_ = np.intersect1d(candidates, uneven, assume_unique=True)
        sure = np.setdiff1d(candidates, open_, assume_unique=True)
        return np.union1d(sure, self._decided(spec, open_))

    def _decided(self, spec: Words, rowids: Rowids) -> Rowids:
        """Those of `rowids` whose title or body has `spec`: a phrase of regular words where it
        stands (`phrase_in`), anything else by the evaluator."""
        if spec.kind == "phrase" and all(map(regular, spec.words)):
            found = phrase_finder(spec.words)
            kept = [rowid for rowid, title, body in self._texts(rowids) if found(title) or found(body)]
        else:
            kept = [
                rowid
                for rowid, title, body in self._texts(rowids)
                if decide(spec.decide, {"title": title, "body": body}, self.now)
            ]
        return np.array(sorted(kept), dtype=np.int64)

    def _texts(self, rowids: Rowids) -> Iterator[tuple[int, str, str]]:
        for start in range(0, len(rowids), 500):
            chosen = orjson.dumps(rowids[start : start + 500].tolist()).decode()
            yield from self.db.execute(
                "SELECT rowid, title, body FROM articles WHERE rowid IN (SELECT value FROM json_each(?))",
                (chosen,),
            )


def phrase_finder(words: Sequence[str]) -> Callable[[str], bool]:
    """Whether the standard analyzer cuts these regular words, in a row, out of a text. Read
    where FTS5 would find them (the words apart from letters and digits around them), each
    place by analyzing its runs of non-space characters: words never span a space, so those
    runs are cut as in the whole text (a whole article would take a millisecond or two)."""
    gap = r"[\W_]+"
    body = gap.join(map(re.escape, words)) + r"(?![^\W_])"
    # On the lower-cased text the pattern starts with a literal, which `re` scans for fast; the
    # text as written takes the slower case-blind pattern (when lower-casing changes its length).
    lowered, as_written = re.compile(body), re.compile(body, re.IGNORECASE)
    wanted, n = list(words), len(words)

    def found(text: str) -> bool:
        lower = text.lower()
        places = lowered.finditer(lower) if len(lower) == len(text) else as_written.finditer(text)
        for place in places:
            start, end = place.start(), place.end()
            if start > 0 and text[start - 1].isalnum():
                continue  # inside a longer word
            while start > 0 and not text[start - 1].isspace():
                start -= 1
            while end < len(text) and not text[end].isspace():
                end += 1
            tokens = analyze(text[start:end])
            if any(tokens[i : i + n] == wanted for i in range(len(tokens) - n + 1)):
                return True
        return False

    return found
