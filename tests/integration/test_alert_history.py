"""The history read alert rules rebuild their memory from, with the same answers from both stores:
only the fields asked for, and every stored article except the ones this run wrote."""

from __future__ import annotations

import datetime as dt
import pathlib
from collections.abc import Callable, Iterator, Sequence

import pytest
from elasticsearch import Elasticsearch, helpers

from connectors.es_indices import IndexNames, article_document, ensure_indices
from connectors.es_store import ElasticsearchStore
from connectors.localstore import LocalStore
from connectors.store import AlertStore, OwnArticles
from pipelines.alert_match import FACT_FIELDS, Facts
from schemas.records import Article, PipelineInfo
from tests.conftest import RUN_AT, as_canonical, seed_articles

pytestmark = pytest.mark.integration

Write = Callable[[Sequence[Article]], None]


@pytest.fixture(params=["embedded", "elasticsearch"])
def history_store(
    request: pytest.FixtureRequest, tmp_path: pathlib.Path
) -> Iterator[tuple[AlertStore, Write]]:
    """A store to read history from, and a way to put articles there."""
    if request.param == "embedded":
        local = LocalStore(str(tmp_path / "w.db"))

        def write_local(articles: Sequence[Article]) -> None:
            local.write_articles(articles)

        try:
            yield local, write_local
        finally:
            local.close()
        return
    es_url = request.getfixturevalue("es_url")
    names = IndexNames(request.getfixturevalue("es_prefix"))
    client = Elasticsearch(es_url, request_timeout=30)
    ensure_indices(client, names)
    store = ElasticsearchStore(client, names, location=es_url)

    def write(articles: Sequence[Article]) -> None:
        actions = (
            {
                "_op_type": "create",
                "_index": names.articles_alias,
                "_id": a.id,
                "_source": article_document(a),
            }
            for a in articles
        )
        helpers.bulk(client, actions)
        store.refresh()

    try:
        yield store, write
    finally:
        store.close()


def _of_run(article: Article, run_id: str, started_at: dt.datetime, article_id: str) -> Article:
    return article.model_copy(
        update={
            "id": article_id,
            "pipeline": PipelineInfo(version="test", run_id=run_id),
            "ingested_at": started_at,
        }
    )


HOUR = dt.timedelta(hours=1)
BEFORE, THIS_RUN = RUN_AT - 24 * HOUR, RUN_AT.replace(microsecond=654321)


@pytest.fixture
def runs(history_store: tuple[AlertStore, Write]) -> tuple[AlertStore, dict[str, Article]]:
    """The 2023-11-09 seed as stored by three runs: an earlier one, an earlier one that had the
    same run id as this one (`--run-id nightly`), and this one."""
    store, write = history_store
    nov_9 = max((as_canonical(a) for a in seed_articles()), key=lambda a: str(a.published_at))
    stored = {
        "earlier": _of_run(nov_9, "r-earlier", BEFORE, "a1" * 16),
        "same id, earlier": _of_run(nov_9, "nightly", BEFORE + HOUR, "a2" * 16),
        "this run": _of_run(nov_9, "nightly", THIS_RUN, "a3" * 16),
    }
    write(list(stored.values()))
    return store, stored


def _ids(docs: Iterator[dict[str, object]]) -> set[object]:
    return {doc["id"] for doc in docs}


def test_the_runs_own_articles_are_left_out_by_the_query(runs):
    store, stored = runs
    this_run = OwnArticles(run_id="nightly", started_at=THIS_RUN)
    found = list(store.alert_history(None, FACT_FIELDS, exclude=this_run))
    assert _ids(iter(found)) == {stored["earlier"].id, stored["same id, earlier"].id}
    assert _ids(store.alert_history(None, FACT_FIELDS)) == {a.id for a in stored.values()}
    # A start given in another zone, or later than the run's articles, changes nothing / nothing more.
    in_seoul = OwnArticles("nightly", THIS_RUN.astimezone(dt.timezone(dt.timedelta(hours=9))))
    assert _ids(store.alert_history(None, FACT_FIELDS, exclude=in_seoul)) == _ids(iter(found))
    later = OwnArticles("nightly", THIS_RUN + HOUR)
    assert len(list(store.alert_history(None, FACT_FIELDS, exclude=later))) == 3


def test_only_the_fields_asked_for_come_back_and_make_the_same_facts(runs):
    store, stored = runs
    by_id = {a.id: a for a in stored.values()}
    for fields in (FACT_FIELDS, (*FACT_FIELDS, "body")):
        docs = list(store.alert_history(None, fields))
        assert len(docs) == 3
        for doc in docs:
            assert set(doc) == {field.split(".")[0] for field in fields}
            assert set(doc["source"]) == {"name", "feed_url"}
            expected = Facts.of_article(by_id[str(doc["id"])])
            if "body" not in fields:
                expected = Facts(**{**vars(expected), "text": f"{expected.title}\n".lower()})
            assert Facts.of_stored(doc) == expected
    whole = list(store.alert_history(None, None))
    assert {doc["id"]: doc["actors"] for doc in whole} == {
        a.id: [actor.model_dump(mode="json") for actor in a.actors] for a in stored.values()
    }


def test_since_counts_the_publication_time(runs):
    store, stored = runs
    published = stored["earlier"].published_at
    assert published is not None
    assert len(list(store.alert_history(published, FACT_FIELDS))) == 3
    assert list(store.alert_history(published + dt.timedelta(seconds=1), FACT_FIELDS)) == []


def test_a_window_reads_its_dates_only_in_event_order_across_pages(history_store):
    """What a backfill reads: the articles published within [since, until], whatever else is
    stored, each once across pages (of 3 here; two articles share each date)."""
    store, write = history_store
    seed = as_canonical(seed_articles()[0])
    day = dt.timedelta(days=1)
    start = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    articles = [
        seed.model_copy(update={"id": f"{n:032x}", "published_at": start + (n // 2) * day}) for n in range(60)
    ]
    write(articles)
    since, until = start + 10 * day, start + 19 * day
    docs = list(store.alert_history(since, FACT_FIELDS, until=until, page_size=3))
    expected = {a.id for a in articles if a.published_at is not None and since <= a.published_at <= until}
    assert len(expected) == 20
    assert len(docs) == len({doc["id"] for doc in docs}) == 20
    assert {doc["id"] for doc in docs} == expected
    assert list(store.alert_history(start - 10 * day, FACT_FIELDS, until=start - day)) == []
