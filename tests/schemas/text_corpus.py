"""Texts for the equivalence tests of the vectorized text loops: real captures and adversarial Unicode.

The real texts are the shared captures beside the repository (../shared/data): every title,
summary and content value of the RSS/Atom captures (raw, as feeds send them, and as HTML turned
into text) and the article bodies of ground-truth.json. A missing folder skips outside CI and fails
in it, as the feed corpus test does.
"""

from __future__ import annotations

import functools
import json
import random
from pathlib import Path

import feedparser

from schemas.text import html_to_text
from tests.connectors.test_feed_corpus import MISC, NEWS, _require

ARTICLES = NEWS.parent.parent / "articles" / "ground-truth.json"

# Each case names what it is after; the fuzz below recombines the pieces.
ADVERSARIAL: dict[str, str] = {
    "empty": "",
    "space": " ",
    "newline": "\n",
    "blank-line": "\n\n",
    "crlf-paragraphs": "one\r\n\r\ntwo\r\nthree\rfour",
    "only-punctuation": "... — !? «»",
    "tab-and-vt": "a\tb\x0bc\x0cd",
    "nbsp": "a\u00a0b \u00a0 c",
    "nbsp-blank-line": "first\n\u00a0\nsecond",
    "thin-and-ideographic-space": "a\u2009b\u3000c\u202fd\u205fe",
    "line-and-paragraph-separator": "a\u2028b\u2029c",
    "nel-and-separators": "a\x85b\x1cc\x1dd\x1ee\x1ff",
    "c0-c1-controls": "a\x00b\x07c\x1bd\x7fe\x9ff",
    "zero-width": "zero\u200bwidth\u200c\u200djoin\u2060er\ufeff",
    "bidi-marks": "left\u200eright\u200f \u202aemb\u202c \u202eoverride\u202c \u2066iso\u2069",
    "combining-nfc": "Cafe\u0301 cre\u0300me bru\u0302le\u0301e",
    "combining-alone": "\u0301 \u0308x a\u0308\u0304\u0323",
    "hangul-jamo": "\u1100\u1161\u11a8 \uac01",
    "rtl-arabic": "مرحبا بالعالم، هذا اختبار. ٣٤٥ كيلو",
    "rtl-hebrew-with-marks": "\u200fשָׁלוֹם עוֹלָם\u200f (שלום)",
    "cjk-no-spaces": "北朝鮮とロシアが武器の移転で協力。中文没有空格。第二句！",
    "thai-no-spaces": "ภาษาไทยไม่มีการเว้นวรรคระหว่างคำ",
    "emoji": "👍🏽 ok 👨\u200d👩\u200d👧 family 🇺🇦 flag a😀b #️⃣",
    "apostrophes": "don't Kim’s 'quoted' a''b rock'n'roll ’’ x' 'x 1'2'3 a' b a 'b o’ ’o",
    "apostrophe-edges": "'a'",
    "nfkc-compat": "ﬁne ①② Ⅻ ｆｕｌｌｗｉｄｔｈ x² ㎏ ½ ℌ 𝐀𝐁 ﹏",
    "casefold": "Straße İstanbul ΣΑΣ ǅ ﬀ ŉ ΐ",
    "digits-and-underscore": "snake_case __init__ _ 2024-01-02 ٣٤٥ ߀ 𝟗 ²³",
    "high-planes": "\U0010ffff \U000e0001tag\U000e007f \U0001f600 \U00020000\U0002a6d6",
    "long-space-runs": "a" + " " * 1000 + "b" + "\n" * 50 + "c",
    "space-around-newlines": "  a \n b  \n \n  c \t\n\t d  ",
    "many-breaks": "\n\n a \n\n\n\n b \n \n \n c\n\n",
    "private-use": "\ue000\uf8ff\U000f0000",
    "noncharacters": "\ufffe\uffff\ufdd0a",
    "lone-surrogate": "a\ud800b \udfff",
}

# Pieces the fuzz strings are made of: the characters the fast paths branch on and their neighbours.
_PIECES = [
    *"abcXYZ019_.,-!?",
    " ",
    "  ",
    "\n",
    "\n\n",
    "\r",
    "\r\n",
    "\t",
    "\x0b",
    "\x0c",
    "\u00a0",
    "\u2009",
    "\u3000",
    "\u2028",
    "\x85",
    "\x1c",
    "\x00",
    "\x7f",
    "\x9f",
    "\u200b",
    "\u200d",
    "\u200f",
    "\u202e",
    "\u2066",
    "\ufeff",
    "'",
    "’",
    "‘",
    "''",
    "e\u0301",
    "\u0301",
    "\u0308",
    "日本",
    "語",
    "ภาษา",
    "مرحبا",
    "שלום",
    "😀",
    "👍🏽",
    "\u200d",
    "ﬁ",
    "²",
    "①",
    "ß",
    "Σ",
    "ς",
    "İ",
    "Ｋ",
    "ǅ",
    "٣",
]


def fuzz(count: int, seed: int) -> list[str]:
    """`count` random strings of 0-30 pieces, the same ones every run."""
    rng = random.Random(seed)
    return ["".join(rng.choices(_PIECES, k=rng.randint(0, 30))) for _ in range(count)]


@functools.cache
def real_texts() -> tuple[str, ...]:
    """Every text value of the captures, raw and as text, and every ground-truth article body.

    Skips (or fails in CI) when the shared folder is absent.
    """
    _require(NEWS)
    texts: list[str] = []
    for folder in (NEWS, MISC):
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.xml")):
            texts.extend(_feed_texts(path))
    _require(ARTICLES.parent)
    bodies = json.loads(ARTICLES.read_text(encoding="utf-8"))
    texts.extend(item.get("articleBody") or "" for item in bodies.values())
    return tuple(dict.fromkeys(texts))


def _feed_texts(path: Path) -> list[str]:
    texts: list[str] = []
    for entry in feedparser.parse(path.read_bytes()).entries:
        values = [entry.get("title", ""), entry.get("summary", "")]
        values += [part.get("value", "") for part in entry.get("content", [])]
        for value in values:
            if value:
                texts += [value, html_to_text(value)]
    return texts
