"""Which articles are copies of which: exact keys, near-duplicate signatures and syndication lineage.

Pure and deterministic. `pipelines.dedup` runs `DuplicateResolver` inside Beam transforms; the
stores keep the keys (`Article.dedup_keys`, `Article.near_dup_keys`) so that later runs, restarts
and other workers recognise what was seen before.

The rules:
- exact copies share a key: the canonical URL, a globally unique feed GUID, or (for texts long
  enough to mean something) the normalized content hash;
- near copies have an estimated Jaccard similarity of their word shingles at or above the
  threshold (`schemas.near_dup`), found through shared LSH band keys;
- a teaser and its full version ("contained") share their opening words (the first lead key,
  `schemas.near_dup.indexed_lead_key`; how deep, from their lead ladders), the shorter has at
  most TEASER_RATIO of the longer's shingles, and at least `containment` of the shorter's
  shingles are in the longer (`_containment`). A teaser under `min_words` words must also carry
  the same title (the title-lead value of the ladders);
- the first article seen is canonical, a teaser or not; a copy points at it (`duplicate_of`,
  never at another copy) and is added to its `sources_seen`. The fuller version does not take
  over: a canonical article may already be stored with copies pointing at it (earlier runs, the
  stream), and the stores only ever add sightings to it, never re-point its copies; first-seen
  keeps every mode, every runner and every re-run deciding alike.
"""

from __future__ import annotations

import base64
import functools
import hashlib
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Self
from urllib.parse import urlsplit

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from schemas.near_dup import (
    DEFAULT_CONFIG,
    NearDupConfig,
    band_keys,
    estimated_containment,
    estimated_jaccard,
    estimated_size,
    indexed_lead_key,
    is_lead_key,
    lead_ladder,
    minhash_array,
    same_title_lead,
    shared_lead_depth,
)
from schemas.records import Article, DuplicateReason, Sighting
from schemas.types import FROZEN, HexId, UtcDatetime

# Prefix of each exact key kind, in the order they are trusted.
_EXACT_KINDS: dict[str, DuplicateReason] = {"u": "url", "g": "guid", "t": "text"}
_ID_KIND = "i"
_ID_PREFIX = f"{_ID_KIND}:"
# Host labels that name another rendering of the same site, not another outlet.
_RENDERING_LABELS = ("www.", "m.", "mobile.", "amp.")
# A GUID this long and not just digits is taken to be unique beyond its feed (URLs, URNs, UUIDs);
# short or numeric GUIDs ("12345") only mean something within one feed.
_MIN_GLOBAL_GUID = 16
# Containment decides only where the shorter text has at most this share of the longer one's
# shingles (a teaser): between texts of like length Jaccard decides, and two articles that share a
# boilerplate opening are not folded for it. At this ratio, a text >= 80 % contained in the other
# has Jaccard >= 0.43, past the near-duplicate threshold anyway.
TEASER_RATIO = 0.6
# The MinHash containment estimate counts alone only when it rests on this many signature values:
# a text 60 % contained shows >= 7 of 8 equal values in 10 % of the draws, fewer values far more
# often. A 28-word teaser of a 400-word article has ~7, a 60-word one of a 200-word article ~25.
MIN_CONTAINMENT_EVIDENCE = 8


