"""The embedded store's dedup lookup, batched, against the per-key lookup it replaced."""

from __future__ import annotations

import base64
import datetime as dt
import pathlib
import random
from collections.abc import Collection

from connectors.localstore import MAX_ROWID, LocalStore, _bucket, posting
from schemas.dedup import StoredDoc, document_keys, is_id_key
from schemas.near_dup import DEFAULT_CONFIG
from schemas.records import Article, Source
from tests.conftest import PIPELINE, RUN_AT
from tests.crowded_keys import check_crowded_keys, crowded_corpus

# Keys whose 31-bit buckets are shared (found by search, checked below): a text key and a band key,
# two band keys, two text keys. Looking one up finds the other's articles too.
_SHARED_BUCKETS = (
    ("t:0000000000008440", "06-0000000000008da6"),
    ("15-000000000000840f", "05-0000000000013475"),
    ("t:00000000000145fb", "t:000000000001734c"),
)
_TEXT_KEYS = [f"t:{n:016x}" for n in range(12)] + [k for pair in _SHARED_BUCKETS for k in pair if k[0] == "t"]
_BAND_KEYS = [f"{band:02d}-{n:016x}" for band in range(16) for n in range(6)]
_BAND_KEYS += [k for pair in _SHARED_BUCKETS for k in pair if k[0] != "t"]
_URLS = [f"https://news.example.com/story/{n}" for n in range(10)]
_GUIDS = [f"urn:uuid:{n:08d}-0000-4000-8000-000000000000" for n in range(5)]


def _reference_lookup(
    store: LocalStore, exact_keys: Collection[str], near_keys: Collection[str]
) -> list[StoredDoc]:
    """The lookup as it was: one SELECT per key, then the documents of every article found."""
    db = store._db
    found: dict[int, tuple[set[str], set[str]]] = {}
    for key, is_band in (*((k, False) for k in exact_keys), *((k, True) for k in near_keys)):
        if is_id_key(key):
            prefix = key.split(":", 1)[1]
            rows = db.execute("SELECT rowid FROM articles WHERE id >= ? AND id < ?", (prefix, prefix + "g"))
        else:
            rows = db.execute(
                "SELECT posting FROM dedup_index WHERE posting BETWEEN ? AND ?",
                (posting(key, 0), posting(key, MAX_ROWID)),
            )
        for (value,) in rows:
            found.setdefault(value & MAX_ROWID, (set(), set()))[is_band].add(key)
    docs: list[StoredDoc] = []
    ordered = sorted(found)
    for start in range(0, len(ordered), 500):
        chunk = ordered[start : start + 500]
        marks = ",".join("?" * len(chunk))
        rows = db.execute(
            "SELECT rowid, id, json_extract(doc, '$.duplicate_of'), body, "
            "json_extract(doc, '$.canonical_url'), json_extract(doc, '$.guid'), "
            f"json_extract(doc, '$.content_hash') FROM articles WHERE rowid IN ({marks})",
            chunk,
        )
        for rowid, article_id, duplicate_of, body, url, guid, text_hash in rows:
            exact_hits, near_hits = found[rowid]
            exact = frozenset(document_keys(article_id, url, guid, text_hash).intersection(exact_hits))
            bands = frozenset(near_hits) if duplicate_of is None else frozenset()
            if exact or bands:
                docs.append(StoredDoc(article_id, duplicate_of, exact, bands, body))
    return docs


def _articles(rng: random.Random, count: int) -> list[Article]:
    """Articles sharing text, URL, GUID and band keys at random; ids in groups sharing a 16-character
    prefix (an id key's); a quarter of them copies; a few carrying a stray exact key not their own."""
    articles: list[Article] = []
    for n in range(count):
        article_id = f"{n // 3:016x}{n:016x}"
        content_hash = rng.choice(_TEXT_KEYS)[2:] + "0" * 48
        url, guid = rng.choice([*_URLS, None]), rng.choice([*_GUIDS, None, None])
        exact = sorted(document_keys(article_id, url, guid, content_hash))
        if n % 17 == 0:
            exact.append(rng.choice(_TEXT_KEYS))
        articles.append(
            Article(
                id=article_id,
                canonical_url=url,
                guid=guid,
                source=Source(kind="seed", name="synthetic", file="x.txt"),
                title=f"Synthetic article {n}",
                body=f"body {n}",
                ingested_at=RUN_AT,
                published_at=dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
                word_count=2,
                content_hash=content_hash,
                pipeline=PIPELINE,
                duplicate_of=articles[rng.randrange(n)].id if n and rng.random() < 0.25 else None,
                dedup_keys=tuple(exact),
                near_dup_keys=tuple(rng.sample(_BAND_KEYS, 16)),
            )
        )
    return articles


def _queries(rng: random.Random, articles: list[Article]) -> list[tuple[list[str], list[str]]]:
    """Lookups as the pipeline makes them (a chunk of articles' exact and band keys), with keys no
    article has, id prefixes of several lengths, and keys asked for as exact and band key at once."""
    unknown = [f"u:{n:016x}" for n in range(5)] + [f"{n:02d}-ffffffffffffffff" for n in range(5)]
    stored_keys = sorted({k for a in articles for k in (*a.dedup_keys, *a.near_dup_keys)})
    queries = []
    for _ in range(150):
        chunk = rng.sample(articles, rng.randrange(1, 8))
        exact = [k for a in chunk for k in a.dedup_keys] + rng.sample(unknown, 2)
        near = [k for a in chunk for k in a.near_dup_keys] + rng.sample(stored_keys, 3)
        exact += ["i:" + rng.choice(articles).id[: rng.choice((4, 15, 16, 20))]]
        near += ["i:" + rng.choice(articles).id[:16], rng.choice(exact)]
        queries.append((exact, near))
    queries.append(
        ([k for a in articles for k in a.dedup_keys], [k for a in articles for k in a.near_dup_keys])
    )
    queries.append(([], []))
    return queries


