"""Decide whether one article matches a Lucene query string the way Elasticsearch's `query_string` would.

An alert rule's `when.query` is what an analyst types into Kibana's search bar. The embedded store has
no Elasticsearch, so the pipeline evaluates the string here, per article (its stored JSON), while
`wirewatch alerts test` runs it in Elasticsearch; tests/integration/test_alert_query_es.py holds the
two to the same answers on real articles. Field types are read from our index mapping, never listed.
`wirewatch search` uses the same evaluator with its own `Mode` (pipelines/search_query.py: default
operator AND, title and body as one field), which also tells the embedded store an FTS5 query for
its candidates (`CompiledQuery.fts`); tests/integration/test_search_stores.py holds that to
Elasticsearch's answers too.

The semantics are `query_string`'s with the index defaults (default field `*`, operator OR, lenient):
- a bare term searches every mapped field: text fields (standard analyzer) for any of its words,
  keyword fields for the exact whole value (case-sensitive), numbers and dates when it parses as
  one. Consecutive bare words are analysed as one text, as Lucene does (splitOnWhitespace=false):
  `Donald Trump` also matches the keyword value "Donald Trump", while `Q423 Q159` matches no
  `actor_ids` value (write `Q423 OR Q159`);
- `field:term`, `field:"a phrase"`, `field:(a b)`, `_exists_:field`, `field:*`, wildcards `*` `?`
  (lower-cased on text fields), ranges `[a TO b]` `{a TO b}` and `field:>=2`, dates as Elasticsearch
  reads and rounds them (`2023-11`, `2023-11-08T10:00:00Z`, `now-7d/d`, `2023-11-01||+1w`), boosts
  (accepted: they change scores, not matches);
- `AND` `OR` `NOT` `+` `-` and parentheses as Lucene's classic parser combines them: a flat clause
  list per parenthesis level where `AND` makes both neighbours required, so `a OR b AND c` needs b
  and c (it is not `a OR (b AND c)`); a level of negative clauses only matches all other articles.

Refused with a QueryError rather than evaluated differently: fuzzy `~`, proximity `"a b"~2`,
regular expressions, field name patterns, unknown fields and objects used as fields (Elasticsearch
quietly matches nothing), a value the named field's type cannot read (`word_count:many`; ignored by
Elasticsearch), `&&` `||` `!` (write AND OR NOT), a `+`/`-` apart from its term, and a text field
given no word. Date math uses `now` as given to `matches` (the wall clock by default). The
tokenizer renders Unicode word segmentation (UAX #29) as a regular expression; it agrees with
Elasticsearch's on all the feed captures in shared/data, but Lucene's Unicode tables are older
(letters added since are words here) and a few exotic emoji and Hebrew sequences split differently.
"""

from __future__ import annotations

import calendar
import datetime as dt
import difflib
import functools
import json
import math
import re
import struct
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any

from luqum import tree
from luqum.exceptions import ParseError
from luqum.thread import parse

from pipelines import fts_terms, search_sets

TEMPLATES = resources.files("connectors") / "elasticsearch_templates"
MAX_TOKEN_LENGTH = 255  # the standard analyzer cuts longer words into pieces of this length
_INT_BITS = {"byte": 8, "short": 16, "integer": 32, "long": 64}
_TYPES = {"text", "keyword", "date", "float", "double", *_INT_BITS}


class QueryError(ValueError):
    """The query string cannot be evaluated; the message says why in one line a user can act on."""


class _Unreadable(ValueError):
    """A value the field's type cannot read: skipped over all fields, an error on a named field."""


# --- the mapping ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    name: str  # as queried: "actors.name", "title.keyword"
    type: str  # "text", "keyword", "date", "integer", "float", …
    path: tuple[str, ...]  # where the value sits in the document ("title" for "title.keyword")
    ignore_above: int | None = None


@dataclass(frozen=True)
class IndexFields:
    fields: dict[str, Field]
    objects: frozenset[str]
    default: tuple[Field, ...]  # what a term without a field searches


def _walk(properties: Mapping[str, Any], prefix: str, fields: dict[str, Field], objects: set[str]) -> None:
    for key, spec in properties.items():
        name = prefix + key
        if "properties" in spec:
            objects.add(name)
            _walk(spec["properties"], name + ".", fields, objects)
        # An unindexed field or object, or a binary field (never indexed), is in _source but not
        # searchable.
        elif spec.get("index") is not False and spec.get("enabled") is not False and spec["type"] != "binary":
            path = tuple(name.split("."))
            for sub, sub_spec in [("", spec), *(("." + k, v) for k, v in spec.get("fields", {}).items())]:
                if sub_spec["type"] not in _TYPES:  # the mapping moved on: a bug here, not the user's
                    raise RuntimeError(f"alert queries cannot evaluate {name}{sub} ({sub_spec['type']})")
                fields[name + sub] = Field(name + sub, sub_spec["type"], path, sub_spec.get("ignore_above"))


@functools.cache
def index_fields() -> IndexFields:
    """The article fields and the default search fields, read from the index templates."""
    component = json.loads((TEMPLATES / "articles-mappings.component.json").read_text(encoding="utf-8"))
    fields: dict[str, Field] = {}
    objects: set[str] = set()
    _walk(component["template"]["mappings"]["properties"], "", fields, objects)
    settings = json.loads((TEMPLATES / "settings.component.json").read_text(encoding="utf-8"))
    index = settings["template"].get("settings", {}).get("index", {})
    default = index.get("query", {}).get("default_field", index.get("query.default_field", "*"))
    names = list(fields) if default in ("*", ["*"]) else [default] if isinstance(default, str) else default
    if unknown := [name for name in names if name not in fields]:
        raise RuntimeError(f"index.query.default_field names unmapped fields: {unknown}")
    return IndexFields(fields, frozenset(objects), tuple(fields[name] for name in names))


# --- the standard analyzer -----------------------------------------------------------------------


Spans = list[tuple[int, int]]  # a set of code points as (first, last) ranges


