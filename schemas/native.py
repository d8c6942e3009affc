"""The compiled word loops (native/tagcore, src/words.rs) when the extension is built.

`make run` needs only Python: without the extension (or with one built before these functions)
`ERROR` says why, and every caller takes its numpy path, which gives identical results
(tests/schemas/test_text_equivalence.py, tests/schemas/test_near_dup_equivalence.py).
"""

from __future__ import annotations

__all__ = ["ERROR", "band_keys", "canonical_utf8", "count_words", "minhash"]

try:
    from tagcore import band_keys, canonical_utf8, count_words, minhash

    ERROR = ""
except ImportError as error:  # not built: the numpy paths do the same work
    ERROR = str(error)
