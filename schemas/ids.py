"""Deterministic ids and content hashes, so re-running the same input never creates a second document."""

from __future__ import annotations

import functools
import hashlib
import unicodedata

import numpy as np

from schemas import native
from schemas.codepoints import codepoints, from_codepoints, word_chars

_SPACE = np.uint32(ord(" "))


def canonical_text(text: str) -> str:
    """The form two texts share when they differ only in case, spacing, punctuation or Unicode form:
    the runs of `\\w` of the NFKC-normalized, casefolded text, joined by single spaces."""
    if not native.ERROR:
        return native.canonical_utf8(fold(text)).decode("utf-8")
    return _canonical_text_numpy(text)


@functools.lru_cache(maxsize=4)
def fold(text: str) -> str:
    """NFKC, then casefold: the Unicode folding of `canonical_text` (and of near-duplicate words).

    Cached for the last few texts: an article's body is folded for its content hash (Normalize)
    and again for its MinHash signature (the dedup fingerprint, right after, on the same worker);
    ~20 µs each time for a 3 KB body.
    """
    return unicodedata.normalize("NFKC", text).casefold()


def _canonical_text_numpy(text: str) -> str:
    """`canonical_text` built in numpy rather than one string per word."""
    cps = codepoints(fold(text))
    if not cps.shape[0]:
        return ""
    word = np.take(word_chars(), cps)
    # Word characters stay, and the first character of each non-word run after a word becomes a
    # space; only the run after the last word has no word after it.
    keep = word.copy()
    keep[1:] |= word[:-1]
    out = np.compress(keep, np.where(word, cps, _SPACE))
    return from_codepoints(out[:-1] if out.shape[0] and out[-1] == _SPACE else out)


@functools.lru_cache(maxsize=16)
def content_hash(text: str) -> str:
    """SHA-256 (hex) of the canonical form of `text`.

    Cached for the last few texts: Normalize hashes the same body for its content hash and again
    for its id (`schemas.identity.record_id`).
    """
    if not native.ERROR:
        return hashlib.sha256(native.canonical_utf8(fold(text))).hexdigest()
    return hashlib.sha256(_canonical_text_numpy(text).encode("utf-8")).hexdigest()


def stable_id(namespace: str, key: str) -> str:
    """A 128-bit hex id for `key`; the namespace keeps URL-derived and content-derived ids apart."""
    digest = hashlib.sha256(f"{namespace}\x00{key}".encode())
    return digest.hexdigest()[:32]


def article_id_from_url(canonical_url: str) -> str:
    """Id of a feed item: its canonical URL (or permalink GUID) identifies it across polls."""
    return stable_id("url", canonical_url)


def article_id_from_content(hash_hex: str) -> str:
    """Id of a seed article: it has no URL, so its normalized content is its identity."""
    return stable_id("content", hash_hex)