def _char_classes(**wanted: Callable[[str, str], bool]) -> dict[str, Spans]:
    """For each name, the code points its test accepts (given the character and its category)."""
    spans: dict[str, Spans] = {name: [] for name in wanted}
    for code in (*range(0x32000), *range(0xE0000, 0xE01F0)):
        char = chr(code)
        category = unicodedata.category(char)
        for name, test in wanted.items():
            if not test(char, category):
                continue
            found = spans[name]
            if found and found[-1][1] == code - 1:
                found[-1] = (found[-1][0], code)
            else:
                found.append((code, code))
    return spans


def _spans(body: str) -> Spans:
    """The code points of a class body written as characters and `a-b` ranges."""
    out, i = [], 0
    while i < len(body):
        ranged = i + 2 < len(body) and body[i + 1] == "-"
        out.append((ord(body[i]), ord(body[i + 2] if ranged else body[i])))
        i += 3 if ranged else 1
    return out


def _one_of(*groups: Spans) -> str:
    """A regex for one character of the union. Characters beyond the BMP get a class of their own
    behind a cheap check: `re` tries every such range, one by one, on each character it rejects."""

    def body(spans: Spans) -> str:
        return "".join(re.escape(chr(a)) + (f"-{re.escape(chr(b))}" if b > a else "") for a, b in spans)

    merged = sorted(span for group in groups for span in group)
    bmp = body([(a, min(b, 0xFFFF)) for a, b in merged if a <= 0xFFFF])
    astral = body([(max(a, 0x10000), b) for a, b in merged if b > 0xFFFF])
    if not astral:
        return f"[{bmp}]"
    return f"(?:[{bmp}]|(?=[\U00010000-\U0010ffff])[{astral}])" if bmp else f"[{astral}]"


# Scripts UAX #29 does not join into words: Lucene emits one token per ideograph or hiragana, one per
# katakana run, one per run of a South-East Asian script (no dictionary).
_IDEO = (
    "\u2e80-\u2e99\u2e9b-\u2ef3\u2f00-\u2fd5\u3005\u3007\u3021-\u3029\u3038-\u303b\u3400-\u4dbf"
    "\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
)
_HIRA = "\u3041-\u3096\u309d-\u309f\U0001b001-\U0001b11e\U0001f200"
_KATA = "\u30a0-\u30fa\u30fc-\u30ff\u31f0-\u31ff\u32d0-\u32fe\u3300-\u3357\uff66-\uff9d\U0001b000"
_SEA = "\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u1980-\u19ff\u1a20-\u1aaf\ua9e0-\ua9ff\uaa60-\uaadf"
_MID_LETTER = ":\u00b7\u0387\u055f\u05f4\u2027\ufe13\ufe55\uff1a"
_MID_NUM_LET = ".'\u2018\u2019\u2024\ufe52\uff07\uff0e"
_MID_NUM = ",;\u037e\u0589\u060c\u060d\u066c\u07f8\u2044\ufe10\ufe14\ufe50\ufe54\uff0c\uff1b"
# Extended_Pictographic (emoji-data.txt): Lucene emits each emoji, with its modifiers, as a token.
_PICTO = (
    "\u00a9\u00ae\u203c\u2049\u2122\u2139\u2194-\u2199\u21a9\u21aa\u231a\u231b\u2328\u2388\u23cf"
    "\u23e9-\u23f3\u23f8-\u23fa\u24c2\u25aa\u25ab\u25b6\u25c0\u25fb-\u25fe\u2600-\u2605\u2607-\u2612"
    "\u2614-\u2685\u2690-\u2705\u2708-\u2712\u2714\u2716\u271d\u2721\u2728\u2733\u2734\u2744\u2747"
    "\u274c\u274e\u2753-\u2755\u2757\u2763-\u2767\u2795-\u2797\u27a1\u27b0\u27bf\u2934\u2935"
    "\u2b05-\u2b07\u2b1b\u2b1c\u2b50\u2b55\u3030\u303d\u3297\u3299\U0001f000-\U0001f0ff"
    "\U0001f10d-\U0001f10f\U0001f12f\U0001f16c-\U0001f171\U0001f17e\U0001f17f\U0001f18e"
    "\U0001f191-\U0001f19a\U0001f1ad-\U0001f1e5\U0001f201-\U0001f20f\U0001f21a\U0001f22f"
    "\U0001f232-\U0001f23a\U0001f23c-\U0001f23f\U0001f249-\U0001f3fa\U0001f400-\U0001f53d"
    "\U0001f546-\U0001f64f\U0001f680-\U0001f6ff\U0001f774-\U0001f77f\U0001f7d5-\U0001f7ff"
    "\U0001f80c-\U0001f80f\U0001f848-\U0001f84f\U0001f85a-\U0001f85f\U0001f888-\U0001f88f"
    "\U0001f8ae-\U0001f8ff\U0001f90c-\U0001f93a\U0001f93c-\U0001f945\U0001f947-\U0001fffd"
)
_SKIN = _spans("\U0001f3fb-\U0001f3ff")  # emoji modifiers (skin tones)
_HEBREW = "\u05d0-\u05ea\u05ef-\u05f2\ufb1d\ufb1f-\ufb28\ufb2a-\ufb4f"
# Symbols UAX #29 counts as letters though they are not in a letter category.
_LETTER_SYMBOLS = (
    "\u02c2-\u02c5\u02d2-\u02d7\u02de\u02df\u02ed\u02ef-\u02ff\u055b\u055c\u055e\u05f3\u24b6-\u24e9"
    "\ua720\ua721\ua789\ua78a\uab5b\U0001f130-\U0001f149\U0001f150-\U0001f169\U0001f170-\U0001f189"
)
_EXTEND_NUM_LET = "_\u202f\u203f\u2040\u2054\ufe33\ufe34\ufe4d-\ufe4f\uff3f"


