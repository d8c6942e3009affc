"""Near-duplicate detection: MinHash signatures over word shingles, and LSH band keys.

Syndicated copies of one article differ from it by a new headline, a byline or dateline, a
boilerplate paragraph, truncation or a few changed words; exact content hashes (`schemas.ids`) miss
them. MinHash estimates the Jaccard similarity of two texts' word-shingle sets from two short
signatures, and LSH band keys let a store (an Elasticsearch keyword field, a SQLite index) find the
few candidates worth comparing without comparing every pair.

Everything here is pure and deterministic across processes, machines and runs: shingles are hashed
with fixed-constant 64-bit polynomial hashing and the permutations come from a fixed seed, never
from Python's salted `hash()`. The implementation needs only numpy; the compiled path in
native/tagcore (`schemas.native`), when built, computes the same values faster. See
`benchmarks/results/dedup_eval.md` for the measurements behind the defaults.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable
from typing import Any, Self

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas import native
from schemas.codepoints import codepoints, word_chars
from schemas.ids import canonical_text, fold

__all__ = [
    "DEFAULT_CONFIG",
    "INDEXED_LEAD_DEPTH",
    "LEAD_DEPTHS",
    "NearDupConfig",
    "band_keys",
    "estimated_containment",
    "estimated_jaccard",
    "estimated_size",
    "indexed_lead_key",
    "is_lead_key",
    "is_near_duplicate",
    "lead_depth",
    "lead_keys",
    "lead_ladder",
    "lead_text",
    "minhash_signature",
    "same_title_lead",
    "shared_lead_depth",
    "shingles",
]

# Defaults, measured with benchmarks/eval_dedup.py (benchmarks/results/dedup_eval.md): on 330 real
# articles and 2,640 syndicated variants, 3-word shingles at threshold 0.3 give pairwise precision
# 1.0 and recall 0.996 (end to end through the resolver: 0.999 / 0.978). Unrelated and same-story
# articles stay below 0.22 (the two Kim-Putin seeds: 0.06 estimated, 0.03 exact),
# while the hardest variants (new headline + byline + truncation + changed words + boilerplate) sit
# at Jaccard 0.24-0.3; 5-word shingles lose recall, 2-word ones raise the same-story floor.
# LSH: 16 bands of 3 rows over the first 48 signature values. Rows of 2 made 0.2 % of unrelated
# pairs candidates (outlets repeat boilerplate), which at a million stored articles means
# thousands of candidates per lookup; 3 rows cut that to 0.002 %, and 16 bands still put ~98.5 %
# of the true pairs in a shared band while keeping the stored index at 16 keys per article
# (the embedded store's budget is 300 bytes of dedup state per article).
DEFAULT_NUM_PERM = 128
DEFAULT_SHINGLE_K = 3
DEFAULT_BANDS = 16
DEFAULT_ROWS = 3
DEFAULT_THRESHOLD = 0.3
DEFAULT_SEED = 20231109

U64 = npt.NDArray[np.uint64]

# Fixed odd 64-bit constants (never change them: stored signatures and band keys depend on them):
# the base of the per-word polynomial hash, the word-length salt and the per-position multipliers.
_POLY_BASE = 0x100000001B3 | 1
_POLY_BASE_INV = pow(_POLY_BASE, -1, 1 << 64)
_LENGTH_SALT = np.uint64(0xD1B54A32D192ED03)
_SHINGLE_MULT = tuple(
    np.uint64(m)
    for m in (
        0x9E3779B97F4A7C15,
        0xC2B2AE3D27D4EB4F,
        0x165667B19E3779F9,
        0xD6E8FEB86659FD93,
        0xFF51AFD7ED558CCD,
        0xC4CEB9FE1A85EC53,
        0x27D4EB2F165667C5,
        0x85EBCA77C2B2AE63,
        0x9FB21C651E98DF25,
        0xA0761D6478BD642F,
    )
)
_MAX_SIG = (1 << 32) - 1


class NearDupConfig(BaseModel):
    """How near-duplicates are found; the defaults are the measured best for news syndication.

    Two texts are near-duplicates when the estimated Jaccard similarity of their `shingle_k`-word
    shingle sets is >= `threshold`. Only texts sharing an LSH band key need comparing.

    The LSH bands cover the first `bands * rows` of the `num_perm` signature values (the rest only
    sharpen the similarity estimate), so a pair whose Jaccard is `s` becomes a candidate with
    probability `1 - (1 - s**rows)**bands`.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    num_perm: int = Field(default=DEFAULT_NUM_PERM, ge=16, le=1024)
    shingle_k: int = Field(default=DEFAULT_SHINGLE_K, ge=1, le=10)
    bands: int = Field(default=DEFAULT_BANDS, ge=1)
    rows: int = Field(default=DEFAULT_ROWS, ge=1)
    threshold: float = Field(default=DEFAULT_THRESHOLD, gt=0.0, le=1.0)
    seed: int = Field(default=DEFAULT_SEED, ge=0)

    @model_validator(mode="after")
    def _bands_cover_signature(self) -> Self:
        if self.bands * self.rows > self.num_perm:
            raise ValueError(
                f"bands * rows must not exceed num_perm: {self.bands} * {self.rows} > {self.num_perm}"
            )
        return self


