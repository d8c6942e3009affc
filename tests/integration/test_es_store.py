"""Index setup and the Elasticsearch store against a real Elasticsearch node."""

from __future__ import annotations

import copy
import datetime as dt
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple

import pytest
from elasticsearch import BadRequestError, Elasticsearch, NotFoundError, helpers

from connectors.es_indices import (
    IndexNames,
    article_document,
    dead_letter_document,
    ensure_indices,
    index_status,
    load_templates,
    reset_indices,
)
from connectors.es_store import ElasticsearchStore
from connectors.store import StoreError
from pipelines.alert_query import QueryError
from schemas.records import Article, DeadLetter, Source
from tests.conftest import RUN_AT, delete_prefix, find, seed_articles

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def module_prefix(es: Elasticsearch) -> Iterator[str]:
    """One `test-b-<uuid>` prefix for this module; each test derives its own names under it."""
    prefix = f"test-b-{uuid.uuid4().hex[:12]}"
    yield prefix
    delete_prefix(es, prefix)


@pytest.fixture
def names(module_prefix: str) -> IndexNames:
    """Fresh names for one test: nothing exists under them yet."""
    return IndexNames(f"{module_prefix}-{uuid.uuid4().hex[:6]}")


def _by_date(articles: list[Article], day: str) -> Article:
    return next(a for a in articles if a.published_at and a.published_at.date().isoformat() == day)


def _letters() -> list[DeadLetter]:
    return [
        DeadLetter.build(
            stage="read_seed",
            error=f"bad date in {name}",
            error_type="BadRecordError",
            payload=f"date 2023-13-0{minute} …",
            source=f"seeds/{name}.txt",
            occurred_at=RUN_AT + dt.timedelta(minutes=minute),
            run_id=run_id,
        )
        for name, minute, run_id in (("a", 1, "r1"), ("b", 3, "r2"), ("c", 2, "r1"))
    ]


class Seeded(NamedTuple):
    store: ElasticsearchStore
    names: IndexNames
    articles: list[Article]


@pytest.fixture(scope="module")
def seeded(es: Elasticsearch, module_prefix: str) -> Seeded:
    """The two repository seeds and three dead letters, written with plain client calls.

    The store shares the module's client, so it is not closed here (close() closes the client).
    """
    names = IndexNames(f"{module_prefix}-seeded")
    ensure_indices(es, names)
    articles = seed_articles()
    helpers.bulk(
        es,
        (
            {
                "_op_type": "create",
                "_index": names.articles_alias,
                "_id": a.id,
                "_source": article_document(a),
            }
            for a in articles
        ),
    )
    for letter in _letters():
        es.index(index=names.deadletters_alias, id=letter.id, document=dead_letter_document(letter))
    store = ElasticsearchStore(es, names, location="test")
    store.refresh()
    return Seeded(store, names, articles)


# --- setup ----------------------------------------------------------------------------------


def _modified_dates(es: Elasticsearch, names: IndexNames) -> dict[str, int]:
    dates = {}
    for name in names.component_templates:
        found = es.cluster.get_component_template(name=name)["component_templates"][0]
        dates[name] = found["component_template"]["modified_date_millis"]
    for name in names.index_templates:
        found = es.indices.get_index_template(name=name)["index_templates"][0]
        dates[name] = found["index_template"]["modified_date_millis"]
    return dates


def _write_indices(es: Elasticsearch, alias: str) -> dict[str, Any]:
    return {
        index: entry["aliases"][alias].get("is_write_index")
        for index, entry in es.indices.get_alias(name=alias).body.items()
    }


def test_ensure_indices_installs_once_then_is_a_no_op(es: Elasticsearch, names: IndexNames):
    assert ensure_indices(es, names) is True
    dates = _modified_dates(es, names)
    assert ensure_indices(es, names) is False
    assert _modified_dates(es, names) == dates  # nothing was put again
    assert _write_indices(es, names.articles_alias) == {names.articles_first_index: True}
    assert _write_indices(es, names.deadletters_alias) == {names.deadletters_first_index: True}


def _race(es: Elasticsearch, names: IndexNames) -> list[bool]:
    """ensure_indices from two threads released at the same instant; their results (or errors)."""
    start = threading.Barrier(2)

    def worker() -> bool:
        start.wait(timeout=30)
        return ensure_indices(es, names)

    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = [pool.submit(worker) for _ in range(2)]
        return [future.result(timeout=120) for future in futures]


