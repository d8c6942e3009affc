"""Lineage converges after a crash: a re-run repairs what the crash left half written.

A run that dies mid-write can leave a copy stored while its canonical article (and with it the
lineage naming the copy) is not. The re-run reads the copy again, finds it stored, and must still
put it into its canonical article's `sources_seen`, whether that article is written by the re-run
or was stored all along. Corpus: tests/copy_corpus.py (chains A -> B -> C, wire copies, copies
read before their originals)."""

from __future__ import annotations

import json
import os
import pathlib
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from connectors.localstoreio import DEFAULT_BATCH_SIZE
from pipelines import ingest
from tests.conftest import embedded_docs
from tests.copy_corpus import CopyCorpus, build

WIREWATCH = str(pathlib.Path(sys.executable).parent / "wirewatch")
Docs = dict[str, dict[str, Any]]


def _lineage(docs: Docs) -> dict[str, tuple[Any, ...]]:
    """What lineage a store holds: each article's canonical, the ids it was seen as, the counts."""
    return {
        i: (
            d.get("duplicate_of"),
            sorted(s["article_id"] for s in d.get("sources_seen") or ()),
            d.get("source_count"),
            d.get("independent_source_count"),
        )
        for i, d in docs.items()
    }


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> CopyCorpus:
    return build(tmp_path_factory.mktemp("crash") / "seeds", stories=150, chains=30, seed=11)


class _Store:
    """A store under test: its `wirewatch run` flags, a reader, and two ways to lose what a crash
    loses: whole articles, or the copies in canonical articles' lineage."""

    def __init__(
        self,
        flags: list[str],
        read: Callable[[], Docs],
        lose: Callable[[set[str]], None],
        rewrite: Callable[[str, dict[str, Any]], None],
    ) -> None:
        self.flags, self.read, self.lose, self._rewrite = flags, read, lose, rewrite

    def forget_copies(self, ids: set[str]) -> None:
        """Each of `ids` keeps only its own sighting, as before any copy of it was recorded."""
        for article_id, doc in self.read().items():
            if article_id in ids:
                own = [s for s in doc["sources_seen"] if s["article_id"] == article_id]
                self._rewrite(article_id, {**doc, **_lineage_fields(own)})


def _lineage_fields(sightings: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "sources_seen": sightings,
        "first_seen": min(s["seen_at"] for s in sightings),
        "source_count": len(sightings),
        "independent_source_count": len({s["outlet"] for s in sightings}),
    }


def _embedded(path: pathlib.Path) -> _Store:
    def lose(ids: set[str]) -> None:
        # What a crash before these articles' write leaves: no row, no dedup row (stale postings
        # of their keys point at nothing, as they would after an interrupted transaction).
        with sqlite3.connect(path) as db:
            for table in ("articles", "dedup_docs"):
                db.executemany(f"DELETE FROM {table} WHERE id = ?", [(i,) for i in ids])

    def rewrite(article_id: str, doc: dict[str, Any]) -> None:
        with sqlite3.connect(path) as db:
            db.execute("UPDATE articles SET doc = ? WHERE id = ?", (json.dumps(doc), article_id))

    return _Store(["--store", str(path)], lambda: embedded_docs(path), lose, rewrite)


def _elasticsearch(es_url: str, prefix: str) -> _Store:
    index = f"{prefix}-articles"

    def read() -> Docs:
        with Elasticsearch(es_url, request_timeout=30) as client:
            client.indices.refresh(index=index)
            hits = client.search(index=index, size=10_000, query={"match_all": {}}).body["hits"]["hits"]
        return {h["_source"]["id"]: h["_source"] for h in hits}

    def lose(ids: set[str]) -> None:
        with Elasticsearch(es_url, request_timeout=30) as client:
            deletes = [{"delete": {"_index": index, "_id": i}} for i in sorted(ids)]
            client.bulk(operations=deletes, refresh=True)

    def rewrite(article_id: str, doc: dict[str, Any]) -> None:
        with Elasticsearch(es_url, request_timeout=30) as client:
            client.index(index=index, id=article_id, document=doc, refresh=True)

    return _Store(["--es-url", es_url, "--es-index-prefix", prefix], read, lose, rewrite)


