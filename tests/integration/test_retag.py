"""`wirewatch retag` brings a registry edit to the articles already stored, in both stores."""

from __future__ import annotations

import json
import pathlib
import re
import shutil
import sqlite3
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from connectors.es_client import bulk_write
from connectors.es_indices import IndexNames, article_document, ensure_indices
from connectors.es_retag import retag_articles
from connectors.localstore import LocalStore
from connectors.retag import RetagRequest
from pipelines.tag_fields import tag_document
from pipelines.tag_match import Tagger
from schemas.actors import load_registry, validate_folder
from schemas.records import Article
from tests.conftest import SEEDS, as_canonical, seed_articles
from tests.integration.conftest import Docs, StoreUnderTest
from tests.integration.test_cli import wirewatch

pytestmark = pytest.mark.integration

KIM = "Q56226"  # Kim Jong Un: named in both seed articles
OLD_VERSION = "2000.01.01"
TAG_FIELDS = ("actors", "topics", "actor_ids", "actor_names", "countries", "topic_ids")


def _registry_without(actor_id: str, tmp_path: pathlib.Path) -> pathlib.Path:
    """A valid copy of the repository's registry lacking one person, under an older version."""
    folder = tmp_path / "actors"
    shutil.copytree(SEEDS / "actors", folder)
    people = folder / "people.yaml"
    text = people.read_text(encoding="utf-8")
    # The actor's list item: its `- id:` line and every line up to the next item.
    reduced = re.sub(rf"^- id: {actor_id}\n(?:(?!- id: ).*\n)*", "", text, count=1, flags=re.M)
    assert reduced != text
    people.write_text(reduced, encoding="utf-8")
    registry = folder / "registry.yaml"
    registry.write_text(
        re.sub(
            r"^version: .*$", f'version: "{OLD_VERSION}"', registry.read_text(encoding="utf-8"), flags=re.M
        ),
        encoding="utf-8",
    )
    assert validate_folder(folder) == []
    assert load_registry(folder).get(actor_id) is None
    return folder


def _flag(flags: list[str], name: str) -> str | None:
    return flags[flags.index(name) + 1] if name in flags else None


def _es(flags: list[str]) -> tuple[Elasticsearch, IndexNames]:
    url, prefix = _flag(flags, "--es-url"), _flag(flags, "--es-index-prefix")
    assert url is not None
    assert prefix is not None
    return Elasticsearch(url, request_timeout=30), IndexNames(prefix)


def _ingest(flags: list[str], articles: list[Article]) -> None:
    """Store `articles` the way the pipeline's sinks do (the same write functions)."""
    path = _flag(flags, "--store")
    if path is not None:
        local = LocalStore(path)
        try:
            assert local.write_articles(articles).written == len(articles)
        finally:
            local.close()
        return
    client, names = _es(flags)
    try:
        ensure_indices(client, names)
        outcomes = bulk_write(client, names.articles_alias, [(a.id, article_document(a)) for a in articles])
        assert {o.status for o in outcomes} == {"created"}
        client.indices.refresh(index=names.articles_alias)
    finally:
        client.close()


def _seeds_tagged_without_kim(tmp_path: pathlib.Path) -> list[Article]:
    tagger = Tagger.from_files(_registry_without(KIM, tmp_path))
    return [as_canonical(a, tagger) for a in seed_articles()]


def _retag(flags: list[str], *extra: str, cwd: pathlib.Path) -> tuple[int, dict[str, Any]]:
    result = wirewatch("retag", *flags, *extra, "--json", cwd=cwd)
    assert result.returncode in (0, 1), result.stderr
    return result.returncode, json.loads(result.stdout)


def _counts(summary: dict[str, Any]) -> tuple[int, int, int, int]:
    return summary["scanned"], summary["changed"], summary["unchanged"], summary["failed"]


def _without_tags(doc: dict[str, Any]) -> dict[str, Any]:
    rest = {k: v for k, v in doc.items() if k not in TAG_FIELDS}
    rest["pipeline"] = {k: v for k, v in doc["pipeline"].items() if not k.endswith("_version")}
    return rest