class DedupConfig(BaseModel):
    """The deduplication knobs (`--dedup-threshold`, `--dedup-containment`, `--dedup-min-words`,
    `--no-dedup`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = True
    near: NearDupConfig = DEFAULT_CONFIG
    # Below this many words a text is compared by exact keys only: a few shingles say too little
    # (two different one-line items "Live: updates to follow" must not fold).
    min_words: int = Field(default=25, ge=1)
    # A teaser folds into its full version when at least this share of its shingles is in it
    # (benchmarks/results/dedup_eval.md: teaser pairs cut from real articles).
    containment: float = Field(default=0.8, gt=0.0, le=1.0)
    # Streaming: how long the resolver remembers canonical articles it emitted, covering the time
    # until the store has them (Elasticsearch makes writes searchable after a refresh).
    memory_s: float = Field(default=900.0, gt=0)
    memory_max: int = Field(default=5000, ge=1)


class LineageUpdate(BaseModel):
    """Copies to add to a canonical article that is already stored (or being written)."""

    model_config = FROZEN

    canonical_id: HexId
    sightings: tuple[Sighting, ...] = Field(min_length=1)


class Lineage(BaseModel):
    """The lineage fields of a canonical article, derived from its sightings."""

    model_config = FROZEN

    sources_seen: tuple[Sighting, ...]
    first_seen: UtcDatetime
    source_count: int
    independent_source_count: int

    @classmethod
    def of(cls, sightings: Sequence[Sighting]) -> Self:
        return cls(
            sources_seen=tuple(sightings),
            first_seen=min(s.seen_at for s in sightings),
            source_count=len(sightings),
            independent_source_count=len({s.outlet for s in sightings}),
        )


def _short_hash(kind: str, value: str) -> str:
    return f"{kind}:{hashlib.blake2b(value.encode('utf-8'), digest_size=8).hexdigest()}"


def outlet_of(article: Article) -> str:
    """The outlet that published an article: its link's host without www./m./amp., else the source."""
    return outlet_from(article.canonical_url, article.url, article.source.name)


def outlet_from(canonical_url: str | None, url: str | None, source_name: str) -> str:
    """`outlet_of` from the three stored fields it looks at (for documents read back unvalidated)."""
    for link in (canonical_url, url):
        host = urlsplit(link).hostname if link else None
        if host:
            for label in _RENDERING_LABELS:
                if host.startswith(label) and host.count(".") >= 2:
                    host = host[len(label) :]
                    break
            return host
    return source_name


def sighting_of(article: Article) -> Sighting:
    return Sighting(
        article_id=article.id,
        outlet=outlet_of(article),
        url=article.canonical_url or article.url,
        feed_url=article.source.feed_url,
        published_at=article.published_at,
        seen_at=article.ingested_at,
    )


def exact_keys(article: Article, config: DedupConfig) -> tuple[str, ...]:
    """The article's own id key (so a store finds it again on a re-run whatever its text), then its
    exact-copy keys, most trusted first: canonical URL, global GUID, text hash (long texts only)."""
    keys = _keys(article.id, article.canonical_url, article.guid)
    if article.word_count >= config.min_words:
        keys.append(_text_key(article.content_hash))
    return tuple(keys)


def document_keys(
    article_id: str, canonical_url: str | None, guid: str | None, content_hash: str | None
) -> set[str]:
    """Every exact key a stored article can have, from its own fields: what a store checks a
    hashed index hit against."""
    keys = set(_keys(article_id, canonical_url, guid))
    if content_hash:
        keys.add(_text_key(content_hash))
    return keys


@functools.lru_cache(maxsize=1 << 14)
def key_hash(key: str) -> int:
    """A key's 64-bit hash, the same in every process (Python's own hash() is salted per process):
    what the run's key shards and the embedded store's dedup index (its top 31 bits) go by.

    Cached for a chunk's worth of keys: the batch fingerprint step hashes each article's ~35 keys
    for its store lookup and again for the run's key shards, a few microseconds apart."""
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big")


def is_id_key(key: str) -> bool:
    return key.startswith(_ID_PREFIX)


def url_key(canonical_url: str) -> str:
    """The exact key of a canonical URL."""
    return _short_hash("u", canonical_url)


def guid_key(guid: str) -> str | None:
    """The exact key of a GUID unique beyond its feed; None for a short or numeric one."""
    return _short_hash("g", guid) if len(guid) >= _MIN_GLOBAL_GUID and not guid.isdigit() else None


def _keys(article_id: str, canonical_url: str | None, guid: str | None) -> list[str]:
    keys = [f"{_ID_PREFIX}{article_id[:16]}"]
    if canonical_url:
        keys.append(url_key(canonical_url))
    if guid and (key := guid_key(guid)):
        keys.append(key)
    return keys


def _text_key(content_hash: str) -> str:
    return f"t:{content_hash[:16]}"


Signature = npt.NDArray[np.uint32]