@functools.cache
def _word_pattern() -> re.Pattern[str]:
    own_tokens, sea_chars = re.compile(f"[{_IDEO}{_HIRA}{_KATA}{_SEA}]"), re.compile(f"[{_SEA}]")
    marks = ("Mn", "Mc", "Me", "Cf")
    found = _char_classes(
        letter=lambda c, cat: cat in ("Lu", "Ll", "Lt", "Lm", "Lo", "Nl") and not own_tokens.match(c),
        digit=lambda c, cat: cat == "Nd",
        # South-East Asian runs are letters and marks only: their digits are digits, their punctuation not.
        sea=lambda c, cat: cat[0] in "LM" and bool(sea_chars.match(c)),
        # Extend and Format characters (combining marks, soft hyphen, joiners) belong to the word before;
        # an emoji takes its presentation selector (U+FE0F) only last.
        ext=lambda c, cat: cat in marks and c != "\u200b",
        ext_emoji=lambda c, cat: cat in marks and c not in "\u200b\ufe0e\ufe0f",
    )
    letter, digit, skin = found["letter"] + _spans(_LETTER_SYMBOLS), found["digit"] + _spans("\u066b"), _SKIN
    ext = found["ext"] + skin  # skin tones extend what they follow
    x, y = f"{_one_of(ext)}*+", f"{_one_of(found['ext_emoji'], skin)}*"
    e_unit = f"{_one_of(_spans(_EXTEND_NUM_LET))}{x}"
    # Runs of letters or of digits (each with its extends); a letter (digit) joins the next one across
    # a MidLetter (MidNum) or MidNumLet: U.S, 3.5, Korea’s; a Hebrew letter keeps a following apostrophe.
    mid_letter = _one_of(_spans(_MID_LETTER + _MID_NUM_LET))
    mid_num = _one_of(_spans(_MID_NUM + _MID_NUM_LET))
    hebrew_quote = f"(?<=[{_HEBREW}])'{x}"
    letters = (
        f"{_one_of(letter)}{_one_of(letter, ext)}*+(?:{mid_letter}{x}(?={_one_of(letter)})|{hebrew_quote})?"
    )
    digits = f"{_one_of(digit)}{_one_of(digit, ext)}*+(?:{mid_num}{x}(?={_one_of(digit)}))?"
    kata = _spans(_KATA)
    # Katakana runs meet letters only through an underscore (ExtendNumLet).
    run = f"(?:(?:{letters}|{digits})++|{_one_of(kata)}{_one_of(kata, ext)}*+)"
    word = f"(?:{e_unit})*{run}(?:(?:{e_unit})+{run}?)*"
    own, sea = _spans(_IDEO + _HIRA), found["sea"]
    # Emoji as Lucene's grammar has them: joined by ZWJ; flags (two regional indicators); keycaps.
    flag, pictographs = _one_of(_spans("\U0001f1e6-\U0001f1ff")), _spans(_PICTO)
    pictograph, skins = f"{_one_of(pictographs)}{y}\ufe0f?", f"(?:{_one_of(skin)}{y})+"
    emoji = (
        f"(?:\u200d*{pictograph}|{skins})(?:(?<=\u200d)(?:{pictograph}|{skins}))*"
        f"|{flag}{x}{flag}{x}|[#*]\ufe0f?{y}\u20e3{y}"
    )
    tokens = f"{word}|{_one_of(own)}{x}|{_one_of(sea)}{_one_of(sea, ext)}*+|{emoji}"
    others = _spans(_EXTEND_NUM_LET + "#*\u200d\U0001f1e6-\U0001f1ff")
    starts = _one_of(letter, digit, kata, own, sea, pictographs, skin, others)
    return re.compile(f"(?={starts})(?:{tokens})")  # the look-ahead skips spaces and punctuation fast


def lower(text: str) -> str:
    """Java's per-character lower-casing (Lucene's LowerCaseFilter): no final sigma, İ -> i."""
    if "Σ" not in text and "\u0130" not in text:
        return text.lower()
    return "".join(c.lower()[0] for c in text)


def analyze(text: str) -> list[str]:
    """The tokens the standard analyzer makes of `text`: Unicode words, lower-cased, stopwords kept."""
    tokens: list[str] = []
    for word in _word_pattern().findall(text):
        word = lower(word)
        tokens.extend(word[i : i + MAX_TOKEN_LENGTH] for i in range(0, len(word), MAX_TOKEN_LENGTH))
    return tokens


# --- numbers and dates as Elasticsearch reads them -----------------------------------------------

_JAVA_DOUBLE = re.compile(r"[+-]?(?:NaN|Infinity|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)[fFdD]?")
_ISO = re.compile(
    r"(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2})(?::(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?"
    r"(Z|[+-]\d{2}(?::?\d{2})?)?)?)?)?"
)
_MATH = re.compile(r"([+-])(\d*)([yMwdhHms])|/([yMwdhHms])")
_UNIT_MS = {"w": 604_800_000, "d": 86_400_000, "h": 3_600_000, "H": 3_600_000, "m": 60_000, "s": 1000}


def java_double(text: str) -> float:
    """`Double.parseDouble`: what Elasticsearch reads a number term with."""
    stripped = text.strip()
    if not _JAVA_DOUBLE.fullmatch(stripped):
        raise _Unreadable(f"{text!r} is not a number")
    return float(stripped.rstrip("fFdD"))


def _float32(value: float) -> float:
    return float(struct.unpack("f", struct.pack("f", value))[0])


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _epoch_ms(value: dt.datetime) -> int:
    return (value - _EPOCH) // dt.timedelta(milliseconds=1)


def _iso_ms(text: str, round_up: bool) -> int | None:
    """strict_date_optional_time; missing parts as Elasticsearch fills them (rounding up: 23:59:59.999)."""
    match = _ISO.fullmatch(text)
    if not match:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    top = round_up  # rounding up fills the missing time with its last millisecond, the date with 01
    try:
        value = dt.datetime(
            int(year), int(month or 1), int(day or 1), int(hour or 23 * top), int(minute or 59 * top),
            int(second or 59 * top), tzinfo=dt.UTC,
        )  # fmt: skip
    except ValueError:
        return None
    millis = int((fraction + "00")[:3]) if fraction else 999 * top
    if zone and zone != "Z":
        digits = zone[1:].replace(":", "")
        offset = dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:] or 0))
        value -= offset if zone[0] == "+" else -offset
    return _epoch_ms(value) + millis


