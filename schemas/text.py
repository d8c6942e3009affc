"""Pure text clean-up: Unicode and whitespace normalization, HTML to text, first sentence, word count."""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable
from html.entities import html5 as _HTML5_ENTITIES
from html.parser import HTMLParser

import numpy as np

from schemas import native
from schemas.codepoints import codepoints, space_chars, word_chars

# C0/C1 controls except newline and tab, plus zero-width and bidi marks that break search and hashing.
_CONTROL_CHARS = (
    r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff"
)
_CONTROL = re.compile(f"[{_CONTROL_CHARS}]")
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
_APOSTROPHES = ("'", "’")  # the inner apostrophes a word may contain ("don't", "Kim’s")

# A period after these does not end a sentence ("Mr. Kim", "the U.S. Treasury").
ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof gen col lt maj capt sgt adm gov sen rep st jr sr inc corp co ltd vs "
    "etc approx dept jan feb mar apr jun jul aug sep sept oct nov dec u.s u.n u.k e.g i.e".split()
)
_SENTENCE_END = re.compile(r"[.!?…]['\"’”)\]]*(?=\s|$)")


def clean_line(text: str) -> str:
    """One line of clean text: NFC, no control characters, single spaces."""
    text = _CONTROL.sub("", unicodedata.normalize("NFC", text))
    return " ".join(text.split())


def clean_text(text: str) -> str:
    """Clean text that keeps its paragraphs: paragraphs joined by one blank line, lines inside joined.

    Hard-wrapped lines inside a paragraph become one line, so the same article wrapped differently
    cleans to the same text.
    """
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    return _clean_paragraphs(text) if native.ERROR else native.clean_paragraphs(text)


def _clean_paragraphs(text: str) -> str:
    """The rest of `clean_text` in Python (the reference for `native.clean_paragraphs`)."""
    if _odd_chars().search(text):
        text = _CONTROL.sub("", text)
        parts = [" ".join(p.split()) for p in _PARAGRAPH_BREAK.split(text)]
    else:  # only spaces and newlines between words (nearly every text): no word-by-word split
        parts = [_collapse_spaces(p) for p in _PARAGRAPH_BREAK.split(text)]
    return "\n\n".join(p for p in parts if p)


@functools.cache
def _odd_chars() -> re.Pattern[str]:
    """Anything `clean_text` removes or rewrites besides spaces and newlines: controls, invisible
    marks and every other whitespace character."""
    return re.compile(f"[{_CONTROL_CHARS}{_other_spaces()}]")


def join_words(text: str) -> str:
    """`" ".join(text.split())`, in a few passes of C string code instead of one string per word
    when only spaces and newlines separate the words (nearly every text)."""
    if _odd_spaces().search(text):
        return " ".join(text.split())
    return _collapse_spaces(text)


@functools.cache
def _odd_spaces() -> re.Pattern[str]:
    return re.compile(f"[{_other_spaces()}]")


def _other_spaces() -> str:
    """Every whitespace character but space and newline, from the interpreter's own table, escaped
    for a character class."""
    return re.escape("".join(c for c in space_chars() if c not in " \n"))


def _collapse_spaces(paragraph: str) -> str:
    """`" ".join(paragraph.split())` for a paragraph whose only whitespace is spaces and newlines,
    in a few passes of C string code instead of one string per word."""
    paragraph = paragraph.replace("\n", " ")
    while "  " in paragraph:
        paragraph = paragraph.replace("  ", " ")
    return paragraph.strip(" ")


def paragraphs(text: str) -> list[str]:
    """The paragraphs of cleaned text."""
    return [p for p in text.split("\n\n") if p]


def count_words(text: str) -> int:
    """Number of words (letters/digits, with inner apostrophes) in `text`.

    The words are the matches of `\\w+(?:['’]\\w+)*`, counted without building them: every run of
    `\\w` characters starts a word unless an apostrophe joins it to the run before.
    """
    if not native.ERROR:
        return native.count_words(text)
    return _count_words_numpy(text)


def _count_words_numpy(text: str) -> int:
    if not text:
        return 0
    cps = codepoints(text)
    word = word_chars()[cps]
    runs = int(word[0]) + int(np.count_nonzero(word[1:] > word[:-1]))
    joins = 0
    if _APOSTROPHES[0] in text or _APOSTROPHES[1] in text:
        at = np.flatnonzero((cps == ord(_APOSTROPHES[0])) | (cps == ord(_APOSTROPHES[1])))
        at = at[(at > 0) & (at < cps.shape[0] - 1)]
        joins = int(np.count_nonzero(word[at - 1] & word[at + 1]))
    return runs - joins


def first_sentence(text: str, max_chars: int = 200) -> str:
    """The first sentence of `text`, cut at a word boundary (with an ellipsis) when too long."""
    text = clean_line(text)
    for match in _SENTENCE_END.finditer(text):
        before = text[: match.start()].rsplit(maxsplit=1)
        last_word = before[-1].lower().rstrip(".") if before else ""
        if match.group().startswith(".") and (
            last_word in ABBREVIATIONS or (len(last_word) == 1 and last_word.isalpha())
        ):
            continue
        text = text[: match.end()]
        break
    if len(text) <= max_chars:
        return text
    cut = text[: max_chars - 1].rsplit(" ", 1)[0]
    return cut.rstrip(",;:") + "…"


