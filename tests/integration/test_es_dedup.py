"""The deduplication side of Elasticsearch (lookup by key, lineage updates) against a real node."""

from __future__ import annotations

import base64
import copy
import datetime as dt
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from elasticsearch import Elasticsearch, helpers

from connectors import es_dedup
from connectors.elasticsearchio import ElasticsearchSink
from connectors.es_client import EsEndpoint, RetryPolicy
from connectors.es_dedup import ElasticsearchDedupIndex
from connectors.es_indices import IndexNames, article_document, ensure_indices, load_templates
from connectors.store import StoreError
from schemas.dedup import (
    Decision,
    DedupConfig,
    Lineage,
    LineageUpdate,
    StoredDoc,
    apply_decision,
    merge_sightings,
    signature_of,
)
from schemas.ids import stable_id
from schemas.records import Article, Sighting
from tests.conftest import RUN_AT, seed_articles
from tests.crowded_keys import check_crowded_keys, crowded_corpus

pytestmark = pytest.mark.integration

SEED = seed_articles()[0]
NEW_FIELDS = ("guid", "dedup_keys", "near_dup_keys", "duplicate_reason", "similarity")


def _id(n: int) -> str:
    return stable_id("test-dedup", str(n))


def _article(n: int, **changes: Any) -> Article:
    """A seed article under another id, with its dedup fields set as given."""
    return SEED.model_copy(update={"id": _id(n), "body": f"{SEED.body} ({n})", **changes})


def _canonical(n: int, **changes: Any) -> Article:
    """A canonical article carrying its own sighting, as the pipeline writes one."""
    article = _article(n, **changes)
    return apply_decision(article, Decision(article.id))


def _sighting(n: int, outlet: str, minutes: int) -> Sighting:
    return Sighting(
        article_id=_id(n),
        outlet=outlet,
        url=f"https://{outlet}/story-{n}",
        feed_url=f"https://{outlet}/rss",
        published_at=RUN_AT,
        seen_at=RUN_AT + dt.timedelta(minutes=minutes),
    )


def _write(es: Elasticsearch, names: IndexNames, articles: list[Article], *, refresh: bool = True) -> None:
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
        refresh=refresh,
    )


def _stored(es: Elasticsearch, names: IndexNames, article_id: str) -> dict[str, Any]:
    """The document and its version (`_seq_no`), from whichever index behind the alias holds it."""
    es.indices.refresh(index=names.articles_alias)
    (hit,) = es.search(index=names.articles_alias, query={"ids": {"values": [article_id]}})["hits"]["hits"]
    return dict(es.get(index=hit["_index"], id=article_id).body)


def _lineage(sightings: tuple[Sighting, ...]) -> dict[str, Any]:
    return Lineage.of(sightings).model_dump(mode="json")


def _lineage_of(doc: dict[str, Any]) -> dict[str, Any]:
    return {field: doc["_source"].get(field) for field in Lineage.model_fields}


@pytest.fixture
def names(es: Elasticsearch, es_prefix: str) -> IndexNames:
    names = IndexNames(es_prefix)
    ensure_indices(es, names)
    return names


@pytest.fixture
def index(es: Elasticsearch, names: IndexNames) -> Iterator[ElasticsearchDedupIndex]:
    dedup = ElasticsearchDedupIndex(es, names, owns_client=False)
    yield dedup
    dedup.close()


# --- lookup -----------------------------------------------------------------------------------


def test_a_crowded_near_key_finds_nobody(
    es: Elasticsearch, names: IndexNames, index: ElasticsearchDedupIndex
):
    """As in the embedded store (tests/connectors/test_localstore_lookup.py, the same articles)."""
    articles = crowded_corpus()
    _write(es, names, articles)
    check_crowded_keys(index.lookup, articles)


@pytest.fixture
def stored_three(es: Elasticsearch, names: IndexNames) -> tuple[Article, Article, Article]:
    """A canonical article, a copy of it, and an unrelated article."""
    canonical = _canonical(1, dedup_keys=("u:a", "t:same"), near_dup_keys=("b:1", "b:2"))
    # A copy never gets band keys from the pipeline; this one has some to prove they are ignored.
    copy_ = _article(
        2,
        dedup_keys=("u:b", "t:same"),
        near_dup_keys=("b:1",),
        duplicate_of=canonical.id,
        duplicate_reason="text",
        similarity=1.0,
    )
    other = _canonical(3, dedup_keys=("u:c",), near_dup_keys=("b:3",))
    _write(es, names, [canonical, copy_, other])
    return canonical, copy_, other