def _signed(docs: list[StoredDoc]) -> list[StoredDoc]:
    return [d.with_signature(DEFAULT_CONFIG) for d in docs]


def test_keys_said_to_share_a_bucket_do():
    assert all(_bucket(a) == _bucket(b) for a, b in _SHARED_BUCKETS)


def test_lookup_answers_as_one_statement_per_key_did(tmp_path: pathlib.Path):
    rng = random.Random(7)
    store = LocalStore(str(tmp_path / "w.db"))
    articles = _articles(rng, 400)
    store.write_articles(articles)
    answers = 0
    for exact, near in _queries(rng, articles):
        expected = _reference_lookup(store, exact, near)
        # As deduplication uses them: the text matters only where a signature is made from it.
        assert _signed(store.lookup(exact, near)) == _signed(expected)
        answers += len(expected)
    assert answers > 1000  # the keys are shared enough for lookups to find many articles each
    # A band key finds the canonical articles holding the other key of its bucket (decide compares
    # their text): the shared buckets are exercised.
    asked, other = _SHARED_BUCKETS[1]
    strangers = {a.id for a in articles if a.duplicate_of is None and asked not in a.near_dup_keys}
    strangers &= {a.id for a in articles if other in a.near_dup_keys}
    assert strangers
    assert strangers <= {d.article_id for d in store.lookup([], [asked])}
    store.close()


def test_lookup_takes_a_few_statements_whatever_the_number_of_keys(tmp_path: pathlib.Path):
    store = LocalStore(str(tmp_path / "w.db"))
    articles = _articles(random.Random(7), 400)
    store.write_articles(articles)
    found, statements = _lookup_every_key(store, articles)
    assert len(found) == len(articles)
    # Two to find the articles (id prefixes, then dedup_index), one per 500 of them to read their
    # fields (dedup_docs), one per 500 canonical ones to read the text their signature is made of
    # (these articles were stored without one).
    assert len(statements) == 2 + 1 + 1
    store.close()


def _lookup_every_key(store: LocalStore, articles: list[Article]) -> tuple[list[StoredDoc], list[str]]:
    """The lookup of every key of `articles`, and the SQL statements it ran."""
    statements: list[str] = []
    store._db.set_trace_callback(statements.append)
    found = store.lookup(*_every_key(articles))
    store._db.set_trace_callback(None)
    return found, statements


def _every_key(articles: list[Article]) -> tuple[list[str], list[str]]:
    return [k for a in articles for k in a.dedup_keys], [k for a in articles for k in a.near_dup_keys]


def _signed_articles(count: int) -> list[Article]:
    articles = _articles(random.Random(11), count)
    return [
        a.model_copy(update={"near_dup_signature": base64.b64encode(bytes([n % 256]) * 512).decode()})
        if a.duplicate_of is None
        else a
        for n, a in enumerate(articles)
    ]


def test_a_lookup_reads_the_kept_signatures_not_the_text(tmp_path: pathlib.Path):
    store = LocalStore(str(tmp_path / "w.db"))
    articles = _signed_articles(300)
    store.write_articles(articles)
    found, statements = _lookup_every_key(store, articles)
    assert len(statements) == 2 + 1  # no article's own row is read
    by_id = {a.id: a for a in articles}
    for doc in found:
        kept = by_id[doc.article_id].near_dup_signature
        assert doc.body == ""
        assert doc.signature == (base64.b64decode(kept) if kept else b"")
    store.close()


def test_a_store_of_schema_4_gains_the_lookup_rows_and_answers_the_same(tmp_path: pathlib.Path):
    path = str(tmp_path / "w.db")
    store = LocalStore(path)
    articles = _signed_articles(300)
    store.write_articles(articles)
    keys = _every_key(articles)
    before = store.lookup(*keys)
    # As schema 4 left it: no dedup_docs rows.
    store._db.execute("DELETE FROM dedup_docs")
    store._db.execute("UPDATE meta SET value = '4' WHERE key = 'schema_version'")
    store.close()
    store = LocalStore(path)
    (rows,) = store._db.execute("SELECT count(*) FROM dedup_docs").fetchone()
    assert rows == len(articles)
    assert store.lookup(*keys) == before
    store.close()


def test_an_article_a_schema_4_writer_stored_is_read_from_its_document(tmp_path: pathlib.Path):
    store = LocalStore(str(tmp_path / "w.db"))
    articles = _signed_articles(300)
    store.write_articles(articles)
    keys = _every_key(articles)
    before = store.lookup(*keys)
    store._db.execute("DELETE FROM dedup_docs WHERE rowid % 3 = 0")  # never written by that writer
    after = store.lookup(*keys)
    assert _signed(after) == _signed(before)
    assert {d.article_id for d in after} == {a.id for a in articles}
    store.close()


# --- crowded near keys --------------------------------------------------------------------------


def test_a_crowded_near_key_finds_nobody(tmp_path: pathlib.Path):
    store = LocalStore(str(tmp_path / "w.db"))
    articles = crowded_corpus()
    store.write_articles(articles)
    check_crowded_keys(store.lookup, articles)
    store.close()