class _TextExtractor(HTMLParser):
    """Collects visible text; block elements end paragraphs, script/style and the like are skipped."""

    _BLOCKS = frozenset(
        "p div li ul ol h1 h2 h3 h4 h5 h6 blockquote pre table tr section article header "
        "footer aside figure figcaption hr dd dt dl".split()
    )
    _CELLS = frozenset(["td", "th"])
    _HIDDEN = frozenset("script style noscript template head iframe object svg".split())

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._HIDDEN:
            self._hidden_depth += 1
        elif tag in self._BLOCKS:
            self.parts.append("\n\n")
        elif tag == "br":  # a line break inside a paragraph, not a new paragraph
            self.parts.append("\n")
        elif tag in self._CELLS:  # adjacent cells must not glue their words together
            self.parts.append(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in self._HIDDEN:  # a self-closed <svg/> opens nothing to hide
            self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in self._HIDDEN:
            self._hidden_depth = max(0, self._hidden_depth - 1)
        elif tag in self._BLOCKS:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if not self._hidden_depth:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """Visible text of an HTML fragment or page, paragraphs kept, entities decoded, then cleaned."""
    extractor = _TextExtractor()
    extractor.feed(html)
    extractor.close()
    return clean_text("".join(extractor.parts))


def looks_like_html(text: str) -> bool:
    """Cheap check for markup in text that did not say what it is."""
    return bool(re.search(r"<(?:p|br|div|span|a|b|i|em|strong|img|ul|li|h[1-6])\b[^>]*>", text, re.I))


# HTML element names: a `<name …>` of these is markup; `<y and z>` in prose is not.
_HTML_ELEMENTS = frozenset(
    "a abbr address area article aside audio b base bdi bdo blockquote body br button canvas caption "
    "center cite code col colgroup data datalist dd del details dfn dialog div dl dt em embed fieldset "
    "figcaption figure font footer form frame frameset h1 h2 h3 h4 h5 h6 head header hr html i iframe img "
    "input ins kbd label legend li link main map mark meta meter nav noscript object ol optgroup option "
    "output p param picture pre progress q rp rt ruby s samp script section select small source span "
    "strike strong style sub summary sup svg table tbody td template textarea tfoot th thead time title "
    "tr track tt u ul var video wbr math".split()
)
# Elements that are markup even bare and unclosed: nobody writes "<script>" in prose.
_ALWAYS_MARKUP = frozenset(_TextExtractor._HIDDEN | {"img", "embed", "link", "meta", "base", "frame"})
# Matched only where a "<" or "&" is (str.find finds those at memory speed; a regex scan of every
# character of every body would cost a third of cleaning it).
_TAG_AT = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9]*)([^<>]*)>|<!--")
_REFERENCE_AT = re.compile(r"&(#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
_ATTRIBUTE = re.compile(r"\s+[A-Za-z_:][-\w:.]*\s*=")
# Markup escaped this many times over is still unwrapped; a feed that escapes more is not a feed.
MAX_MARKUP_PASSES = 3


def has_markup(text: str) -> bool:
    """Whether `text` holds HTML a reader must never see as text: a closing tag, a tag with
    attributes or self-closed, a script/style-like tag, a comment or a character reference.

    Conservative, like feedparser's own test for "plain" RSS elements that hold HTML: prose that
    mentions "<b>" or "x < y" is not markup.
    """
    return _any_match(text, "&", _REFERENCE_AT, _is_reference) or _any_match(text, "<", _TAG_AT, _is_tag)


def _any_match(text: str, char: str, pattern: re.Pattern[str], test: Callable[[re.Match[str]], bool]) -> bool:
    at = text.find(char)
    while at != -1:
        match = pattern.match(text, at)
        if match is not None and test(match):
            return True
        at = text.find(char, at + 1)
    return False


def _is_reference(match: re.Match[str]) -> bool:
    name = match.group(1)
    return name.startswith("#") or f"{name};" in _HTML5_ENTITIES


def _is_tag(match: re.Match[str]) -> bool:
    closing, name, rest = match.groups()
    if name is None:  # a comment
        return True
    tag = name.lower()
    if tag not in _HTML_ELEMENTS:
        return False
    if closing:
        return not rest.strip()
    return tag in _ALWAYS_MARKUP or bool(_ATTRIBUTE.match(rest)) or rest.rstrip().endswith("/")


def markup_to_text(text: str, html: bool = False) -> str:
    """Any text field of an article, cleaned the way a body is: HTML (declared, or found by
    `has_markup` in text that claimed to be plain) turned into text with its entities decoded,
    else only NFC and whitespace clean-up (`clean_text`).

    Feeds escape markup inside "plain" titles and descriptions, sometimes twice; what is still
    markup after one pass is unwrapped again (at most MAX_MARKUP_PASSES times), so no field is
    stored, indexed or printed with tags in it.
    """
    if not html and not has_markup(text):
        return clean_text(text)
    for _ in range(MAX_MARKUP_PASSES):
        text = html_to_text(text)
        if not has_markup(text):
            break
    return text
