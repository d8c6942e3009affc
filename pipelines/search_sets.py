"""A search query as sets of stored articles the embedded store can compute without reading them.

`pipelines/alert_query.py` decides one article at a time, exactly as Elasticsearch would. For a
search over a whole store that costs a JSON parse and a tokenization of every candidate (about a
millisecond each). Where a search clause is one of the shapes below, the compiler also attaches
its `Spec`, and `connectors/local_match.py` computes the same articles from the store's indexes:

- `Words`: words, a phrase or a prefix over title and body, from the full-text index (FTS5);
- `Terms`: values of a keyword field (actors, topics, countries, outlet, feed, language);
- `Published`: a range of publication times;
- `Every` / `Copies`: every article / those with `duplicate_of`;
- `Bool`: Lucene's required, optional and prohibited clauses of those.

FTS5's unicode61 tokenizer and Elasticsearch's standard analyzer cut most words alike; they differ
on words joined by an apostrophe, a period, a colon or an underscore (`korea's`, `u.s`, `3.5`:
one word for Elasticsearch, two for FTS5), on diacritics (FTS5 folds them: `türkiye` is `turkiye`)
and on emoji (words only for Elasticsearch). `text_marks` records, per article, where its text is
cut differently: its irregular words (the standard analyzer's words FTS5 cuts otherwise), the FTS5
words found inside them (and whether only there), and whether it has a word FTS5 drops. With these
marks a plain word is answered exactly in SQL; an article is read and decided by the evaluator
only when its marks say the index alone cannot tell (a phrase meeting an irregular word).
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

from pipelines import fts_terms

# Kinds of search marks (connectors/local_match.py keeps them per article).
IRREGULAR = 0  # a word of the standard analyzer that FTS5 does not index as itself
INSIDE = 1  # an FTS5 word inside an irregular word, also found elsewhere as a word of its own
ONLY = 2  # an FTS5 word found only inside irregular words: FTS5 finds it, Elasticsearch does not
GAP = 3  # a word FTS5 drops entirely (emoji, letter symbols): phrases around it may differ

_ALNUM_RUNS = re.compile(r"[^\W_]+")
# The keyword fields whose values the embedded store keeps per article (its article_terms table),
# each with the facet it is counted as (schemas.store.QueryFacets).
TERM_FIELDS = {
    "actor_names": "actors",
    "actor_ids": "actor_ids",
    "topic_ids": "topics",
    "countries": "countries",
    "source.name": "outlets",
    "language": "languages",
    "source.feed_url": "feeds",
}


@dataclass(frozen=True)
class Words:
    """Title-or-body words: one `word`, a `phrase` (2+ words in order, within one field), or a
    `prefix` of one word. `words` are the standard analyzer's; `fts` finds at least their
    articles; `decide` is the evaluator's clause, for the articles the marks leave open."""

    kind: Literal["word", "phrase", "prefix"]
    words: tuple[str, ...]
    fts: str
    decide: Callable[[Any], bool]


@dataclass(frozen=True)
class Terms:
    """Articles with any of `values` (or a value starting with one of `prefixes`) in a keyword field."""

    field: str
    values: tuple[str, ...] = ()
    prefixes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Published:
    """Articles published within `bounds(now)`: epoch milliseconds, both inclusive."""

    bounds: Callable[[dt.datetime], tuple[float, float]]


@dataclass(frozen=True)
class Every:
    """Every article."""


@dataclass(frozen=True)
class Copies:
    """The articles that copy another (`_exists_:duplicate_of`)."""


@dataclass(frozen=True)
class Bool:
    """Lucene's BooleanQuery: all of `must`, else (none required) any of `should`; none of `not_`."""

    must: tuple[Spec, ...] = ()
    should: tuple[Spec, ...] = ()
    not_: tuple[Spec, ...] = ()


Spec = Words | Terms | Published | Every | Copies | Bool


def boolean(
    must: Iterable[Spec | None], should: Iterable[Spec | None], not_: Iterable[Spec | None]
) -> Spec | None:
    """The Bool of the clauses' specs, None when one of them has none."""
    parts = (tuple(must), tuple(should), tuple(not_))
    if any(spec is None for part in parts for spec in part):
        return None
    return Bool(*parts)  # type: ignore[arg-type]


# --- the two tokenizers -------------------------------------------------------------------------------


def regular(word: str) -> bool:
    """Whether FTS5 indexes this standard-analyzer word as itself: letters and digits only, none
    that FTS5 would fold (a diacritic, a capital the analyzer left) or cut out (a combining mark),
    in a script both cut by spaces (fts_terms.safe)."""
    if word.isascii():
        return (word.isalnum() and word.islower()) or word.isdigit()
    if not fts_terms.safe(word) or word.lower() != word:
        return False
    return all(
        ch.isalnum() and unicodedata.category(ch)[0] in "LN" and unicodedata.normalize("NFD", ch) == ch
        for ch in word
    )


def fts_words(word: str) -> set[str]:
    """The FTS5 words an irregular standard-analyzer word may hold. FTS5 folds case and diacritics
    by its own (Unicode 6.1) tables, so this errs on the side of more: the runs of letters and
    digits with marks dropped and with marks as breaks, each as written and folded."""
    stripped = "".join(ch for ch in unicodedata.normalize("NFD", word) if unicodedata.category(ch)[0] != "M")
    found: set[str] = set()
    for text in (word, stripped, unicodedata.normalize("NFD", word)):
        for run in _ALNUM_RUNS.findall(text):
            found.update((run, run.lower()))
    return found