def _add_months(value: dt.datetime, months: int) -> dt.datetime:
    year, month = divmod(value.month - 1 + months, 12)
    year += value.year
    return value.replace(
        year=year, month=month + 1, day=min(value.day, calendar.monthrange(year, month + 1)[1])
    )


def _round(value: dt.datetime, unit: str, up: bool) -> dt.datetime:
    """Date math `/unit`: the unit's first millisecond, or its last when rounding up."""
    r = "yMdhms".index({"w": "d", "H": "h"}.get(unit, unit))  # the unit's rank: what it keeps
    start = value.replace(
        month=1 if r < 1 else value.month, day=1 if r < 2 else value.day, hour=0 if r < 3 else value.hour,
        minute=0 if r < 4 else value.minute, second=0 if r < 5 else value.second, microsecond=0,
    )  # fmt: skip
    start -= dt.timedelta(days=start.weekday() if unit == "w" else 0)
    if not up:
        return start
    months = {"y": 12, "M": 1}.get(unit)
    end = _add_months(start, months) if months else start + dt.timedelta(milliseconds=_UNIT_MS[unit])
    return end - dt.timedelta(milliseconds=1)


def date_ms(text: str, *, round_up: bool, now: dt.datetime) -> int:
    """Epoch milliseconds of a date term: strict_date_optional_time, epoch_millis, or date math
    (`now-7d/d`, `2023-11-01||+1w`) rounded as Elasticsearch does for that side of a range."""
    if text.startswith("now"):
        value, math_text = now.astimezone(dt.UTC), text[3:]
    elif "||" in text:
        anchor, math_text = text.split("||", 1)
        ms = _iso_ms(anchor, round_up=False)  # Elasticsearch rounds only at a /unit after ||
        if ms is None:
            raise _Unreadable(f"{anchor!r} is not a date")
        value = _EPOCH + dt.timedelta(milliseconds=ms)
    elif (ms := _iso_ms(text, round_up)) is not None:
        return ms
    elif re.fullmatch(r"-?\d+(?:\.\d+)?", text):
        return int(float(text))  # epoch_millis, the format's second choice
    else:
        raise _Unreadable(f"{text!r} is not a date (write 2023-11-09, 2023-11-09T08:00:00Z or now-7d)")
    pos = 0
    for op in _MATH.finditer(math_text):
        if op.start() != pos:
            break
        pos = op.end()
        if op.group(4):
            value = _round(value, op.group(4), round_up)
            continue
        amount, unit = int(op.group(2) or 1) * (1 if op.group(1) == "+" else -1), op.group(3)
        if unit in "yM":
            value = _add_months(value, amount * (12 if unit == "y" else 1))
        else:
            value += dt.timedelta(milliseconds=amount * _UNIT_MS[unit])
    if pos != len(math_text):
        raise _Unreadable(f"{text!r} is not date math Elasticsearch reads (e.g. now-7d, now/d)")
    return _epoch_ms(value)


# --- one article ---------------------------------------------------------------------------------


def _leaves(value: Any, path: tuple[str, ...]) -> Iterator[Any]:
    if isinstance(value, list | tuple):
        for item in value:
            yield from _leaves(item, path)
    elif not path:
        if value is not None and not isinstance(value, Mapping):
            yield value
    elif isinstance(value, Mapping):
        yield from _leaves(value.get(path[0]), path[1:])


def _indexed(field: Field, raw: Any) -> Any:
    """What Elasticsearch indexes for one value (None: nothing): strings, numbers, epoch ms."""
    if field.type in ("text", "keyword"):
        value = str(raw).lower() if isinstance(raw, bool) else str(raw)
        return None if field.ignore_above is not None and len(value) > field.ignore_above else value
    if isinstance(raw, bool):
        return None
    if field.type == "date":
        return int(raw) if isinstance(raw, int | float) else _iso_ms(str(raw), round_up=False)
    if not isinstance(raw, int | float):
        return None
    return int(raw) if field.type in _INT_BITS else _float32(raw) if field.type == "float" else float(raw)


class _Doc:
    """One article and what its fields index to, worked out once per field for all clauses."""

    def __init__(self, doc: Mapping[str, Any], now: dt.datetime) -> None:
        self.doc, self.now = doc, now
        self._values: dict[str, list[Any]] = {}
        self._tokens: dict[str, list[list[str]]] = {}
        self._token_sets: dict[str, set[str]] = {}

    def values(self, field: Field) -> list[Any]:
        if field.name not in self._values:
            found = (_indexed(field, raw) for raw in _leaves(self.doc, field.path))
            self._values[field.name] = [value for value in found if value is not None]
        return self._values[field.name]

    def token_lists(self, field: Field) -> list[list[str]]:
        if field.name not in self._tokens:
            self._tokens[field.name] = [analyze(value) for value in self.values(field)]
        return self._tokens[field.name]

    def tokens(self, field: Field) -> set[str]:
        if field.name not in self._token_sets:
            self._token_sets[field.name] = {t for tokens in self.token_lists(field) for t in tokens}
        return self._token_sets[field.name]


Matcher = Callable[[_Doc], bool]


# --- a clause on one field -----------------------------------------------------------------------


def _number(field: Field, text: str) -> float:
    value = java_double(text)
    limit = 2 ** (_INT_BITS.get(field.type, 1025) - 1)
    if math.isnan(value) or not -limit <= value < limit:
        raise _Unreadable(f"{text!r} is out of range for the {field.type} field {field.name}")
    return _float32(value) if field.type == "float" else value