def test_racing_workers_both_succeed_and_build_one_layout(es: Elasticsearch, module_prefix: str):
    for round_ in range(3):
        names = IndexNames(f"{module_prefix}-race{round_}")
        results = _race(es, names)
        assert True in results
        assert _write_indices(es, names.articles_alias) == {names.articles_first_index: True}
        assert _write_indices(es, names.deadletters_alias) == {names.deadletters_first_index: True}


def _installed_version(es: Elasticsearch, name: str) -> int:
    found = es.cluster.get_component_template(name=name)["component_templates"][0]
    version: int = found["component_template"]["_meta"]["template_version"]
    return version


def test_an_older_template_is_upgraded_and_a_newer_one_left_alone(es: Elasticsearch, names: IndexNames):
    ensure_indices(es, names)
    name = f"{names.prefix}-articles-mappings"
    shipped = load_templates(names)[name]
    for version, expect_put, expect_installed in (
        (0, True, shipped["_meta"]["template_version"]),
        (99, False, 99),
    ):
        body = copy.deepcopy(shipped)
        body["_meta"]["template_version"] = version
        es.cluster.put_component_template(name=name, body=body)
        assert ensure_indices(es, names) is expect_put
        assert _installed_version(es, name) == expect_installed


def test_an_index_squatting_the_alias_name_is_a_store_error(es: Elasticsearch, names: IndexNames):
    # What a write before `wirewatch es setup` leaves behind: a plain index named like the alias.
    es.indices.create(index=names.articles_alias, settings={"number_of_replicas": 0})
    with pytest.raises(StoreError, match=f"cannot create {names.articles_first_index} with alias") as caught:
        ensure_indices(es, names)
    assert "\n" not in str(caught.value)


def test_the_server_accepts_documents_only_after_keyword_truncation(es: Elasticsearch, names: IndexNames):
    ensure_indices(es, names)
    article = seed_articles()[0].model_copy(
        update={"source": Source(kind="seed", name="Агентство " * 4_000, file="seeds/x.txt")}
    )
    with pytest.raises(BadRequestError, match="immense term"):
        es.index(index=names.articles_alias, id=article.id, document=article.model_dump(mode="json"))
    es.index(index=names.articles_alias, id=article.id, document=article_document(article), refresh=True)
    assert es.count(index=names.articles_alias)["count"] == 1


# --- reading ----------------------------------------------------------------------------------


def test_search_ranks_the_satellites_seed_first_with_a_highlight(seeded):
    store, _, articles = seeded
    hits = find(store, "satellites", limit=5)
    assert [h.id for h in hits] == [_by_date(articles, "2023-11-09").id]
    assert "[[satellites]]" in hits[0].snippet
    assert hits[0].score > 0
    assert hits[0].published_at == dt.datetime(2023, 11, 9, tzinfo=dt.UTC)


def test_search_for_putin_returns_both_the_heavier_user_first(seeded):
    store, _, articles = seeded
    hits = find(store, "Putin", limit=5)
    assert [h.id for h in hits] == [_by_date(articles, "2023-11-07").id, _by_date(articles, "2023-11-09").id]
    assert all("[[Putin]]" in h.snippet for h in hits)
    assert hits[0].score > hits[1].score


def test_search_syntax_an_analyst_would_type(seeded):
    store, _, articles = seeded
    nov9 = _by_date(articles, "2023-11-09").id
    assert [h.id for h in find(store, '"blood alliance"', limit=5)] == [nov9]
    assert "[[blood alliance]]" in find(store, '"blood alliance"', limit=5)[0].snippet
    assert [h.id for h in find(store, "satel*", limit=5)] == [nov9]
    assert len(find(store, "Kim Jong-un", limit=5)) == 2
    assert find(store, "Putin satellites", limit=5)[0].id == nov9  # every word must match
    assert len(find(store, "Putin satellites", limit=5)) == 1
    assert find(store, "Putin", limit=1)[0].id == _by_date(articles, "2023-11-07").id
    assert len(find(store, "Putin", limit=50_000)) == 2  # past max_result_window: capped, not refused
    for bad in ('"unbalanced', "   "):  # a query that cannot be read is one line, not silence
        with pytest.raises(QueryError):
            find(store, bad, limit=5)


def test_get_by_id_and_by_unique_prefix(seeded):
    store, _, articles = seeded
    for article in articles:
        assert store.get(article.id) == article.model_dump(mode="json")
        assert store.get(article.id[:8]) == article.model_dump(mode="json")
    assert store.get(articles[1].id[:5]) is None  # too short to be trusted
    assert store.get("0" * 32) is None


