"""`wirewatch serve`'s facets are the same from both stores.

The corpus of tests/integration/test_search_stores.py (the shared world-news captures and the
seeds, tagged, every ninth a copy of the one before it) goes into an embedded store and into
Elasticsearch; for each query, alone and with filters, both stores' `search_facets` must be equal,
and their total must be what `search` finds.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest

from pipelines.search_query import Filters, search_request
from schemas.store import FACET_DAYS, FACET_SIZE
from tests.integration import test_search_stores as search_parity

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# The corpus and the two stores holding it: the search parity tests' fixtures.
corpus = search_parity.corpus
stores = search_parity.stores

QUERIES = [
    "",
    "Trump",
    "trump greenland",
    '"North Korea"',
    "Ukraine OR Russia",
    "Ukraine -Russia",
    "sanction*",
    "Korea’s",
    "Orbán",
    "actor:Q22686",
    'actor:"Donald Trump"',
    "topic:military",
    "country:ukr",
    "NOT _exists_:summary",
    "published_at:[2026-02-01 TO 2026-02-15]",
]

FILTERS = [
    Filters(),
    Filters(all_copies=True),
    Filters(countries=("usa",)),
    Filters(topics=("military",), all_copies=True),
    Filters(actors=("Q22686", "Q7747")),
    Filters(since=dt.datetime(2026, 2, 10, tzinfo=dt.UTC), until=dt.datetime(2026, 2, 17, tzinfo=dt.UTC)),
    Filters(languages=("en",), outlets=("08f1ee71883dbcde", "9f9555d69283aeda"), feeds=()),
]


@pytest.mark.parametrize("filters", FILTERS, ids=lambda f: repr(f).removeprefix("Filters"))
@pytest.mark.parametrize("query", QUERIES)
def test_both_stores_count_the_same_facets_for_a_query(stores, query, filters):
    local, es_store = stores
    request = search_request(query, filters, limit=100_000, everything=True)
    ours = local.search_facets(request)
    assert ours == es_store.search_facets(request)
    assert ours.total == len(local.search(request))


def test_an_unfiltered_query_counts_the_whole_store(stores, corpus):
    local, es_store = stores
    canonical = [a for a in corpus if not a.duplicate_of]
    facets = local.search_facets(search_request("", everything=True))
    assert facets == es_store.search_facets(search_request("", everything=True))

    def top(counter: Counter[str]) -> tuple[tuple[str, int], ...]:
        return tuple(sorted(counter.items(), key=lambda kv: (-kv[1], kv[0].encode()))[:FACET_SIZE])

    assert facets.total == len(canonical)
    assert facets.actors == top(Counter(n for a in canonical for n in set(a.actor_names)))
    assert facets.actor_ids == top(Counter(n for a in canonical for n in set(a.actor_ids)))
    assert facets.topics == top(Counter(t for a in canonical for t in set(a.topic_ids)))
    assert facets.outlets == top(Counter(a.source.name for a in canonical))
    days = Counter(a.published_at.date().isoformat() for a in canonical if a.published_at)
    assert facets.per_day == tuple(sorted(days.items())[-FACET_DAYS:])
    whole = local.facets()
    assert (facets.actors, facets.topics, facets.countries) == (whole.actors, whole.topics, whole.countries)