def _term_on(field: Field, text: str, phrase: bool, all_words: bool = False) -> Matcher | None:
    """The field's query for a term or a quoted phrase; None when the text has no word for it.
    Unquoted words: any of them, or all with `all_words` (the default operator AND)."""
    if field.type == "text":
        tokens = analyze(text)
        if phrase and len(tokens) > 1:
            n = len(tokens)
            return lambda d: any(
                ts[i : i + n] == tokens for ts in d.token_lists(field) for i in range(len(ts) - n + 1)
            )
        wanted = set(tokens)
        if not wanted:
            return None
        if all_words:
            return lambda d: wanted <= d.tokens(field)
        return lambda d: not wanted.isdisjoint(d.tokens(field))
    if field.type == "keyword":
        found: Matcher = lambda d: text in d.values(field)  # noqa: E731
        values = () if field.ignore_above is not None and len(text) > field.ignore_above else (text,)
        return _exact(
            found, search_sets.Terms(field.name, values) if field.name in search_sets.TERM_FIELDS else None
        )
    if field.type == "date":
        return _range_on(field, text, text, True, True)
    if field.type in _INT_BITS and not (math.isfinite(value := java_double(text)) and value % 1 == 0):
        return lambda d: False  # Elasticsearch: "has a decimal part", which no integer has
    number = _number(field, text)
    return lambda d: number in d.values(field)


def _wildcard_on(field: Field, pattern: str) -> Matcher:
    if field.type not in ("text", "keyword"):
        raise _Unreadable(f"wildcards work on text and keyword fields, not on {field.name} ({field.type})")
    regex, chars = [], iter(lower(pattern) if field.type == "text" else pattern)
    for c in chars:  # Lucene's wildcard syntax: * any run, ? one character, \ escapes
        regex.append(re.escape(next(chars, "")) if c == "\\" else {"*": ".*", "?": "."}.get(c, re.escape(c)))
    compiled = re.compile("".join(regex), re.DOTALL)
    if field.type == "text":
        return lambda d: any(compiled.fullmatch(token) for token in d.tokens(field))
    matcher: Matcher = lambda d: any(compiled.fullmatch(value) for value in d.values(field))  # noqa: E731
    stem = _prefix_stem(pattern)
    if stem is None or field.name not in search_sets.TERM_FIELDS:
        return matcher
    return _exact(matcher, search_sets.Terms(field.name, prefixes=(stem,)))


def _prefix_stem(pattern: str) -> str | None:
    """`abc` of the wildcard pattern `abc*` (unescaped), None for any other pattern."""
    wildcards = [m.start(1) for m in re.finditer(r"(?<!\\)(?:\\\\)*([*?])", pattern)]
    if wildcards != [len(pattern) - 1] or pattern[-1] != "*" or len(pattern) < 2:
        return None
    return unescape(pattern[:-1])


def _range_on(field: Field, lo: str | None, hi: str | None, inc_lo: bool, inc_hi: bool) -> Matcher:
    """A range: dates rounded as Elasticsearch does, numbers by value, text tokens and keyword
    values by code point order (bounds normalized like the field: lower-cased for text)."""
    if field.type == "date":
        bounds = _date_bounds(lo, hi, inc_lo, inc_hi)
        fixed = bounds(dt.datetime.now(dt.UTC))  # parses the bounds now: errors show at compile time
        moving = any(b is not None and (b.startswith("now") or "||" in b) for b in (lo, hi))

        def in_range(d: _Doc) -> bool:
            low, high = bounds(d.now) if moving else fixed
            return any(low <= v <= high for v in d.values(field))

        return _exact(in_range, search_sets.Published(bounds) if field.name == "published_at" else None)

    low: Any
    high: Any
    if field.type in ("text", "keyword"):
        low, high = (b if b is None or field.type == "keyword" else lower(b) for b in (lo, hi))
    else:
        low, high = (None if b is None else _number(field, b) for b in (lo, hi))

    def inside(v: Any) -> bool:
        above = low is None or (v >= low if inc_lo else v > low)
        return above and (high is None or (v <= high if inc_hi else v < high))

    if field.type == "text":
        return lambda d: any(inside(token) for token in d.tokens(field))
    return lambda d: any(inside(value) for value in d.values(field))


def _date_bounds(
    lo: str | None, hi: str | None, inc_lo: bool, inc_hi: bool
) -> Callable[[dt.datetime], tuple[float, float]]:
    """A date range's bounds in epoch milliseconds, both inclusive, as of `now`."""

    def bounds(now: dt.datetime) -> tuple[float, float]:
        low = -math.inf if lo is None else date_ms(lo, round_up=not inc_lo, now=now) + (not inc_lo)
        high = math.inf if hi is None else date_ms(hi, round_up=inc_hi, now=now) - (not inc_hi)
        return low, high

    return bounds


def _exists_on(fields: list[Field]) -> Matcher:
    matcher: Matcher = lambda d: any(d.values(field) for field in fields)  # noqa: E731
    named = [field.name for field in fields]
    spec: search_sets.Spec | None = None
    if named == ["id"]:  # every article has one
        spec = search_sets.Every()
    elif named == ["duplicate_of"]:
        spec = search_sets.Copies()
    return _exact(matcher, spec)


# --- the query -----------------------------------------------------------------------------------

_UNSUPPORTED = {
    tree.Fuzzy: "fuzzy search (~) is not supported in alert queries",
    tree.Proximity: 'proximity search ("a b"~N) is not supported in alert queries',
    tree.Regex: "regular expressions (/.../) are not supported in alert queries",
}
Item = tuple[str | None, str | None, tree.Item]  # (AND/OR written before it, +/- modifier, operand)


def unescape(text: str) -> str:
    """Lucene's discardEscapeChar: `\\x` is x, `\\uXXXX` that code point."""
    return re.sub(
        r"\\(u[0-9a-fA-F]{4}|.)", lambda m: chr(int(m[1][1:], 16)) if len(m[1]) == 5 else m[1], text
    )


def _unescaped(text: str, chars: str) -> str | None:
    """The first of `chars` in `text` that no backslash escapes."""
    match = re.search(r"(?<!\\)(?:\\\\)*([" + re.escape(chars) + "])", text)
    return match.group(1) if match else None