def signature_of(text: str, config: NearDupConfig) -> Signature:
    return minhash_array(text, num_perm=config.num_perm, k=config.shingle_k, seed=config.seed).astype(
        np.uint32
    )


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """What deduplication needs of an article: small enough to gather a whole run in one place."""

    article_id: str
    order: tuple[str, str]  # first-seen order in a batch: (published or ingested time, id)
    exact_keys: tuple[str, ...]
    near_keys: tuple[str, ...]  # LSH band keys (long texts), then the first rung's lead key
    signature: bytes  # uint32 values; empty when the text is too short for any near key
    sighting: Sighting
    lead_ladder: bytes = b""  # how deep its opening goes (`schemas.near_dup.lead_ladder`)

    def signature_array(self) -> Signature:
        return np.frombuffer(self.signature, dtype=np.uint32)


def fingerprint(article: Article, config: DedupConfig) -> Fingerprint:
    """Keys and signature of one article (the signature is over the body: headlines get rewritten).

    Band keys for texts of `min_words` or more; the first lead key, the lead ladder (and the
    signature) for every text of at least the first lead depth, so a teaser finds its full version
    and the reverse."""
    when = article.published_at or article.ingested_at
    near: tuple[str, ...] = ()
    signature = b""
    leads, ladder = indexed_lead_key(article.body, article.title)
    long_enough = article.word_count >= config.min_words
    if long_enough or leads:
        sig = signature_of(article.body, config.near)
        bands = band_keys(sig, config.near.bands, config.near.rows) if long_enough else []
        near = (*bands, *leads)
        signature = sig.tobytes()
    return Fingerprint(
        article_id=article.id,
        order=(when.isoformat(), article.id),
        exact_keys=exact_keys(article, config),
        near_keys=near,
        signature=signature,
        sighting=sighting_of(article),
        lead_ladder=ladder,
    )


# A near key (LSH band or lead key) that more stored canonical articles hold than this names no
# story: distinct stories do not share a band of their signatures or their first twelve words,
# boilerplate does (a newsletter pitch opening every item of a feed, a standard paragraph). Such a
# key finds no stored match (`pipelines.dedup.lookup_chunk`): without the bound every new article
# of that feed would be compared with all of the feed's stored ones, a cost growing with the store.
MAX_KEY_HOLDERS = 16


def crowded_keys(held: Iterable[str], limit: int | None) -> set[str]:
    """The near keys that occur more than `limit` times in `held` (each stored canonical article's
    keys among those asked for): what a store's lookup with `max_holders=limit` drops. None: no
    bound."""
    if limit is None:
        return set()
    return {key for key, count in Counter(held).items() if count > limit}


@dataclass(frozen=True, slots=True)
class StoredDoc:
    """An article a store found for some keys: enough to decide whether a new one copies it."""

    article_id: str
    duplicate_of: str | None
    exact_keys: frozenset[str]  # its keys among those asked for
    near_keys: frozenset[str]
    # The text, where the signature must be computed from it: a canonical article found by a band
    # key and stored without a signature. Stores leave it empty otherwise (not needed).
    body: str
    signature: bytes = b""  # the signature the store kept, or the one computed from `body`
    # Its lead ladder (`schemas.near_dup.lead_ladder`), where a lead key found it: kept by the
    # store, or made from what it kept before ladders were. b"": unknown (its shared opening then
    # counts as the first rung only).
    lead_ladder: bytes = b""

    def with_signature(self, config: NearDupConfig) -> StoredDoc:
        """This document carrying its signature instead of its text, where near matching needs
        one (a canonical article found by a band key); the text alone otherwise dropped."""
        signature = b""
        if self.duplicate_of is None and self.near_keys:
            # A signature kept by the store counts if made with as many values as this run's.
            kept = len(self.signature) == 4 * config.num_perm
            signature = self.signature if kept else signature_of(self.body, config).tobytes()
        return StoredDoc(
            self.article_id,
            self.duplicate_of,
            self.exact_keys,
            self.near_keys,
            "",
            signature,
            self.lead_ladder,
        )


@dataclass(frozen=True, slots=True)
class Decision:
    """What an article is: canonical, a copy of `duplicate_of`, or one already stored."""

    article_id: str
    duplicate_of: str | None = None
    reason: DuplicateReason | None = None
    similarity: float | None = None
    already_stored: bool = False


@dataclass(frozen=True, slots=True)
class Candidate:
    """An article on its way through batch deduplication, without its text: its fingerprint, the
    stored articles that share a key with it (looked up where it was fingerprinted, with their
    signatures), and once its copy group is decided, the decision and (for a canonical article)
    the copies of it found in the run."""

    fingerprint: Fingerprint
    stored: tuple[StoredDoc, ...] = ()
    decision: Decision | None = None
    copies: tuple[Sighting, ...] = ()


