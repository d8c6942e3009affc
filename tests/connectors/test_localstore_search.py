"""The embedded store's search: where FTS5's words and the standard analyzer's differ, the answer is
still the query evaluator's (Elasticsearch's), and a store indexed with stemming is rebuilt once."""

from __future__ import annotations

import pathlib
import sqlite3

import pytest

from connectors.localstore import LocalStore
from pipelines import fts_terms
from pipelines.search_query import Filters, search_request
from schemas.records import Article
from tests.conftest import find

# What schemas 1-5 created: the stemmed index.
_PORTER_FTS = """
DROP TABLE articles_fts;
CREATE VIRTUAL TABLE articles_fts USING fts5(
    title, body, content='articles', content_rowid='rowid',
    tokenize='porter unicode61 remove_diacritics 2'
);
INSERT INTO articles_fts(articles_fts) VALUES ('rebuild');
UPDATE meta SET value = '5' WHERE key = 'schema_version';
"""


def _with_text(article: Article, n: int, title: str, body: str) -> Article:
    return article.model_copy(update={"id": f"{n:032x}", "title": title, "body": body})


@pytest.fixture
def store(tmp_path: pathlib.Path, articles: list[Article]) -> LocalStore:
    base = articles[0]
    texts = [
        ("Ability to pay", "The abilities of the negotiators were tested."),
        ("東京 talks", "中国と日本の首脳が東京で会談した。"),
        ("The U.S. position", "Officials in the U.S. said they don't expect a deal."),
        ("Long words", "x" * 300 + " end"),
        ("Erdoğan speaks", "Erdoğan and Orbán met."),
        ("Erdogan plain", "Erdogan spelled without the breve."),
    ]
    store = LocalStore(str(tmp_path / "w.db"))
    store.write_articles([_with_text(base, n, title, body) for n, (title, body) in enumerate(texts)])
    return store


def _titles(store: LocalStore, query: str) -> list[str]:
    return sorted(hit.title for hit in find(store, query, limit=50))


def test_a_prefix_finds_what_stemming_would_have_hidden(store: LocalStore) -> None:
    # Stemmed, "abilities" is indexed as "abil": a prefix "abilit*" would miss it.
    assert _titles(store, "abilit*") == ["Ability to pay"]
    assert _titles(store, "abilities") == ["Ability to pay"]
    assert _titles(store, "ability") == ["Ability to pay"]  # a word, not its stem: the title has it


def test_words_the_two_tokenizers_cut_differently(store: LocalStore) -> None:
    # The standard analyzer makes a word of each ideograph, FTS5 one of the whole run.
    assert _titles(store, "中") == ["東京 talks"]
    assert _titles(store, '"中国"') == ["東京 talks"]
    assert _titles(store, '"国中"') == []
    assert _titles(store, "東") == ["東京 talks"]
    assert _titles(store, "U.S.") == ["The U.S. position"]
    assert _titles(store, "don't") == ["The U.S. position"]
    assert _titles(store, "don") == []  # one word for the standard analyzer: "don't"
    assert _titles(store, "x" * 255) == ["Long words"]  # cut at 255 characters, as Elasticsearch does


def test_diacritics_count_as_elasticsearch_counts_them(store: LocalStore) -> None:
    assert _titles(store, "Erdoğan") == ["Erdoğan speaks"]
    assert _titles(store, "Erdogan") == ["Erdogan plain"]
    assert _titles(store, "Erdo*") == ["Erdogan plain", "Erdoğan speaks"]


def test_unsafe_words_narrow_nothing() -> None:
    assert fts_terms.phrase(["中"]) is None
    assert fts_terms.phrase(["x" * 255]) is None
    assert fts_terms.phrase(["😀"]) is None
    assert fts_terms.phrase(["u.s"]) == '"u.s"'
    assert fts_terms.phrase(["sat"], prefix=True) == '"sat"*'
    assert search_request("Trump -Biden").fts == '((("trump")))'
    assert search_request("Trump OR country:USA").fts is None  # either side may match alone


def test_filters_alone_find_every_matching_article_newest_first(store: LocalStore) -> None:
    hits = store.search(search_request("", Filters(languages=("en",)), limit=50))
    assert len(hits) == 6
    assert [hit.id for hit in hits] == sorted(hit.id for hit in hits)  # one date: then by id, as in ES
    assert store.search(search_request("", Filters(languages=("xx",)))) == []


def test_a_stemmed_index_is_rebuilt_once(tmp_path: pathlib.Path, articles: list[Article]) -> None:
    path = tmp_path / "old.db"
    base = articles[0]
    old = LocalStore(str(path))
    old.write_articles([_with_text(base, 1, "Ability", "The abilities of the negotiators.")])
    old.close()
    with sqlite3.connect(path) as db:
        db.executescript(_PORTER_FTS)
    with sqlite3.connect(path) as db:  # the stemmed index misses the prefix
        assert db.execute(
            "SELECT count(*) FROM articles_fts WHERE articles_fts MATCH 'abilit*'"
        ).fetchone() == (0,)
    store = LocalStore(str(path))
    (sql,) = store._db.execute("SELECT sql FROM sqlite_master WHERE name = 'articles_fts'").fetchone()
    assert "porter" not in sql
    assert [hit.title for hit in find(store, "abilit*")] == ["Ability"]
    store._db.execute("INSERT INTO articles_fts(articles_fts, rank) VALUES ('integrity-check', 1)")
    store.close()