DEFAULT_CONFIG = NearDupConfig()


def shingles(text: str, k: int = DEFAULT_SHINGLE_K) -> frozenset[str]:
    """The set of `k`-word shingles of `text`'s canonical form (`schemas.ids.canonical_text`).

    Canonical words make case, punctuation, spacing and Unicode form irrelevant, as for content
    hashes. A text shorter than `k` words is one shingle (so short texts still compare); an empty
    text has none.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    words = canonical_text(text).split()
    if not words:
        return frozenset()
    if len(words) <= k:
        return frozenset({" ".join(words)})
    return frozenset(" ".join(words[i : i + k]) for i in range(len(words) - k + 1))


# -- hashing -------------------------------------------------------------------------------------

_pow_cache: dict[str, U64] = {}


def _powers(n: int) -> tuple[U64, U64]:
    """BASE**i and BASE**-i (mod 2**64) for i < n, grown by doubling and kept between calls."""
    have = _pow_cache.get("fwd")
    if have is None or have.shape[0] < n:
        size = max(1 << 12, 1 << (max(n, 1) - 1).bit_length())
        fwd = np.empty(size, dtype=np.uint64)
        inv = np.empty(size, dtype=np.uint64)
        fwd[0] = inv[0] = 1
        fwd[1:] = _POLY_BASE
        inv[1:] = _POLY_BASE_INV
        with np.errstate(over="ignore"):
            np.cumprod(fwd, out=fwd)
            np.cumprod(inv, out=inv)
        _pow_cache["fwd"], _pow_cache["inv"] = fwd, inv
    return _pow_cache["fwd"], _pow_cache["inv"]


def _mix(x: U64) -> U64:
    """splitmix64's finalizer: spreads every input bit over the whole 64-bit word."""
    x = x ^ (x >> np.uint64(30))
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(27)
    x *= np.uint64(0x94D049BB133111EB)
    x ^= x >> np.uint64(31)
    return x