@dataclass
class DuplicateResolver:
    """Decides article after article, remembering the canonical ones it made.

    Feed it articles in first-seen order with what the store holds for their keys; it never makes
    a copy of a copy (a match on a stored copy resolves to that copy's canonical article).
    """

    config: DedupConfig
    _exact: dict[str, str] = field(default_factory=dict)  # exact key → canonical id
    _near: dict[str, list[str]] = field(default_factory=dict)  # band key → canonical ids
    _signatures: dict[str, Signature] = field(default_factory=dict)  # canonical id → signature
    _ladders: dict[str, bytes] = field(default_factory=dict)  # canonical id → lead ladder
    _decided: dict[str, Decision] = field(default_factory=dict)
    _seen_at: dict[str, float] = field(default_factory=dict)  # canonical id → when (for forgetting)
    _stored_signatures: dict[str, Signature] = field(default_factory=dict)
    # Estimated shingle counts of the signatures compared for containment, by article id: an
    # article sharing its opening with many others (copies of one story) is sized once, not per pair.
    _sizes: dict[str, float] = field(default_factory=dict)

    def decide(self, fp: Fingerprint, stored: Iterable[StoredDoc] = (), now: float = 0.0) -> Decision:
        earlier = self._decided.get(fp.article_id)
        if earlier is not None:  # the same article read twice in one run (two feeds, one link)
            return earlier
        stored = list(stored)
        decision = self._match(fp, stored)
        if decision.duplicate_of is None and not decision.already_stored:
            self._remember_canonical(fp, now)
        elif decision.duplicate_of is not None:
            for key in fp.exact_keys:
                self._exact.setdefault(key, decision.duplicate_of)
        self._decided[fp.article_id] = decision
        return decision

    def _match(self, fp: Fingerprint, stored: list[StoredDoc]) -> Decision:
        for doc in stored:
            if doc.article_id == fp.article_id:  # a re-run: the store already decided
                return Decision(fp.article_id, duplicate_of=doc.duplicate_of, already_stored=True)
        for key in fp.exact_keys:
            if is_id_key(key):
                continue
            canonical = self._exact.get(key)
            if canonical is None:
                canonical = next(
                    (d.duplicate_of or d.article_id for d in stored if key in d.exact_keys), None
                )
            if canonical is not None and canonical != fp.article_id:
                return Decision(fp.article_id, canonical, _EXACT_KINDS[key[0]], 1.0)
        if not fp.signature:
            return Decision(fp.article_id)
        best = self._best_near(fp, stored)
        if best is not None:
            return Decision(fp.article_id, best[1], best[2], round(best[0], 4))
        return Decision(fp.article_id)

    def _best_near(
        self, fp: Fingerprint, stored: list[StoredDoc]
    ) -> tuple[float, str, DuplicateReason] | None:
        """The most similar canonical article sharing a band key at or above the threshold, else the
        one containing (or contained in) this one the most; ties go to the older id."""
        mine = fp.signature_array()
        shared: dict[str, set[str]] = defaultdict(set)  # canonical id → the near keys it shares
        theirs: dict[str, Signature] = {}
        ladders: dict[str, bytes] = {}
        for key in fp.near_keys:
            for canonical in self._near.get(key, ()):
                shared[canonical].add(key)
                theirs[canonical] = self._signatures[canonical]
                ladders[canonical] = self._ladders.get(canonical, b"")
        mine_keys = set(fp.near_keys)
        for doc in stored:
            if doc.duplicate_of is None and doc.near_keys & mine_keys:
                shared[doc.article_id].update(doc.near_keys & mine_keys)
                if doc.article_id not in theirs:
                    theirs[doc.article_id] = self._stored_signature(doc)
                    ladders[doc.article_id] = doc.lead_ladder
        near: list[tuple[float, str]] = []
        contained: list[tuple[float, str]] = []
        for canonical, keys in shared.items():
            if not all(map(is_lead_key, keys)):  # a shared band key: Jaccard decides
                similarity = estimated_jaccard(mine, theirs[canonical])
                if similarity >= self.config.near.threshold:
                    near.append((similarity, canonical))
                    continue
            if not any(map(is_lead_key, keys)):
                continue  # containment needs a shared opening
            sizes = (self._size(fp.article_id, mine), self._size(canonical, theirs[canonical]))
            ladder = ladders[canonical]
            opening = (shared_lead_depth(fp.lead_ladder, ladder), same_title_lead(fp.lead_ladder, ladder))
            containment = _containment(mine, theirs[canonical], sizes, opening, self.config)
            if containment is not None:
                contained.append((containment, canonical))
        if near:
            return (*min(near, key=lambda f: (-f[0], f[1])), "near")
        if contained:
            return (*min(contained, key=lambda f: (-f[0], f[1])), "contained")
        return None

    def _size(self, article_id: str, signature: Signature) -> float:
        size = self._sizes.get(article_id)
        if size is None:
            if len(self._sizes) >= 100_000:
                self._sizes.clear()
            size = self._sizes[article_id] = estimated_size(signature)
        return size

    def _stored_signature(self, doc: StoredDoc) -> Signature:
        if doc.signature:
            return np.frombuffer(doc.signature, dtype=np.uint32)
        sig = self._stored_signatures.get(doc.article_id)
        if sig is None:
            if len(self._stored_signatures) >= 10_000:
                self._stored_signatures.clear()
            sig = signature_of(doc.body, self.config.near)
            self._stored_signatures[doc.article_id] = sig
        return sig

    def _remember_canonical(self, fp: Fingerprint, now: float) -> None:
        for key in fp.exact_keys:
            self._exact.setdefault(key, fp.article_id)
        if fp.signature:
            self._signatures[fp.article_id] = fp.signature_array()
            if fp.lead_ladder:
                self._ladders[fp.article_id] = fp.lead_ladder
            for key in fp.near_keys:
                self._near.setdefault(key, []).append(fp.article_id)
        self._seen_at[fp.article_id] = now

    def forget_before(self, cutoff: float) -> None:
        """Drop canonical articles remembered before `cutoff` and keep at most `memory_max`; the
        store answers for them from then on (streaming keeps the resolver in Beam state)."""
        keep = sorted((t, i) for i, t in self._seen_at.items() if t >= cutoff)[-self.config.memory_max :]
        if len(keep) == len(self._seen_at):
            return
        kept = {i for _, i in keep}
        self._seen_at = {i: t for t, i in keep}
        self._signatures = {i: s for i, s in self._signatures.items() if i in kept}
        self._ladders = {i: s for i, s in self._ladders.items() if i in kept}
        self._exact = {k: i for k, i in self._exact.items() if i in kept}
        self._near = {k: v for k, ids in self._near.items() if (v := [i for i in ids if i in kept])}
        self._decided = {i: d for i, d in self._decided.items() if (d.duplicate_of or i) in kept}
        self._stored_signatures.clear()


