"""`wirewatch search` finds the same articles in both stores.

The shared world-news captures and the two seeds, normalized and tagged as the pipeline does (every
ninth a copy of the one before it), are written into an embedded store and into Elasticsearch with
our templates. Each query below, alone and with filters, must give the same set of ids from both:
the embedded store narrows its candidates with FTS5 and decides each with the query evaluator, and
Elasticsearch runs the same string as `query_string`.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter
from collections.abc import Iterator

import pytest
from elasticsearch import Elasticsearch, helpers

from connectors.es_indices import IndexNames, article_document, ensure_indices
from connectors.es_store import ElasticsearchStore
from connectors.localstore import LocalStore
from pipelines.search_query import Filters, search_request
from schemas.records import Article
from schemas.store import FACET_DAYS, FACET_SIZE
from tests.conftest import as_canonical, delete_prefix, news_articles, seed_articles

pytestmark = [pytest.mark.integration, pytest.mark.slow]

EVERYTHING = 100_000

QUERIES = [
    "Trump",
    "trump greenland",
    "Donald Trump",
    '"Donald Trump"',
    '"North Korea"',
    '"North Korea" AND (satellite* OR missile*)',
    "Ukraine OR Russia",
    "Ukraine AND NOT Russia",
    "Ukraine -Russia",
    "Ukraine Russia OR China",
    "sanction*",
    "elect* minister",
    "U.S.",
    "Korea’s",
    "Orbán",
    "Orban",
    "São Paulo",
    "1,000",
    "2026",
    "title:Trump",
    "body:(war AND ceasefire)",
    "title:(Gaza OR Israel) body:hostages",
    "actor:Q22686",
    'actor:"Donald Trump"',
    "topic:military",
    "topic:diplomacy.summit",
    "country:ukr",
    "countries:(USA OR CHN)",
    "language:en AND NOT Trump",
    "source_count:>=2",
    "_exists_:summary",
    "NOT _exists_:summary",
    "published_at:[2026-02-01 TO 2026-02-15]",
    "(climate OR weather) AND NOT title:climate",
    "war*",
    "año OR PAÍS",
]

FILTERS = [
    Filters(),
    Filters(all_copies=True),
    Filters(countries=("USA",)),
    Filters(topics=("military",), all_copies=True),
    Filters(actors=("Q22686", "Q7747")),
    Filters(since=dt.datetime(2026, 2, 10, tzinfo=dt.UTC), until=dt.datetime(2026, 2, 17, tzinfo=dt.UTC)),
    Filters(languages=("en",), outlets=("08f1ee71883dbcde", "9f9555d69283aeda")),
]


@pytest.fixture(scope="module")
def corpus() -> list[Article]:
    articles = [as_canonical(article) for article in [*seed_articles(), *news_articles()]]
    out = []
    for i, article in enumerate(articles):
        if i % 9 == 8:  # a copy of the article before it: hidden unless all copies are asked for
            article = article.model_copy(
                update={"duplicate_of": articles[i - 1].id, "duplicate_reason": "near", "similarity": 0.9}
            )
        elif i % 5 == 0:
            article = article.model_copy(update={"source_count": 2 + i % 3})
        out.append(article)
    return out


@pytest.fixture(scope="module")
def stores(
    es: Elasticsearch, corpus: list[Article], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[LocalStore, ElasticsearchStore]]:
    local = LocalStore(str(tmp_path_factory.mktemp("search") / "w.db"))
    local.write_articles(corpus)
    names = IndexNames(f"test-search-{uuid.uuid4().hex[:10]}")
    try:
        ensure_indices(es, names)
        actions = (
            {"_index": names.articles_alias, "_id": a.id, "_source": article_document(a)} for a in corpus
        )
        helpers.bulk(es, actions, refresh="wait_for")
        yield local, ElasticsearchStore(es, names, location="test")
    finally:
        local.close()
        delete_prefix(es, names.prefix)


def _ids(store: LocalStore | ElasticsearchStore, query: str, filters: Filters) -> set[str]:
    hits = store.search(search_request(query, filters, limit=EVERYTHING))
    return {hit.id for hit in hits}


def test_the_corpus_is_what_the_queries_need(corpus):
    assert len(corpus) > 500
    assert len({a.id for a in corpus}) == len(corpus)


@pytest.mark.parametrize("filters", FILTERS, ids=lambda f: repr(f).removeprefix("Filters"))
@pytest.mark.parametrize("query", QUERIES)
def test_both_stores_find_the_same_articles(stores, corpus, query, filters):
    local, es_store = stores
    ours, theirs = _ids(local, query, filters), _ids(es_store, query, filters)
    titles = {a.id: a.title[:60] for a in corpus}
    assert ours == theirs, (
        f"only the embedded store's: {[titles[i] for i in sorted(ours - theirs)][:5]}; "
        f"only Elasticsearch's: {[titles[i] for i in sorted(theirs - ours)][:5]}"
    )


def test_most_queries_split_the_corpus(stores, corpus):
    """Agreement means little on queries that find nothing or everything."""
    local, _ = stores
    counts = {query: len(_ids(local, query, Filters(all_copies=True))) for query in QUERIES}
    trivial = {query for query, count in counts.items() if count in (0, len(corpus))}
    assert len(trivial) <= 2, {query: counts[query] for query in trivial}


def test_copies_are_hidden_under_their_canonical_unless_asked_for(stores, corpus):
    local, es_store = stores
    copies = {a.id for a in corpus if a.duplicate_of}
    for store in (local, es_store):
        assert not _ids(store, "", Filters(languages=("en",))) & copies
        assert copies & _ids(store, "", Filters(languages=("en",), all_copies=True))


def test_pages_and_date_order_agree(stores):
    local, es_store = stores
    for store in (local, es_store):
        request = search_request("Trump", sort="date", limit=EVERYTHING)
        everything = store.search(request)
        dates = [hit.published_at for hit in everything if hit.published_at]
        assert dates == sorted(dates, reverse=True)
        page = store.search(search_request("Trump", sort="date", limit=5, offset=5))
        assert [hit.id for hit in page] == [hit.id for hit in everything[5:10]]
    newest = [[h.id for h in s.search(search_request("Trump", sort="date", limit=20))] for s in stores]
    assert newest[0] == newest[1]


@pytest.mark.parametrize(
    ("query", "filters"), [("Trump OR Ukraine", Filters()), ("", Filters(countries=("USA",)))]
)
def test_an_export_holds_what_a_search_finds(stores, query, filters):
    for store in stores:
        exported = [doc["id"] for doc in store.export(search_request(query, filters))]
        assert len(exported) == len(set(exported))
        assert set(exported) == _ids(store, query, filters)
        assert exported == sorted(exported)  # id order


def test_both_stores_count_the_same_facets(stores, corpus):
    local, es_store = stores
    facets = local.facets()
    assert facets == es_store.facets()
    canonical = [a for a in corpus if not a.duplicate_of]
    assert (facets.canonical, facets.copies) == (len(canonical), len(corpus) - len(canonical))

    def top(counter: Counter[str], size: int = FACET_SIZE) -> tuple[tuple[str, int], ...]:
        return tuple(sorted(counter.items(), key=lambda kv: (-kv[1], kv[0].encode()))[:size])

    assert facets.actors == top(Counter(n for a in canonical for n in set(a.actor_names)))
    assert facets.topics == top(Counter(t for a in canonical for t in set(a.topic_ids)))
    assert facets.countries == top(Counter(c for a in canonical for c in set(a.countries)))
    assert facets.outlets == top(Counter(a.source.name for a in corpus))
    days = Counter(a.published_at.date().isoformat() for a in corpus if a.published_at)
    assert facets.per_day == tuple(sorted(days.items(), reverse=True)[:FACET_DAYS])
