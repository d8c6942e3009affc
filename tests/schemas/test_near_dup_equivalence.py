"""MinHash signatures and LSH band keys are exactly what they were, text by text, on every path.

Stores keep signatures and band keys and compare them across runs, so any difference is a
data-breaking bug. The `_reference_*` functions are `schemas.near_dup` as it was before the compiled
path (commit ab72ea4), kept here verbatim. Each path is held to them on its own: the public
functions (whichever path they take), the numpy path (what runs without the compiled extension)
and the compiled one (native/tagcore, skipped when it is not built).
"""

from __future__ import annotations

import random
import re
import unicodedata

import numpy as np
import numpy.typing as npt
import pytest

from connectors.feed_parse import parse_feed
from pipelines.normalize import normalize_record
from schemas import codepoints, dedup, native, near_dup
from schemas.dedup import DedupConfig, fingerprint
from schemas.errors import BadRecordError
from schemas.feeds import FeedSpec
from schemas.ids import fold
from schemas.near_dup import DEFAULT_SEED, band_keys, minhash_array
from schemas.records import Article, PipelineInfo
from tests.conftest import RUN_AT, seed_articles
from tests.connectors.test_feed_corpus import NEWS
from tests.schemas.text_corpus import ADVERSARIAL, fuzz, real_texts

U64 = npt.NDArray[np.uint64]

# --- the reference (schemas/near_dup.py at ab72ea4) -----------------------------------------------

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
_MAX_CODE_POINT = 0x110000
_MAX_SIG = (1 << 32) - 1
_EMPTY = np.uint64(1 << 32)
_BAND_SALT = np.uint64(0x2545F4914F6CDD1D)
_WORD = re.compile(r"\w+")
_pow_cache: dict[str, U64] = {}
_word_char_table: list[npt.NDArray[np.bool_]] = []
_probe_cache: dict[tuple[int, int], npt.NDArray[np.intp]] = {}


def _powers(n: int) -> tuple[U64, U64]:
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
    x = x ^ (x >> np.uint64(30))
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(27)
    x *= np.uint64(0x94D049BB133111EB)
    x ^= x >> np.uint64(31)
    return x


def _word_chars() -> npt.NDArray[np.bool_]:
    if not _word_char_table:
        table = np.zeros(_MAX_CODE_POINT, dtype=np.bool_)
        every = "".join(map(chr, range(_MAX_CODE_POINT)))
        for match in _WORD.finditer(every):
            table[match.start() : match.end()] = True
        _word_char_table.append(table)
    return _word_char_table[0]