def _containment(
    a: Signature, b: Signature, sizes: tuple[float, float], opening: tuple[int, bool], config: DedupConfig
) -> float | None:
    """The share of the shorter text's shingles in the longer one, where a teaser may be folded into
    its full version (or the reverse), two texts sharing their opening (the first lead key): None
    unless the shorter has at most TEASER_RATIO of the longer's shingles, or when below
    `config.containment`. `opening`: the deepest lead depth both share, and whether they share the
    title-lead key (`shared_lead_depth`, `same_title_lead` of their ladders).

    The estimate is the opening both share: the shingles of the deepest shared lead depth over the
    shorter's estimated shingle count (a prefix teaser shares the deepest rung it reaches, and so
    >= 87 % of its words). The MinHash estimate (`estimated_containment`) can only lower it: a
    signature value of the shorter text missing from the longer shows text past the shared opening
    that the longer lacks (a shared boilerplate opening, then another story). Alone, MinHash's
    estimate counts where it rests on MIN_CONTAINMENT_EVIDENCE values or more: teasers longer than
    the ladder, or ones that are not a prefix.

    Short texts (under `config.min_words` words) are matched only where that is safe: besides all
    of the above (never Jaccard on a few shingles), a second, independent sign that the two are one
    story: the same normalized title with the same first 12 words (the title-lead key), or a value
    of the short text's signature found in the longer one. Two different one-line items are under
    the first lead depth and have no lead key at all.
    """
    depth, same_title = opening
    size_a, size_b = sizes  # estimated_size of a and b
    (small, short), (large, _) = sorted(((size_a, 0), (size_b, 1)))
    if not 0 < small <= TEASER_RATIO * large:
        return None
    short_sig, long_sig = (a, b) if short == 0 else (b, a)
    estimate, evidence = estimated_containment(short_sig, long_sig)
    k = config.near.shingle_k
    if small + k - 1 < config.min_words and not (evidence or same_title):
        return None
    prefix = min(1.0, (depth - k + 1) / small)
    if evidence:
        prefix = min(prefix, estimate)
    containment = max(prefix, estimate if evidence >= MIN_CONTAINMENT_EVIDENCE else 0.0)
    return containment if containment >= config.containment else None