def test_lookup_by_exact_key_finds_canonical_articles_and_copies(index, stored_three):
    canonical, copy_, _ = stored_three
    found = index.lookup({"t:same", "u:unknown"}, ())
    assert found == sorted(
        [
            StoredDoc(canonical.id, None, frozenset({"t:same"}), frozenset(), ""),
            StoredDoc(copy_.id, canonical.id, frozenset({"t:same"}), frozenset(), ""),
        ],
        key=lambda d: d.article_id,
    )


def test_lookup_by_band_key_finds_only_canonical_articles(index, stored_three):
    canonical, _, _ = stored_three
    assert index.lookup((), ["b:1"]) == [
        StoredDoc(canonical.id, None, frozenset(), frozenset({"b:1"}), canonical.body)
    ]


def test_lookup_returns_the_signature_a_canonical_article_was_stored_with(es, names, index):
    signature = bytes(range(256)) * 2  # 128 values
    kept = _canonical(4, near_dup_keys=("b:4",), near_dup_signature=base64.b64encode(signature).decode())
    older = _canonical(5, near_dup_keys=("b:4",))  # stored before signatures were kept
    _write(es, names, [kept, older])
    found = {d.article_id: d for d in index.lookup((), ["b:4"])}
    assert found[kept.id].signature == signature
    assert found[kept.id].body == ""  # its text is not read
    assert found[older.id].signature == b""
    # The kept one is used as it is; the older one's is computed from its text.
    config = DedupConfig().near
    assert found[kept.id].with_signature(config).signature == signature
    assert found[older.id].with_signature(config).signature == signature_of(older.body, config).tobytes()


def test_lookup_reports_only_the_keys_asked_for(index, stored_three):
    canonical, copy_, other = stored_three
    found = {d.article_id: d for d in index.lookup(["u:a", "u:b"], ["b:2", "b:3", "b:9"])}
    assert set(found) == {canonical.id, copy_.id, other.id}
    assert (found[canonical.id].exact_keys, found[canonical.id].near_keys) == ({"u:a"}, {"b:2"})
    assert (found[copy_.id].exact_keys, found[copy_.id].near_keys) == ({"u:b"}, set())
    assert (found[other.id].exact_keys, found[other.id].near_keys) == (set(), {"b:3"})


def test_lookup_of_no_keys_or_unknown_keys_finds_nothing(index, stored_three):
    assert index.lookup((), ()) == []
    assert index.lookup(["u:nope"], ["b:nope"]) == []


def test_lookup_reads_every_chunk_of_keys_and_every_page(es_url: str, names: IndexNames, es: Elasticsearch):
    count = es_dedup.PAGE_SIZE * 2 + 3  # > MAX_TERMS keys and > 2 pages of hits
    assert count > es_dedup.MAX_TERMS
    articles = [
        _canonical(n, dedup_keys=(f"k:{n}", "k:shared"), near_dup_keys=(f"b:{n % 5}",)) for n in range(count)
    ]
    _write(es, names, articles)

    client = Elasticsearch(es_url, request_timeout=30)
    requests: list[dict[str, Any]] = []
    search = client.search

    def spy(**kwargs: Any) -> Any:
        requests.append(kwargs)
        return search(**kwargs)

    client.search = spy  # type: ignore[method-assign]
    dedup = ElasticsearchDedupIndex(client, names)
    try:
        exact = [f"k:{n}" for n in range(count + 50)] + ["k:shared"]  # 50 keys nobody has
        found = dedup.lookup(exact, ["b:0", "b:1"])
    finally:
        dedup.close()

    assert sorted(d.article_id for d in found) == sorted(a.id for a in articles)
    by_id = {d.article_id: d for d in found}
    for n, article in enumerate(articles):
        doc = by_id[article.id]
        # Keys of one article asked for in different chunks come together.
        assert doc.exact_keys == {f"k:{n}", "k:shared"}, n
        assert doc.near_keys == ({f"b:{n % 5}"} if n % 5 < 2 else set()), n
        # Stored without a signature: the text is read where a band key found it, to make one.
        assert doc.body == (article.body if n % 5 < 2 else ""), n
    terms = [_terms(r["query"]) for r in requests]
    assert max(terms) <= es_dedup.MAX_TERMS
    firsts = [r for r in requests if r.get("search_after") is None]
    assert sum(1 for r in firsts if _terms(r["query"])) == 2  # two chunks of keys
    assert len(requests) > 2  # and more than one page


