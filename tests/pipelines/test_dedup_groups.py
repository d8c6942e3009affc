"""The pieces of the data-parallel batch dedup: links per key bucket, copy groups by hash-to-min
rounds, and the coder that carries articles across its shuffles."""

from __future__ import annotations

import random
from collections import defaultdict

import numpy as np

from connectors.coders import CandidateCoder
from pipelines.copy_links import KeyBatcher, link_sketch, links_among, shard_links
from pipelines.dedup import GROUP_ROUNDS, _hop, _MergeFn, _neighbourhood, _one_update
from schemas.dedup import Candidate, Decision, DedupConfig, LineageUpdate, StoredDoc, fingerprint, sighting_of
from tests.conftest import seed_articles


def _signature(agree_with: bytes | None, same: int, rng: random.Random) -> bytes:
    """128 random values; with `agree_with`, its first `same` values, and values whose low byte
    differs from its own everywhere else (so a sketch agrees exactly where the signature does)."""
    values = np.array([rng.getrandbits(32) for _ in range(128)], dtype=np.uint32)
    if agree_with is not None:
        other = np.frombuffer(agree_with, dtype=np.uint32)
        values[:same] = other[:same]
        clash = values[same:].astype(np.uint8) == other[same:].astype(np.uint8)
        values[same:][clash] ^= 1
    return values.tobytes()


Holder = tuple[str, list[str], list[str], bytes]  # id, exact keys, band keys, signature


def _shard_links(holders: list[Holder], shards: int, threshold: float = 0.3) -> list[tuple[str, str]]:
    """The links of every shard of `holders` (id, exact keys, band keys, signature), packed in two
    batches per shard as two workers would send them."""
    batches: dict[int, list[bytes]] = defaultdict(list)
    for half in (holders[::2], holders[1::2]):
        batcher = KeyBatcher(shards)
        for holder in half:
            batcher.add(*holder)
        for shard, batch in batcher.batches():
            batches[shard].append(batch)
        assert len(batcher) == 0
    return sorted(link for element in batches.items() for link in shard_links(element, threshold))


def test_an_exact_key_links_every_holder_to_the_least_id():
    holders: list[Holder] = [
        ("c", ["u:1"], [], b""),
        ("a", ["u:1", "u:9"], [], b""),
        ("b", ["u:1"], [], b""),
        ("a", ["u:1"], [], b""),
    ]
    for shards in (1, 3, 128):
        assert _shard_links(holders, shards) == [("a", "b"), ("a", "c")]
    assert _shard_links([*holders[:2], ("d", ["u:2"], [], b"")], 4) == [("a", "c")]


def test_an_article_read_twice_is_linked_to_itself_by_its_id_key_only():
    twice: list[Holder] = [("a", ["i:aaaa", "t:1"], [], b""), ("a", ["i:aaaa", "t:1"], [], b"")]
    for shards in (1, 3, 128):
        assert set(_shard_links(twice, shards)) == {("a", "a")}  # decided together, once
        # Read once, nothing links it; two articles sharing an id prefix are linked like a copy.
        assert _shard_links(twice[:1], shards) == []
        assert _shard_links([twice[0], ("b", ["i:aaaa"], [], b"")], shards) == [("a", "b")]


def test_a_band_key_links_only_pairs_at_or_above_the_threshold():
    rng = random.Random(1)
    a = _signature(None, 0, rng)
    b = _signature(a, 64, rng)  # 0.5 with a
    c = _signature(bytes(reversed(b)), 0, rng)  # unrelated
    d = _signature(b, 38, rng)  # 0.297 with b: below 0.3
    e = _signature(b, 39, rng)  # 0.305 with b
    named = (("a", a), ("b", b), ("c", c), ("d", d), ("e", e))
    sketches = np.stack([np.frombuffer(link_sketch(sig), np.uint8) for _, sig in named])
    assert sorted(links_among([name for name, _ in named], sketches, 0.3)) == [("a", "b"), ("a", "e")]
    assert list(links_among(["a"], sketches[:1], 0.3)) == []
    # The same through the shards: one band key held by all five, another by d and e only
    # (0.297 and 0.305 with b, but d and e agree on 38 values: below the threshold).
    holders: list[Holder] = [
        (name, [], ["00-ff", *(["01-aa"] if name in "de" else [])], sig) for name, sig in named
    ]
    for shards in (1, 2, 128):
        assert _shard_links(holders, shards) == [("a", "b"), ("a", "e")]