def test_an_ambiguous_prefix_finds_nothing(es: Elasticsearch, names: IndexNames):
    ensure_indices(es, names)
    seed = seed_articles()[0]
    for digit in "01":
        twin = seed.model_copy(update={"id": f"abcdef{digit}" + seed.id[7:]})
        es.index(index=names.articles_alias, id=twin.id, document=article_document(twin), refresh=True)
    store = ElasticsearchStore(es, names, location="twins")
    assert store.get("abcdef") is None
    found = store.get("abcdef1")
    assert found is not None
    assert found["id"] == "abcdef1" + seed.id[7:]


def test_stats_count_articles_dead_letters_and_the_date_range(seeded):
    store = seeded.store
    assert store.stats().model_dump() == {
        "location": "test",
        "articles": 2,
        "dead_letters": 3,
        "earliest_published": dt.datetime(2023, 11, 7, tzinfo=dt.UTC),
        "latest_published": dt.datetime(2023, 11, 9, tzinfo=dt.UTC),
    }


def test_the_alias_has_the_template_mapping(es: Elasticsearch, seeded):
    mappings = es.indices.get_mapping(index=seeded.names.articles_alias).body
    (mapping,) = (entry["mappings"] for entry in mappings.values())
    properties = mapping["properties"]
    assert mapping["dynamic"] == "false"
    assert properties["published_at"]["type"] == "date"
    assert properties["title"]["type"] == "text"
    assert properties["title"]["fields"]["keyword"]["type"] == "keyword"
    assert properties["actors"]["properties"]["id"]["type"] == "keyword"  # reserved fields are in place


def test_dead_letters_round_trip_newest_first(seeded):
    store = seeded.store
    letters = sorted(_letters(), key=lambda d: d.occurred_at, reverse=True)
    assert store.dead_letters(limit=10) == letters
    assert store.dead_letters(limit=1) == letters[:1]
    assert store.dead_letters(limit=10, run_id="r1") == [d for d in letters if d.run_id == "r1"]
    assert store.dead_letters(limit=10, run_id="nope") == []


def test_index_status_reports_aliases_counts_and_versions(es: Elasticsearch, seeded):
    names = seeded.names
    status = index_status(es, names)
    shipped = load_templates(names)[f"{names.prefix}-articles-mappings"]["_meta"]["template_version"]
    assert status["health"] in ("green", "yellow")
    assert status["articles"] == {
        "alias": names.articles_alias,
        "write_index": names.articles_first_index,
        "indices": [names.articles_first_index],
        "documents": 2,
        "mapping_version": shipped,
    }
    assert status["deadletters"]["documents"] == 3
    assert status["templates_installed"] == status["templates_shipped"]
    assert set(status["templates_shipped"]) == {*names.component_templates, *names.index_templates}


def test_nothing_written_yet_reads_as_an_empty_store(es: Elasticsearch, names: IndexNames):
    store = ElasticsearchStore(es, names, location="empty")
    store.refresh()
    assert find(store, "Putin", limit=5) == []
    assert store.get("0123456789") is None
    assert store.dead_letters(limit=5) == []
    assert store.stats().model_dump() == {
        "location": "empty",
        "articles": 0,
        "dead_letters": 0,
        "earliest_published": None,
        "latest_published": None,
    }
    status = index_status(es, names)
    assert status["articles"]["write_index"] is None
    assert status["articles"]["documents"] == 0
    assert set(status["templates_installed"].values()) == {None}


def test_reset_deletes_indices_and_templates(es: Elasticsearch, names: IndexNames):
    ensure_indices(es, names)
    article = seed_articles()[0]
    es.index(index=names.articles_alias, id=article.id, document=article_document(article), refresh=True)

    deleted = reset_indices(es, names)
    assert sorted(deleted) == sorted(
        [
            names.articles_first_index,
            names.deadletters_first_index,
            names.alerts_first_index,
            names.feedstate_index,
            *names.index_templates,
            *names.component_templates,
        ]
    )
    assert not es.indices.exists(
        index=[
            names.articles_first_index,
            names.deadletters_first_index,
            names.alerts_first_index,
            names.feedstate_index,
        ]
    )
    assert not es.indices.exists_alias(
        name=[names.articles_alias, names.deadletters_alias, names.alerts_alias]
    )
    for name in names.index_templates:
        with pytest.raises(NotFoundError):
            es.indices.get_index_template(name=name)
    for name in names.component_templates:
        with pytest.raises(NotFoundError):
            es.cluster.get_component_template(name=name)
    assert ElasticsearchStore(es, names, location="reset").stats().articles == 0
    assert reset_indices(es, names) == []