def _is_term(item: tree.Item) -> bool:
    """A plain word, no wildcard: what Lucene's TERM token is, and bare words run together from."""
    return type(item) is tree.Word and not _unescaped(item.value, "*?")


def _check_words(node: tree.Item) -> None:
    """Refuse words luqum reads as words but Lucene would not (range bounds are free text)."""
    if isinstance(node, tree.Word):
        if node.value in ("&&", "||"):
            raise QueryError(f"write {'AND' if node.value == '&&' else 'OR'} instead of {node.value}")
        if bad := _unescaped(node.value, '!":/'):
            advice = "write NOT" if bad == "!" else f"quote the value or escape the {bad} as \\{bad}"
            raise QueryError(f"{node.value!r}: Elasticsearch reads the {bad} differently ({advice})")
    elif not isinstance(node, tree.Range):
        for child in node.children:
            _check_words(child)


def _sequence(node: tree.Item) -> list[tuple[str | None, tree.Item]]:
    """A level's operands in the written order, each with the AND/OR written before it: luqum nests
    AND above OR, Lucene's classic parser does not."""
    conj = {tree.AndOperation: "AND", tree.OrOperation: "OR", tree.UnknownOperation: None}
    if type(node) not in conj:
        return [(None, node)]
    out = _sequence(node.children[0])
    for child in node.children[1:]:
        (_, first), *rest = _sequence(child)
        out += [(conj[type(node)], first), *rest]
    return out


def _run_of_words(items: list[Item], start: int) -> list[tree.Word]:
    """The bare words Lucene's MultiTerm takes from `start`: the next word joins while the token
    after it is not AND, OR or a lone `*` (QueryParser.jj, allowedPostMultiTerm)."""

    def joins(j: int) -> bool:
        if j >= len(items) or items[j][0] or items[j][1] or not _is_term(items[j][2]):
            return False
        if j + 1 == len(items):
            return True
        conj, mod, after = items[j + 1]
        return conj is None and not (mod is None and type(after) is tree.Word and after.value == "*")

    conj, mod, first = items[start]
    run, j = [first], start + 1
    while conj is None and mod is None and _is_term(first) and joins(j):
        run.append(items[j][2])
        j += 1
    return run


def fts_of(matcher: Matcher) -> str | None:
    """The FTS5 query finding at least the articles `matcher` accepts, where the search compiler
    could tell one (see pipelines/fts_terms.py); None: every article is a candidate."""
    return getattr(matcher, "fts", None)


def _narrowed(matcher: Matcher, fts: str | None) -> Matcher:
    if fts is not None:
        matcher.fts = fts  # type: ignore[attr-defined]
    return matcher


def spec_of(matcher: Matcher) -> search_sets.Spec | None:
    """The articles `matcher` accepts as a set the embedded store computes from its indexes
    (pipelines/search_sets.py), where the compiler could tell one; None: decide each article."""
    return getattr(matcher, "spec", None)


def decide(matcher: Matcher, doc: Mapping[str, Any], now: dt.datetime) -> bool:
    """Whether one clause of a query (a `search_sets.Words.decide`) accepts `doc`, its fields as stored."""
    return matcher(_Doc(doc, now))


def _exact(matcher: Matcher, spec: search_sets.Spec | None) -> Matcher:
    if spec is not None:
        matcher.spec = spec  # type: ignore[attr-defined]
    return matcher


def _boolean(clauses: list[list[Any]]) -> Matcher:
    """Lucene's BooleanQuery, with Elasticsearch's fix for a list of negative clauses only."""
    must = [m for occur, m in clauses if occur == "must"]
    should = [m for occur, m in clauses if occur == "should"]
    not_ = [m for occur, m in clauses if occur == "not"]
    spec = search_sets.boolean(map(spec_of, must), map(spec_of, should), map(spec_of, not_))
    if must:
        matcher: Matcher = lambda d: all(m(d) for m in must) and not any(m(d) for m in not_)  # noqa: E731
        return _exact(_narrowed(matcher, fts_terms.all_of([fts_of(m) for m in must])), spec)
    if should:
        matcher = lambda d: any(m(d) for m in should) and not any(m(d) for m in not_)  # noqa: E731
        return _exact(_narrowed(matcher, fts_terms.any_of([fts_of(m) for m in should])), spec)
    return _exact(lambda d: not any(m(d) for m in not_), spec)


@dataclass(frozen=True)
class Mode:
    """How bare clauses combine and where bare terms look: an alert's `query_string` defaults (OR,
    the index's default fields), or the search command's (AND over title and body as one field:
    `type: cross_fields`, where each word of a run of bare words may sit in either field)."""

    operator: str = "OR"
    fields: tuple[str, ...] | None = None  # None: the index's default fields
    cross_fields: bool = False
    fields_indexed: tuple[str, ...] = ()  # text fields the embedded store's full-text index holds


ALERTS = Mode()


