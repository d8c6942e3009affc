"""Deterministic ids and content hashes, so re-running the same input never creates a second document."""

from __future__ import annotations

import hashlib
import re
import unicodedata

_WORD = re.compile(r"\w+")


def canonical_text(text: str) -> str:
    """The form two texts share when they differ only in case, spacing, punctuation or Unicode form."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(_WORD.findall(folded))


def content_hash(text: str) -> str:
    """SHA-256 (hex) of the canonical form of `text`."""
    return hashlib.sha256(canonical_text(text).encode("utf-8")).hexdigest()


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