def _word_hashes(text: str) -> U64:
    folded = unicodedata.normalize("NFKC", text).casefold()
    cps = np.frombuffer(folded.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    n = cps.shape[0]
    if n == 0:
        return np.empty(0, dtype=np.uint64)
    is_word = np.zeros(n + 2, dtype=np.bool_)
    np.take(_word_chars(), cps, out=is_word[1:-1])
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
    words = _word_hashes(text)
    if words.shape[0] == 0:
        return words
    span = min(k, words.shape[0])
    count = words.shape[0] - span + 1
    with np.errstate(over="ignore"):
        acc = words[:count] * _SHINGLE_MULT[0]
        for offset in range(1, span):
            acc += words[offset : offset + count] * _SHINGLE_MULT[offset]
        return _mix(acc ^ np.uint64(span))


def _probes(num_perm: int, seed: int) -> npt.NDArray[np.intp]:
    key = (num_perm, seed)
    cached = _probe_cache.get(key)
    if cached is None:
        rng = np.random.Generator(np.random.PCG64(seed))
        order = np.tile(np.arange(num_perm, dtype=np.intp), (num_perm, 1))
        cached = rng.permuted(order, axis=1)
        _probe_cache[key] = cached
    return cached


def _reference_minhash(text: str, *, num_perm: int = 128, k: int = 3, seed: int = DEFAULT_SEED) -> U64:
    if num_perm < 1:
        raise ValueError(f"num_perm must be >= 1, got {num_perm}")
    if not 1 <= k <= len(_SHINGLE_MULT):
        raise ValueError(f"k must be in 1..{len(_SHINGLE_MULT)}, got {k}")
    hashes = _shingle_hashes(text, k)
    if hashes.shape[0] == 0:
        return np.full(num_perm, _MAX_SIG, dtype=np.uint64)
    with np.errstate(over="ignore"):
        mixed = _mix(hashes ^ np.uint64((seed * 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF))
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


def _reference_band_keys(signature, bands: int, rows: int) -> list[str]:
    if bands < 1 or rows < 1:
        raise ValueError(f"bands and rows must be >= 1, got {bands} and {rows}")
    if bands * rows > len(signature):
        raise ValueError(
            f"bands * rows must not exceed the signature length: {bands} * {rows} > {len(signature)}"
        )
    table = np.asarray(signature[: bands * rows], dtype=np.uint64).reshape(bands, rows)
    with np.errstate(over="ignore"):
        mults = np.array([_SHINGLE_MULT[r % len(_SHINGLE_MULT)] for r in range(rows)], dtype=np.uint64)
        acc = table @ mults + np.arange(bands, dtype=np.uint64) * _BAND_SALT
        keys: list[int] = _mix(acc).tolist()
    return [f"{band:02d}-{value:016x}" for band, value in enumerate(keys)]


# --- the paths under test -------------------------------------------------------------------------


def _numpy_minhash(text: str, *, num_perm: int = 128, k: int = 3, seed: int = DEFAULT_SEED) -> U64:
    return near_dup._minhash_numpy(text, num_perm, k, seed)


def _native_minhash(text: str, *, num_perm: int = 128, k: int = 3, seed: int = DEFAULT_SEED) -> U64:
    probes = near_dup._probe_bytes(num_perm, seed)
    raw = native.minhash(fold(text), num_perm, k, near_dup._seed_mix(seed), probes)
    return np.frombuffer(raw, dtype=np.uint64)


def _numpy_band_keys(signature, bands: int, rows: int) -> list[str]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(native, "ERROR", "forced off by the test")
        return band_keys(signature, bands, rows)


def _native_band_keys(signature, bands: int, rows: int) -> list[str]:
    return native.band_keys(np.asarray(signature[: bands * rows], dtype=np.uint64).tobytes(), bands, rows)


_NATIVE = pytest.mark.skipif(bool(native.ERROR), reason=f"tagcore is not built: {native.ERROR}")
MINHASH = [
    pytest.param(minhash_array, id="public"),
    pytest.param(_numpy_minhash, id="numpy"),
    pytest.param(_native_minhash, id="native", marks=_NATIVE),
]
BAND_KEYS = [
    pytest.param(band_keys, id="public"),
    pytest.param(_numpy_band_keys, id="numpy"),
    pytest.param(_native_band_keys, id="native", marks=_NATIVE),
]


def _differences(minhash, values, **params):
    """The first few texts whose signature differs from the reference's (value or dtype)."""
    found = []
    for value in values:
        got, expected = minhash(value, **params), _reference_minhash(value, **params)
        if got.dtype != expected.dtype or not np.array_equal(got, expected):
            found.append(value[:80])
            if len(found) == 5:
                break
    return found


# --- signatures ------------------------------------------------------------------------------------


@pytest.mark.parametrize("minhash", MINHASH)
def test_adversarial_and_fuzz(minhash):
    assert _differences(minhash, [*ADVERSARIAL.values(), *fuzz(3000, seed=15)]) == []


@pytest.mark.parametrize("minhash", MINHASH)
def test_real_captures(minhash):
    values = real_texts()
    assert len(values) > 1000
    assert _differences(minhash, values) == []


@pytest.mark.parametrize("minhash", MINHASH)
def test_every_code_point(minhash):
    every = [chr(c) for c in range(codepoints.MAX_CODE_POINT)]
    blocks = ["".join(every[i : i + 4096]) for i in range(0, len(every), 4096)]
    # Word boundaries change the shingles: each code point between two words, 3 shingles per text.
    singles = [" ".join(f"a{c}b x{c} {c}y" for c in every[i : i + 64]) for i in range(0, 0x3100, 64)]
    assert _differences(minhash, blocks + singles) == []


@pytest.mark.parametrize("minhash", MINHASH)
@pytest.mark.parametrize(
    ("num_perm", "k", "seed"),
    [
        (128, 1, DEFAULT_SEED),
        (128, 2, DEFAULT_SEED),
        (128, 5, DEFAULT_SEED),
        (128, 10, DEFAULT_SEED),
        (16, 3, DEFAULT_SEED),  # many shingles per bin
        (1024, 3, DEFAULT_SEED),  # most bins empty: densification does the work
        (100, 3, 0),  # not a power of two
        (1, 1, 1),
        (128, 3, 2**64 + 7),  # a seed beyond 64 bits
    ],
)
def test_parameters(minhash, num_perm, k, seed):
    values = [*ADVERSARIAL.values(), *fuzz(200, seed=16), *real_texts()[::40]]
    assert _differences(minhash, values, num_perm=num_perm, k=k, seed=seed) == []


def test_negative_seed_behaves_as_before():
    """A negative seed has no probe order: numpy raises when a bin is left empty, not before."""
    one_bin = minhash_array("one two three", num_perm=1, seed=-1)
    assert np.array_equal(one_bin, _reference_minhash("one two three", num_perm=1, seed=-1))
    with pytest.raises(ValueError, match="non-negative"):
        _reference_minhash("one two three", seed=-1)
    with pytest.raises(ValueError, match="non-negative"):
        minhash_array("one two three", seed=-1)


def test_the_cases_reach_densification():
    """Most real texts leave some of the 128 bins empty, so the probe order is exercised."""
    values = [v for v in real_texts()[::10] if _shingle_hashes(v, 3).shape[0]]
    assert sum(_empty_bins(v) > 0 for v in values) > len(values) // 2


def _empty_bins(text: str) -> int:
    with np.errstate(over="ignore"):
        mixed = _mix(_shingle_hashes(text, 3) ^ np.uint64((DEFAULT_SEED * 0x9E3779B97F4A7C15) % 2**64))
        bins = ((mixed >> np.uint64(32)) * np.uint64(128)) >> np.uint64(32)
    return 128 - len(set(bins.tolist()))


def test_the_reference_can_tell():
    """Signatures move with word order, folding and shingle size, so a wrong path cannot pass."""
    base = _reference_minhash("the quick brown fox jumps over the lazy dog")
    assert not np.array_equal(base, _reference_minhash("the quick brown fox jumps over the lazy cat"))
    assert not np.array_equal(base, _reference_minhash("the quick brown fox jumps over the lazy dog", k=2))
    assert np.array_equal(base, _reference_minhash("The QUICK brown fox — jumps over the lazy dog!"))


# --- band keys ------------------------------------------------------------------------------------


@pytest.mark.parametrize("keys", BAND_KEYS)
def test_band_keys_of_real_signatures(keys):
    signatures = [_reference_minhash(v) for v in real_texts()[::8]]
    for signature in signatures:
        for as_given in (
            signature,
            signature.astype(np.uint32),
            signature.tolist(),
            tuple(signature.tolist()),
        ):
            assert keys(as_given, 16, 3) == _reference_band_keys(signature, 16, 3)


@pytest.mark.parametrize("keys", BAND_KEYS)
@pytest.mark.parametrize(("bands", "rows"), [(1, 1), (16, 3), (32, 4), (128, 1), (1, 128), (20, 5), (101, 1)])
def test_band_keys_shapes(keys, bands, rows):
    rng = random.Random(bands * 1000 + rows)
    for length in (bands * rows, bands * rows + 7):
        for _ in range(50):
            signature = [rng.choice((0, _MAX_SIG, rng.getrandbits(32))) for _ in range(length)]
            assert keys(signature, bands, rows) == _reference_band_keys(signature, bands, rows)


@pytest.mark.parametrize("keys", BAND_KEYS)
def test_band_keys_errors(keys):
    if keys is _native_band_keys:
        with pytest.raises(ValueError, match="signature bytes"):
            keys([1, 2], 2, 2)
        return
    with pytest.raises(ValueError, match="must be >= 1"):
        keys([1, 2], 0, 1)
    with pytest.raises(ValueError, match="must not exceed"):
        keys([1, 2], 2, 2)


# --- fingerprints end to end ------------------------------------------------------------------------


def _articles() -> list[Article]:
    real_texts()  # skips or fails when the captures are missing
    pipeline = PipelineInfo(version="test", run_id="test-run")
    articles = list(seed_articles())
    for path in sorted(NEWS.glob("*.xml")):
        spec = FeedSpec(url=f"https://{path.stem}.example.com/feed.xml", name=path.stem)
        for raw in parse_feed(path.read_bytes(), {}, spec, fetched_at=RUN_AT).records:
            try:
                articles.append(normalize_record(raw, ingested_at=RUN_AT, pipeline=pipeline))
            except BadRecordError:
                continue
    return articles


def test_fingerprints_unchanged(monkeypatch):
    articles = _articles()
    config = DedupConfig(min_words=1)
    assert sum(a.word_count >= 25 for a in articles) > 100
    new = [fingerprint(a, config) for a in articles]
    monkeypatch.setattr(dedup, "minhash_array", _reference_minhash)
    monkeypatch.setattr(dedup, "band_keys", _reference_band_keys)
    assert new == [fingerprint(a, config) for a in articles]