class _Compiler:
    def __init__(self, mode: Mode = ALERTS) -> None:
        self.index = index_fields()
        self.mode = mode
        self.and_operator = mode.operator == "AND"
        self.defaults = self.index.default if mode.fields is None else tuple(map(self.field, mode.fields))

    def field(self, name: str) -> Field:
        name = unescape(name)
        if name in self.index.fields:
            return self.index.fields[name]
        if name in self.index.objects:
            inner = ", ".join(f for f in self.index.fields if f.startswith(name + "."))
            raise QueryError(f"{name} is an object: query one of its fields ({inner})")
        if _unescaped(name, "*?"):
            raise QueryError(f"field name patterns like {name!r} are not supported: name the field")
        close = difflib.get_close_matches(name, list(self.index.fields), n=3)
        raise QueryError(
            f"unknown field {name!r}" + (f" (did you mean {' or '.join(close)}?)" if close else "")
        )

    def level(self, node: tree.Item, field: Field | None) -> Matcher:
        """One parenthesis level: QueryParser.Query and addClause, default operator OR."""
        items: list[Item] = []
        for conj, item in _sequence(node):
            mod = None
            if isinstance(item, tree.Plus | tree.Prohibit | tree.Not):
                if not isinstance(item, tree.Not) and item.a.head:  # Lucene: a lone +/- is a word
                    raise QueryError(f"{str(item).strip()!r}: write the {str(item)[0]} against its term")
                mod, item = "+" if isinstance(item, tree.Plus) else "-", item.a
                if isinstance(item, tree.Plus | tree.Prohibit | tree.Not):
                    raise QueryError(f"two operators in a row before {str(item).strip()!r}")
            items.append((conj, mod, item))
        clauses: list[list[Any]] = []  # [occur, matcher], occur "must", "should" or "not"
        i = 0
        while i < len(items):
            conj, mod, item = items[i]
            if len(run := _run_of_words(items, i)) > 1:  # analysed as one text, one clause
                text = unescape(" ".join(w.value for w in run))
                occur = "must" if self.and_operator else "should"
                if (matcher := self.term(field, text, False)) is not None:
                    clauses.append([occur, matcher])
                i += len(run)
                continue
            # QueryParserBase.addClause: the conjunction may change the clause before
            if conj == "AND" and clauses and clauses[-1][0] != "not":
                clauses[-1][0] = "must"
            if conj == "OR" and self.and_operator and clauses and clauses[-1][0] != "not":
                clauses[-1][0] = "should"
            if self.and_operator:
                occur = "not" if mod == "-" else "should" if conj == "OR" else "must"
            else:
                occur = "not" if mod == "-" else "must" if mod == "+" or conj == "AND" else "should"
            if (matcher := self.clause(item, field)) is not None:  # None: no word (Lucene drops it)
                clauses.append([occur, matcher])
            i += 1
        return _boolean(clauses)

    def clause(self, item: tree.Item, field: Field | None) -> Matcher | None:
        if type(item) in _UNSUPPORTED:
            raise QueryError(_UNSUPPORTED[type(item)])
        if isinstance(item, tree.Boost):
            if item.implicit_force:
                raise QueryError(f"{str(item).strip()!r}: a boost needs a number, e.g. ^2")
            return self.clause(item.expr, field)
        if isinstance(item, tree.Group | tree.FieldGroup):
            return self.level(item.expr, field)
        if isinstance(item, tree.SearchField):
            return self.search_field(item)
        if isinstance(item, tree.Phrase):
            return self.term(field, unescape(item.value[1:-1]), True)
        if isinstance(item, tree.Range):
            lo, hi, inc = self.bound(item.low), self.bound(item.high), (item.include_low, item.include_high)
            return self.over(field, lambda f: _range_on(f, lo, hi, *inc))
        if isinstance(item, tree.Word) and item.value == "*":
            return _exact(lambda d: True, search_sets.Every()) if field is None else _exists_on([field])
        if isinstance(item, tree.Word) and not _is_term(item):
            return self.wildcard(field, item.value)
        if isinstance(item, tree.Word):
            return self.term(field, unescape(item.value), False)
        raise QueryError(f"{str(item).strip()!r} needs a field, e.g. word_count:>=2")  # From, To

    def search_field(self, item: tree.SearchField) -> Matcher | None:
        expr = item.expr.expr if isinstance(item.expr, tree.Boost) else item.expr
        if item.name == "_exists_":
            if not isinstance(expr, tree.Word | tree.Phrase):
                raise QueryError("_exists_ takes one field name, e.g. _exists_:summary")
            name = unescape(expr.value.strip('"'))
            if name in self.index.objects:
                return _exists_on([f for f in self.index.fields.values() if f.name.startswith(name + ".")])
            return _exists_on([self.field(name)])
        field = self.field(item.name)
        if isinstance(expr, tree.SearchField | tree.Plus | tree.Prohibit | tree.Not):
            raise QueryError(f"{str(item).strip()!r}: put the operator before the field, e.g. -{item.name}:x")
        if isinstance(expr, tree.From | tree.To):  # Elasticsearch's field:>=x, one-sided ranges
            if expr.a.head or not isinstance(expr.a, tree.Word) or (bound := self.bound(expr.a)) is None:
                raise QueryError(f"{str(item).strip()!r}: write the value right after the operator, e.g. >=2")
            lo, hi = (bound, None) if isinstance(expr, tree.From) else (None, bound)
            inc_lo, inc_hi = (expr.include, True) if isinstance(expr, tree.From) else (True, expr.include)
            return self.over(field, lambda f: _range_on(f, lo, hi, inc_lo, inc_hi))
        return self.clause(item.expr, field)

    def bound(self, item: tree.Item) -> str | None:
        if isinstance(item, tree.Prohibit) and isinstance(item.a, tree.Word) and not item.a.head:
            text = "-" + unescape(item.a.value)
        elif isinstance(item, tree.Phrase | tree.Word):
            text = unescape(item.value[1:-1] if isinstance(item, tree.Phrase) else item.value)
        else:
            raise QueryError(f"{str(item).strip()!r} cannot bound a range")
        return None if text == "*" else text

    def term(self, field: Field | None, text: str, phrase: bool) -> Matcher | None:
        if field is None and self.mode.cross_fields and not phrase:
            return self.cross_fields(text)
        matcher = self.over(field, lambda f: _term_on(f, text, phrase, self.and_operator))
        if not self.narrows(field):
            return matcher
        words = analyze(text)
        if phrase:
            fts = fts_terms.phrase(words)
            if field is None and fts is not None:  # title or body: the search sets answer it
                spec = search_sets.Words("phrase" if len(words) > 1 else "word", tuple(words), fts, matcher)
                matcher = _exact(matcher, spec)
            return _narrowed(matcher, fts)
        combine = fts_terms.all_of if self.and_operator else fts_terms.any_of
        return _narrowed(matcher, combine([fts_terms.phrase([word]) for word in words]))

    def narrows(self, field: Field | None) -> bool:
        """Whether a text clause on `field` can narrow the embedded store's full-text candidates:
        in a search, on the fields that index holds (title and body)."""
        return self.mode.cross_fields and (field is None or field.name in self.mode.fields_indexed)

    def wildcard(self, field: Field | None, pattern: str) -> Matcher:
        matcher = self.over(field, lambda f: _wildcard_on(f, pattern))
        stem = _prefix_stem(pattern)
        if not self.narrows(field) or stem is None:
            return matcher  # FTS5 has prefixes only
        fts = fts_terms.phrase([lower(stem)], prefix=True)
        if field is None and fts is not None and search_sets.regular(lower(stem)):
            matcher = _exact(matcher, search_sets.Words("prefix", (lower(stem),), fts, matcher))
        return _narrowed(matcher, fts)

    def cross_fields(self, text: str) -> Matcher | None:
        """Bare words over the default (text) fields as one: every word (or, with OR, any word) in
        some field. None when the text has no word, like Lucene's null query."""
        words = analyze(text)
        if not words:
            return None
        fields, combine = self.defaults, all if self.and_operator else any
        matcher: Matcher = lambda d: combine(any(word in d.tokens(f) for f in fields) for word in words)  # noqa: E731
        narrow = fts_terms.all_of if self.and_operator else fts_terms.any_of
        each = [self.word_set(word) for word in words]
        spec = search_sets.boolean(each, (), ()) if self.and_operator else search_sets.boolean((), each, ())
        return _exact(_narrowed(matcher, narrow([fts_terms.phrase([word]) for word in words])), spec)

    def word_set(self, word: str) -> search_sets.Words | None:
        """One word of a cross-fields run as a search set: in the title or the body."""
        fts = fts_terms.phrase([word])
        if fts is None:
            return None
        fields = self.defaults
        return search_sets.Words("word", (word,), fts, lambda d: any(word in d.tokens(f) for f in fields))

    def over(self, field: Field | None, make: Callable[[Field], Matcher | None]) -> Matcher:
        """The clause on the named field (its type errors are the user's), or on every default field,
        skipping those whose type cannot read the value (`lenient`)."""
        if field is not None:
            try:
                matcher = make(field)
            except _Unreadable as exc:
                raise QueryError(f"{field.name}: {exc}") from None
            if matcher is None:
                raise QueryError(f"{field.name}: the text field is given no word to search for")
            return matcher
        matchers = []
        for each in self.defaults:
            try:
                if (found := make(each)) is not None:
                    matchers.append(found)
            except _Unreadable:
                continue
        return lambda d: any(m(d) for m in matchers)