def _terms(query: Any) -> int:
    """How many values the `terms` queries inside `query` carry."""
    if isinstance(query, dict):
        return sum(len(v) if k in ("dedup_keys", "near_dup_keys") else _terms(v) for k, v in query.items())
    if isinstance(query, list):
        return sum(_terms(item) for item in query)
    return 0


def test_nothing_set_up_yet_finds_nothing(es: Elasticsearch, es_prefix: str):
    dedup = ElasticsearchDedupIndex(es, IndexNames(es_prefix), owns_client=False)
    assert dedup.lookup(["u:a"], ["b:1"]) == []
    assert (
        dedup.add_sightings(LineageUpdate(canonical_id=_id(1), sightings=(_sighting(2, "a.com", 1),)))
        is False
    )


# --- lineage ----------------------------------------------------------------------------------


def test_add_sightings_merges_and_recomputes_the_lineage(es, names, index):
    canonical = _canonical(1)
    _write(es, names, [canonical])
    new = (_sighting(3, "other.org", 5), _sighting(2, "wire.com", 2))
    assert index.add_sightings(LineageUpdate(canonical_id=canonical.id, sightings=new)) is True
    doc = _stored(es, names, canonical.id)
    expected = merge_sightings(canonical.sources_seen, new)
    assert [s["article_id"] for s in doc["_source"]["sources_seen"]] == [canonical.id, _id(2), _id(3)]
    assert _lineage_of(doc) == _lineage(expected)
    assert doc["_source"]["source_count"] == 3
    assert doc["_source"]["body"] == canonical.body  # the rest of the document is untouched


def test_add_sightings_is_idempotent_and_writes_nothing_new(es, names, index):
    canonical = _canonical(1)
    _write(es, names, [canonical])
    first = (_sighting(2, "wire.com", 2),)
    assert index.add_sightings(LineageUpdate(canonical_id=canonical.id, sightings=first)) is True
    before = _stored(es, names, canonical.id)
    assert index.add_sightings(LineageUpdate(canonical_id=canonical.id, sightings=first)) is True
    after = _stored(es, names, canonical.id)
    assert (after["_seq_no"], after["_source"]) == (before["_seq_no"], before["_source"])  # no write

    more = (_sighting(2, "wire.com", 2), _sighting(4, "wire.com", 9))
    assert index.add_sightings(LineageUpdate(canonical_id=canonical.id, sightings=more)) is True
    doc = _stored(es, names, canonical.id)
    assert _lineage_of(doc) == _lineage((*canonical.sources_seen, *first, more[1]))
    assert doc["_source"]["independent_source_count"] == 2  # the seed's outlet and wire.com


def test_add_sightings_on_a_missing_article_is_false(es, names, index):
    _write(es, names, [_canonical(1)])
    update = LineageUpdate(canonical_id=_id(99), sightings=(_sighting(2, "wire.com", 2),))
    assert index.add_sightings(update) is False
    assert es.count(index=names.articles_alias)["count"] == 1  # and creates nothing


def test_add_sightings_finds_an_article_written_a_moment_ago(es, names, index):
    es.indices.put_settings(index=names.articles_alias, settings={"index": {"refresh_interval": "-1"}})
    canonical = _canonical(1)
    _write(es, names, [canonical], refresh=False)
    assert es.count(index=names.articles_alias)["count"] == 0  # not searchable yet
    new = (_sighting(2, "wire.com", 2),)
    assert index.add_sightings(LineageUpdate(canonical_id=canonical.id, sightings=new)) is True
    doc = es.get(index=names.articles_first_index, id=canonical.id)
    assert _lineage_of(dict(doc.body)) == _lineage((*canonical.sources_seen, *new))


