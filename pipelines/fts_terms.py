"""Words of the standard analyzer as FTS5 queries that find at least the articles holding them.

The embedded store's full-text index cuts text with FTS5's unicode61 tokenizer (letters, digits and
private-use characters make words; diacritics and case are folded), Elasticsearch with the
standard analyzer (Unicode word boundaries). A standard word, quoted, is cut by FTS5 as it cut the
text around it, so the quoted word finds every article that has it, and some more, unless the
standard tokenizer cut inside one of FTS5's words: in scripts it cuts into single characters or by
dictionary (Han, kana, Thai, …) and after its 255-character limit. Such words narrow nothing (None).
The exact answer is then the compiled query's, candidate by candidate.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

_RUN_SCRIPTS = ("CJK", "HIRAGANA", "KATAKANA", "IDEOGRAPHIC", "THAI", "LAO", "KHMER", "MYANMAR", "HALFWIDTH")
_MAX_TOKEN = 255  # the standard tokenizer's longest word


def _indexed(char: str) -> bool:
    category = unicodedata.category(char)
    return category[0] in "LN" or category == "Co"


def safe(word: str) -> bool:
    """Whether FTS5 words begin and end where this standard-analyzer word does."""
    if len(word) >= _MAX_TOKEN or not any(_indexed(c) for c in word):
        return False
    return not any(unicodedata.name(c, "").startswith(_RUN_SCRIPTS) for c in word)


def phrase(words: Sequence[str], *, prefix: bool = False) -> str | None:
    """The words as one FTS5 phrase (the last one a prefix), None if one of them cannot narrow."""
    if not words or not all(safe(word) for word in words):
        return None
    quoted = '"' + " ".join(words).replace('"', '""') + '"'
    return quoted + "*" if prefix else quoted


def all_of(parts: Sequence[str | None]) -> str | None:
    """Every part that narrows, all required; None when none does."""
    kept = [part for part in parts if part]
    return " AND ".join(f"({part})" for part in kept) if kept else None


def any_of(parts: Sequence[str | None]) -> str | None:
    """Any of the parts; None unless every part narrows."""
    if not parts or not all(parts):
        return None
    return " OR ".join(f"({part})" for part in parts)
