"""Search sets (connectors/local_match.py) against the evaluator they stand in for.

The evaluator (pipelines/alert_query.py) is held to Elasticsearch's answers elsewhere; here every
query's set computed from the embedded store's indexes must be exactly the articles the evaluator
accepts, on real news text and on texts made to split differently in FTS5 and the standard
analyzer (apostrophes, periods, diacritics, emoji, underscores, other scripts).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import pathlib
from typing import Any

import numpy as np
import orjson
import pytest

from connectors.local_match import phrase_finder, text_marks
from connectors.localstore import FULL_DOC, LocalStore
from pipelines.alert_query import analyze
from pipelines.search_query import Filters, SearchRequest, search_request
from pipelines.search_sets import GAP, INSIDE, IRREGULAR, ONLY, fts_words, regular
from schemas.records import Article
from tests.conftest import as_canonical, news_articles, seed_articles

# Texts where the two tokenizers disagree, each a title and a body.
UNEVEN = [
    ("Korea's leader and the U.S. envoy", "North Korea's missile test. The U.S.-led talks; korea s."),
    (
        "Türkiye and the café",
        "Turkiye hosts talks at a cafe; the café in Türkiye's capital. Nicolás met Nicolas.",
    ),
    ("Numbers 3.5 and 1,000", "Prices rose 3.5 percent to 1,000 dollars; 3 5 and 1 000 elsewhere."),
    ("Emoji 😀 between words", "prime 😀 minister met the prime minister's staff. world 🇺🇦 cup"),
    ("Underscores foo_bar", "the foo_bar handle, and foo bar apart; don't and don t, isn’t it"),
    ("Путин и Зеленский", "Путин встретился с Зеленским. Путин сказал. 김정은 中国人 ไทย"),
    ("Prime-minister hyphen", "The prime-minister (north) korea; NORTH KOREA; North\u00a0Korea; north_korea"),
    ("Kelvin sign", "\u212aorea and \u212aorea's; İstanbul ISTANBUL istanbul"),
]

QUERIES: list[tuple[str, Filters]] = [
    ("Trump", Filters()),
    ("trump greenland", Filters()),
    ("korea", Filters()),
    ("s", Filters()),
    ("t", Filters()),
    ("U.S.", Filters()),
    ("u s", Filters()),
    ("Korea's", Filters()),
    ("don't", Filters()),
    ("Türkiye", Filters()),
    ("turkiye", Filters()),
    ("café", Filters()),
    ("cafe", Filters()),
    ("3.5", Filters()),
    ("1,000", Filters()),
    ("foo_bar", Filters()),
    ("foo", Filters()),
    ("Путин", Filters()),
    ("istanbul", Filters()),
    ('"prime minister"', Filters()),
    ('"North Korea"', Filters()),
    ('"korea s"', Filters()),
    ('"white house"', Filters()),
    ('"U.S. envoy"', Filters()),
    ('"foo bar"', Filters()),
    ('"world cup"', Filters()),
    ('"путин сказал"', Filters()),
    ("sanction*", Filters()),
    ("korea*", Filters()),
    ("pres*", Filters()),
    ("u*", Filters()),
    ("caf*", Filters()),
    ("Ukraine OR Russia", Filters()),
    ("Ukraine AND NOT Russia", Filters()),
    ("NOT Trump", Filters()),
    ("(Trump OR Biden) AND China", Filters()),
    ("+iran -israel", Filters()),
    ("Ukraine OR Russia AND talks", Filters()),
    ("actor:Q22686", Filters()),
    ("topic:military", Filters()),
    ("topic_ids:diplomacy.*", Filters()),
    ("country:ukr OR country:rus", Filters()),
    ("lang:en AND NOT korea", Filters()),
    ("*", Filters()),
    ("published_at:[2026-02-16 TO 2026-02-18}", Filters()),
    ("published_at:>=2023-11-08", Filters()),
    ("published_at:2023-11-09", Filters()),
    ("published_at:[now-3000d TO now]", Filters()),
    ("", Filters(countries=("usa",), topics=("military",))),
    ("", Filters(all_copies=True)),
    (
        "Trump",
        Filters(since=dt.datetime(2026, 1, 1, tzinfo=dt.UTC), until=dt.datetime(2026, 3, 1, tzinfo=dt.UTC)),
    ),
    ("korea", Filters(all_copies=True, languages=("en",))),
    ("title:trump", Filters()),  # no search set: decided one by one
    ("word_count:>300 AND iran", Filters()),
]


def _uneven_articles(base: Article) -> list[Article]:
    return [
        base.model_copy(update={"id": f"{n:032x}", "title": title, "body": body, "duplicate_of": None})
        for n, (title, body) in enumerate(UNEVEN, 1)
    ]


@pytest.fixture(scope="module")
def corpus() -> list[Article]:
    articles = [as_canonical(a) for a in [*seed_articles(), *news_articles()]]
    articles = [
        a.model_copy(update={"duplicate_of": articles[i - 1].id}) if i % 7 == 6 else a
        for i, a in enumerate(articles)
    ]
    return [*articles, *_uneven_articles(articles[0])]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, corpus: list[Article]) -> LocalStore:
    store = LocalStore(str(tmp_path_factory.mktemp("sets") / "w.db"))
    store.write_articles(corpus)
    return store


@pytest.fixture(scope="module")
def docs(store: LocalStore) -> dict[int, dict[str, Any]]:
    rows = store._db.execute(f"SELECT rowid, {FULL_DOC} FROM articles").fetchall()
    return {rowid: orjson.loads(doc) for rowid, doc in rows}


class _Unindexed(SearchRequest):
    """The same request without its search sets: the store decides candidates one by one."""

    @property
    def spec(self) -> None:
        return None


def _unindexed(request: SearchRequest) -> SearchRequest:
    return _Unindexed(**{f.name: getattr(request, f.name) for f in dataclasses.fields(request)})


@pytest.mark.parametrize(("query", "filters"), QUERIES, ids=[q or repr(f) for q, f in QUERIES])
def test_a_search_set_is_what_the_evaluator_accepts(
    store: LocalStore, docs: dict[int, dict[str, Any]], query: str, filters: Filters
) -> None:
    request = search_request(query, filters, everything=True)
    expected = sorted(rowid for rowid, doc in docs.items() if request.matches(doc))
    if request.spec is None:
        assert query.startswith(("title:", "word_count:"))
        return
    assert store._matched(request).tolist() == expected


@pytest.mark.parametrize("sort", ["relevance", "date"])
@pytest.mark.parametrize(
    ("query", "filters"),
    [
        ("Trump", Filters()),
        ("korea", Filters(all_copies=True)),
        ("", Filters(countries=("usa",))),
        ('"prime minister"', Filters()),
    ],
)
def test_a_page_is_the_one_the_evaluator_gives(
    store: LocalStore, query: str, filters: Filters, sort: Any
) -> None:
    for offset in (0, 10):
        request = search_request(query, filters, sort=sort, limit=10, offset=offset, everything=True)
        indexed = store.search(request)
        decided = store.search(_unindexed(request))
        assert [hit.id for hit in indexed] == [hit.id for hit in decided]
        assert [hit.snippet for hit in indexed] == [hit.snippet for hit in decided]
        assert [hit.score for hit in indexed] == pytest.approx([hit.score for hit in decided])


def test_facets_are_the_same_either_way(store: LocalStore) -> None:
    for query in ("Trump", '"North Korea"', "actor:Q22686 OR korea"):
        request = search_request(query, everything=True)
        store._facet_cache.clear()
        indexed = store.search_facets(request)
        store._facet_cache.clear()
        assert store.search_facets(_unindexed(request)) == indexed
        assert indexed.total == len(store._matched(request))


# --- the marks ---------------------------------------------------------------------------------------


def _reference_marks(*texts: str) -> set[tuple[int, str]]:
    """text_marks as its definition reads: every word of the whole texts, analyzed."""
    tokens = {token for text in texts for token in analyze(text)}
    plain = {t for t in tokens if regular(t)}
    marks: set[tuple[int, str]] = set()
    inside: set[str] = set()
    for token in tokens - plain:
        marks.add((IRREGULAR, token))
        parts = fts_words(token)
        inside |= parts
        if not parts:
            marks.add((GAP, ""))
    return marks | {(INSIDE if w in plain else ONLY, w) for w in inside}


def test_marks_read_chunk_by_chunk_are_those_of_the_whole_text(corpus: list[Article]) -> None:
    for article in corpus:
        assert text_marks(article.title, article.body) == _reference_marks(article.title, article.body)


def test_what_the_marks_say_of_uneven_words() -> None:
    marks = text_marks("Korea's talks", "in Korea and the U.S. 😀")
    assert {(IRREGULAR, "korea's"), (INSIDE, "korea"), (ONLY, "s"), (IRREGULAR, "u.s"), (ONLY, "u")} <= marks
    assert (GAP, "") in marks
    assert (IRREGULAR, "talks") not in marks
    assert (INSIDE, "talks") not in marks


def test_a_phrase_is_found_where_the_analyzer_cuts_it() -> None:
    found = phrase_finder(["prime", "minister"])
    assert found("The Prime Minister said")
    assert found("the prime-minister; PRIME\u00a0MINISTER")
    assert not found("the prime minister's office")
    assert not found("prime 😀 minister")
    assert not found("primeminister and prime ministers")
    assert found("a prime minister's aide and the prime minister")


def test_an_article_written_after_the_marks_gets_them_on_the_next_search(
    tmp_path: pathlib.Path, corpus: list[Article]
) -> None:
    store = LocalStore(str(tmp_path / "w.db"))
    store.write_articles(corpus[:20])
    request = search_request("korea's", everything=True)
    before = len(store._matched(request))
    store.write_articles(_uneven_articles(corpus[0])[:1])
    after = store._matched(request)
    assert len(after) == before + 1
    assert np.all(np.diff(after) > 0)
