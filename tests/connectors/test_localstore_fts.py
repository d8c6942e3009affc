"""The embedded store's full-text index: each stored article indexed once, in new and older files."""

from __future__ import annotations

import pathlib
import sqlite3

from connectors.localstore import FTS_AUTOMERGE, SCHEMA_VERSION, LocalStore
from schemas.records import Article
from tests.conftest import find

# What schemas 1-3 created: the index fed by a trigger on every row insert.
_OLD_INSERT_TRIGGER = """
CREATE TRIGGER articles_fts_insert AFTER INSERT ON articles BEGIN
    INSERT INTO articles_fts(rowid, title, body) VALUES (new.rowid, new.title, new.body);
END;
"""


def _satellites(articles: list[Article]) -> Article:
    """The one seed article that talks about satellites (test_localstore's search test)."""
    return next(a for a in articles if a.published_at and a.published_at.date().isoformat() == "2023-11-09")


def _indexed_rows(store: LocalStore) -> int:
    (count,) = store._db.execute("SELECT count(*) FROM articles_fts_docsize").fetchone()
    return int(count)


def _check_index(store: LocalStore) -> None:
    """Raises if the index and the articles it is built from disagree (a row indexed twice, or not)."""
    store._db.execute("INSERT INTO articles_fts(articles_fts, rank) VALUES ('integrity-check', 1)")


def test_a_written_article_is_found_and_indexed_once(tmp_path: pathlib.Path, articles):
    store = LocalStore(str(tmp_path / "w.db"))
    store.write_articles(articles)
    assert [h.id for h in find(store, "satellites", limit=5)] == [_satellites(articles).id]

    store.write_articles(articles)  # both already stored: nothing inserted, nothing indexed
    assert [h.id for h in find(store, "satellites", limit=5)] == [_satellites(articles).id]
    assert _indexed_rows(store) == len(articles)
    _check_index(store)
    store.close()


def test_a_store_from_schema_3_drops_its_insert_trigger(tmp_path: pathlib.Path, articles):
    path = tmp_path / "old.db"
    newer = _satellites(articles)
    older = next(a for a in articles if a.id != newer.id)
    store = LocalStore(str(path))
    store.write_articles([older])
    store.close()
    old = sqlite3.connect(path)
    old.executescript(_OLD_INSERT_TRIGGER + "UPDATE meta SET value = '3' WHERE key = 'schema_version';")
    old.close()

    store = LocalStore(str(path))
    triggers = {row[0] for row in store._db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
    assert {name for name in triggers if "fts" in name} == {"articles_fts_delete", "articles_fts_update"}
    assert store._db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == (
        str(SCHEMA_VERSION),
    )
    store.write_articles([newer])
    assert [h.id for h in find(store, "satellites", limit=5)] == [newer.id]
    assert len(find(store, "Putin", limit=5)) == 2  # the article stored before still found, once
    assert _indexed_rows(store) == 2
    _check_index(store)
    store.close()


def test_the_full_text_index_merges_eight_segments_at_a_time_unless_set_otherwise(
    tmp_path: pathlib.Path,
) -> None:
    path = tmp_path / "w.db"
    store = LocalStore(str(path))
    assert store._db.execute("SELECT v FROM articles_fts_config WHERE k = 'automerge'").fetchone() == (
        FTS_AUTOMERGE,
    )
    # A store whose owner chose another value keeps it.
    store._db.execute("INSERT INTO articles_fts(articles_fts, rank) VALUES ('automerge', 2)")
    store.close()
    again = LocalStore(str(path))
    assert again._db.execute("SELECT v FROM articles_fts_config WHERE k = 'automerge'").fetchone() == (2,)
    again.close()
