"""Copy links among a run's articles, found in key shards: the batch dedup's first shuffle.

Two articles are linked when they share an exact key, or share an LSH band key and their sketches
(`link_sketch`) agree at or above the near-duplicate threshold. An article read twice (two feeds,
two files) is linked to itself through its id key, so its readings are decided together, once.

Sending every (key, article) pair through a shuffle of its own would cost ~18 shuffled elements
per article, nearly all of them keys that no other article holds. Instead each worker packs the
keys it fingerprinted into KEY_SHARDS batches by key hash (`KeyBatcher`), a few hundred elements
per several thousand articles, and each shard finds its keys held twice or more with a sort
(`shard_links`). A key lives in exactly one shard, so the links equal those of one bucket per key;
the shards spread the work over up to KEY_SHARDS workers.

A batch is bytes (numpy arrays behind a small header): it crosses the shuffle without pickling.
Keys are compared by a 64-bit hash; two keys sharing a hash could only link articles that are
not copies, which makes a copy group larger, never a decision different (the group's resolver
compares the articles themselves).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator, Sequence

import numpy as np

from schemas.dedup import is_id_key, key_hash

# Shards of the key space: the parallelism of the link step (it is cheap: a sort per shard).
KEY_SHARDS = 128
# Articles whose keys a worker holds before sending its batches: bounds its memory (~2.5 KB per
# article) while keeping the batches few.
KEY_BATCH_ARTICLES = 4096

KeyBatch = tuple[int, bytes]  # (shard, packed keys of the articles that have keys in it)

# The kinds of key, as packed: a band key links by sketch, the others every holder; an id key held
# by one article only (read twice) links that article to itself.
_EXACT, _BAND, _ID = 0, 1, 2

_HEADER = struct.Struct("<III")  # articles, entries, sketch width


def link_sketch(signature: bytes) -> bytes:
    """The low byte of each signature value: a quarter of the signature, what travels for the
    comparisons of articles sharing a band key. Where two values agree their low bytes do, so the
    share of agreeing low bytes is never below the share of agreeing values: every pair the
    resolver would take for a copy is linked (and a rare pair just below the threshold too, which
    only makes a group larger; the resolver inside it decides exactly)."""
    return np.frombuffer(signature, dtype=np.uint32).astype(np.uint8).tobytes()


class KeyBatcher:
    """One worker's keys, by shard, until `batches()` packs them."""

    def __init__(self, shards: int = KEY_SHARDS) -> None:
        self._shards = shards
        self._clear()

    def _clear(self) -> None:
        self._ids: list[str] = []
        self._sketches: list[bytes] = []
        # per shard: key hashes, owner (index into _ids), kinds
        self._entries: list[tuple[list[int], list[int], list[int]]] = [
            ([], [], []) for _ in range(self._shards)
        ]

    def __len__(self) -> int:
        return len(self._ids)

    def add(
        self, article_id: str, exact_keys: Iterable[str], near_keys: Iterable[str], signature: bytes
    ) -> None:
        owner = len(self._ids)
        self._ids.append(article_id)
        self._sketches.append(link_sketch(signature) if signature else b"")
        kinds = ((key, _ID if is_id_key(key) else _EXACT) for key in exact_keys)
        for key, kind in (*kinds, *((key, _BAND) for key in near_keys)):
            hashed = key_hash(key)
            hashes, owners, kinds_ = self._entries[hashed % self._shards]
            hashes.append(hashed)
            owners.append(owner)
            kinds_.append(kind)

    def batches(self) -> Iterator[KeyBatch]:
        """One packed batch per shard that has keys; the batcher is empty afterwards."""
        width = max(map(len, self._sketches), default=0)
        for shard, (hashes, owners, kinds) in enumerate(self._entries):
            if hashes:
                yield shard, self._pack(hashes, owners, kinds, width)
        self._clear()

    def _pack(self, hashes: list[int], owners: list[int], kinds: list[int], width: int) -> bytes:
        # Only the articles this shard's keys belong to, renumbered.
        used, local = np.unique(np.asarray(owners, dtype=np.uint32), return_inverse=True)
        sketches = b"".join(self._sketches[i].ljust(width, b"\0") for i in used)
        ids = [self._ids[i].encode() for i in used]
        lengths = np.fromiter(map(len, ids), dtype=np.uint32, count=len(ids))
        return b"".join(
            (
                _HEADER.pack(len(used), len(hashes), width),
                np.asarray(hashes, dtype=np.uint64).tobytes(),
                local.astype(np.uint32).tobytes(),
                np.asarray(kinds, dtype=np.uint8).tobytes(),
                sketches,
                lengths.tobytes(),
                *ids,
            )
        )


