"""pipelines.alert_query against a real Elasticsearch: the same query string, the same articles.

Every article of the shared world-news captures (and the two seeds) is normalized and tagged as the
pipeline does, indexed with OUR index templates, then each query below runs in Elasticsearch as a
`query_string` query and through `CompiledQuery.matches` over the same JSON documents: the two sets
of ids must be equal. A few fields (source counts, similarity, duplicate reason, dates near now) are
varied first so that every construct has something to tell apart.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from elasticsearch import Elasticsearch, helpers

from connectors.es_indices import IndexNames, article_document, ensure_indices
from pipelines.alert_query import analyze, compile_query
from schemas.records import Article
from tests.conftest import as_canonical, delete_prefix, news_articles, seed_articles

pytestmark = [pytest.mark.integration, pytest.mark.slow]


QUERIES = [
    # bare terms: every field, text by words, keyword by whole value, numbers and dates leniently
    "Q423",
    "q423",
    "Trump",
    "greenland",
    "U.S.",
    "2023",
    "1",
    "USA",
    "Korea’s",
    "TRUMP",
    "north-korea",
    "1,000",
    "2026-02-16",
    # consecutive bare words are one text: also a keyword's whole value ("Donald Trump")
    "Donald Trump",
    "Kim Jong Un",
    "Q423 Q159",
    "Trump Greenland",
    "countries:(USA CHN)",
    "countries:(USA OR CHN)",
    # phrases
    '"Security Council"',
    '"North Korea’s"',
    '"nuclear talks"',
    'title:"Donald Trump"',
    'actor_names:"Donald Trump"',
    'actors.name:"Kim Jong Un"',
    '"trump greenland"',
    'published_at:"2025-10-09"',
    # fields, groups, booleans as Lucene's classic parser combines them
    "actor_ids:Q423 AND topic_ids:sanctions",
    "actor_names:(Donald Trump)",
    "title:(Trump Greenland)",
    "Trump AND Greenland",
    "trump OR greenland",
    "+Trump -Greenland",
    "Trump -Greenland",
    "Iran OR Israel AND nuclear",
    "(Iran OR Israel) AND nuclear",
    "Iran OR NOT Israel",
    "Iran AND NOT topic_ids:nuclear",
    "Iran AND (NOT countries:ISR)",
    "NOT countries:USA",
    "-countries:USA",
    "NOT (countries:USA OR countries:CHN)",
    "countries:USA AND countries:CHN OR countries:RUS",
    "countries:(RUS OR UKR) AND topic_ids:military*",
    "body:(sanctions OR tariffs) AND countries:CHN",
    "actors.kind:person AND actors.country:RUS",
    "topics.id:space.satellites",
    "source.name:seeds",
    "Trump^2 Greenland",
    "title:(+Trump -Greenland)",
    "Greenland OR (Trump AND Denmark)",
    '"Security Council" AND -Iran',
    "sources_seen.outlet:seeds AND pipeline.version:test",
    # wildcards
    "satellit*",
    "Ukrain?",
    "Ukr*ne",
    "topic_ids:diplomacy.*",
    "actor_names:Don*",
    "title.keyword:Trump*",
    "title:Trump*",
    "Korea*",
    "title:?",
    "*",
    # ranges and comparisons
    "independent_source_count:>=2",
    "source_count:3",
    "source_count:[2 TO 4] AND independent_source_count:1",
    "word_count:[100 TO 300]",
    "word_count:{100 TO 300}",
    "word_count:<50",
    "word_count:>1000",
    "similarity:[0.8 TO *]",
    "similarity:0.85",
    "similarity:>0.8",
    "source_count:2.0",
    "source_count:2.5",
    "word_count:[* TO 10]",
    "word_count:[100 TO 300.5]",
    "actors.salience:[0.9 TO 1]",
    "actors.mentions:>=5",
    "actor_names:[A TO C]",
    "title:[a TO b]",
    "published_at:[2023-11-01 TO 2023-11-08]",
    "published_at:2023-11-09",
    "published_at:[2025-10 TO 2025-11}",
    "published_at:{2025-10-01 TO 2025-10-09]",
    "published_at:2026-02",
    "published_at:[2025-10-01T00:00:00Z TO 2025-10-09T23:00:00Z]",
    "published_at:>=2026-01-01",
    "published_at:>now-7d",
    "published_at:[now-30d/d TO now]",
    # existence
    "_exists_:summary",
    "_exists_:duplicate_reason",
    "duplicate_reason:near",
    "summary:*",
    "_exists_:actors",
    "_exists_:categories",
    "language:en AND NOT _exists_:summary",
]


def _varied(index: int, article: Article, now: dt.datetime) -> Article:
    """Deterministic variety in the fields the pipeline would set later (counts, duplicates, dates)."""
    changes: dict[str, Any] = {"source_count": 1 + index % 5, "independent_source_count": 1 + index % 3}
    if index % 7 == 0:
        changes |= {"duplicate_reason": "near", "similarity": (0.75, 0.85, 0.95)[index % 3]}
    if index % 11 == 5:
        changes["published_at"] = now - dt.timedelta(days=2 + index % 40)
    return article.model_copy(update=changes)


@pytest.fixture(scope="module")
def docs() -> list[dict[str, Any]]:
    now = dt.datetime.now(dt.UTC)
    articles = [as_canonical(article) for article in [*seed_articles(), *news_articles()]]
    return [article_document(_varied(i, article, now)) for i, article in enumerate(articles)]


@pytest.fixture(scope="module")
def alias(es: Elasticsearch, docs: list[dict[str, Any]]) -> Iterator[str]:
    names = IndexNames(f"test-aq-{uuid.uuid4().hex[:10]}")
    try:
        ensure_indices(es, names)
        actions = ({"_index": names.articles_alias, "_id": doc["id"], "_source": doc} for doc in docs)
        helpers.bulk(es, actions, refresh="wait_for")
        yield names.articles_alias
    finally:
        delete_prefix(es, names.prefix)


def _es_ids(es: Elasticsearch, alias: str, query: str, size: int) -> set[str]:
    body = es.search(index=alias, query={"query_string": {"query": query}}, size=size, source=False)
    return {hit["_id"] for hit in body["hits"]["hits"]}


def test_the_corpus_is_what_the_queries_need(docs):
    assert len(docs) > 500
    assert len({doc["id"] for doc in docs}) == len(docs)


@pytest.mark.parametrize("query", QUERIES)
def test_the_same_articles_as_elasticsearch(es, alias, docs, query):
    compiled = compile_query(query)
    ours = {doc["id"] for doc in docs if compiled.matches(doc)}
    theirs = _es_ids(es, alias, query, size=len(docs) + 1)
    titles = {doc["id"]: doc["title"][:60] for doc in docs}
    assert ours == theirs, (
        f"only ours: {[titles[i] for i in sorted(ours - theirs)][:5]}; "
        f"only Elasticsearch's: {[titles[i] for i in sorted(theirs - ours)][:5]}"
    )


def test_most_queries_split_the_corpus(es, alias, docs):
    """Agreement means little on queries that match nothing or everything: most must do neither."""
    counts = {query: len(_es_ids(es, alias, query, size=len(docs) + 1)) for query in QUERIES}
    trivial = [query for query, count in counts.items() if count in (0, len(docs))]
    # These are there for what they show: case-sensitive keywords, bare words as one keyword value, a
    # phrase that is not one, an integer with a decimal part, everything.
    expected = {"q423", "Q423 Q159", "countries:(USA CHN)", '"trump greenland"', "source_count:2.5", "*"}
    assert set(trivial) == expected, {query: counts[query] for query in set(trivial) ^ expected}


def test_the_standard_analyzer_makes_the_same_tokens(es, docs):
    for doc in docs:
        for field in ("title", "summary", "body"):
            if doc.get(field):
                tokens = es.indices.analyze(analyzer="standard", text=doc[field])["tokens"]
                assert analyze(doc[field]) == [t["token"] for t in tokens], (doc["id"], field)