def test_concurrent_updates_of_one_article_all_land(es, names, index: ElasticsearchDedupIndex):
    canonical = _canonical(1)
    _write(es, names, [canonical])
    added: list[Sighting] = []
    for round_ in range(5):
        start = threading.Barrier(2)
        updates = [_sighting(100 + 10 * round_ + i, f"outlet{i}.com", 10 * round_ + i) for i in range(2)]
        added.extend(updates)

        def worker(sighting: Sighting, barrier: threading.Barrier = start) -> bool:
            barrier.wait(timeout=30)
            return index.add_sightings(LineageUpdate(canonical_id=canonical.id, sightings=(sighting,)))

        with ThreadPoolExecutor(max_workers=2) as pool:
            assert list(pool.map(worker, updates, timeout=120)) == [True, True]
    # Every sighting landed once; their order is the order the racing writes happened to land in.
    lineage, expected = (
        _lineage_of(_stored(es, names, canonical.id)),
        _lineage((*canonical.sources_seen, *added)),
    )
    for found in (lineage, expected):
        found["sources_seen"].sort(key=lambda s: s["article_id"])
    assert lineage == expected


def _interfering(
    es_url: str, rival: ElasticsearchDedupIndex, canonical_id: str, times: int | None
) -> tuple[Elasticsearch, list[int]]:
    """A client whose update() lets a rival write first, `times` times (None: always), forcing a 409."""
    client = Elasticsearch(es_url, request_timeout=30)
    update = client.update
    calls = [0]

    def interfere(**kwargs: Any) -> Any:
        calls[0] += 1
        if times is None or calls[0] <= times:
            sighting = _sighting(1000 + calls[0], "rival.net", 1000 + calls[0])
            assert rival.add_sightings(LineageUpdate(canonical_id=canonical_id, sightings=(sighting,)))
        return update(**kwargs)

    client.update = interfere  # type: ignore[method-assign]
    return client, calls


def test_a_write_that_loses_a_race_reads_again_and_retries(es, es_url, names, index):
    canonical = _canonical(1)
    _write(es, names, [canonical])
    client, calls = _interfering(es_url, index, canonical.id, times=2)
    mine = (_sighting(2, "wire.com", 2),)
    loser = ElasticsearchDedupIndex(client, names)
    try:
        assert loser.add_sightings(LineageUpdate(canonical_id=canonical.id, sightings=mine)) is True
    finally:
        loser.close()
    assert calls[0] == 3  # two conflicts, then the write
    sources = _stored(es, names, canonical.id)["_source"]["sources_seen"]
    # The rival's sightings were there first; each write kept what the one before it wrote.
    assert [s["article_id"] for s in sources] == [canonical.id, _id(1001), _id(1002), _id(2)]


def test_endless_conflicts_end_in_one_store_error_line(es, es_url, names, index, monkeypatch):
    monkeypatch.setattr(es_dedup, "MAX_UPDATE_ATTEMPTS", 3)
    canonical = _canonical(1)
    _write(es, names, [canonical])
    client, calls = _interfering(es_url, index, canonical.id, times=None)
    loser = ElasticsearchDedupIndex(client, names)
    update = LineageUpdate(canonical_id=canonical.id, sightings=(_sighting(2, "wire.com", 2),))
    try:
        with pytest.raises(
            StoreError, match=f"cannot update the lineage of article {canonical.id}"
        ) as caught:
            loser.add_sightings(update)
    finally:
        loser.close()
    assert calls[0] == 3
    assert "\n" not in str(caught.value)


def test_articles_are_found_in_every_index_after_a_rollover(es, names, index):
    old = _canonical(1, dedup_keys=("u:old",))
    _write(es, names, [old])
    first = (_sighting(2, "wire.com", 2),)
    assert (
        index.add_sightings(LineageUpdate(canonical_id=old.id, sightings=first)) is True
    )  # caches the index list
    es.indices.rollover(alias=names.articles_alias)
    new = _canonical(3, dedup_keys=("u:new",))
    _write(es, names, [new], refresh=False)  # into the new write index, which the cache does not know

    later = (_sighting(4, "other.org", 4),)
    assert index.add_sightings(LineageUpdate(canonical_id=new.id, sightings=later)) is True
    assert index.add_sightings(LineageUpdate(canonical_id=old.id, sightings=later)) is True
    es.indices.refresh(index=names.articles_alias)
    assert {d.article_id for d in index.lookup(["u:old", "u:new"], ())} == {old.id, new.id}
    assert _lineage_of(_stored(es, names, new.id)) == _lineage((*new.sources_seen, *later))
    assert _lineage_of(_stored(es, names, old.id)) == _lineage((*old.sources_seen, *first, *later))


