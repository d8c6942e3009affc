"""A teaser meets its full version through Elasticsearch (a later run): the index holds one lead key
per article and its lead ladder, and articles stored with every lead key (before ladders) still
match, their ladder made from those keys."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from elasticsearch import Elasticsearch, helpers

from connectors.es_dedup import ElasticsearchDedupIndex
from connectors.es_indices import IndexNames, article_document, ensure_indices
from schemas.near_dup import INDEXED_LEAD_DEPTH, is_lead_key, lead_depth
from schemas.records import Article
from tests.teasers import (
    decide_in_a_later_run,
    long_article,
    stored_as_before_ladders,
    stored_as_first_run,
    teaser_of,
)

pytestmark = pytest.mark.integration


def _index_with(es: Elasticsearch, es_prefix: str, stored: Article) -> ElasticsearchDedupIndex:
    names = IndexNames(es_prefix)
    ensure_indices(es, names)
    action = {"_op_type": "create", "_index": names.articles_alias, "_id": stored.id}
    helpers.bulk(es, [{**action, "_source": article_document(stored)}], refresh=True)
    return ElasticsearchDedupIndex(es, names, owns_client=False)


@pytest.mark.parametrize("writer", [stored_as_first_run, stored_as_before_ladders])
def test_a_teaser_of_a_stored_article_is_folded_as_contained(
    es: Elasticsearch, es_prefix: str, writer: Callable[[Article], Article]
):
    full = long_article(seed=3)
    stored = writer(full)
    index = _index_with(es, es_prefix, stored)
    decision = decide_in_a_later_run(index, teaser_of(full))
    assert (decision.duplicate_of, decision.reason) == (full.id, "contained")
    index.close()


def test_the_index_holds_the_first_lead_key_only(es: Elasticsearch, es_prefix: str):
    stored = stored_as_first_run(long_article(seed=4))
    index = _index_with(es, es_prefix, stored)
    names = IndexNames(es_prefix)
    (hit,) = es.search(index=names.articles_alias, query={"ids": {"values": [stored.id]}})["hits"]["hits"]
    leads = [k for k in hit["_source"]["near_dup_keys"] if is_lead_key(k)]
    assert [lead_depth(k) for k in leads] == [INDEXED_LEAD_DEPTH]
    assert hit["_source"]["near_dup_ladder"] == stored.near_dup_ladder
    index.close()
