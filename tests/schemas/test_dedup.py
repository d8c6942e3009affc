"""Unit tests of the pure deduplication rules (schemas.dedup)."""

from __future__ import annotations

import datetime as dt

import pytest

from schemas.dedup import (
    Decision,
    DedupConfig,
    DuplicateResolver,
    Lineage,
    StoredDoc,
    apply_decision,
    exact_keys,
    fingerprint,
    merge_sightings,
    outlet_of,
    stored_signature,
    with_keys,
)
from schemas.ids import article_id_from_url, content_hash, stable_id
from schemas.near_dup import NearDupConfig
from schemas.records import Article, Sighting, Source
from tests.conftest import PIPELINE, RUN_AT, seed_articles

CONFIG = DedupConfig()


def _article(
    body: str,
    *,
    url: str | None = None,
    guid: str | None = None,
    title: str = "A headline",
    published: dt.datetime | None = None,
    feed: str = "https://feeds.example.org/world.xml",
) -> Article:
    article_id = article_id_from_url(url) if url else stable_id("test", f"{guid}\x00{body}")
    return Article(
        id=article_id,
        url=url,
        canonical_url=url,
        source=Source(kind="feed", name="World", feed_url=feed),
        title=title,
        body=body,
        published_at=published,
        ingested_at=RUN_AT,
        word_count=len(body.split()),
        content_hash=content_hash(body),
        pipeline=PIPELINE,
        guid=guid,
    )


def _syndicated(body: str) -> str:
    """A wire copy: byline and dateline added, the third paragraph cut, a footer added."""
    paragraphs = body.split("\n\n")
    del paragraphs[2]
    return (
        "By Maria Keller, Reuters\nMOSCOW (Reuters) - "
        + "\n\n".join(paragraphs)
        + "\n\nCopyright 2023 Reuters. All rights reserved. This material may not be redistributed."
    )


def test_exact_keys_by_kind_and_the_rules_for_guids_and_short_texts():
    long_body = " ".join(f"word{i}" for i in range(40))
    a = _article(long_body, url="https://example.org/a", guid="urn:uuid:5f1f8b2e-33a1-4c55-9b1e-0e7f1a2b3c4d")
    kinds = [k.split(":")[0] for k in exact_keys(a, CONFIG)]
    assert kinds == ["i", "u", "g", "t"]
    # A numeric or short GUID only means something within its feed; a short text says too little.
    short = _article("Live: updates to follow", url="https://example.org/b", guid="12345")
    assert [k.split(":")[0] for k in exact_keys(short, CONFIG)] == ["i", "u"]
    assert fingerprint(short, CONFIG).near_keys == ()


@pytest.mark.parametrize(
    ("url", "outlet"),
    [
        ("https://www.bbc.co.uk/news/world-1", "bbc.co.uk"),
        ("https://m.bbc.co.uk/news/world-1", "bbc.co.uk"),
        ("https://amp.theguardian.com/world/x", "theguardian.com"),
        ("https://feeds.reuters.com/x", "feeds.reuters.com"),
        ("https://m.co/x", "m.co"),
    ],
)
def test_outlet_is_the_host_without_rendering_prefixes(url: str, outlet: str):
    assert outlet_of(_article("text", url=url)) == outlet


def test_outlet_of_an_article_without_a_link_is_its_source():
    assert outlet_of(_article("text")) == "World"


def test_the_two_seeds_stay_distinct_and_a_syndicated_seed_folds_into_its_original():
    first, second = sorted(seed_articles(), key=lambda a: a.published_at or RUN_AT)
    copy = _article(_syndicated(second.body), url="https://wire.example.com/kim-putin", title="New headline")
    resolver = DuplicateResolver(CONFIG)
    assert resolver.decide(fingerprint(first, CONFIG)) == Decision(first.id)
    assert resolver.decide(fingerprint(second, CONFIG)) == Decision(second.id)
    decision = resolver.decide(fingerprint(copy, CONFIG))
    assert decision.duplicate_of == second.id
    assert decision.reason == "near"
    assert decision.similarity is not None
    assert 0.5 < decision.similarity < 1.0


def test_exact_copies_fold_by_url_guid_or_text():
    body = " ".join(f"w{i}" for i in range(60))
    original = _article(body, url="https://example.org/story")
    resolver = DuplicateResolver(CONFIG)
    resolver.decide(fingerprint(original, CONFIG))
    same_text = _article(body, url="https://other.example.net/copy")
    assert resolver.decide(fingerprint(same_text, CONFIG)) == Decision(same_text.id, original.id, "text", 1.0)
    guid = "tag:wire.example.com,2023:story-000123"
    with_guid = _article("first " + body, url="https://a.example.com/1", guid=guid)
    again = _article("second different text entirely " * 10, url="https://b.example.com/2", guid=guid)
    resolver.decide(fingerprint(with_guid, CONFIG))
    assert resolver.decide(fingerprint(again, CONFIG)).reason == "guid"


def test_a_copy_of_a_copy_points_at_the_canonical_article():
    body = " ".join(f"w{i}" for i in range(60))
    original = _article(body, url="https://example.org/story")
    copy = _article(body, url="https://copy.example.org/story")
    stored = [
        StoredDoc(original.id, None, frozenset(), frozenset(), body),
        StoredDoc(copy.id, original.id, frozenset(exact_keys(copy, CONFIG)[1:2]), frozenset(), body),
    ]
    # Same URL as the stored copy: resolves to the copy's canonical article, never to the copy.
    again = _article("changed " + body, url="https://copy.example.org/story?utm_source=x")
    again = again.model_copy(update={"canonical_url": "https://copy.example.org/story", "id": "f" * 32})
    decision = DuplicateResolver(CONFIG).decide(fingerprint(again, CONFIG), stored)
    assert (decision.duplicate_of, decision.reason) == (original.id, "url")


