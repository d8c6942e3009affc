"""The compiled word loops (native/tagcore, src/words.rs and src/clean.rs) when the extension is built.

`make run` needs only Python: without the extension (or with one built before these functions)
`ERROR` says why, and every caller takes its Python path, which gives identical results
(tests/schemas/test_text_equivalence.py, tests/schemas/test_near_dup_equivalence.py).
"""

from __future__ import annotations

__all__ = ["ERROR", "band_keys", "canonical_utf8", "clean_paragraphs", "count_words", "minhash"]

try:
    from tagcore import band_keys, canonical_utf8, clean_paragraphs, count_words, minhash

    ERROR = ""
except ImportError as error:  # not built: the Python paths do the same work
    ERROR = str(error)