def test_the_sink_opens_a_dedup_index_on_the_same_store(es, es_url, es_prefix):
    names = IndexNames(es_prefix)
    dedup = ElasticsearchSink(EsEndpoint(url=es_url), names).open_dedup_index()
    try:
        assert es.indices.exists_alias(name=names.articles_alias)  # set up on opening
        assert dedup.lookup(["u:a"], ["b:1"]) == []
    finally:
        dedup.close()


# --- upgrading an index built from template version 2 ---------------------------------------


INDEXED_EVIDENCE = {
    "properties": {
        "start": {"type": "integer"},
        "end": {"type": "integer"},
        "text": {"type": "keyword", "ignore_above": 256},
        "via": {"type": "keyword"},
        "weight": {"type": "float"},
    }
}


def _version_2(component: dict[str, Any]) -> dict[str, Any]:
    """The article mappings component as version 2 shipped it (before deduplication)."""
    old = copy.deepcopy(component)
    mappings = old["template"]["mappings"]
    for name in NEW_FIELDS:
        del mappings["properties"][name]
    mappings["properties"]["signature_bands"] = {"type": "keyword"}
    for name in ("actors", "topics"):  # the spans were indexed up to version 6
        mappings["properties"][name]["properties"]["evidence"] = INDEXED_EVIDENCE
    mappings["properties"]["sources_seen"] = {
        "properties": {"outlet": {"type": "keyword"}, "url": {"type": "keyword"}, "seen_at": {"type": "date"}}
    }
    old["_meta"]["template_version"] = mappings["_meta"]["template_version"] = 2
    return old


# The version this code installs (an upgrade from 2 must reach it, whatever it is now).
CURRENT_VERSION = load_templates(IndexNames("v"))["v-articles-mappings"]["_meta"]["template_version"]


def _install_version_2(es: Elasticsearch, names: IndexNames, **overrides: dict[str, Any]) -> None:
    """The templates and first article index of a cluster set up by the version 2 release."""
    components = set(names.component_templates)
    for name, body in load_templates(names).items():
        if name == f"{names.prefix}-articles-mappings":
            body = _version_2(body)
            body["template"]["mappings"]["properties"].update(overrides)
        if name in components:
            es.cluster.put_component_template(name=name, body=body)
        else:
            es.indices.put_index_template(name=name, body=body)
    es.indices.create(
        index=names.articles_first_index, aliases={names.articles_alias: {"is_write_index": True}}
    )


def _properties(es: Elasticsearch, index: str) -> dict[str, Any]:
    mappings: dict[str, Any] = es.indices.get_mapping(index=index)[index]["mappings"]
    return mappings


def _with_evidence(shipped: dict[str, Any], old: dict[str, Any]) -> dict[str, Any]:
    """The shipped properties with the evidence spans mapped as in `old`: an index that indexed them
    goes on doing so (Elasticsearch cannot turn an object's indexing off)."""
    return {
        **shipped,
        **{
            name: {
                **shipped[name],
                "properties": {
                    **shipped[name]["properties"],
                    "evidence": old[name]["properties"]["evidence"],
                },
            }
            for name in ("actors", "topics")
        },
    }


