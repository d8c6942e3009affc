"""The embedded store against a real SQLite file."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import pathlib
from typing import Any

import pytest

from connectors.localstore import NOT_IN_DOC, LocalStore
from pipelines.alert_query import QueryError
from schemas.dedup import DedupConfig, LineageUpdate, fingerprint, is_id_key
from schemas.records import Article, DeadLetter, Sighting, Source
from schemas.store import WriteCounts
from tests.conftest import PIPELINE, RUN_AT, as_canonical, find


def _by_date(articles: list[Article], day: str) -> Article:
    return next(a for a in articles if a.published_at and a.published_at.date().isoformat() == day)


def test_rewriting_the_same_articles_is_a_counted_no_op(tmp_path: pathlib.Path, articles):
    store = LocalStore(str(tmp_path / "w.db"))
    assert store.write_articles(articles) == WriteCounts(written=2, duplicates=0)
    assert store.write_articles(articles) == WriteCounts(written=0, duplicates=2)
    store.close()

    reopened = LocalStore(str(tmp_path / "w.db"))
    assert reopened.stats().articles == 2
    # The dedup keys live in their own tables, not in the stored document.
    assert reopened.get(articles[0].id) == articles[0].model_dump(mode="json", exclude=NOT_IN_DOC)
    reopened.close()


def test_a_batch_with_repeats_and_stored_articles_writes_each_new_one_once(tmp_path: pathlib.Path, articles):
    """One batch is written in set-based statements: an article twice in it, or stored before,
    is a counted duplicate, and the new ones after the gap it leaves are searchable and found by
    their dedup keys."""
    first, second = (as_canonical(a) for a in articles)
    store = LocalStore(str(tmp_path / "w.db"))
    assert store.write_articles([first]) == WriteCounts(written=1, duplicates=0)
    assert store.write_articles([first, second, second]) == WriteCounts(written=1, duplicates=2)
    assert store.stats().articles == 2
    assert [hit.id for hit in find(store, second.title.split()[0])][:2].count(second.id) == 1
    text_key = next(k for k in second.dedup_keys if k.startswith("t:"))
    assert [d.article_id for d in store.lookup([text_key], second.near_dup_keys)] == [second.id]
    assert store.get(second.id) == second.model_dump(mode="json", exclude=NOT_IN_DOC)
    store.close()


def test_search_ranks_the_right_seed_first(tmp_path: pathlib.Path, articles):
    store = LocalStore(str(tmp_path / "w.db"))
    store.write_articles(articles)
    # Only the 2023-11-09 seed talks about satellites.
    satellites = find(store, "satellites", limit=5)
    assert [h.id for h in satellites] == [_by_date(articles, "2023-11-09").id]
    assert "[[satellites]]" in satellites[0].snippet
    # Both mention Putin; the 2023-11-07 seed names him far more often.
    putin = find(store, "Putin", limit=5)
    assert [h.id for h in putin] == [
        _by_date(articles, "2023-11-07").id,
        _by_date(articles, "2023-11-09").id,
    ]
    store.close()


def test_free_text_that_is_not_fts_syntax_still_searches(tmp_path: pathlib.Path, articles):
    store = LocalStore(str(tmp_path / "w.db"))
    store.write_articles(articles)
    assert len(find(store, "Kim Jong-un", limit=5)) == 2
    for bad in ('"unbalanced', "   "):  # a query that cannot be read is one line, not silence
        with pytest.raises(QueryError):
            find(store, bad, limit=5)
    store.close()


def test_get_accepts_a_unique_prefix(tmp_path: pathlib.Path, articles):
    store = LocalStore(str(tmp_path / "w.db"))
    store.write_articles(articles)
    assert store.get(articles[1].id[:8]) == articles[1].model_dump(mode="json", exclude=NOT_IN_DOC)
    assert store.get(articles[1].id[:5]) is None  # too short to be trusted
    assert store.get("0" * 32) is None
    store.close()


def test_dead_letters_are_replaced_not_repeated(tmp_path: pathlib.Path):
    store = LocalStore(str(tmp_path / "w.db"))
    letters = [
        DeadLetter.build(
            stage="read_seed",
            error="empty file",
            error_type="BadRecordError",
            payload=b"",
            source=f"seeds/{name}.txt",
            occurred_at=RUN_AT,
            run_id=run_id,
        )
        for name, run_id in (("a", "r1"), ("b", "r1"), ("a", "r2"))
    ]
    store.write_dead_letters(letters)
    assert store.stats().dead_letters == 2
    assert [d.source for d in store.dead_letters(limit=10, run_id="r2")] == ["seeds/a.txt"]
    store.close()


def _write_range(path: str, start: int, stop: int, go: Any = None) -> None:
    template = Article(
        id="0" * 32,
        source=Source(kind="seed", name="synthetic", file="x.txt"),
        title="Synthetic",
        body="body",
        ingested_at=RUN_AT,
        word_count=1,
        content_hash="0" * 64,
        pipeline=PIPELINE,
        published_at=dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
    )
    if go is not None:
        go.wait(60)  # every process opens the new file at the same moment
    store = LocalStore(path)
    for i in range(start, stop, 10):
        batch = [
            template.model_copy(update={"id": f"{n:032x}", "title": f"Synthetic article {n}"})
            for n in range(i, min(i + 10, stop))
        ]
        store.write_articles(batch)
    store.close()


def test_several_processes_can_write_at_once(tmp_path: pathlib.Path):
    path = str(tmp_path / "w.db")
    # Four processes open the same new file at once (schema and WAL switch race) and write
    # overlapping ranges: ids 300-399 and 500-599 come from two writers each.
    ctx = multiprocessing.get_context("spawn")
    ranges = ((0, 400), (300, 500), (500, 700), (500, 600))
    go = ctx.Barrier(len(ranges))
    workers = [ctx.Process(target=_write_range, args=(path, start, stop, go)) for start, stop in ranges]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=120)
        assert w.exitcode == 0
    store = LocalStore(path)
    assert store.stats().articles == 700
    assert len(find(store, "synthetic", limit=1000)) == 700
    store.close()


def test_a_store_from_schema_1_gains_the_record_id_column(tmp_path: pathlib.Path):
    import sqlite3

    path = tmp_path / "old.db"
    old = sqlite3.connect(path)
    old.executescript(
        "CREATE TABLE dead_letters (id TEXT PRIMARY KEY, stage TEXT NOT NULL, error_type TEXT NOT NULL, "
        "error TEXT NOT NULL, source TEXT, occurred_at TEXT NOT NULL, run_id TEXT, doc TEXT NOT NULL);"
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
        "INSERT INTO meta VALUES ('schema_version', '1');"
    )
    old.close()
    store = LocalStore(str(path))
    letter = DeadLetter.build(
        stage="normalize",
        error="no text",
        error_type="BadRecordError",
        payload="{}",
        source="x",
        occurred_at=RUN_AT,
        record_id="a" * 32,
    )
    store.write_dead_letters([letter])
    assert store.accounted_ids(["a" * 32, "b" * 32]) == {"a" * 32}
    store.close()


def test_dedup_lookup_finds_articles_by_key_and_lineage_merges_once(tmp_path: pathlib.Path, articles):
    stored = [as_canonical(a) for a in articles]
    store = LocalStore(str(tmp_path / "w.db"))
    store.write_articles(stored)
    first, second = stored
    text_key = next(k for k in first.dedup_keys if k.startswith("t:"))
    found = store.lookup([text_key, "t:0000000000000000"], first.near_dup_keys[:2])
    assert [(d.article_id, d.exact_keys, d.near_keys) for d in found] == [
        (first.id, frozenset({text_key}), frozenset(first.near_dup_keys[:2]))
    ]
    # The signature comes back as the article was written with it, for later runs to compare with.
    assert found[0].signature == fingerprint(first, DedupConfig()).signature != b""
    id_key = next(k for k in second.dedup_keys if is_id_key(k))
    assert [d.article_id for d in store.lookup([id_key], [])] == [second.id]  # answered by articles.id
    assert store.lookup(["u:" + "0" * 16], ["00-" + "0" * 16]) == []

    copy = Sighting(article_id="c" * 32, outlet="wire.example.com", seen_at=RUN_AT)
    update = LineageUpdate(canonical_id=first.id, sightings=(copy,))
    assert store.add_sightings(update)
    assert store.add_sightings(update)  # idempotent: the copy is there once
    doc = store.get(first.id)
    assert doc is not None
    assert (doc["source_count"], doc["independent_source_count"]) == (2, 2)
    assert not store.add_sightings(update.model_copy(update={"canonical_id": "d" * 32}))
    store.close()