@pytest.fixture(params=["embedded", "elasticsearch"])
def make_store(request: pytest.FixtureRequest, tmp_path: pathlib.Path) -> Iterator[Callable[[str], _Store]]:
    """A fresh store of the parametrized kind per call (a name tells them apart)."""
    if request.param == "embedded":
        with pytest.MonkeyPatch.context() as patch:  # `make test` exports an Elasticsearch URL
            patch.delenv("ELASTICSEARCH_URL", raising=False)
            yield lambda name: _embedded(tmp_path / f"{name}.db")
        return
    es_url = request.getfixturevalue("es_url")
    prefix = request.getfixturevalue("es_prefix")
    yield lambda name: _elasticsearch(es_url, f"{prefix}-{name}")


def _run(corpus: CopyCorpus, store: _Store) -> ingest.RunSummary:
    return ingest.run(["--seeds", str(corpus.folder), *store.flags, "--no-alerts"])


def test_a_rerun_repairs_the_lineage_of_copies_whose_canonical_article_was_lost(
    corpus: CopyCorpus, make_store: Callable[[str], _Store]
) -> None:
    clean = make_store("clean")
    _run(corpus, clean)
    expected = _lineage(clean.read())
    with_copies = {i for i, (dup, seen, *_) in expected.items() if dup is None and len(seen) > 1}
    assert len(with_copies) >= 10, "the corpus must have canonical articles with copies"

    crashed = make_store("crashed")
    _run(corpus, crashed)
    crashed.lose(with_copies)  # their copies stay stored, pointing at them
    assert not with_copies & crashed.read().keys()

    _run(corpus, crashed)
    assert _lineage(crashed.read()) == expected
    # Idempotent: one more re-run changes nothing.
    _run(corpus, crashed)
    assert _lineage(crashed.read()) == expected


def test_a_rerun_repairs_a_stored_canonical_article_whose_lineage_update_was_lost(
    corpus: CopyCorpus, make_store: Callable[[str], _Store]
) -> None:
    """The other half of a crash: a copy of an article stored by an earlier run is written, and the
    run dies before the lineage update naming it reaches the stored article."""
    clean = make_store("clean")
    _run(corpus, clean)
    expected = _lineage(clean.read())
    crashed = make_store("crashed")
    _run(corpus, crashed)
    with_copies = {i for i, (dup, seen, *_) in expected.items() if dup is None and len(seen) > 1}
    crashed.forget_copies(with_copies)
    assert all(len(d["sources_seen"]) == 1 for i, d in crashed.read().items() if i in with_copies)

    _run(corpus, crashed)
    assert _lineage(crashed.read()) == expected


def _articles_in(path: pathlib.Path) -> int:
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=0.1) as db:
            return int(db.execute("SELECT count(*) FROM articles").fetchone()[0])
    except sqlite3.Error:
        return 0  # not created yet, or the schema is being written


def test_kill_9_in_the_middle_of_the_write_then_a_rerun_gives_the_lineage_of_a_clean_run(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ELASTICSEARCH_URL", raising=False)
    # More articles than one write transaction takes, so that the kill can land between two.
    corpus = build(tmp_path / "seeds", stories=DEFAULT_BATCH_SIZE + 500, chains=40, seed=5)
    clean = tmp_path / "clean.db"
    ingest.run(["--seeds", str(corpus.folder), "--store", str(clean), "--no-alerts"])
    expected = _lineage(embedded_docs(clean))

    crashed = tmp_path / "crashed.db"
    env = {k: v for k, v in os.environ.items() if k != "ELASTICSEARCH_URL"}
    process = subprocess.Popen(
        [WIREWATCH, "run", "--seeds", str(corpus.folder), "--store", str(crashed), "--no-alerts", "-q"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 300
    while _articles_in(crashed) == 0 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    stored_at_crash = _articles_in(crashed)
    assert 0 < stored_at_crash < len(expected), "the kill must land between the first and the last write"

    ingest.run(["--seeds", str(corpus.folder), "--store", str(crashed), "--no-alerts"])
    assert _lineage(embedded_docs(crashed)) == expected