def _balance(text: str) -> str | None:
    """Why the parentheses, brackets or quotes of `text` do not pair up (None when they do)."""
    depth, quote, escaped = {"(": 0, "[": 0}, -1, False
    for pos, c in enumerate(text):
        if escaped or c == "\\":
            escaped = not escaped
        elif c == '"':
            quote = pos if quote < 0 else -1
        elif quote < 0 and c in "()[]{}":
            kind = "(" if c in "()" else "["
            depth[kind] += 1 if c in "([{" else -1
            if depth[kind] < 0:
                return f"unbalanced parenthesis: the {c} at position {pos + 1} closes nothing"
    if quote >= 0:
        return f'unbalanced quote: the " at position {quote + 1} is never closed'
    if opened := [kind for kind, n in depth.items() if n]:
        return f"unbalanced parenthesis: a {opened[0]} is never closed"
    return None


class CompiledQuery:
    """A query string, parsed and checked once, to test many articles against."""

    __slots__ = ("_matcher", "mode", "text")

    def __init__(self, text: str, matcher: Matcher, mode: Mode = ALERTS) -> None:
        self.text, self._matcher, self.mode = text, matcher, mode

    def matches(self, doc: Mapping[str, Any], *, now: dt.datetime | None = None) -> bool:
        """Whether Elasticsearch would return `doc` (an article as stored: its JSON) for this query.

        `now` anchors date math such as `now-7d`; the wall clock when omitted.
        """
        return self._matcher(_Doc(doc, now or dt.datetime.now(dt.UTC)))

    @property
    def fts(self) -> str | None:
        """An FTS5 query for at least the matching articles (a search's, see `fts_of`), or None."""
        return fts_of(self._matcher)

    @property
    def spec(self) -> search_sets.Spec | None:
        """The matching articles as a search set (`spec_of`), or None."""
        return spec_of(self._matcher)

    def __repr__(self) -> str:
        return f"CompiledQuery({self.text!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return compile_query, (self.text, self.mode)  # closures do not pickle: ship the text, compile again


def compile_query(text: str, mode: Mode = ALERTS) -> CompiledQuery:
    """Parse and check `text`; raises QueryError (one line) when it cannot be evaluated faithfully."""
    root = parse_query(text)
    try:
        return CompiledQuery(text, _Compiler(mode).level(root, None), mode)
    except RecursionError:
        raise QueryError("the query nests parentheses too deeply") from None


def parse_query(text: str) -> tree.Item:
    """The syntax tree of `text`, refusing what Elasticsearch would read otherwise (QueryError)."""
    if not text.strip():
        raise QueryError("the query is empty")
    if odd := next((c for c in text if c.isspace() and c not in " \t\n\r\u3000"), None):
        raise QueryError(f"the query holds an unusual space (U+{ord(odd):04X}): use a plain one")
    if why := _balance(text):
        raise QueryError(why)
    try:
        root = parse(text)
        _check_words(root)
        return root
    except ParseError as exc:
        reason = str(exc).removeprefix("Syntax error in input : ").rstrip("!")
        raise QueryError(f"cannot parse the query: {reason}") from None
    except RecursionError:
        raise QueryError("the query nests parentheses too deeply") from None


def check_query(text: str) -> str | None:
    """None when `text` is a usable alert query, else why not (for schemas.alerts.validate_rules)."""
    try:
        compile_query(text)
    except QueryError as exc:
        return str(exc)
    return None