class _Unpacked:
    """The batches of one shard, concatenated: entries (hash, kind, owner) and the owners."""

    def __init__(self, batches: Iterable[bytes]) -> None:
        hashes: list[np.ndarray] = []
        kinds: list[np.ndarray] = []
        owners: list[np.ndarray] = []
        sketches: list[np.ndarray] = []
        ids: list[str] = []
        for batch in batches:
            articles, entries, width = _HEADER.unpack_from(batch)
            view = memoryview(batch)[_HEADER.size :]
            hashes.append(np.frombuffer(view, np.uint64, entries))
            view = view[8 * entries :]
            owners.append(np.frombuffer(view, np.uint32, entries).astype(np.int64) + len(ids))
            view = view[4 * entries :]
            kinds.append(np.frombuffer(view, np.uint8, entries))
            view = view[entries:]
            sketches.append(np.frombuffer(view, np.uint8, articles * width).reshape(articles, width))
            view = view[articles * width :]
            lengths = np.frombuffer(view, np.uint32, articles)
            text = bytes(view[4 * articles :])
            ends = np.cumsum(lengths).tolist()
            ids.extend(text[start:end].decode() for start, end in zip([0, *ends[:-1]], ends, strict=True))
        self.ids = ids
        self.hashes = np.concatenate(hashes) if hashes else np.zeros(0, np.uint64)
        self.kinds = np.concatenate(kinds) if kinds else np.zeros(0, np.uint8)
        self.owners = np.concatenate(owners) if owners else np.zeros(0, np.int64)
        # A batch whose articles all lacked a signature (texts too short) has sketches of width 0.
        width = max((s.shape[1] for s in sketches), default=0)
        self.sketches = np.concatenate(
            [np.pad(s, ((0, 0), (0, width - s.shape[1]))) for s in sketches] or [np.zeros((0, 0), np.uint8)]
        )


def shard_links(element: tuple[int, Iterable[bytes]], threshold: float) -> Iterator[tuple[str, str]]:
    """The copy links of one shard's keys, as stars (the least id of each linked set to the
    others): the groups are what matters, not every pair."""
    _, batches = element
    shard = _Unpacked(batches)
    if not len(shard.hashes):
        return
    # One number per distinct article id, in id order (an article read twice is one article).
    names, article = np.unique(np.asarray(shard.ids, dtype=object), return_inverse=True)
    article = article[shard.owners]
    order = np.lexsort((article, shard.kinds, shard.hashes))
    hashes, kinds = shard.hashes[order], shard.kinds[order]
    article, owners = article[order], shard.owners[order]
    # Runs of one key (hash and kind) held twice or more.
    same_key = (hashes[1:] == hashes[:-1]) & (kinds[1:] == kinds[:-1])
    starts = np.flatnonzero(np.concatenate(([True], ~same_key)))
    ends = np.append(starts[1:], len(hashes))
    for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
        if end - start < 2:
            continue
        kind = kinds[start]
        members, first = np.unique(article[start:end], return_index=True)
        ids = [str(names[m]) for m in members]
        if len(ids) == 1:
            if kind == _ID:  # one article read twice
                yield ids[0], ids[0]
            continue
        sketches = shard.sketches[owners[start:end][first]] if kind == _BAND else None
        yield from links_among(ids, sketches, threshold)


def links_among(
    ids: Sequence[str], sketches: np.ndarray | None, threshold: float
) -> Iterator[tuple[str, str]]:
    """The links among the articles (`ids` ascending) holding one key: all of them for an exact key
    (`sketches` None), the pairs whose sketch rows agree at or above the threshold for a band key."""
    if sketches is None:
        yield from ((ids[0], other) for other in ids[1:])
        return
    parent = list(range(len(ids)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    width = sketches.shape[1]
    for i in range(len(ids) - 1):
        # The same estimate as `estimated_jaccard` (agreeing positions / length), row against rows.
        similar = np.count_nonzero(sketches[i + 1 :] == sketches[i], axis=1) / width >= threshold
        for j in np.flatnonzero(similar):
            a, b = root(i), root(i + 1 + int(j))
            if a != b:
                parent[max(a, b)] = min(a, b)
    for i in range(1, len(ids)):
        if root(i) != i:
            yield ids[root(i)], ids[i]