def test_articles_without_signatures_share_shards_with_band_keys():
    rng = random.Random(2)
    a = _signature(None, 0, rng)
    b = _signature(a, 100, rng)
    holders: list[Holder] = [
        ("x", ["t:1"], [], b""),
        ("y", ["t:1"], [], b""),
        ("a", ["t:2"], ["00-01"], a),
        ("b", [], ["00-01"], b),
    ]
    # x and y (exact copies too short for a signature) in a batch of their own, width 0.
    batches: dict[int, list[bytes]] = defaultdict(list)
    for group in (holders[:2], holders[2:]):
        batcher = KeyBatcher(1)
        for holder in group:
            batcher.add(*holder)
        for shard, batch in batcher.batches():
            batches[shard].append(batch)
    assert sorted(shard_links((0, batches[0]), 0.3)) == [("a", "b"), ("x", "y")]


def test_a_sketch_never_agrees_less_than_its_signature():
    rng = random.Random(3)
    for same in range(0, 129, 8):
        x = np.array([rng.getrandbits(32) for _ in range(128)], dtype=np.uint32)
        y = np.array([rng.getrandbits(32) for _ in range(128)], dtype=np.uint32)
        y[:same] = x[:same]
        agree = np.count_nonzero(x == y)
        sketches = (
            np.frombuffer(link_sketch(x.tobytes()), np.uint8),
            np.frombuffer(link_sketch(y.tobytes()), np.uint8),
        )
        assert np.count_nonzero(sketches[0] == sketches[1]) >= agree


def _groups(links: list[tuple[str, str]], rounds: int) -> dict[str, str]:
    """The rounds of the graph, run in memory: node -> its group's label."""
    neighbours: dict[str, set[str]] = defaultdict(set)
    for u, v in links:
        neighbours[u].add(v)
        neighbours[v].add(u)
    known = dict(_neighbourhood((node, linked)) for node, linked in neighbours.items())
    for n in range(rounds):
        sent: dict[str, list[tuple[bool, list[str]]]] = defaultdict(list)
        for element in known.items():
            for node, message in _hop(element):
                sent[node].append(message)
        merge = _MergeFn(last=n == rounds - 1)
        known = dict(out for element in sent.items() for out in merge.process(element))
    return {node: group[0] for node, group in known.items()}


def test_copy_groups_settle_on_the_least_id_of_each_connected_group():
    rng = random.Random(5)
    names = [f"{rng.getrandbits(64):016x}" for _ in range(60)]
    chain = [(names[i], names[i + 1]) for i in range(29)]  # 30 articles, each linked to the next
    star = [(names[30], n) for n in names[31:40]]
    pair = [(names[41], names[40])]
    labels = _groups(chain + star + pair, GROUP_ROUNDS)
    assert {labels[n] for n in names[:30]} == {min(names[:30])}
    assert {labels[n] for n in names[30:40]} == {min(names[30:40])}
    assert labels[names[40]] == labels[names[41]] == min(names[40:42])
    assert len(set(labels.values())) == 3


def test_a_chain_longer_than_the_rounds_can_follow_splits_the_same_way_every_time():
    rng = random.Random(9)
    names = [f"{rng.getrandbits(64):016x}" for _ in range(400)]
    chain = [(names[i], names[i + 1]) for i in range(399)]
    once = _groups(chain, 2)
    assert len(set(once.values())) > 1  # unsettled after two rounds
    assert _groups(list(reversed(chain)), 2) == once


def test_lineage_from_several_groups_becomes_one_update_per_stored_article():
    (article, other) = seed_articles()[:2]
    first = LineageUpdate(canonical_id="a" * 32, sightings=(sighting_of(other),))
    second = LineageUpdate(canonical_id="a" * 32, sightings=(sighting_of(article), sighting_of(other)))
    merged = _one_update(("a" * 32, [first, second]))
    assert [s.article_id for s in merged.sightings] == sorted({article.id, other.id})


def test_candidates_cross_a_shuffle_unchanged():
    article = seed_articles()[0]
    config = DedupConfig()
    fp = fingerprint(article, config)
    stored = StoredDoc(
        "b" * 32, None, frozenset({"u:1"}), frozenset(fp.near_keys[:2]), "", b"\x01\x02\x03\x04"
    )
    coder = CandidateCoder()
    for candidate in (
        Candidate(fp, (stored,)),
        Candidate(fp, (), Decision(article.id), (sighting_of(article),)),
        Candidate(fp, (), Decision(article.id, "c" * 32, "near", 0.4375)),
    ):
        assert coder.decode(coder.encode(candidate)) == candidate