def merge_sightings(existing: Sequence[Sighting], new: Iterable[Sighting]) -> tuple[Sighting, ...]:
    """`existing` followed by the sightings of `new` not in it yet (by article), in seen order.

    Idempotent: a copy re-read by a re-run or a retried bundle adds nothing.
    """
    have = {s.article_id for s in existing}
    added: dict[str, Sighting] = {}
    for s in new:
        if s.article_id not in have:
            added.setdefault(s.article_id, s)
    ordered = sorted(added.values(), key=lambda s: (s.seen_at, s.article_id))
    return (*existing, *ordered)


def apply_decision(article: Article, decision: Decision, copies: Sequence[Sighting] = ()) -> Article:
    """The article with its dedup fields set: a copy points at its canonical article; a canonical
    article lists itself and `copies` (the copies found in the same run) in `sources_seen`."""
    own = sighting_of(article)
    lineage = Lineage.of(merge_sightings((own,), copies) if decision.duplicate_of is None else (own,))
    return article.model_copy(
        update={
            "duplicate_of": decision.duplicate_of,
            "duplicate_reason": decision.reason,
            "similarity": decision.similarity,
            **dict(lineage),  # the models themselves: model_dump() would turn sightings into dicts
        }
    )


def with_keys(article: Article, fp: Fingerprint) -> Article:
    """The article carrying its lookup keys, for the store to index, and its signature and lead
    ladder, for the store to keep (near keys, signature and ladder on canonicals only: only they
    are near-matched)."""
    near = fp.near_keys if article.duplicate_of is None else ()
    signature = base64.b64encode(fp.signature).decode() if near and fp.signature else None
    ladder = base64.b64encode(fp.lead_ladder).decode() if near and fp.lead_ladder else None
    return article.model_copy(
        update={
            "dedup_keys": fp.exact_keys,
            "near_dup_keys": near,
            "near_dup_signature": signature,
            "near_dup_ladder": ladder,
        }
    )


def stored_signature(encoded: object) -> bytes:
    """The signature a store kept (`Article.near_dup_signature`), or b"" when it kept none (an
    article stored before signatures were) or something unreadable."""
    return _decoded(encoded)


def stored_ladder(encoded: object, stored_keys: Iterable[str] = ()) -> bytes:
    """The lead ladder a store kept (`Article.near_dup_ladder`); for an article stored before
    ladders were, the one its lead keys give (`lead_keys`: stores indexed all of them then)."""
    return _decoded(encoded) or lead_ladder(stored_keys)


def _decoded(encoded: object) -> bytes:
    """The bytes of a base64 field, b"" for none or something unreadable."""
    if not isinstance(encoded, str):
        return b""
    try:
        return base64.b64decode(encoded, validate=True)
    except ValueError:
        return b""


__all__ = [
    "MAX_KEY_HOLDERS",
    "MIN_CONTAINMENT_EVIDENCE",
    "TEASER_RATIO",
    "Candidate",
    "Decision",
    "DedupConfig",
    "DuplicateResolver",
    "Fingerprint",
    "Lineage",
    "LineageUpdate",
    "StoredDoc",
    "apply_decision",
    "crowded_keys",
    "document_keys",
    "exact_keys",
    "fingerprint",
    "guid_key",
    "is_id_key",
    "key_hash",
    "merge_sightings",
    "outlet_from",
    "outlet_of",
    "sighting_of",
    "stored_ladder",
    "stored_signature",
    "url_key",
    "with_keys",
]