def test_an_article_already_stored_keeps_what_the_store_says():
    article = seed_articles()[0]
    stored = [StoredDoc(article.id, "a" * 32, frozenset(), frozenset(), article.body)]
    decision = DuplicateResolver(CONFIG).decide(fingerprint(article, CONFIG), stored)
    assert decision == Decision(article.id, duplicate_of="a" * 32, already_stored=True)


def test_stored_canonical_found_by_band_keys_is_compared_by_its_text():
    original = seed_articles()[0]
    copy = _article(_syndicated(original.body), url="https://wire.example.com/x")
    fp = fingerprint(copy, CONFIG)
    stored = [StoredDoc(original.id, None, frozenset(), frozenset(fp.near_keys[:1]), original.body)]
    decision = DuplicateResolver(CONFIG).decide(fp, stored)
    assert (decision.duplicate_of, decision.reason) == (original.id, "near")
    # A stored copy is never a near-duplicate target: its canonical article is.
    as_copy = [StoredDoc(original.id, "b" * 32, frozenset(), frozenset(fp.near_keys[:1]), original.body)]
    assert DuplicateResolver(CONFIG).decide(fp, as_copy).duplicate_of is None


@pytest.mark.parametrize(("threshold", "folded"), [(0.3, True), (0.95, False)])
def test_the_threshold_decides(threshold: float, folded: bool):
    config = DedupConfig(near=NearDupConfig(threshold=threshold))
    original = seed_articles()[0]
    copy = _article(_syndicated(original.body), url="https://wire.example.com/x")
    resolver = DuplicateResolver(config)
    resolver.decide(fingerprint(original, config))
    assert (resolver.decide(fingerprint(copy, config)).duplicate_of is not None) is folded


def test_the_same_article_twice_in_a_run_gets_the_same_decision():
    article = seed_articles()[0]
    resolver = DuplicateResolver(CONFIG)
    first = resolver.decide(fingerprint(article, CONFIG))
    assert resolver.decide(fingerprint(article, CONFIG)) is first


def test_forgetting_keeps_the_recent_and_bounded_memory():
    config = DedupConfig(memory_max=1)
    resolver = DuplicateResolver(config)
    a, b = seed_articles()
    resolver.decide(fingerprint(a, config), now=100.0)
    resolver.decide(fingerprint(b, config), now=200.0)
    resolver.forget_before(150.0)
    copy_of_a = _article(_syndicated(a.body), url="https://wire.example.com/a")
    copy_of_b = _article(_syndicated(b.body), url="https://wire.example.com/b")
    assert resolver.decide(fingerprint(copy_of_a, config)).duplicate_of is None  # forgotten
    assert resolver.decide(fingerprint(copy_of_b, config)).duplicate_of == b.id


def _sighting(article_id: str, outlet: str, minute: int) -> Sighting:
    return Sighting(article_id=article_id, outlet=outlet, seen_at=RUN_AT + dt.timedelta(minutes=minute))


def test_merging_sightings_is_idempotent_and_ordered():
    own = _sighting("0" * 32, "a.example", 0)
    later = [_sighting("2" * 32, "c.example", 5), _sighting("1" * 32, "b.example", 1)]
    merged = merge_sightings((own,), later)
    assert [s.outlet for s in merged] == ["a.example", "b.example", "c.example"]
    assert merge_sightings(merged, later) == merged
    lineage = Lineage.of((*merged, _sighting("3" * 32, "a.example", 9)))
    assert (lineage.source_count, lineage.independent_source_count, lineage.first_seen) == (4, 3, RUN_AT)


def test_apply_decision_sets_lineage_on_canonical_and_pointer_on_copy():
    original = seed_articles()[0]
    copy = _article(_syndicated(original.body), url="https://www.wire.example.com/x")
    fp = fingerprint(original, CONFIG)
    canonical = with_keys(
        apply_decision(original, Decision(original.id), [fingerprint(copy, CONFIG).sighting]), fp
    )
    assert canonical.source_count == 2
    assert [s.outlet for s in canonical.sources_seen] == ["seeds", "wire.example.com"]
    assert canonical.near_dup_keys == fp.near_keys
    assert stored_signature(canonical.near_dup_signature) == fp.signature  # kept for later runs
    marked = apply_decision(copy, Decision(copy.id, original.id, "near", 0.8))
    assert (marked.duplicate_of, marked.duplicate_reason, marked.similarity) == (original.id, "near", 0.8)
    copy_keyed = with_keys(marked, fingerprint(copy, CONFIG))
    assert (copy_keyed.near_dup_keys, copy_keyed.near_dup_signature) == ((), None)  # never targets


@pytest.mark.parametrize("kept", [None, 12, "", "not base64!", "AAAA"])
def test_a_stored_signature_that_is_missing_unreadable_or_of_another_length_is_recomputed(kept):
    article = seed_articles()[0]
    expected = fingerprint(article, CONFIG).signature
    doc = StoredDoc(article.id, None, frozenset(), frozenset({"b"}), article.body, stored_signature(kept))
    assert doc.with_signature(CONFIG.near).signature == expected


def test_a_stored_signature_is_used_without_the_text():
    signature = bytes(range(128)) * 4
    doc = StoredDoc("a" * 32, None, frozenset(), frozenset({"b"}), "", signature)
    assert doc.with_signature(CONFIG.near).signature == signature
