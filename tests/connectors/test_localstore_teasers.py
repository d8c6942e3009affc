"""A teaser meets its full version through the embedded store (a later run): the store indexes one
lead key per article and keeps its lead ladder, and articles stored before ladders still match."""

from __future__ import annotations

import pathlib
import sqlite3

from connectors.localstore import SCHEMA_VERSION, LocalStore, posting
from schemas.dedup import is_id_key
from schemas.near_dup import INDEXED_LEAD_DEPTH, lead_depth, lead_keys
from tests.teasers import (
    decide_in_a_later_run,
    long_article,
    stored_as_before_ladders,
    stored_as_first_run,
    teaser_of,
)


def test_a_teaser_of_a_stored_article_is_folded_as_contained(tmp_path: pathlib.Path):
    full = long_article()
    store = LocalStore(str(tmp_path / "store.db"))
    store.write_articles([stored_as_first_run(full)])
    decision = decide_in_a_later_run(store, teaser_of(full))
    assert (decision.duplicate_of, decision.reason) == (full.id, "contained")
    assert (decision.similarity or 0.0) >= 0.9  # 26 of ~28 shingles
    store.close()


def test_the_index_holds_the_first_lead_key_only(tmp_path: pathlib.Path):
    kept = stored_as_first_run(long_article())
    store = LocalStore(str(tmp_path / "store.db"))
    store.write_articles([kept])
    (rowid,) = store._db.execute("SELECT rowid FROM articles").fetchone()
    postings = {p for (p,) in store._db.execute("SELECT posting FROM dedup_index")}
    indexed = [k for k in (*kept.dedup_keys, *kept.near_dup_keys) if not is_id_key(k)]
    assert postings == {posting(k, rowid) for k in indexed}
    leads = lead_keys(kept.body, kept.title)
    assert len(leads) == 13  # every rung and the title's...
    assert [k for k in leads if posting(k, rowid) in postings] == [
        k for k in leads if lead_depth(k) == INDEXED_LEAD_DEPTH
    ]  # ...of which the first rung's alone is indexed
    (ladder,) = store._db.execute("SELECT ladder FROM dedup_docs").fetchone()
    assert ladder is not None
    assert ladder == kept.near_dup_ladder
    store.close()


def test_a_store_from_before_ladders_still_folds_the_teaser(tmp_path: pathlib.Path):
    """A schema-7 file: every lead key indexed and no ladder column; opened, it gains the column and
    the stored article's ladder is made from its text when a teaser's lookup finds it."""
    full = long_article(seed=2)
    path = str(tmp_path / "old.db")
    store = LocalStore(path)
    store.write_articles([stored_as_before_ladders(full)])
    store.close()
    db = sqlite3.connect(path)
    db.execute("ALTER TABLE dedup_docs DROP COLUMN ladder")
    db.execute("UPDATE meta SET value = '7' WHERE key = 'schema_version'")
    db.commit()
    db.close()

    store = LocalStore(path)
    assert store._db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == (
        str(SCHEMA_VERSION),
    )
    assert store._db.execute("SELECT ladder FROM dedup_docs").fetchall() == [(None,)]
    decision = decide_in_a_later_run(store, teaser_of(full))
    assert (decision.duplicate_of, decision.reason) == (full.id, "contained")
    store.close()
