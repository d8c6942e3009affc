"""The embedded store's search facets: counted in SQL from article_terms, kept on every write."""

from __future__ import annotations

import datetime as dt
import pathlib
import sqlite3
from collections import Counter
from typing import Any

import pytest

from connectors.localstore import LocalStore
from connectors.retag import RetagRequest
from pipelines.search_query import Filters, search_request
from schemas.records import Article
from schemas.store import FACET_DAYS, QueryFacets
from tests.conftest import as_canonical, news_articles, seed_articles


@pytest.fixture(scope="module")
def corpus() -> list[Article]:
    articles = [as_canonical(a) for a in [*seed_articles(), *news_articles()[:150]]]
    return [
        a.model_copy(update={"duplicate_of": articles[i - 1].id}) if i % 7 == 6 else a
        for i, a in enumerate(articles)
    ]


@pytest.fixture
def store(tmp_path: pathlib.Path, corpus: list[Article]) -> LocalStore:
    store = LocalStore(str(tmp_path / "w.db"))
    store.write_articles(corpus)
    return store


def _facets(store: LocalStore, query: str = "", filters: Filters | None = None) -> QueryFacets:
    return store.search_facets(search_request(query, filters or Filters(), everything=True))


def _top(values: list[str], size: int = 10) -> tuple[tuple[str, int], ...]:
    return tuple(sorted(Counter(values).items(), key=lambda kv: (-kv[1], kv[0].encode()))[:size])


def test_an_empty_query_counts_every_canonical_article(store: LocalStore, corpus: list[Article]) -> None:
    canonical = [a for a in corpus if a.duplicate_of is None]
    facets = _facets(store)
    assert facets.total == len(canonical)
    assert facets.actors == _top([n for a in canonical for n in set(a.actor_names)])
    assert facets.actor_ids == _top([n for a in canonical for n in set(a.actor_ids)])
    assert facets.countries == _top([c for a in canonical for c in set(a.countries)])
    assert facets.outlets == _top([a.source.name for a in canonical])
    assert facets.languages == _top([a.language for a in canonical if a.language])
    days = Counter(a.published_at.date().isoformat() for a in canonical if a.published_at)
    assert facets.per_day == tuple(sorted(days.items())[-FACET_DAYS:])
    assert _facets(store, filters=Filters(all_copies=True)).total == len(corpus)


@pytest.mark.parametrize(
    ("query", "filters"),
    [
        ("Trump", Filters()),
        ("", Filters(countries=("usa",))),
        ("", Filters(topics=("military",), all_copies=True)),
        (
            "",
            Filters(
                since=dt.datetime(2026, 2, 16, tzinfo=dt.UTC), until=dt.datetime(2026, 2, 18, tzinfo=dt.UTC)
            ),
        ),
        ("Ukraine OR Russia", Filters(languages=("en",))),
        ("actor:Q22686", Filters()),
    ],
)
def test_a_query_counts_what_search_finds(store: LocalStore, query: str, filters: Filters) -> None:
    request = search_request(query, filters, limit=100_000, everything=True)
    docs = [store.get(hit.id) or {} for hit in store.search(request)]
    facets = store.search_facets(request)
    assert facets.total == len(docs) > 0
    assert facets.actors == _top([n for d in docs for n in set(d.get("actor_names", ()))])
    assert facets.topics == _top([t for d in docs for t in set(d.get("topic_ids", ()))])
    assert facets.outlets == _top([d["source"]["name"] for d in docs])


def test_facets_follow_a_retag_and_new_articles(store: LocalStore, corpus: list[Article]) -> None:
    before = _facets(store)
    assert ("Nobody", before.total) not in before.actors

    def tag(title: str, body: str) -> dict[str, Any]:
        return {"actors": [], "actor_ids": ["Q1"], "actor_names": ["Nobody"], "countries": []}

    store.retag_articles(RetagRequest(tag=tag, force=True))
    after = _facets(store)
    assert after.actors == (("Nobody", before.total),)
    assert after.countries == ()
    new = corpus[0].model_copy(update={"id": "f" * 32})
    store.write_articles([new])
    assert _facets(store).total == before.total + 1


def test_an_older_store_gets_its_terms_on_its_first_search_once(
    tmp_path: pathlib.Path, corpus: list[Article]
) -> None:
    path = tmp_path / "old.db"
    store = LocalStore(str(path))
    store.write_articles(corpus)
    expected = _facets(store, "Trump")
    store.close()
    old = sqlite3.connect(path)
    old.executescript(
        "DELETE FROM article_terms; DELETE FROM article_term_counts; DELETE FROM meta WHERE key = "
        "'terms_through'; UPDATE meta SET value = '6' WHERE key = 'schema_version';"
    )
    old.close()
    store = LocalStore(str(path))
    assert _facets(store, "Trump") == expected
    assert _facets(store).total == len([a for a in corpus if a.duplicate_of is None])
    rows = store._db.execute("SELECT count(*) FROM article_terms").fetchone()[0]
    store.close()
    again = LocalStore(str(path))
    assert again._db.execute("SELECT count(*) FROM article_terms").fetchone()[0] == rows


def test_writes_leave_the_terms_to_the_first_search(tmp_path: pathlib.Path, corpus: list[Article]) -> None:
    """Ingestion pays nothing for facets: the rows appear when a search needs them."""
    store = LocalStore(str(tmp_path / "w.db"))
    store.write_articles(corpus)
    assert store._db.execute("SELECT count(*) FROM article_terms").fetchone()[0] == 0
    total = _facets(store).total
    assert total == len([a for a in corpus if a.duplicate_of is None])
    assert store._db.execute("SELECT count(*) FROM article_terms").fetchone()[0] > total
    store.close()