def test_retag_brings_a_registry_edit_to_the_stored_articles(tmp_path: pathlib.Path, store: StoreUnderTest):
    flags, read = store
    _ingest(flags, _seeds_tagged_without_kim(tmp_path))
    before = read()
    assert len(before) == 2
    for doc in before.values():
        assert KIM not in doc["actor_ids"]
        assert KIM not in {a["id"] for a in doc["actors"]}
        assert doc["pipeline"]["registry_version"] == OLD_VERSION

    code, dry = _retag(flags, "--dry-run", cwd=tmp_path)
    assert (code, dry["dry_run"], _counts(dry)) == (0, True, (2, 2, 0, 0))
    assert read() == before

    code, first = _retag(flags, cwd=tmp_path)
    assert (code, _counts(first), first["failures"]) == (0, (2, 2, 0, 0), [])
    after = read()
    # Exactly what ingesting with the full registry stores, and nothing else of the documents touched.
    expected = {a.id: as_canonical(a).model_dump(mode="json") for a in seed_articles()}
    version = load_registry().version
    assert first["registry_version"] == version
    for article_id, doc in after.items():
        assert {k: doc[k] for k in TAG_FIELDS} == {k: expected[article_id][k] for k in TAG_FIELDS}
        assert doc["pipeline"]["registry_version"] == version
        assert _without_tags(doc) == _without_tags(before[article_id])
        assert KIM in doc["actor_ids"]
        assert "Kim Jong Un" in doc["actor_names"]
        kim = next(a for a in doc["actors"] if a["id"] == KIM)
        text = f"{doc['title']}\n\n{doc['body']}"
        assert kim["evidence"]
        for span in kim["evidence"]:  # the evidence points at the text that named him
            assert text[span["start"] : span["end"]] == span["text"]

    code, second = _retag(flags, cwd=tmp_path)
    assert (code, _counts(second)) == (0, (2, 0, 2, 0))
    assert read() == after

    code, forced = _retag(flags, "--force", "--limit", "1", "--batch-size", "1", cwd=tmp_path)
    assert (code, _counts(forced)) == (0, (1, 1, 0, 0))
    assert read() == after


def _hit(client: Elasticsearch, names: IndexNames, article_id: str) -> dict[str, Any]:
    hits = client.search(index=names.articles_alias, query={"ids": {"values": [article_id]}})["hits"]["hits"]
    assert len(hits) == 1
    return dict(hits[0])


def _damage(flags: list[str], article_id: str) -> str:
    """Damage one stored article the way an old bug or a hand edit could; returns what is missing.

    In Elasticsearch the body goes; the embedded store keeps title and body in NOT NULL columns
    (the JSON holds them empty), so there the title is blanked."""
    path = _flag(flags, "--store")
    if path is not None:
        with sqlite3.connect(path) as db:
            db.execute("UPDATE articles SET title = '' WHERE id = ?", (article_id,))
        db.close()
        return "title"
    client, names = _es(flags)
    try:
        hit = _hit(client, names, article_id)
        source = {k: v for k, v in hit["_source"].items() if k != "body"}
        client.index(index=hit["_index"], id=article_id, document=source, refresh=True)
    finally:
        client.close()
    return "body"


def test_an_article_that_cannot_be_retagged_is_reported_and_the_others_are_updated(
    tmp_path: pathlib.Path, store: StoreUnderTest
):
    flags, read = store
    articles = _seeds_tagged_without_kim(tmp_path)
    _ingest(flags, articles)
    broken, healthy = articles[0].id, articles[1].id
    missing = _damage(flags, broken)

    result = wirewatch("retag", *flags, cwd=tmp_path)
    assert result.returncode == 1
    assert f"wirewatch: retag: {broken}: the stored document has no {missing}" in result.stderr.splitlines()
    last = result.stdout.strip().splitlines()[-1]
    assert "scanned 2, changed 1, unchanged 0, failed 1, elapsed" in last
    assert "Traceback" not in result.stderr
    docs = read()
    assert KIM in docs[healthy]["actor_ids"]
    assert KIM not in docs[broken]["actor_ids"]
    assert docs[broken]["pipeline"]["registry_version"] == OLD_VERSION


def test_a_concurrent_lineage_update_in_elasticsearch_is_kept_and_the_tags_still_written(
    tmp_path: pathlib.Path, es_url: str, es_prefix: str
):
    """A write landing between retag's read and its update (a pipeline adding a sighting) makes the
    conditional update conflict; the document is read again and re-tagged, and both writes stay."""
    flags = ["--es-url", es_url, "--es-index-prefix", es_prefix]
    articles = _seeds_tagged_without_kim(tmp_path)
    _ingest(flags, articles)
    client, names = _es(flags)
    tagger = Tagger.from_files()
    target = articles[0]
    concurrent_writes: list[Any] = []

    def tag_while_someone_writes(title: str, body: str) -> dict[str, Any]:
        if not concurrent_writes and title == target.title:
            index = _hit(client, names, target.id)["_index"]
            concurrent_writes.append(client.update(index=index, id=target.id, doc={"source_count": 7}))
        return tag_document(tagger.tag(title, body))

    try:
        summary = retag_articles(
            client, names, es_url, RetagRequest(tag=tag_while_someone_writes, batch_size=10)
        )
        client.indices.refresh(index=names.articles_alias)
        hits = client.search(index=names.articles_alias, query={"match_all": {}})["hits"]["hits"]
    finally:
        client.close()
    assert len(concurrent_writes) == 1
    assert (summary.scanned, summary.changed, summary.unchanged, summary.failed) == (2, 2, 0, 0)
    docs: Docs = {h["_id"]: h["_source"] for h in hits}
    assert docs[target.id]["source_count"] == 7
    assert all(KIM in doc["actor_ids"] for doc in docs.values())