def test_ensure_indices_adds_the_new_fields_to_an_index_built_from_version_2(es, es_prefix):
    names = IndexNames(es_prefix)
    _install_version_2(es, names)
    before = _properties(es, names.articles_first_index)
    assert before["_meta"]["template_version"] == 2
    assert not set(NEW_FIELDS) & set(before["properties"])
    old = SEED.model_copy(update={"id": _id(1)})  # written by the previous release: no dedup fields
    _write(es, names, [old])

    assert ensure_indices(es, names) is True
    after = _properties(es, names.articles_first_index)
    assert after["_meta"]["template_version"] == CURRENT_VERSION
    shipped = load_templates(names)[f"{names.prefix}-articles-mappings"]["template"]["mappings"]
    assert {k: v for k, v in after["properties"].items() if k != "signature_bands"} == _with_evidence(
        shipped["properties"], before["properties"]
    )
    assert after["properties"]["signature_bands"] == {"type": "keyword"}  # mappings only grow
    assert ensure_indices(es, names) is False  # idempotent
    assert _properties(es, names.articles_first_index) == after

    # The upgraded index answers lookups and takes lineage updates.
    dedup = ElasticsearchDedupIndex(es, names, owns_client=False)
    new = _canonical(2, dedup_keys=("u:new",), near_dup_keys=("b:new",))
    _write(es, names, [new])
    assert [d.article_id for d in dedup.lookup(["u:new"], ["b:new"])] == [new.id]
    sighting = (_sighting(3, "wire.com", 3),)
    assert dedup.add_sightings(LineageUpdate(canonical_id=old.id, sightings=sighting)) is True
    # Like the embedded store, an article stored without lineage gets only the copies merged in.
    assert _lineage_of(_stored(es, names, old.id)) == _lineage(sighting)
    es.indices.refresh(index=names.articles_alias)
    hits = es.search(index=names.articles_alias, query={"term": {"sources_seen.article_id": _id(3)}})
    assert [h["_id"] for h in hits["hits"]["hits"]] == [old.id]  # the new sub-field is indexed


def test_a_field_mapped_differently_before_is_one_store_error_line(es, es_prefix):
    names = IndexNames(es_prefix)
    _install_version_2(es, names, similarity={"type": "keyword"})
    with pytest.raises(
        StoreError, match=f"cannot upgrade the mapping of {names.articles_first_index}"
    ) as caught:
        ensure_indices(es, names)
    assert "\n" not in str(caught.value)


def test_racing_upgrades_both_succeed(es, es_prefix):
    names = IndexNames(es_prefix)
    _install_version_2(es, names)
    start = threading.Barrier(2)

    def worker() -> bool:
        start.wait(timeout=30)
        return ensure_indices(es, names)

    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = [pool.submit(worker) for _ in range(2)]
        results = [future.result(timeout=120) for future in futures]
    assert True in results
    assert _properties(es, names.articles_first_index)["_meta"]["template_version"] == CURRENT_VERSION


def test_an_index_wirewatch_did_not_build_is_left_alone(es, es_prefix):
    # Someone's own index behind the alias (no Wirewatch _meta): its owner decides its mapping.
    names = IndexNames(es_prefix)
    es.indices.create(
        index=names.articles_first_index,
        mappings={"properties": {"word_count": {"type": "byte"}}},
        settings={"number_of_replicas": 0},
        aliases={names.articles_alias: {"is_write_index": True}},
    )
    before = _properties(es, names.articles_first_index)
    ensure_indices(es, names)
    assert _properties(es, names.articles_first_index) == before


def _block_writes(es: Elasticsearch, names: IndexNames, blocked: bool) -> None:
    es.indices.put_settings(index=names.articles_alias, settings={"index.blocks.write": blocked})


def test_add_sightings_waits_out_a_write_block_lifted_in_time(es, names):
    canonical = _canonical(1)
    _write(es, names, [canonical])
    dedup = ElasticsearchDedupIndex(es, names, owns_client=False, retry=RetryPolicy(max_elapsed_s=60))
    _block_writes(es, names, True)
    lifted = threading.Timer(3.0, _block_writes, (es, names, False))
    lifted.start()
    try:
        update = LineageUpdate(canonical_id=canonical.id, sightings=(_sighting(2, "wire.com", 2),))
        assert dedup.add_sightings(update) is True
    finally:
        lifted.join()
        _block_writes(es, names, False)
    assert _stored(es, names, canonical.id)["_source"]["source_count"] == 2


def test_add_sightings_under_a_block_never_lifted_fails_past_the_bound_in_one_line(es, names):
    canonical = _canonical(1)
    _write(es, names, [canonical])
    dedup = ElasticsearchDedupIndex(es, names, owns_client=False, retry=RetryPolicy(max_elapsed_s=2))
    _block_writes(es, names, True)
    try:
        update = LineageUpdate(canonical_id=canonical.id, sightings=(_sighting(2, "wire.com", 2),))
        with pytest.raises(StoreError, match="cluster_block_exception") as failed:
            dedup.add_sightings(update)
        assert "\n" not in str(failed.value)
    finally:
        _block_writes(es, names, False)
    assert _stored(es, names, canonical.id)["_source"]["source_count"] == 1