def _word_hashes(text: str) -> U64:
    """A stable 64-bit hash of every word of `canonical_text(text)`, vectorized over code points.

    Same folding as `canonical_text` (NFKC, casefold, runs of `\\w`), without building the
    canonical string: word w = cps[s:e] hashes to len * C ^ sum_j cp_j * BASE**(j - s); the sums
    come from one prefix sum of cp_j * BASE**j, all modulo 2**64 (numpy's uint64 arithmetic wraps),
    so no Python loop runs per word or per shingle. The values are not mixed here:
    `_shingle_hashes` mixes every shingle.
    """
    cps = codepoints(fold(text))
    n = cps.shape[0]
    if n == 0:
        return np.empty(0, dtype=np.uint64)
    # Word runs start and end where the "is a word character" flag flips (padded with False).
    is_word = np.zeros(n + 2, dtype=np.bool_)
    np.take(word_chars(), cps, out=is_word[1:-1])
    edges = np.flatnonzero(is_word[1:] != is_word[:-1])
    starts, ends = edges[0::2], edges[1::2]
    if starts.shape[0] == 0:
        return np.empty(0, dtype=np.uint64)
    fwd, inv = _powers(n + 1)
    prefix = np.zeros(n + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        np.cumsum(cps * fwd[:n], out=prefix[1:])
        sums = (prefix[ends] - prefix[starts]) * inv[starts]
        sums ^= (ends - starts).astype(np.uint64) * _LENGTH_SALT
        return sums


def _shingle_hashes(text: str, k: int) -> U64:
    """Stable 64-bit hashes of the `k`-word shingles of `text` (same set as `shingles`)."""
    words = _word_hashes(text)
    if words.shape[0] == 0:
        return words
    span = min(k, words.shape[0])
    count = words.shape[0] - span + 1
    with np.errstate(over="ignore"):
        # Position-dependent odd multipliers keep "a b c" and "c b a" apart; one mix per shingle.
        acc = words[:count] * _SHINGLE_MULT[0]
        for offset in range(1, span):
            acc += words[offset : offset + count] * _SHINGLE_MULT[offset]
        return _mix(acc ^ np.uint64(span))


_probe_cache: dict[tuple[int, int], npt.NDArray[np.intp]] = {}
_EMPTY = np.uint64(1 << 32)  # above every 32-bit value: marks a bin no shingle fell into


def _probes(num_perm: int, seed: int) -> npt.NDArray[np.intp]:
    """For every bin, a fixed random order of all bins: where an empty bin borrows its value.

    PCG64 with an explicit seed yields the same numbers on every platform and numpy version that
    keeps its documented stream (numpy guarantees this for `Generator(PCG64(seed)).permuted`).
    """
    key = (num_perm, seed)
    cached = _probe_cache.get(key)
    if cached is None:
        rng = np.random.Generator(np.random.PCG64(seed))
        order = np.tile(np.arange(num_perm, dtype=np.intp), (num_perm, 1))
        cached = rng.permuted(order, axis=1)
        _probe_cache[key] = cached
    return cached


@functools.cache
def _probe_bytes(num_perm: int, seed: int) -> bytes:
    """`_probes` as native uint32 bytes, for the compiled path."""
    return _probes(num_perm, seed).astype(np.uint32).tobytes()


def minhash_signature(
    text: str,
    *,
    num_perm: int = DEFAULT_NUM_PERM,
    k: int = DEFAULT_SHINGLE_K,
    seed: int = DEFAULT_SEED,
) -> tuple[int, ...]:
    """`minhash_array` as a tuple of ints."""
    result: list[int] = minhash_array(text, num_perm=num_perm, k=k, seed=seed).tolist()
    return tuple(result)


def minhash_array(
    text: str,
    *,
    num_perm: int = DEFAULT_NUM_PERM,
    k: int = DEFAULT_SHINGLE_K,
    seed: int = DEFAULT_SEED,
) -> npt.NDArray[np.uint64]:
    """The MinHash signature (`num_perm` 32-bit values) of `text`'s `k`-word shingle set.

    One permutation hashing with optimal densification (Li, Owen & Zhang 2012; Shrivastava 2017):
    each shingle's hash picks one of `num_perm` bins and a value, each bin keeps its minimum, and a
    bin no shingle fell into takes the value of the first filled bin in its fixed probe order. Two
    texts agree on a position with probability ~ the Jaccard similarity of their shingle sets, as
    with `num_perm` independent permutations, at the cost of one hash per shingle instead of
    `num_perm` (benchmarks/results/dedup_bench.md). Signatures depend only on the text,
    `num_perm`, `k` and `seed`, so they can be stored and compared across runs. An empty text gets
    all-maximum values (similar only to other empty texts).
    """
    if num_perm < 1:
        raise ValueError(f"num_perm must be >= 1, got {num_perm}")
    if not 1 <= k <= len(_SHINGLE_MULT):
        raise ValueError(f"k must be in 1..{len(_SHINGLE_MULT)}, got {k}")
    if not native.ERROR and seed >= 0:  # a negative seed has no probes (numpy raises if it needs them)
        raw = native.minhash(fold(text), num_perm, k, _seed_mix(seed), _probe_bytes(num_perm, seed))
        return np.frombuffer(raw, dtype=np.uint64).copy()
    return _minhash_numpy(text, num_perm, k, seed)


def _seed_mix(seed: int) -> int:
    return (seed * 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF


def _minhash_numpy(text: str, num_perm: int, k: int, seed: int) -> npt.NDArray[np.uint64]:
    hashes = _shingle_hashes(text, k)
    if hashes.shape[0] == 0:
        return np.full(num_perm, _MAX_SIG, dtype=np.uint64)
    with np.errstate(over="ignore"):
        mixed = _mix(hashes ^ np.uint64(_seed_mix(seed)))
        # Bin from the high 32 bits (multiply-shift: any num_perm, no modulo bias to speak of),
        # value from the low 32 bits.
        bins = ((mixed >> np.uint64(32)) * np.uint64(num_perm)) >> np.uint64(32)
    values = mixed & np.uint64(_MAX_SIG)
    signature = np.full(num_perm, _EMPTY, dtype=np.uint64)
    np.minimum.at(signature, bins.astype(np.intp), values)
    empty = signature == _EMPTY
    if empty.any():
        probes = _probes(num_perm, seed)[empty]
        first_filled = np.argmax(~empty[probes], axis=1)
        signature[empty] = signature[probes[np.arange(probes.shape[0]), first_filled]]
    return signature


SignatureLike = tuple[int, ...] | list[int] | npt.NDArray[Any]


def estimated_jaccard(a: SignatureLike, b: SignatureLike) -> float:
    """The fraction of positions where two signatures agree: an unbiased Jaccard estimate."""
    if len(a) != len(b):
        raise ValueError(f"signatures differ in length: {len(a)} != {len(b)}")
    if not len(a):
        raise ValueError("empty signatures")
    return int(np.count_nonzero(np.asarray(a) == np.asarray(b))) / len(a)


def is_near_duplicate(a: SignatureLike, b: SignatureLike, threshold: float = DEFAULT_THRESHOLD) -> bool:
    """Whether two signatures' estimated Jaccard reaches `threshold`."""
    return estimated_jaccard(a, b) >= threshold


_BAND_SALT = np.uint64(0x2545F4914F6CDD1D)


def band_keys(signature: SignatureLike, bands: int, rows: int) -> list[str]:
    """One LSH key per band over the first `bands * rows` values: `"<band>-<16 hex digits>"`.

    Two signatures share a key iff they agree on every row of that band (up to 64-bit hash
    collisions); the band number keeps equal values in different bands apart. The keys are short
    ASCII strings, fit for keyword fields and SQLite text keys, and stable across processes.
    """
    if bands < 1 or rows < 1:
        raise ValueError(f"bands and rows must be >= 1, got {bands} and {rows}")
    if bands * rows > len(signature):
        raise ValueError(
            f"bands * rows must not exceed the signature length: {bands} * {rows} > {len(signature)}"
        )
    values = np.asarray(signature[: bands * rows], dtype=np.uint64)
    if not native.ERROR:
        return native.band_keys(values.tobytes(), bands, rows)
    table = values.reshape(bands, rows)
    with np.errstate(over="ignore"):
        # Each row times its own odd constant (a bijection), summed with the band's salt, then one
        # full mix: equal bands give equal keys, different ones collide with odds ~2**-64.
        acc = table @ _row_multipliers(rows) + np.arange(bands, dtype=np.uint64) * _BAND_SALT
        keys: list[int] = _mix(acc).tolist()
    return [f"{band:02d}-{value:016x}" for band, value in enumerate(keys)]


def _row_multipliers(rows: int) -> npt.NDArray[np.uint64]:
    return np.array([_SHINGLE_MULT[r % len(_SHINGLE_MULT)] for r in range(rows)], dtype=np.uint64)


# -- teasers: containment of a short text in a longer one ----------------------------------------


# Lead keys: a hash of the first d canonical words for each depth d of this ladder that the text
# reaches. A teaser (the first words of its article, or its lead sentence or paragraph) shares
# every depth up to its own length with its full version, whatever their lengths, where their
# LSH bands rarely meet. The rungs grow by ~1.15, so a text sharing its deepest rung shares at
# least 87 % of its words as the other's opening (the length is estimated from the signature, a
# few percent off: the margin keeps such a teaser above an 80 % containment threshold). Longer
# teasers are left to the MinHash containment estimate, which has enough values for them.
# 12 keys on a text of 58 words or more. 12 words, the first rung, is past any dateline
# ("WASHINGTON, Feb 17 (Reuters) -" is 6), so two articles sharing it share real text. Never change
# the ladder: stored articles keep these keys.
LEAD_DEPTHS = (12, 14, 16, 18, 21, 24, 28, 32, 37, 43, 50, 58)
LEAD_PREFIX = "L"
TITLE_LEAD_PREFIX = "T-"


def lead_text(text: str, words: int) -> str | None:
    """The first `words` canonical words of `text`, or None when it has fewer."""
    canon = canonical_text(text).split(maxsplit=words)
    if len(canon) < words:
        return None
    return " ".join(canon[:words])


def lead_keys(text: str, title: str = "") -> list[str]:
    """`text`'s lead keys, `"L<depth>-<16 hex digits>"` per rung of LEAD_DEPTHS it reaches, then
    (with a `title` and at least the first rung) `"T-<16 hex digits>"` of the canonical title
    and the first rung's words: what short texts must share to be matched (`schemas.dedup`)."""
    rungs, titled = _lead_digests(text, title)
    keys = [f"{LEAD_PREFIX}{depth:02d}-{rung.hex()}" for depth, rung in zip(LEAD_DEPTHS, rungs, strict=False)]
    if titled is not None:
        keys.append(f"{TITLE_LEAD_PREFIX}{titled.hex()}")
    return keys


def _lead_digests(text: str, title: str) -> tuple[list[bytes], bytes | None]:
    """The 8-byte digests behind `lead_keys`: one per rung `text` reaches, and the title-lead one
    (None without a title or the first rung)."""
    words = _opening_words(text, LEAD_DEPTHS[-1])
    # One digest per rung of the whole opening up to it (a dozen calls; hashing word by word with
    # a running digest made one call per word and cost twice as much).
    rungs = [
        hashlib.blake2b(" ".join(words[:depth]).encode(), digest_size=8).digest()
        for depth in LEAD_DEPTHS
        if depth <= len(words)
    ]
    head = canonical_text(title)
    if not (rungs and head):
        return rungs, None
    opening = head + "\n" + " ".join(words[: LEAD_DEPTHS[0]])
    return rungs, hashlib.blake2b(opening.encode("utf-8"), digest_size=8).digest()


# Characters of a text read for its opening: 58 words of news prose take ~380, so one read almost
# always does; a text that needs more is read whole.
_OPENING_CHARS = 700


def _opening_words(text: str, count: int) -> list[str]:
    """The first `count` canonical words of `text` (fewer if it has fewer), canonicalizing only its
    opening: the whole body of a long article would cost more than all of its other keys. Cut at
    a space, the opening keeps every word whole and its canonical words are the text's first ones."""
    cut = text.rfind(" ", 0, _OPENING_CHARS) if len(text) > _OPENING_CHARS else -1
    if cut > 0:
        words = canonical_text(text[:cut]).split(maxsplit=count)
        if len(words) >= count:
            return words[:count]
    return canonical_text(text).split(maxsplit=count)[:count]


# Only the first rung's key is indexed (stores, the run's key links): two texts sharing a deeper
# rung or the title-lead key share it too, so it finds every pair the others would, and each
# indexed key costs the embedded store ~14 bytes per article (benchmarks/results/dedup_bench.md:
# the title-lead key alone would take it past its 300-byte budget). How deep the shared opening
# goes is read from each text's ladder instead: the first 4 bytes of its title-lead key's digest
# (zero without one), then of each deeper rung's; 48 bytes for a full article, kept in the
# fingerprint and, next to the signature, in the store's per-article dedup row. Reading the other
# text's opening instead would cost a body read and canonicalization per candidate, and the run's
# candidates are fingerprints without text. Four bytes make a rung match by chance once in 4
# billion pairs; one byte less per rung would save 12 bytes and let a stranger look a rung deeper
# (15 % more shared opening) once in 16 million.
INDEXED_LEAD_DEPTH = LEAD_DEPTHS[0]
_LADDER_BYTES = 4  # of each digest
_LADDER_HEX = 2 * _LADDER_BYTES
_NO_TITLE = "0" * _LADDER_HEX


def indexed_lead_key(text: str, title: str = "") -> tuple[list[str], bytes]:
    """What deduplication keeps of `text`'s opening: its indexed lead key (the first rung's of
    `lead_keys`; none for a text under it), and its ladder (`lead_ladder`), in one pass."""
    rungs, titled = _lead_digests(text, title)
    if not rungs:
        return [], b""
    key = f"{LEAD_PREFIX}{INDEXED_LEAD_DEPTH:02d}-{rungs[0].hex()}"
    values = [titled or bytes(_LADDER_BYTES), *rungs[1:]]
    return [key], b"".join(value[:_LADDER_BYTES] for value in values)


def lead_ladder(keys: Iterable[str]) -> bytes:
    """The ladder of a text whose lead keys (`lead_keys`: a text's own, or those a store kept
    before ladders were) are `keys`: 4 bytes of each key's digest, the title-lead key's (zero
    without one) then one per rung from the second on, as deep as the text reaches; b"" for a text
    under the first rung."""
    depths: dict[int, str] = {}
    title = _NO_TITLE
    for key in keys:
        if key.startswith(TITLE_LEAD_PREFIX):
            title = key[-16 : -16 + _LADDER_HEX]
        elif (depth := lead_depth(key)) is not None:
            depths[depth] = key[-16 : -16 + _LADDER_HEX]
    if INDEXED_LEAD_DEPTH not in depths:
        return b""
    rungs = []
    for depth in LEAD_DEPTHS[1:]:
        if depth not in depths:
            break
        rungs.append(depths[depth])
    return bytes.fromhex(title + "".join(rungs))


def shared_lead_depth(a: bytes, b: bytes) -> int:
    """The deepest rung two texts sharing the first one (`indexed_lead_key`) share, from their
    ladders (`lead_ladder`): rungs are nested, so it is the last of the run of equal values; the
    first rung when either ladder is unknown (b"")."""
    depth = INDEXED_LEAD_DEPTH
    rungs = min(len(a), len(b)) // 4 - 1
    for n in range(1, rungs + 1):
        if a[4 * n : 4 * n + 4] != b[4 * n : 4 * n + 4]:
            break
        depth = LEAD_DEPTHS[n]
    return depth


def same_title_lead(a: bytes, b: bytes) -> bool:
    """Whether two ladders (`lead_ladder`) say their texts share the title-lead key: the same title
    and first rung."""
    return len(a) >= 4 and len(b) >= 4 and a[:4] == b[:4] and a[:4] != bytes(4)


def lead_depth(key: str) -> int | None:
    """The depth of a lead key (`lead_keys`), None for any other key."""
    if key.startswith(LEAD_PREFIX) and key[3:4] == "-" and key[1:3].isdigit():
        return int(key[1:3])
    return None


def is_lead_key(key: str) -> bool:
    """Whether a near key is a lead or title-lead key (`lead_keys`) rather than an LSH band key."""
    return key.startswith((LEAD_PREFIX, TITLE_LEAD_PREFIX))


def estimated_size(signature: SignatureLike) -> float:
    """An estimate of the number of shingles behind a signature (`minhash_array`'s), from the
    signature alone: stores keep signatures, not texts or their lengths.

    Distinct values are the bins some shingle fell into (an empty bin copies another's value), so
    while some bins are empty the count inverts the occupancy of `num_perm` bins (linear counting,
    exact in expectation, a few percent off for teaser-sized texts). Once nearly every bin is
    filled, each bin's minimum of ~n/num_perm uniform 32-bit values averages 1/(n/num_perm + 1)
    of the range (stochastic averaging, ~1/sqrt(num_perm) relative error).
    """
    values = np.asarray(signature, dtype=np.uint64)
    m = values.shape[0]
    if not m:
        raise ValueError("empty signature")
    distinct = np.unique(values)
    if distinct.shape[0] == 1 and distinct[0] == _MAX_SIG:  # an empty text
        return 0.0
    filled = distinct.shape[0]
    if filled < 0.9 * m:
        return float(np.log1p(-filled / m) / np.log1p(-1 / m))
    mins = (distinct.astype(np.float64) + 1.0) / float(1 << 32)
    return max(float(filled * (filled / mins.sum() - 1.0)), float(filled))


def estimated_containment(short: SignatureLike, long: SignatureLike) -> tuple[float, int]:
    """The share of `short`'s shingles that `long` has, estimated from the two signatures, and the
    number of signature values the estimate rests on.

    Each distinct value v of `short` is the least hash of the shingle x that set it. Where every
    value `long` has at the positions holding v is >= v, no other shingle of `long` hides x there
    -- an event independent of whether `long` has x -- so the value is equal exactly when `long`
    has x (a 32-bit coincidence aside) and greater when it has not. Among those values, the equal
    share estimates the containment without bias; the others (`long` smaller) say nothing. A
    teaser wholly inside its article therefore always estimates 1.0, whatever the length ratio,
    where the Jaccard-based estimate J * (|A| + |B|) / ((1 + J) * |A|) scatters by a third for a
    28-word teaser of a 400-word article (benchmarks/results/dedup_eval.md).
    The number of values the estimate rests on falls as `long` grows (~ |A| / (|B| / num_perm)).
    """
    a = np.asarray(short, dtype=np.uint64)
    b = np.asarray(long, dtype=np.uint64)
    if a.shape != b.shape:
        raise ValueError(f"signatures differ in length: {a.shape[0]} != {b.shape[0]}")
    if not a.shape[0]:
        raise ValueError("empty signatures")
    values, inverse = np.unique(a, return_inverse=True)
    # The least value `long` has at the positions of each distinct value of `short`.
    least = np.full(values.shape[0], np.iinfo(np.uint64).max, dtype=np.uint64)
    np.minimum.at(least, inverse.ravel(), b)
    equal = int(np.count_nonzero(least == values))
    greater = int(np.count_nonzero(least > values))
    informative = equal + greater
    return (equal / informative if informative else 0.0), informative
