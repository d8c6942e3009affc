"""The pure actor and topic matcher: registry + taxonomy in, tags with evidence out (no Beam, no I/O).

Build a `Tagger` once per worker (`Tagger.from_files()`: ~2 s, ~0.9 s from its cache; or
`Tagger(registry, taxonomy)`) and call `tag(title, body)` per article; it is deterministic and
thread-safe (nothing is mutated).

The tagged text
---------------
Every offset in a `TagResult` points into the *document text* `title + "\\n\\n" + body`
(`document_text(title, body)`): `text[span.start:span.end] == span.text`. The title is characters
`[0, len(title))`, the body starts at `len(title) + 2`.

How matching works (and why it is fast)
---------------------------------------
1. The text is mapped, keeping its length, to a *matching text*: every ASCII character that is not
   a letter or digit, and every Unicode punctuation/space character (U+2000-U+206F, NBSP, «, », ·,
   the soft hyphen...), becomes one space; ASCII letters are lower-cased; one space is added at each
   end. This is done on UTF-8 bytes with `bytes.translate` and two byte regexes, so it costs a few
   microseconds whatever the script. Hyphens and apostrophes thus become word breaks: `Kim Jong-un`
   reads `kim jong un`, `Putin's`/`Putin’s` read `putin s`, `U.S.` reads `u s`.
2. Every topic phrase and context cue is mapped the same way, lower-cased and padded with one
   space at each end (`" spy satellite "`), so a plain substring hit *is* a whole-word hit; a
   phrase ending in `*` is padded only in front (a prefix). Every alias, surname and block phrase is
   mapped keeping its case, in the case forms it may take (as written, first word capitalized,
   every word capitalized, all capitals; acronyms only as written), padded after the name; the
   space before it is checked per hit. Scripts without spaces between words (Han, kana, Hangul,
   Thai...) are not padded.
3. Two Aho-Corasick automata (`ahocorasick_rs`, Rust) find the hits in one pass each. Actors: over
   the case-kept text *reversed*, with reversed patterns, leftmost-longest and non-overlapping, so
   that in reading order the match ending last, and of those the longest, wins: `North Korean`
   over `Korea` and over `the North` ("the North Korean leader"), `UN Security Council` over `UN`,
   `Kim Jong Un` over the surname `Kim`, a context rule's `block` phrase (`Washington Post`) over
   `Washington`. Overlaps are thus resolved in Rust and the case rule is the automaton's: a
   capital the registry writes is required (`Turkey`, not `turkey`; `China`, not `china`; `US`,
   not `us`). Topics and cues: over the lower-cased text, overlapping. For texts that are ASCII once
   mapped (nearly all English copy) each automaton has a bytes DFA over its ASCII patterns.
4. The rules are then applied to the few tens of hits per article (on one of two paths, see below):
   - ambiguity: an alias flagged `ambiguous` in the registry (Georgia, Jordan, Chad, Turkey, Niger,
     `the North`, Washington, America...) is accepted only with context, see `ContextRule`;
   - surnames: a person's `surnames` (`Kim`, `Putin`) count only after the person was named in full
     earlier in the same text (a surname in the title may be resolved by the full name anywhere),
     resolved to the person named in full most recently before it;
   - demonyms also match their plural (`Americans`, `North Koreans`), except those ending in
     s/sh/ch/ese/x/z (`Swiss`, `French`, `Chinese`).
   Korean and Chinese name order needs no rule here: the registry lists the variants (`Kim Jong Un`,
   `Kim Jong-un`, `김정은`, `金正恩`).
   The per-hit work is kept small: what a pattern means is precomputed in flat per-pattern tuples
   (`_ActorTables`, `_TopicTables`), a mention is a plain `(start, end, entry)` tuple, rule counts
   are taken with `Counter` (in C), the ambiguity and surname rules only run when such a pattern
   hit, and `Span`s are built only for the evidence kept (the first `MAX_SPANS` mentions of an
   actor, in reading order; `mentions` always counts them all).
5. Topics: every phrase hit adds its weight (evidence adds up, see seeds/topics.yaml), where it
   is: a hit in the title adds TITLE_WEIGHT times the weight (a headline states the subject, so
   one strong phrase in a short title is enough); body hits count in full in the lead (the first
   TOPIC_LEAD_CHARS characters) and are scaled down after it in a long text (`_rest_scale`), so a
   feature that names a war, an election and oil once each in passing collects no topic. A
   lower-case phrase written with a capital inside a longer capitalised name is no evidence there
   (`_in_name`: "Energy Embargo for Palestine", the "Democratic Alliance"). `topic_score` turns
   the sum into [0, 1]; a topic is assigned at its threshold, and a parent whenever one of its
   children is.

Two paths for steps 1-5
-----------------------
The topic regexes always run here. The rest runs on one of two paths that give the same
`TagResult`, bit for bit:
- the compiled path, `tagcore.Core` (native/tagcore, Rust + pyo3, built by `make install`), given
  the flat tables below and the automata's keys once per `Tagger`. A text is mapped, searched and
  tagged there (`Core.tag_text`): its automata are built from the same keys and match kinds by the
  `aho-corasick` crate that `ahocorasick_rs` wraps, and their hits reach the rules without a Python
  object per hit. A text with a lone surrogate is mapped and searched here, and only steps 4-5 run
  there (`Core.tag`). It exists for speed: in Python the
  per-hit rules took about three quarters of the time per article, and micro-optimizations or
  mypyc gained at most 1.15x; compiled, `tag()` is about 3x faster (benchmarks/bench_tagging.py);
- the Python path, `Tagger._tag_python` and the methods it calls: the readable reference. The
  compiled path is a step-by-step port of it, so a rule is changed here first, then ported, and
  tests/pipelines/test_tag_match_equivalence.py compares the two (results, mapped bytes and
  automaton hits) on ~4,000 varied inputs.
`Tagger(...)` takes the compiled path when `tagcore` imports; `native=False` forces the Python path,
`native=True` requires the compiled one.

Salience and confidence of an actor
-----------------------------------
Each mention carries the weight of the alias that made it (1.0 for a name, about 0.7 for a capital,
0.5 for `the North`). `confidence = 1 - prod(1 - weight)` over the mentions; `salience =
0.4 * (best weight in the title) + 0.25 * (best weight in the lead: the body's first paragraph, at
most 600 characters) + 0.35 * (1 - exp(-sum of weights / 3))`, so a capital-only mention weighs less
than a name and an actor named in the headline and lead outranks one named once further down.

Countries
---------
`countries` lists the ISO 3166-1 alpha-3 codes of the countries and territories tagged, plus the
country of every person tagged (a head of state speaks for the country). An organisation's or armed
group's `country` (its seat) is *not* added: every UN story would otherwise land on New York.
"""

from __future__ import annotations

import argparse
import math
import re
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path
from typing import Any, Generic, NamedTuple, TypeVar

import ahocorasick_rs

from pipelines import tagger_cache
from schemas.actors import DEFAULT_FOLDER, Actor, Registry, iter_alias_rows, load_registry, normalize_alias
from schemas.records import Evidence
from schemas.topics import DEFAULT_FILE as DEFAULT_TOPICS_FILE
from schemas.topics import Taxonomy, TaxonomyError, load_taxonomy, validate_taxonomy

try:  # the compiled per-article path (native/tagcore), built by `make install`
    import tagcore

    NATIVE_ERROR = ""
except ImportError as error:  # not built: the Python path does the same work
    NATIVE_ERROR = str(error)

_COUNTRY_KINDS = ("country", "territory", "person")  # whose `country` goes into TagResult.countries
SEPARATOR = "\n\n"  # between the title and the body in the document text
# An article with this topic at this score is a match report: its country names are teams. Below it
# (an Olympics item about politics, a "Robot Olympics") the topic is assigned and the states stay.
SPORT_TOPIC, SPORT_REPORT_SCORE = "sport", 0.9
LEAD_CHARS = 600  # the lead is the body's first paragraph, at most this long
MAX_SPANS = 25  # evidence spans kept per tag, the first in reading order (`mentions` counts them all)
SALIENCE_TITLE, SALIENCE_LEAD, SALIENCE_FREQUENCY = 0.4, 0.25, 0.35
FREQUENCY_SCALE = 3.0  # sum of mention weights at which the frequency part reaches 1 - 1/e
# Topic evidence (see `_topic_tags`): a rule hit in the title adds TITLE_WEIGHT times its weight, as
# a headline states the subject; body hits within the first TOPIC_LEAD_CHARS characters count in
# full, later ones count REST_CHARS / (characters after the lead) each when that is below 1, so a
# long article needs proportionally more evidence; a rule's body count n weighs n up to 1, then
# 1 + 0.25 * (min(n, 5) - 1).
TITLE_WEIGHT = 2.0
TOPIC_LEAD_CHARS = 600
REST_CHARS = 1500
REPEAT_STEP, REPEAT_CAP = 0.25, 5
# A whole article (a body longer than UNLED_MIN_CHARS, about 500 words; summaries and briefs are
# far shorter) states its subjects in the title or the lead: a topic with no net evidence there is a
# thread of the later text (background, an aside, a quote), not a subject, so its evidence counts
# UNLED_FACTOR. Shorter texts keep later mentions in full: a 400-word story may name a subject
# once, after its first paragraph (the seed articles' sanctions, tests/pipelines/test_tag_match.py).
UNLED_MIN_CHARS = 3000
UNLED_FACTOR = 0.5
# A lower-case topic phrase written with a capital inside a longer capitalised name does not count
# there: "Energy Embargo for Palestine" is a group, not an embargo. Joined to the name by these.
NAME_JOINERS = frozenset(("of", "for"))

# --- the matching text ---------------------------------------------------------------------------

# ASCII: letters and digits are kept, every other byte (space, punctuation, controls) becomes a space.
_TABLE = bytes(
    c if (48 <= c <= 57 or 65 <= c <= 90 or 97 <= c <= 122 or c >= 128) else 32 for c in range(256)
)
# General Punctuation (U+2000-U+206F: spaces, dashes, quotes, bullets, ellipsis, invisible marks).
_PUNCT3 = re.compile(rb"\xe2\x80[\x80-\xbf]|\xe2\x81[\x80-\xaf]")
# Latin-1 punctuation and symbols (NBSP, ¡, «, », ·, soft hyphen, ...), not the letters ª µ º.
_PUNCT2 = re.compile(rb"\xc2[\xa0-\xa9\xab-\xb4\xb6-\xb9\xbb-\xbf]")
_NONSPACE = re.compile(r"\S*")
_FIRST, _THIRD = itemgetter(0), itemgetter(2)
_UNSPACED = re.compile(
    r"^[\s\u0e00-\u0eff\u0f00-\u0fff\u1000-\u109f\u1100-\u11ff\u1780-\u17ff\u3040-\u30ff"
    r"\u3130-\u318f\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\uff66-\uff9f\U00020000-\U0003134f]+$"
)
_PLURAL_NO = ("s", "sh", "ch", "ese", "x", "z")
_LATIN = re.compile(r"^[A-Za-z\u00c0-\u024f .'’-]+$")


# Latin letters with diacritics, U+00C0 to U+017F, folded to their base letter ("-": kept as they
# are: Æ, ß, Þ, Œ, ĳ, ×, ÷ ...). Every alias and text is matched folded, so `Erdoğan` and `Erdogan`,
# `Türkiye` and `Turkiye`, `São Tomé` and `Sao Tome` are one spelling. The base letter is the first
# of the NFD decomposition, plus Ø Đ Ħ ı Ł Ŧ Ð, which have none (tests/pipelines/test_tag_spellings.py
# derives the table; native/tagcore/src/mapping.rs holds the same one).
LATIN_FOLDS = (
    "AAAAAA-CEEEEIIIIDNOOOOO-OUUUUY--aaaaaa-ceeeeiiiidnooooo-ouuuuy-y"
    "AaAaAaCcCcCcCcDdDdEeEeEeEeEeGgGgGgGgHhHhIiIiIiIiIi--JjKk-LlLlLl--"
    "LlNnNnNn---OoOoOo--RrRrRrSsSsSsSsTtTtTtUuUuUuUuUuUuWwYyYZzZzZz-"
)
_FOLD = {chr(0xC0 + i).encode(): base.encode() for i, base in enumerate(LATIN_FOLDS) if base != "-"}
_LATIN_LETTER = re.compile(rb"[\xc3-\xc5][\x80-\xbf]")
_FOLDABLE = frozenset(letter.decode() for letter in _FOLD)


def _fold_letter(match: re.Match[bytes]) -> bytes:
    return _FOLD.get(match.group(), match.group())


def _one_word_with_diacritics(alias: str) -> bool:
    """A one-word name with a letter that folds: `Ísland` would match the English `Island` (Rhode
    Island, Hong Kong Island) as Iceland. Such names are not matched: most are other languages'
    names of a country (Österreich, Magyarország), and where English news writes one without its
    diacritics the registry lists that spelling too (Israël and Israel, Türkiye and Turkiye).
    Capitals, metonyms and names of two words or more fold: Bogotá, Élysée, São Tomé and Príncipe."""
    return len(alias.split()) == 1 and any(char in _FOLDABLE for char in alias)


def _map_bytes(text: str) -> bytes:
    """`text` as UTF-8 with every separator turned into one space byte and the Latin letters with
    diacritics into their base letter (characters keep their count)."""
    data = text.encode("utf-8", "surrogatepass").translate(_TABLE)
    if b"\xe2" in data:
        data = _PUNCT3.sub(b" ", data)
    if b"\xc2" in data:
        data = _PUNCT2.sub(b" ", data)
    if b"\xc3" in data or b"\xc4" in data or b"\xc5" in data:
        data = _LATIN_LETTER.sub(_fold_letter, data)
    return data


def matching_text(text: str, *, fold: bool = True) -> str:
    """The text the automata and topic regexes read: mapped, lower-cased (ASCII) when `fold`, padded.

    `matching_text(t)[i + 1]` corresponds to `t[i]`; the length is `len(t) + 2`.
    """
    data = _map_bytes(text)
    return (b" " + (data.lower() if fold else data) + b" ").decode("utf-8", "surrogatepass")


def document_text(title: str, body: str) -> str:
    """The text every offset of a `TagResult` points into."""
    return f"{title}{SEPARATOR}{body}"


# --- output types (NamedTuples: cheap to build, immutable, `_asdict()` for JSON) -----------------


# One piece of evidence: `document_text(...)[start:end] == text`, matched through `via` (the registry
# alias / surname, or the topic rule). The article's own evidence type: tags carry spans as built.
Span = Evidence


class ActorTag(NamedTuple):
    id: str
    name: str
    kind: str
    country: str | None
    mentions: int
    salience: float
    confidence: float
    spans: tuple[Span, ...]


class TopicTag(NamedTuple):
    id: str
    label: str
    score: float
    spans: tuple[Span, ...]  # may be empty for a parent assigned through a child


def _tag_dict(tag: ActorTag | TopicTag) -> dict[str, Any]:
    fields = {key: value for key, value in tag._asdict().items() if key != "spans"}
    return {**fields, "evidence": [span._asdict() for span in tag.spans]}


class TagResult(NamedTuple):
    actors: tuple[ActorTag, ...]  # most salient first
    topics: tuple[TopicTag, ...]  # highest score first
    actor_ids: tuple[str, ...]
    actor_names: tuple[str, ...]
    countries: tuple[str, ...]  # ISO 3166-1 alpha-3, see the module docstring
    topic_ids: tuple[str, ...]
    registry_version: str
    taxonomy_version: str

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict, named as the stored article's fields are (spans under `evidence`)."""
        return {
            "actors": [_tag_dict(tag) for tag in self.actors],
            "topics": [_tag_dict(tag) for tag in self.topics],
            "actor_ids": list(self.actor_ids),
            "actor_names": list(self.actor_names),
            "countries": list(self.countries),
            "topic_ids": list(self.topic_ids),
            "registry_version": self.registry_version,
            "taxonomy_version": self.taxonomy_version,
        }


# --- context rules for ambiguous names -----------------------------------------------------------


@dataclass(frozen=True)
class ContextRule:
    """When an ambiguous alias (`ambiguous: true` in the registry, or listed here) names its actor.

    The alias is accepted when `support > against`, or on a tie when `default` is true, where
    - support = hits of the `support` phrases + unambiguous mentions of the actor itself or of any
      actor of its country (Tbilisi, a Georgian minister) + unambiguous mentions of actors of
      `support_countries` or with an id in `support_actors`;
    - against = hits of the `against` phrases + unambiguous mentions of actors of `against_countries`.
    `block` phrases are longer names containing the alias that mean something else (`Washington
    Post`, `Niger Delta`); they win the overlap and hide the alias (every form is listed: no `*`).
    With `name_neighbour`, a body mention directly after or before another capitalized word (`Chad
    Smith`, `Michael Jordan`) is a personal name, not the country. Support and against phrases follow
    the topic syntax (case-insensitive, a trailing `*` is a prefix); block phrases follow the alias
    case rule.
    """

    aliases: tuple[str, ...]
    default: bool = False
    support: tuple[str, ...] = ()
    against: tuple[str, ...] = ()
    block: tuple[str, ...] = ()
    support_countries: tuple[str, ...] = ()
    against_countries: tuple[str, ...] = ()
    support_actors: tuple[str, ...] = ()
    name_neighbour: bool = False


def _p(phrases: str) -> tuple[str, ...]:
    """A tuple of phrases written as one `|`-separated string (the rule table stays legible)."""
    return tuple(phrase.strip() for phrase in phrases.split("|") if phrase.strip())


CONTEXT_RULES: tuple[ContextRule, ...] = (
    ContextRule(
        aliases=("Georgia", "Georgian"),
        support=_p(
            "Caucasus|Abkhazia|South Ossetia|Georgian Dream|Saakashvili|Kobakhidze|Zourabichvili|"
            "Ivanishvili|Batumi|Kutaisi|Black Sea|Kavelashvili"
        ),
        against=_p(
            "Atlanta|Savannah|Augusta|Macon|Fulton County|Peach State|Kemp|Raffensperger|Ossoff|Warnock|"
            "county|Republican*|Democrat*|governor|U.S. state|US state|state legislature|Alabama|Florida|"
            "Tennessee|South Carolina|North Carolina"
        ),
        block=_p(
            "Georgia Tech|Georgia State|University of Georgia|Georgia Bulldogs|Georgia Power|"
            "Georgia Aquarium|Georgia O'Keeffe|Georgia Southern|Georgian era|Georgian architecture"
        ),
        support_countries=("RUS", "ARM", "AZE", "UKR", "TUR"),
        name_neighbour=True,
    ),
    ContextRule(
        aliases=("Jordan",),
        support=_p("Hashemite|King Abdullah|Queen Rania|Middle East|West Bank|Gaza|Arab*"),
        against=_p("NBA|Bulls|basketball|Nike|sneaker*|Chicago"),
        block=_p(
            "Michael Jordan|Air Jordan|Jordan River|River Jordan|Jordan Peterson|Jim Jordan|Jordan Brand|"
            "Jordan Spieth|Jordan Henderson|Jordan Pickford"
        ),
        support_countries=("ISR", "PSE", "SYR", "IRQ", "SAU", "EGY", "LBN"),
        name_neighbour=True,
    ),
    ContextRule(
        aliases=("Chad",),
        support=_p("Sahel|Sahara|Africa|African*|Deby|Déby|junta|Darfur"),
        block=_p("Lake Chad"),
        support_countries=("SDN", "NER", "NGA", "CMR", "LBY", "CAF", "FRA", "MLI", "BFA"),
        name_neighbour=True,
    ),
    ContextRule(
        aliases=("Niger",),
        support=_p("Sahel|Africa|African*|junta|coup|Tiani|Bazoum|ECOWAS|uranium"),
        block=_p("Niger Delta|Niger River|River Niger|Niger State"),
        support_countries=("NGA", "MLI", "BFA", "DZA", "TCD", "BEN", "LBY", "FRA"),
    ),
    ContextRule(
        aliases=("Turkey",),
        default=True,
        support=_p("Erdogan|Erdoğan|Istanbul|Anatolia*|Bosphorus|Kurdish"),
        against=_p("Thanksgiving|roast*|stuffing|gravy|poultry|recipe*|gobble*|feathers"),
        block=_p("Wild Turkey|Turkey Day|Turkey Trot|Turkey Point"),
    ),
    ContextRule(
        aliases=("the North",),
        support=_p("Korea|Korean*|DMZ|demilitarized zone|demilitarised zone|Panmunjom"),
        support_countries=("KOR",),
    ),
    ContextRule(
        aliases=("Washington",),
        default=True,
        support=_p("White House|State Department|Pentagon|Congress|Capitol Hill|Oval Office|administration"),
        against=_p("Seattle|Spokane|Tacoma|Olympia|Puget Sound|Redmond|Pacific Northwest"),
        block=_p(
            "Washington Post|Washington Times|Washington Examiner|George Washington|Washington state|"
            "governor of Washington|Washington governor|Washington Dulles|"
            "University of Washington|Washington Nationals|Washington Commanders|Washington Wizards|"
            "Washington Capitals|Washington Mystics|Washington Huskies|Denzel Washington|Kerry Washington|"
            "Booker T. Washington|Washington Irving|Lake Washington|Mount Washington|Fort Washington|"
            "Washington Monument|Washington Square"
        ),
    ),
    ContextRule(
        aliases=("America", "American"),
        default=True,
        block=_p(
            "Latin America|Latin American|Latin Americans|South America|South American|South Americans|"
            "North America|North American|North Americans|Central America|Central American|"
            "Central Americans|Native American|Native Americans|African American|African Americans|"
            "Asian American|Asian Americans|Mexican American|Mexican Americans|Bank of America|"
            "Captain America|Miss America|American Airlines|American Express|Pan American|"
            "American football|American Indian|American Indians|Organization of American States"
        ),
    ),
    ContextRule(
        aliases=("Security Council",),
        support=_p("United Nations|resolution*|veto*|permanent member*"),
        against=_p("Medvedev|Shoigu|Patrushev|deputy chairman"),
        block=_p(
            "National Security Council|Security Council of Russia|Russian Security Council|"
            "Supreme National Security Council|Security Council secretary"
        ),
        support_actors=("Q1065",),
    ),
    ContextRule(aliases=("AU",), support=_p("Africa|African*|Addis Ababa|ECOWAS|Sahel|peacekeep*")),
    ContextRule(aliases=("Polish",), default=True),
    ContextRule(
        aliases=("Indian",),
        default=True,
        block=_p(
            "Indian Ocean|American Indian|American Indians|West Indian|West Indians|East Indian|East Indians|"
            "Indian Premier League|Indian Wells|Indian River"
        ),
    ),
    ContextRule(aliases=("Tripoli",), default=True, against_countries=("LBN",)),
    ContextRule(
        aliases=("Macedonia",),
        against=_p("Thessaloniki|Alexander the Great|ancient"),
        against_countries=("GRC",),
    ),
    ContextRule(
        aliases=("Guinea",), default=True, block=_p("Guinea pig|Guinea pigs|Guinea fowl|Guinea worm")
    ),
    ContextRule(
        aliases=("Jersey",),
        support=_p("Channel Islands|Guernsey|States of Jersey|St Helier|Crown Dependenc*"),
        block=_p("New Jersey|Jersey City|Jersey Shore"),
    ),
)
GENERIC_RULE = ContextRule(aliases=())  # an ambiguous alias with no rule: only the actor's own support
# A distinctive surname standing alone (`Registry.distinctive_surnames`): "Putin warns Europe". Not
# inside a longer name ("Hunter Biden" is not Joe Biden); there the full-name rule still applies.
SURNAME_RULE = ContextRule(aliases=(), default=True, name_neighbour=True)

# Capitalized words that may stand right before a country name without making it part of a name.
_FUNCTION_WORDS = frozenset(
    "The A An In On At To From For With And By Of As But Or If When While After Before Since Both Between "
    "Against About Into Like Unlike Near Across Over Under Why How What Where Neighbouring Neighboring "
    "Northern Southern Eastern Western Central Rural Oil-rich Landlocked Only Even Also Including "
    "Visit Visiting Sources Officials "
    # titles before a surname: "President Macron", "Foreign Minister Lavrov", "Mr. Netanyahu"
    "President Minister Secretary Chancellor Premier Leader General Gen. Senator Sen. Governor Gov. "
    "Ayatollah Emir Sheikh Prince King Queen Pope Speaker Envoy Ambassador Commander Marshal Admiral "
    "Mr Mrs Ms Dr Mr. Mrs. Ms. Dr.".split()
)
# Capitalized words that may follow a country name (titles, institutions).
_FOLLOWING_OK = frozenset(
    "King Queen President Prime Premier Foreign Defence Defense Army Armed Government Ministry Minister "
    "Parliament Embassy Ambassador Military Police National Central State Airways Air".split()
)

# --- build-time tables ---------------------------------------------------------------------------

# What an actor-automaton pattern is: the kinds of `_ActorPattern.kind`.
_PLAIN, _OTHER = 0, 1  # _PLAIN: one unambiguous, space-padded name and nothing else (the hot path)
_NAME, _AMBIGUOUS, _SURNAME, _BLOCK, _NONE = range(5)  # `_ActorPattern.role` when kind is _OTHER


_P = TypeVar("_P")


class _Nested(NamedTuple):
    """An actor named inside another actor's name, at [start, end) of the name's text."""

    start: int
    end: int
    actor: int
    via: str
    weight: float


# An organisation's or armed group's name may name another actor, which is mentioned too: "United
# States Navy", "US State Department", "Islamic State of Iraq and Syria". (A person's may not: "Jordan
# Bardella" names no country.) Only plain names and acronyms are looked for inside.
_NAMES_THAT_NEST = ("organisation", "armed_group")
_NESTED_KINDS = ("country", "territory", "organisation", "armed_group")
_NESTED_ALIAS_TYPES = ("name", "acronym")


class _ActorPattern(NamedTuple):
    """One pattern of the actor automaton (reversed text, case kept, leftmost-longest)."""

    start_adjust: int  # text start = len(hay) - hit end + start_adjust
    end_adjust: int  # text end = len(hay) - hit start + end_adjust; -2: padded after, check before
    kind: int  # _PLAIN or _OTHER
    role: int  # _NAME, _AMBIGUOUS, _SURNAME, _BLOCK or _NONE (only topic phrases)
    actor: int  # actor index (names and ambiguous names), -1 otherwise
    weight: float
    rule: int  # context rule index (ambiguous names), -1 otherwise
    via: str  # the registry alias that matched
    place: bool  # a capital or building: the country only where not used as a place (`_PlaceUse`)
    surnames: tuple[tuple[int, str], ...]  # (actor index, surname) of the persons with this surname
    topic_rules: tuple[int, ...]  # case-exact topic rules (indexes into Tagger._topic_rules)
    nested: tuple[_Nested, ...]  # other actors named inside this name: "[United States] Navy"


class _TopicPattern(NamedTuple):
    """One pattern of the topic automaton (forward text, lower-cased, overlapping)."""

    start_adjust: int  # text start = hit start + start_adjust
    end_adjust: int  # text end = hit end + end_adjust
    prefix: bool  # the pattern ends inside a word: extend the evidence to the end of the word
    topic_rules: tuple[int, ...]
    cues: tuple[tuple[int, int], ...]  # (context rule index, +1 support / -1 against)


def _find_nested_names(
    slots: dict[str, _ActorSlot], kinds: tuple[str, ...], plain_names: set[tuple[int, str]]
) -> None:
    """Set `nested` on every organisation or armed-group name slot that holds another actor's plain
    name as whole words: the longest first, none overlapping (`_NAMES_THAT_NEST`)."""
    inner = {
        pattern: slot.names[0]
        for pattern, slot in slots.items()
        if slot.names
        and not slot.block
        and slot.names[0][2] < 0
        and (slot.names[0][0], slot.names[0][3]) in plain_names
    }
    for pattern, slot in slots.items():
        if (
            not slot.names
            or slot.block
            or slot.names[0][2] >= 0
            or kinds[slot.names[0][0]] not in _NAMES_THAT_NEST
        ):
            continue
        words = [match.span() for match in re.finditer(r"\S+", pattern)]
        found: list[_Nested] = []
        for size in range(len(words) - 1, 0, -1):
            for first in range(len(words) - size + 1):
                start, end = words[first][0], words[first + size - 1][1]
                name = inner.get(pattern[start:end])
                if name is None or name[0] == slot.names[0][0]:
                    continue
                if all(end <= other.start or start >= other.end for other in found):
                    found.append(_Nested(start, end, name[0], name[3], name[1]))
        slot.nested = tuple(sorted(found))


def _split_prefix(phrase: str) -> tuple[str, bool]:
    return (phrase[:-1], True) if phrase.endswith("*") else (phrase, False)


def _spacings(mapped: str) -> list[str]:
    """A mapped form collapsed to single spaces, and as written (`U.N. Security` keeps two spaces)."""
    out = [" ".join(mapped.split())]
    if mapped.strip() != out[0]:
        out.append(mapped.strip())
    return [form for form in out if form]


def _cased_forms(text: str, *, exact: bool) -> list[str]:
    """The case-kept patterns an alias is matched as.

    A case-exact alias (acronyms) only as written. Any other alias also with its first word
    capitalized (`The Kremlin`, `Al-Qaeda` at a sentence start), with every word capitalized (`Kim
    Jong-un` written `Kim Jong-Un`) and in capitals (headlines): capitals the registry writes are
    thus required, which is the case rule (`Turkey`, not `turkey`; `China`, not `china`).
    """
    out: list[str] = []
    for spaced in _spacings(_map_bytes(text).decode("utf-8", "surrogatepass")):
        forms = [spaced]
        if not exact:
            words = spaced.split(" ")
            forms.append(" ".join([words[0][:1].upper() + words[0][1:], *words[1:]]))
            forms.append(" ".join(word[:1].upper() + word[1:] for word in words))
            forms.append(spaced.upper())
        for form in forms:
            if form not in out and len(form) == len(spaced):  # ß -> SS would shift the offsets
                out.append(form)
    return out


def _folded_forms(text: str) -> list[str]:
    """The lower-cased (ASCII, like the text) patterns a topic phrase or cue is matched as."""
    mapped = _map_bytes(text).lower().decode("utf-8", "surrogatepass")
    return _spacings(mapped)


def _plural(text: str) -> str | None:
    """The plural of a Latin-script demonym (`Afghans`), or None where English adds nothing."""
    if not _LATIN.match(text) or text.lower().endswith(_PLURAL_NO):
        return None
    return f"{text}s"


def topic_score(raw: float) -> float:
    """A topic's score in [0, 1] from the summed weight of its evidence: 1 - exp(-raw), 0 when raw <= 0."""
    return 0.0 if raw <= 0.0 else 1.0 - math.exp(-raw)


def _repeat(count: float) -> float:
    """How much a rule's body count (hits, scaled down after the lead of a long text) weighs, in
    units of its weight: the count itself up to 1, then 1 + 0.25 per further hit up to 5 hits."""
    return count if count <= 1.0 else 1.0 + REPEAT_STEP * (min(count, REPEAT_CAP) - 1.0)


_NO_FRONT = (0, 0)


def _is_match_report(topic_tags: Sequence[TopicTag]) -> bool:
    """Does the article score as a match report (see SPORT_REPORT_SCORE)?"""
    return any(tag[0] == SPORT_TOPIC and tag[2] >= SPORT_REPORT_SCORE for tag in topic_tags)


def _rest_scale(body_length: int) -> float:
    """What a body hit after the lead counts: 1, or less in a long text (see REST_CHARS)."""
    rest = body_length - TOPIC_LEAD_CHARS
    return REST_CHARS / rest if rest > REST_CHARS else 1.0


def _in_name(text: str, start: int, end: int) -> bool:
    """Is the phrase `text[start:end]`, written with a capital, part of a longer capitalised name?

    A capitalised word (or `of`/`for` and one) just before it, or just after the word it ends in,
    each joined by one space: "Energy [Embargo] for Palestine", "the Democratic [Alliance]". A name
    after a full stop is not joined ("... Russia. Sanctions ..."), nor is one across a comma.
    """
    if not text[start].isupper():
        return False
    before = start - 1
    for _ in range(2):  # the word before, then the one before a joining word
        if before < 1 or text[before] != " " or not text[before - 1].isalpha():
            break
        first = before - 1
        while first > 0 and text[first - 1].isalpha():
            first -= 1
        if text[first].isupper():
            return True
        if text[first:before] not in NAME_JOINERS:
            break
        before = first - 1
    after = end
    while after < len(text) and text[after].isalpha():  # the end of the word the phrase ends in
        after += 1
    for _ in range(2):  # the word after, then the one after a joining word
        if after + 1 >= len(text) or text[after] != " " or not text[after + 1].isalpha():
            break
        if text[after + 1].isupper():
            return True
        last = after + 1
        while last < len(text) and text[last].isalpha():
            last += 1
        if text[after + 1 : last] not in NAME_JOINERS:
            break
        after = last
    return False


class _ActorSlot:
    """What the build collects for one actor-automaton pattern."""

    __slots__ = ("block", "names", "nested", "surnames", "topic_rules")

    def __init__(self) -> None:
        self.names: list[tuple[int, float, int, str, bool]] = []  # (actor, weight, rule, via, place)
        self.surnames: list[tuple[int, str]] = []
        self.block = False
        self.topic_rules: list[int] = []
        self.nested: tuple[_Nested, ...] = ()


class _TopicSlot:
    __slots__ = ("cues", "prefix", "topic_rules")

    def __init__(self, prefix: bool) -> None:
        self.prefix = prefix
        self.topic_rules: list[int] = []
        self.cues: list[tuple[int, int]] = []


def _padded(pattern: str, prefix: bool) -> tuple[str, int, int]:
    """The automaton key of a pattern and how to turn a hit on the padded text into text offsets."""
    if _UNSPACED.match(pattern):
        return pattern, -1, -1  # no spaces between words in this script: no boundaries to ask for
    if prefix:
        return f" {pattern}", 0, -1
    return f" {pattern} ", 0, -2


class _Automaton(Generic[_P]):
    """One pattern set, searchable two ways.

    Wire copy is almost always ASCII once punctuation is mapped (curly quotes and dashes become
    spaces), so the patterns that are ASCII also get a DFA over bytes, whose byte offsets are then
    character offsets; any other text goes through the general automaton over all patterns.
    """

    def __init__(self, keys: list[str], table: tuple[_P, ...], kind: ahocorasick_rs.MatchKind) -> None:
        self.table = table
        self.keys = keys
        self.match_kind = kind
        self.kind = str(kind).rpartition(".")[2]  # "LeftmostLongest": tagcore builds the same automata
        ascii_keys = [i for i, key in enumerate(keys) if key.isascii()]
        self.ascii_table: tuple[_P, ...] = tuple(table[i] for i in ascii_keys)
        self.ascii_keys = [keys[i].encode("ascii") for i in ascii_keys]
        self._engines: dict[bool, Any] = {}

    def finder(self, *, ascii: bool) -> _Finder | None:
        """A search of the DFA over the ASCII keys (bytes) or of the automaton over every key
        (`str`), None without keys."""
        return _Finder(self, ascii) if (self.ascii_keys if ascii else self.keys) else None

    def engine(self, *, ascii: bool) -> Any:
        """The automaton itself, built on first use: the compiled path (tagcore) has automata of its
        own, so a tagger on that path never spends the time to build these."""
        engine = self._engines.get(ascii)
        if engine is None:
            engine = self._engines[ascii] = (
                ahocorasick_rs.BytesAhoCorasick(
                    self.ascii_keys,
                    matchkind=self.match_kind,
                    implementation=ahocorasick_rs.Implementation.DFA,
                )
                if ascii
                else ahocorasick_rs.AhoCorasick(self.keys, matchkind=self.match_kind)
            )
        return engine

    def __getstate__(self) -> dict[str, Any]:
        # Built automata do not pickle (nor does their MatchKind): a copy builds its own on first use.
        return {**self.__dict__, "_engines": {}, "match_kind": self.kind}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state, match_kind=getattr(ahocorasick_rs.MatchKind, state["match_kind"]))


class _Finder:
    """`find_matches_as_indexes` of one of an automaton's two searches (see `_Automaton.finder`)."""

    def __init__(self, automaton: _Automaton[Any], ascii: bool) -> None:
        self.automaton, self.ascii = automaton, ascii

    def __call__(self, haystack: Any, overlapping: bool = False) -> list[tuple[int, int, int]]:
        found: list[tuple[int, int, int]] = self.automaton.engine(ascii=self.ascii).find_matches_as_indexes(
            haystack, overlapping=overlapping
        )
        return found


class _ActorTables(NamedTuple):
    """The actor automaton of one flavour (ASCII or full) with flat per-pattern lookups for `tag()`.

    A mention is `(start, end, entry)`; entries `0 .. len(table) - 1` are the patterns' own names
    (their first registry entry), the following ones the (person, surname) pairs and the names
    found inside other names.
    """

    search: Any  # the automaton's `find_matches_as_indexes` (`_Automaton.finder`), None without patterns
    table: tuple[_ActorPattern, ...]
    uniform: bool  # every pattern is (start_adjust, end_adjust) == (-1, -2)
    adjust: tuple[tuple[int, int], ...]  # per pattern
    special: frozenset[int]  # the patterns that are not _PLAIN
    actor: tuple[int, ...]  # per entry
    weight: tuple[float, ...]
    via: tuple[str, ...]
    surname_entry: dict[tuple[int, str], int]
    nested: dict[int, tuple[tuple[int, int, int], ...]]  # pattern -> (start, end, entry) inside its name


class _TopicTables(NamedTuple):
    """The topic automaton of one flavour with flat per-pattern lookups for `tag()`."""

    search: Any  # the automaton's `find_matches_as_indexes` (`_Automaton.finder`), None without patterns
    rules: tuple[tuple[int, ...], ...]  # per pattern: topic rule ids
    cues: tuple[tuple[tuple[int, int], ...], ...]  # per pattern: (context rule, sign)
    # per pattern: start adjust, end adjust, prefix, ((topic, via, weight) per rule)
    evidence: tuple[tuple[int, int, bool, tuple[tuple[int, str, float], ...]], ...]
    single_rule: tuple[int, ...]  # per pattern: its rule when it has one rule and no cue, else -1
    complex: frozenset[int]  # the patterns with cues or several rules
    # per pattern: its rules written in lower case, which a longer capitalised name hides (`_in_name`)
    hidden: tuple[tuple[int, ...], ...]
    ascii: bool  # the flavour for texts that are ASCII once mapped


# --- the tagger ----------------------------------------------------------------------------------


class Tagger:
    """Tags actors and topics in articles. Build once (per worker), then `tag()` many times."""

    def __init__(
        self,
        registry: Registry,
        taxonomy: Taxonomy,
        rules: Sequence[ContextRule] = CONTEXT_RULES,
        *,
        native: bool | None = None,
    ) -> None:
        """`native`: None uses the compiled path when `tagcore` imports, True requires it, False
        forces the Python path (the reference the compiled one is tested against)."""
        if native and NATIVE_ERROR:
            raise ImportError(f"Tagger(native=True): the tagcore extension is missing ({NATIVE_ERROR})")
        started = time.perf_counter()
        self.registry = registry
        self.taxonomy = taxonomy
        self.registry_version = registry.version
        self.taxonomy_version = taxonomy.version
        self._actors: tuple[Actor, ...] = registry.actors
        self._topics = taxonomy.topics
        self._rules: tuple[ContextRule, ...] = (GENERIC_RULE, SURNAME_RULE, *rules)
        index = {actor.id: i for i, actor in enumerate(self._actors)}
        self._actor_country: tuple[str | None, ...] = tuple(actor.country for actor in self._actors)
        self._rule_support_actors = tuple(
            frozenset(index[a] for a in rule.support_actors if a in index) for rule in self._rules
        )
        topic_index = {topic.id: i for i, topic in enumerate(self._topics)}
        self._parents = tuple(topic_index.get(t.parent, -1) if t.parent else -1 for t in self._topics)
        self._thresholds = tuple(topic.threshold for topic in self._topics)
        # (topic index, via, weight) of every phrase/exact/regex rule
        self._topic_rules: list[tuple[int, str, float]] = []
        self._regexes: list[tuple[int, re.Pattern[str]]] = []  # (rule index, compiled)

        actor_slots: dict[str, _ActorSlot] = {}
        topic_slots: dict[str, _TopicSlot] = {}

        def actor_slot(pattern: str) -> _ActorSlot:
            slot = actor_slots.get(pattern)
            if slot is None:
                slot = actor_slots[pattern] = _ActorSlot()
            return slot

        def topic_slot(pattern: str, prefix: bool) -> _TopicSlot:
            key = f"{pattern}\x00{int(prefix)}"
            slot = topic_slots.get(key)
            if slot is None:
                slot = topic_slots[key] = _TopicSlot(prefix)
            return slot

        rule_by_key: dict[str, int] = {}
        for number, context in enumerate(self._rules):
            for name in context.aliases:
                rule_by_key[normalize_alias(name)] = number
        for key, alias, actor in iter_alias_rows(registry):
            if alias.type == "name" and _one_word_with_diacritics(alias.text):
                continue
            rule = rule_by_key.get(key, 0) if (alias.ambiguous or key in rule_by_key) else -1
            texts = [alias.text]
            if alias.type == "demonym" and (plural := _plural(alias.text)) is not None:
                texts.append(plural)
            for text in texts:
                for pattern in _cased_forms(text, exact=alias.case == "exact"):
                    slot = actor_slot(pattern)
                    entry = (index[actor.id], alias.weight, rule, alias.text, alias.type in _PLACE_TYPES)
                    if entry not in slot.names:
                        slot.names.append(entry)
        surname_rule = self._rules.index(SURNAME_RULE)
        for actor in self._actors:
            alone = registry.distinctive_surnames.get(actor.id, ())
            for surname in actor.surnames:
                for pattern in _cased_forms(surname, exact=False):
                    slot = actor_slot(pattern)
                    if surname in alone and not slot.names:  # also a name, ambiguous by SURNAME_RULE
                        slot.names.append((index[actor.id], 1.0, surname_rule, surname, False))
                    if (index[actor.id], surname) not in slot.surnames:
                        slot.surnames.append((index[actor.id], surname))
        for number, context in enumerate(self._rules):
            for phrase in context.block:
                if phrase.endswith("*"):
                    raise ValueError(f"block phrase {phrase!r}: list every form, `*` is not supported")
                for pattern in _cased_forms(phrase, exact=False):
                    actor_slot(pattern).block = True
            for sign, phrases in ((1, context.support), (-1, context.against)):
                for phrase in phrases:
                    body, prefix = _split_prefix(phrase)
                    for pattern in _folded_forms(body):
                        topic_slot(pattern, prefix).cues.append((number, sign))
        for number, topic in enumerate(self._topics):
            for kind, text, weight in topic.rules():
                rule_id = len(self._topic_rules)
                self._topic_rules.append((number, f"/{text}/" if kind == "regex" else text, weight))
                if kind == "regex":
                    self._regexes.append((rule_id, re.compile(text)))
                elif kind == "exact":
                    if text.endswith("*"):
                        raise ValueError(f"topic {topic.id}: exact phrase {text!r} cannot be a prefix")
                    for pattern in _cased_forms(text, exact=True):
                        actor_slot(pattern).topic_rules.append(rule_id)
                else:
                    body, prefix = _split_prefix(text)
                    for pattern in _folded_forms(body):
                        topic_slot(pattern, prefix).topic_rules.append(rule_id)

        plain_names = {
            (index[actor.id], alias.text)
            for _, alias, actor in iter_alias_rows(registry)
            if alias.type in _NESTED_ALIAS_TYPES and actor.kind in _NESTED_KINDS
        }
        kinds = tuple(actor.kind for actor in self._actors)
        _find_nested_names(actor_slots, kinds, plain_names)
        self._actor_automaton = self._build_actor_automaton(actor_slots)
        self._topic_automaton = self._build_topic_automaton(topic_slots)
        self._rule_topic = tuple(topic for topic, _, _ in self._topic_rules)
        self._rule_weight = tuple(weight for _, _, weight in self._topic_rules)
        self._topic_info = tuple((topic.id, topic.label) for topic in self._topics)
        self._actor_info = tuple((a.id, a.name, a.kind, a.country) for a in self._actors)
        self._country_actors = frozenset(
            i for i, actor in enumerate(self._actors) if actor.kind in ("country", "territory")
        )
        self._ascii_tables = (
            self._actor_tables(self._actor_automaton, self._actor_automaton.ascii_table, ascii=True),
            self._topic_tables(self._topic_automaton, self._topic_automaton.ascii_table, ascii=True),
        )
        self._full_tables = (
            self._actor_tables(self._actor_automaton, self._actor_automaton.table, ascii=False),
            self._topic_tables(self._topic_automaton, self._topic_automaton.table, ascii=False),
        )
        self.patterns = len(self._actor_automaton.table) + len(self._topic_automaton.table)
        self._attach_native(native)
        self.build_seconds = time.perf_counter() - started

    def _attach_native(self, native: bool | None) -> None:
        """Build the compiled path's core (tagcore's), as `native` asks (see `__init__`)."""
        if native and NATIVE_ERROR:
            raise ImportError(f"Tagger(native=True): the tagcore extension is missing ({NATIVE_ERROR})")
        # A tagger from the cache brings the core's arguments along (see `from_files`): big, and
        # needed only here.
        args = self.__dict__.pop("_native_args", None)
        use = native is not False and not NATIVE_ERROR
        self._native: tagcore.Core[TagResult] | None = (
            tagcore.Core(*(args or self._native_core_args())) if use else None
        )
        self.native = self._native is not None  # which path `tag()` takes

    def __getstate__(self) -> dict[str, Any]:
        # The compiled core does not pickle: the copy's owner attaches one (see `from_files`).
        return {**self.__dict__, "_native": None, "native": False}

    @staticmethod
    def _actor_tables(
        automaton: _Automaton[_ActorPattern], table: tuple[_ActorPattern, ...], *, ascii: bool
    ) -> _ActorTables:
        actor = [pattern.actor for pattern in table]
        weight = [pattern.weight for pattern in table]
        via = [pattern.via for pattern in table]
        surname_entry: dict[tuple[int, str], int] = {}
        for pattern in table:
            for key in pattern.surnames:
                if key not in surname_entry:
                    surname_entry[key] = len(actor)
                    actor.append(key[0])
                    weight.append(1.0)
                    via.append(key[1])
        nested: dict[int, tuple[tuple[int, int, int], ...]] = {}
        nested_entry: dict[tuple[int, str, float], int] = {}
        for number, pattern in enumerate(table):
            for name in pattern.nested:
                if (name.actor, name.via, name.weight) not in nested_entry:
                    nested_entry[name.actor, name.via, name.weight] = len(actor)
                    actor.append(name.actor)
                    weight.append(name.weight)
                    via.append(name.via)
            if pattern.nested:
                nested[number] = tuple(
                    (name.start, name.end, nested_entry[name.actor, name.via, name.weight])
                    for name in pattern.nested
                )
        adjust = tuple((pattern.start_adjust, pattern.end_adjust) for pattern in table)
        return _ActorTables(
            search=automaton.finder(ascii=ascii),
            table=table,
            uniform=all(pair == (-1, -2) for pair in adjust),
            adjust=adjust,
            special=frozenset(n for n, pattern in enumerate(table) if pattern.kind != _PLAIN),
            actor=tuple(actor),
            weight=tuple(weight),
            via=tuple(via),
            surname_entry=surname_entry,
            nested=nested,
        )

    def _topic_tables(
        self,
        automaton: _Automaton[_TopicPattern],
        table: tuple[_TopicPattern, ...],
        *,
        ascii: bool,
    ) -> _TopicTables:
        rules = self._topic_rules
        return _TopicTables(
            search=automaton.finder(ascii=ascii),
            rules=tuple(pattern.topic_rules for pattern in table),
            cues=tuple(pattern.cues for pattern in table),
            evidence=tuple(
                (p.start_adjust, p.end_adjust, p.prefix, tuple(rules[r] for r in p.topic_rules))
                for p in table
            ),
            single_rule=tuple(
                p.topic_rules[0] if len(p.topic_rules) == 1 and not p.cues else -1 for p in table
            ),
            complex=frozenset(n for n, p in enumerate(table) if len(p.topic_rules) > 1 or p.cues),
            hidden=tuple(tuple(r for r in p.topic_rules if rules[r][1].islower()) for p in table),
            ascii=ascii,
        )

    @staticmethod
    def _build_actor_automaton(
        slots: dict[str, _ActorSlot],
    ) -> _Automaton[_ActorPattern]:
        keys: list[str] = []
        table: list[_ActorPattern] = []
        for pattern, slot in slots.items():
            # Padded after the name only: two names joined by one separator ("Russia-China") share
            # it, and a non-overlapping search could otherwise find only one of them. The space
            # before the name is checked in Python (`low[start] == " "`).
            if _UNSPACED.match(pattern):
                key, start_adjust, end_adjust = pattern, -1, -1
            else:
                key, start_adjust, end_adjust = f"{pattern} ", -1, -2
            actor, weight, rule, via, place = slot.names[0] if slot.names else (-1, 0.0, -1, "", False)
            if slot.block:
                role = _BLOCK
            elif slot.names:
                role = _NAME if rule < 0 else _AMBIGUOUS
            else:
                role = _SURNAME if slot.surnames else _NONE
            plain = (
                role == _NAME and not place and not slot.topic_rules and not slot.nested and end_adjust == -2
            )
            kind = _PLAIN if plain else _OTHER
            keys.append(key[::-1])  # the automaton reads the text backwards: see Tagger.tag
            table.append(
                _ActorPattern(
                    start_adjust, end_adjust, kind, role, actor, weight, rule, via, place,
                    tuple(slot.surnames), tuple(slot.topic_rules), slot.nested,
                )
            )  # fmt: skip
        return _Automaton(keys, tuple(table), ahocorasick_rs.MatchKind.LeftmostLongest)

    @staticmethod
    def _build_topic_automaton(
        slots: dict[str, _TopicSlot],
    ) -> _Automaton[_TopicPattern]:
        keys: list[str] = []
        table: list[_TopicPattern] = []
        for name, slot in slots.items():
            key, start_adjust, end_adjust = _padded(name.split("\x00")[0], slot.prefix)
            keys.append(key)
            table.append(
                _TopicPattern(
                    start_adjust, end_adjust, slot.prefix and start_adjust == 0,
                    tuple(slot.topic_rules), tuple(slot.cues),
                )
            )  # fmt: skip
        return _Automaton(keys, tuple(table), ahocorasick_rs.MatchKind.Standard)

    @classmethod
    def from_files(
        cls,
        actors_dir: str | Path = DEFAULT_FOLDER,
        topics_file: str | Path = DEFAULT_TOPICS_FILE,
        rules: Sequence[ContextRule] = CONTEXT_RULES,
        *,
        native: bool | None = None,
    ) -> Tagger:
        """Load the registry folder and the taxonomy file and build a tagger.

        The taxonomy is validated (raises `TaxonomyError`); the registry only has to load (its
        semantic validation is `wirewatch actors validate`): an unresolved shared alias simply
        resolves to nobody. The built tables are kept in the user cache folder, so the next process
        with the same files and code loads them instead (`pipelines.tagger_cache`).
        """
        started = time.perf_counter()

        def build() -> Tagger:
            taxonomy = load_taxonomy(topics_file)
            problems = validate_taxonomy(taxonomy)
            if problems:
                raise TaxonomyError(problems)
            tagger = cls(load_registry(actors_dir), taxonomy, rules, native=False)
            if not NATIVE_ERROR:
                # saved with the tables: rebuilding them would take half the time of a load
                tagger.__dict__["_native_args"] = tagger._native_core_args()
            return tagger

        tagger = tagger_cache.load_or_build(
            tagger_cache.cache_key(actors_dir, topics_file, rules), build, cls
        )
        tagger._attach_native(native)
        tagger.build_seconds = time.perf_counter() - started
        return tagger

    def _native_core_args(self) -> tuple[Any, ...]:
        """The arguments of `tagcore.Core`, the compiled per-article path: the flat tables built
        above (nothing is derived twice)."""
        codes: dict[str, int] = {}
        for actor in self._actors:
            if actor.country is not None:
                codes.setdefault(actor.country, len(codes))
        for rule in self._rules:
            for code in (*rule.support_countries, *rule.against_countries):
                codes.setdefault(code, len(codes))
        vias: dict[str, tuple[int, bool, bool]] = {}  # via -> (interned id, isupper, starts with "the ")
        for pattern in self._actor_automaton.table:
            if pattern.via not in vias:
                via = pattern.via
                vias[via] = (len(vias), via.isupper(), via.lower().startswith("the "))

        def flavour(actors: _ActorTables, topics: _TopicTables) -> tagcore.Flavour:
            # Sequences pass as they are (pyo3 reads any sequence into a Vec): ~40,000 rows a flavour.
            patterns = [
                (
                    p.start_adjust, p.end_adjust, number in actors.special, p.role, p.actor, p.rule,
                    (via := vias[p.via])[0], (p.place, via[1], via[2]),
                    [(actor, actors.surname_entry[actor, name]) for actor, name in p.surnames],
                    p.topic_rules,
                    actors.nested.get(number, ()),
                )
                for number, p in enumerate(actors.table)
            ]  # fmt: skip
            entries = list(zip(actors.actor, actors.weight, actors.via, strict=True))
            topic_patterns = [
                (start, end, prefix, list(rules), list(cues), single, number in topics.complex, list(hidden))
                for number, ((start, end, prefix, _), rules, cues, single, hidden) in enumerate(
                    zip(
                        topics.evidence,
                        topics.rules,
                        topics.cues,
                        topics.single_rule,
                        topics.hidden,
                        strict=True,
                    )
                )
            ]
            return (actors.uniform, patterns, entries, topic_patterns)

        topic_index = {topic.id: i for i, topic in enumerate(self._topics)}
        return (
            (Span, ActorTag, TopicTag, TagResult),
            (self.registry_version, self.taxonomy_version),
            [
                (
                    (a.id, a.name, a.kind, a.country),
                    codes[a.country] if a.country is not None else -1,
                    a.kind in _COUNTRY_KINDS,
                    i in self._country_actors,
                )
                for i, a in enumerate(self._actors)
            ],
            len(codes),
            [
                (t.id, t.id, t.label, t.threshold, parent)
                for t, parent in zip(self._topics, self._parents, strict=True)
            ],
            [(topic, via, via, weight) for topic, via, weight in self._topic_rules],
            [
                (
                    rule.default,
                    rule.name_neighbour,
                    [codes[c] for c in rule.support_countries],
                    [codes[c] for c in rule.against_countries],
                    sorted(support),
                )
                for rule, support in zip(self._rules, self._rule_support_actors, strict=True)
            ],
            topic_index.get(SPORT_TOPIC, -1),
            flavour(*self._ascii_tables),
            flavour(*self._full_tables),
            [
                sorted(words)
                for words in (
                    _LOCATIVE,
                    _PLACE_NOUNS,
                    _PLACE_OF,
                    _PLACE_MODIFIERS,
                    _STATE_NOUNS,
                    _STATE_VERBS,
                    _NOT_A_FIRST_NAME,
                    _FUNCTION_WORDS,
                    _FOLLOWING_OK,
                )
            ],
            (
                self._actor_automaton.keys,
                self._actor_automaton.kind,
                self._topic_automaton.keys,
                self._topic_automaton.kind,
            ),
        )

    # -- tagging ----------------------------------------------------------------------------------

    def tag(self, title: str, body: str) -> TagResult:
        """Tag one article; every offset points into `document_text(title, body)`."""
        text = f"{title}{SEPARATOR}{body}"
        if self._native is not None:
            # tagcore maps and searches the text too, with the same automata as below; only the
            # regexes run here. It leaves a text with a lone surrogate to this path.
            low = self._native.lowered(text)
            if low is not None:
                return self._native.tag_text(text, len(title), low, self._regex_hits(low, len(text)))
        data = _map_bytes(text)
        padded = b" " + data + b" "
        # ASCII once mapped: byte offsets are character offsets
        mapped = (padded[::-1], padded.lower()) if len(data) == len(text) else None

        # Actors. The automaton runs over the reversed text with reversed patterns, so its
        # leftmost-longest choice is, in reading order, "the match ending last, and of those the
        # longest": `North Korean` beats `the North` in "the North Korean leader", `Kim Jong Un` beats
        # `Kim`, `Washington Post` beats `Washington`. Overlaps are thus resolved in Rust.
        if mapped is not None:
            backwards_bytes, lowered = mapped
            actors, topics = self._ascii_tables
            low = lowered.decode("ascii")
            actor_hits = actors.search(backwards_bytes) if actors.search else []
            topic_hits = topics.search(lowered, overlapping=True) if topics.search else []
        else:
            actors, topics = self._full_tables
            low = padded.lower().decode("utf-8", "surrogatepass")
            backwards = padded.decode("utf-8", "surrogatepass")[::-1]
            actor_hits = actors.search(backwards) if actors.search else []
            topic_hits = topics.search(low, overlapping=True) if topics.search else []
        regex_hits = self._regex_hits(low, len(text))
        if self._native is not None:
            ascii_text = mapped is not None
            return self._native.tag(text, len(title), low, ascii_text, actor_hits, topic_hits, regex_hits)
        return self._tag_python(text, len(title), low, actors, topics, actor_hits, topic_hits, regex_hits)

    def _regex_hits(self, low: str, length: int) -> list[tuple[int, int, int]]:
        """(rule, start, end) of the topic regexes' matches in `low`, as text offsets (`length` long)."""
        hits: list[tuple[int, int, int]] = []
        for rule_id, regex in self._regexes:
            for match in regex.finditer(low):
                found = _NONSPACE.match(low, match.end())
                end = (found.end() if found else match.end()) - 1
                hits.append((rule_id, max(match.start() - 1, 0), min(end, length)))
        return hits

    def _tag_python(
        self,
        text: str,
        title_length: int,
        low: str,
        actors: _ActorTables,
        topics: _TopicTables,
        actor_hits: list[tuple[int, int, int]],
        topic_hits: list[tuple[int, int, int]],
        regex_hits: list[tuple[int, int, int]],
    ) -> TagResult:
        """`tag()` after the automata, in Python: the reference for `tagcore.Core.tag`."""
        body_start = title_length + len(SEPARATOR)
        length = len(text) + 2  # of the padded matching text
        # (start, end, entry): a hit at a word start, in reading order; `entry` indexes actors.actor etc.
        if actors.uniform:  # every pattern padded after and checked before: (-1, -2)
            hits = [
                (start, length - hit_start - 2, number)
                for number, hit_start, hit_end in reversed(actor_hits)
                if low[(start := length - hit_end - 1)] == " "  # not "Prussia" for "Russia"
            ]
        else:
            hits = []
            adjust = actors.adjust
            for number, hit_start, hit_end in reversed(actor_hits):
                start_adjust, end_adjust = adjust[number]
                start = length - hit_end + start_adjust
                if end_adjust == -2 and low[start] != " ":
                    continue
                hits.append((start, length - hit_start + end_adjust, number))

        cue_for: dict[int, int] = {}
        cue_against: dict[int, int] = {}
        rule_counts: dict[int, float] = {}  # rule -> hits (those hidden in names taken off)
        front: dict[int, list[int]] = {}  # rule -> [hits in the title, hits in the lead]
        hidden_hits: set[int] = set()  # indexes into topic_hits of the hits inside a name
        exact_topic_hits: list[tuple[int, int, int]] = []  # (rule, start, end)
        if topic_hits:
            self._count_topic_hits(
                text, topic_hits, topics, title_length, rule_counts, front, hidden_hits, cue_for, cue_against
            )
        special = actors.special
        if special.isdisjoint(map(_THIRD, hits)):
            accepted = hits
        else:
            accepted = self._resolve_others(
                text, body_start, hits, actors, cue_for, cue_against, exact_topic_hits
            )
        lead_end = body_start + TOPIC_LEAD_CHARS
        for rule_id, start, _ in (*exact_topic_hits, *regex_hits):
            rule_counts[rule_id] = rule_counts.get(rule_id, 0.0) + 1.0
            if start < lead_end:
                counts = front.get(rule_id)
                if counts is None:
                    counts = front[rule_id] = [0, 0]
                counts[start >= title_length] += 1

        topic_tags = (
            self._topic_tags(
                text,
                low,
                topic_hits,
                topics,
                exact_topic_hits,
                regex_hits,
                rule_counts,
                front,
                hidden_hits,
                len(text) - body_start,
            )
            if rule_counts
            else ()
        )
        if accepted and (
            "$" in text  # "US$ 20,000", "HK$": a currency, not the country
            or (topic_tags and _is_match_report(topic_tags))
        ):
            accepted = self._drop_non_states(text, accepted, actors, topic_tags)
        actor_tags = self._aggregate(text, body_start, accepted, actors) if accepted else ()
        countries: list[str] = []
        for tag in actor_tags:
            if tag[2] in _COUNTRY_KINDS and tag[3] is not None and tag[3] not in countries:
                countries.append(tag[3])
        return tuple.__new__(
            TagResult,
            (
                actor_tags,
                topic_tags,
                tuple([tag[0] for tag in actor_tags]),
                tuple([tag[1] for tag in actor_tags]),
                tuple(countries),
                tuple([tag[0] for tag in topic_tags]),
                self.registry_version,
                self.taxonomy_version,
            ),
        )

    @staticmethod
    def _count_topic_hits(
        text: str,
        hits: list[tuple[int, int, int]],
        tables: _TopicTables,
        title_length: int,
        rule_counts: dict[int, float],
        front: dict[int, list[int]],
        hidden_hits: set[int],
        cue_for: dict[int, int],
        cue_against: dict[int, int],
    ) -> None:
        """Count the hits of every topic rule and every context cue; note each rule's hits in the
        title and in the lead (`front`), and the body hits of lower-case phrases inside a longer
        capitalised name (`hidden_hits`), which do not count for those rules."""
        rules_of, cues_of = tables.rules, tables.cues
        # Nearly every pattern is one topic rule and no cue: those are counted in C.
        simple = Counter(map(tables.single_rule.__getitem__, map(_FIRST, hits)))
        simple.pop(-1, None)
        rule_counts.update(simple)
        numbers = tables.complex.intersection(map(_FIRST, hits))
        if numbers:
            get = rule_counts.get
            per_pattern = Counter(map(_FIRST, hits))
            for number in sorted(numbers):
                count = per_pattern[number]
                for rule_id in rules_of[number]:
                    rule_counts[rule_id] = get(rule_id, 0.0) + count
                for rule, sign in cues_of[number]:
                    counts = cue_for if sign > 0 else cue_against
                    counts[rule] = counts.get(rule, 0) + count
        title_end = title_length + 2  # a hit on the padded text ending here or before is in the title
        lead_end = title_end + len(SEPARATOR) + TOPIC_LEAD_CHARS  # ... in the lead
        hidden_of, evidence = tables.hidden, tables.evidence
        for index, (number, hit_start, hit_end) in enumerate(hits):  # reported in order of their end
            in_title = hit_end <= title_end
            hidden = hidden_of[number]
            if hidden:
                start = hit_start + evidence[number][0]
                if in_title or not (
                    text[start].isupper() and _in_name(text, start, hit_end + evidence[number][1])
                ):
                    hidden = ()
                else:
                    hidden_hits.add(index)
                    for rule_id in hidden:
                        rule_counts[rule_id] -= 1.0
            if hit_end <= lead_end:
                for rule_id in rules_of[number]:
                    if rule_id not in hidden:
                        seen = front.get(rule_id)
                        if seen is None:
                            seen = front[rule_id] = [0, 0]
                        seen[not in_title] += 1

    def _resolve_others(
        self,
        text: str,
        body_start: int,
        hits: list[tuple[int, int, int]],
        actors: _ActorTables,
        cue_for: dict[int, int],
        cue_against: dict[int, int],
        exact_topic_hits: list[tuple[int, int, int]],
    ) -> list[tuple[int, int, int]]:
        """Ambiguous names (context rules), surnames (a full name earlier) and case-exact topic hits.

        Returns the accepted mentions, (start, end, entry), in reading order.
        """
        special, table, entry_actor = actors.special, actors.table, actors.actor
        accepted = [hit for hit in hits if hit[2] not in special]
        ambiguous: list[tuple[int, int, int]] = []  # (start, end, pattern number)
        places: list[tuple[int, int, int]] = []  # capitals, accepted unless used as a place
        surnames: list[tuple[int, int, _ActorPattern]] = []
        unsorted = False
        for hit in [hit for hit in hits if hit[2] in special]:
            start, end, number = hit
            pattern = table[number]
            for rule_id in pattern.topic_rules:
                exact_topic_hits.append((rule_id, start, end))
            role = pattern.role
            if role == _SURNAME:
                surnames.append((start, end, pattern))
            elif role == _AMBIGUOUS:
                ambiguous.append(hit)
            elif role == _NAME:
                if pattern.place:
                    places.append(hit)
                else:
                    accepted.append(hit)
                    accepted.extend(
                        (start + a, start + b, entry) for a, b, entry in actors.nested.get(number, ())
                    )
                    unsorted = True
        if not ambiguous and not surnames and not places:
            if unsorted:
                accepted.sort()
            return accepted
        if places or any(table[number].place for _, _, number in ambiguous):
            place_use = _PlaceUse(text, body_start, accepted, entry_actor, table, (*places, *ambiguous))
            accepted.extend(hit for hit in places if not place_use.is_place(*hit))
            ambiguous = [hit for hit in ambiguous if not (table[hit[2]].place and place_use.is_place(*hit))]
        if ambiguous:
            actor_count: dict[int, int] = Counter([entry_actor[hit[2]] for hit in accepted])
            country_count: dict[str, int] = {}
            for actor, count in actor_count.items():
                code = self._actor_country[actor]
                if code is not None:
                    country_count[code] = country_count.get(code, 0) + count
            for start, end, number in ambiguous:
                pattern = table[number]
                if self._context_accepts(
                    text, body_start, start, end, pattern, actor_count, country_count, cue_for, cue_against
                ):
                    accepted.append((start, end, number))  # the entry of a pattern is its number
                elif pattern.surnames:
                    surnames.append((start, end, pattern))
        if surnames:
            full: dict[int, list[int]] = {}  # person -> starts of its accepted mentions (full names)
            for _, _, pattern in surnames:
                for actor, _ in pattern.surnames:
                    if actor not in full:
                        full[actor] = [start for start, _, entry in accepted if entry_actor[entry] == actor]
            for start, end, pattern in surnames:
                best, best_at, best_via = -1, -1, ""
                for actor, via in pattern.surnames:
                    seen = full.get(actor)
                    if not seen:
                        continue
                    if start < body_start:  # a headline surname: the full name anywhere will do
                        at = len(text) - min(seen)
                    else:
                        earlier = [s for s in seen if s < start]
                        if not earlier:
                            continue
                        at = max(earlier)
                    if at > best_at:
                        best, best_at, best_via = actor, at, via
                if best >= 0:
                    accepted.append((start, end, actors.surname_entry[best, best_via]))
        accepted.sort()
        return accepted

    def _context_accepts(
        self,
        text: str,
        body_start: int,
        start: int,
        end: int,
        pattern: _ActorPattern,
        actor_count: dict[int, int],
        country_count: dict[str, int],
        cue_for: dict[int, int],
        cue_against: dict[int, int],
    ) -> bool:
        actor, number = pattern.actor, pattern.rule
        rule = self._rules[number]
        if (
            start >= body_start
            and (rule.name_neighbour or pattern.via.isupper())
            and _in_longer_name(text, start, end)
        ):
            return False
        own = actor_count.get(actor, 0)
        support = cue_for.get(number, 0) + own
        code = self._actor_country[actor]
        if code is not None:
            support += country_count.get(code, 0) - own
        support += sum(country_count.get(c, 0) for c in rule.support_countries)
        support += sum(actor_count.get(a, 0) for a in self._rule_support_actors[number])
        against = cue_against.get(number, 0) + sum(country_count.get(c, 0) for c in rule.against_countries)
        return support > against or (support == against and rule.default)

    def _drop_non_states(
        self,
        text: str,
        accepted: list[tuple[int, int, int]],
        actors: _ActorTables,
        topic_tags: tuple[TopicTag, ...],
    ) -> list[tuple[int, int, int]]:
        """The mentions left once currencies ("US$") and, in a sport report, country names (teams:
        "Sweden defeated South Korea 1 - 0") are taken out."""
        kept = [hit for hit in accepted if text[hit[1] : hit[1] + 1] != "$"]
        if _is_match_report(topic_tags):
            entry_actor, countries = actors.actor, self._country_actors
            kept = [hit for hit in kept if entry_actor[hit[2]] not in countries]
        return kept

    def _aggregate(
        self, text: str, body_start: int, accepted: list[tuple[int, int, int]], actors: _ActorTables
    ) -> tuple[ActorTag, ...]:
        """One tag per actor from its mentions (in reading order): count, salience, confidence, spans."""
        lead_end = text.find("\n", body_start)
        lead_end = min(len(text) if lead_end < 0 else lead_end, body_start + LEAD_CHARS)
        entry_actor, entry_weight, entry_via = actors.actor, actors.weight, actors.via
        new = tuple.__new__  # a NamedTuple built without its Python-level __new__
        # Evidence: the first MAX_SPANS mentions of each actor, built as Spans; the rest are only counted.
        spans: dict[int, list[Span]] = {}
        get = spans.get
        for start, end, entry in accepted:
            actor = entry_actor[entry]
            found = get(actor)
            if found is None:
                spans[actor] = [
                    new(Span, (start, end, text[start:end], entry_via[entry], entry_weight[entry]))
                ]
            elif len(found) < MAX_SPANS:
                found.append(new(Span, (start, end, text[start:end], entry_via[entry], entry_weight[entry])))
        # Mentions, sum of weights and product of (1 - weight), per entry (alias) and then per actor.
        mentions = dict.fromkeys(spans, 0)
        total = dict.fromkeys(spans, 0.0)
        miss = dict.fromkeys(spans, 1.0)
        for entry, count in Counter(map(_THIRD, accepted)).items():
            actor, weight = entry_actor[entry], entry_weight[entry]
            mentions[actor] += count
            total[actor] += weight * count
            miss[actor] *= (1.0 - weight) ** count
        # The best weight in the title and in the lead (the mentions are in reading order).
        title_best: dict[int, float] = {}
        lead_best: dict[int, float] = {}
        for start, _, entry in accepted:
            if start >= lead_end:
                break
            best = title_best if start < body_start else lead_best
            actor, weight = entry_actor[entry], entry_weight[entry]
            if weight > best.get(actor, 0.0):
                best[actor] = weight
        exp = math.exp
        info = self._actor_info
        tags: list[tuple[float, int, str, ActorTag]] = []
        for actor in mentions:
            found = spans[actor]
            salience = round(
                SALIENCE_TITLE * title_best.get(actor, 0.0)
                + SALIENCE_LEAD * lead_best.get(actor, 0.0)
                + SALIENCE_FREQUENCY * (1.0 - exp(-total[actor] / FREQUENCY_SCALE)),
                4,
            )
            actor_id, name, kind, country = info[actor]
            tag = new(
                ActorTag,
                (
                    actor_id,
                    name,
                    kind,
                    country,
                    mentions[actor],
                    salience,
                    round(1.0 - miss[actor], 4),
                    tuple(found),
                ),
            )
            tags.append((-salience, found[0][0], actor_id, tag))
        tags.sort()
        return tuple([tag for _, _, _, tag in tags])

    def _topic_tags(
        self,
        text: str,
        low: str,
        topic_hits: list[tuple[int, int, int]],
        tables: _TopicTables,
        exact_topic_hits: list[tuple[int, int, int]],
        regex_hits: list[tuple[int, int, int]],
        rule_counts: dict[int, float],
        front: dict[int, list[int]],
        hidden_hits: set[int],
        body_length: int,
    ) -> tuple[TopicTag, ...]:
        """Score the topics with evidence; assign those at their threshold, and their parents.

        A rule adds weight * (TITLE_WEIGHT if it hit the title + `_repeat(body count)`), where
        the body count is its hits in the lead plus its later hits times `_rest_scale(body_length)`.
        In a whole article (see UNLED_MIN_CHARS) a topic whose title and lead hits weigh nothing net
        counts UNLED_FACTOR of that."""
        scale = _rest_scale(body_length)
        raw: dict[int, float] = {}
        front_raw: dict[int, float] = {}  # topic -> its rules' weights times their title and lead hits
        rule_topic, rule_weight = self._rule_topic, self._rule_weight
        for rule_id, count in rule_counts.items():
            title, lead = front.get(rule_id, _NO_FRONT)
            body = lead + (count - title - lead) * scale
            value = (
                body
                if body <= 1.0
                else 1.0 + REPEAT_STEP * ((body if body < REPEAT_CAP else REPEAT_CAP) - 1.0)
            )
            if title:
                value += TITLE_WEIGHT
            topic = rule_topic[rule_id]
            raw[topic] = raw.get(topic, 0.0) + rule_weight[rule_id] * value
            if title or lead:
                front_raw[topic] = front_raw.get(topic, 0.0) + rule_weight[rule_id] * (title + lead)
        if body_length > UNLED_MIN_CHARS:
            for topic in raw:
                if front_raw.get(topic, 0.0) <= 0.0:
                    raw[topic] *= UNLED_FACTOR
        assigned: dict[int, float] = {}
        thresholds, parents = self._thresholds, self._parents
        exp = math.exp
        for topic, value in raw.items():
            score = 1.0 - exp(-value) if value > 0.0 else 0.0  # topic_score(value), inlined
            if score >= thresholds[topic]:
                assigned[topic] = max(score, assigned.get(topic, 0.0))
                parent = parents[topic]
                while parent >= 0:  # a parent is assigned with its child, at least at the child's score
                    assigned[parent] = max(
                        assigned.get(parent, 0.0), score, topic_score(raw.get(parent, 0.0))
                    )
                    parent = parents[parent]
        if not assigned:
            return ()
        spans: dict[int, list[Span]] = {topic: [] for topic in assigned}
        get = spans.get
        evidence = tables.evidence
        ascii_low = tables.ascii
        find = low.find
        new = tuple.__new__  # a NamedTuple built without its Python-level __new__
        hidden_of = tables.hidden
        for index, (number, hit_start, hit_end) in enumerate(topic_hits):
            start_adjust, end_adjust, prefix, items = evidence[number]
            end = hit_end + end_adjust
            if prefix:  # extend the evidence to the end of the word
                if ascii_low:  # the only separator left in an ASCII matching text is the space
                    end = find(" ", end + 1) - 1
                else:
                    found = _NONSPACE.match(low, end + 1)
                    end = found.end() - 1 if found else end
            start = hit_start + start_adjust
            hidden = hidden_of[number] if index in hidden_hits else ()
            for rule_id, (topic, via, weight) in zip(tables.rules[number], items, strict=True):
                found_spans = get(topic)
                if found_spans is not None and rule_id not in hidden:
                    found_spans.append(new(Span, (start, end, text[start:end], via, weight)))
        for rule_id, start, end in (*exact_topic_hits, *regex_hits):
            topic, via, weight = self._topic_rules[rule_id]
            if topic in spans:
                spans[topic].append(new(Span, (start, end, text[start:end], via, weight)))
        info = self._topic_info
        ordered = sorted([(-round(score, 4), info[topic][0], topic) for topic, score in assigned.items()])
        tags: list[TopicTag] = []
        for score, topic_id, topic in ordered:
            found_spans = spans[topic]
            found_spans.sort()
            evidence_spans = (
                tuple(found_spans) if len(found_spans) <= MAX_SPANS else tuple(found_spans[:MAX_SPANS])
            )
            tags.append(new(TopicTag, (topic_id, info[topic][1], -score, evidence_spans)))
        return tuple(tags)


# Aliases that name a place standing for the state: a capital (Kabul) or a building (the Pentagon).
_PLACE_TYPES = ("capital", "metonym")
# Such a place named right after these words is a place: "in Kabul", "at the Pentagon".
_LOCATIVE = frozenset("in at near outside around downtown inside across within throughout".split())
# ... or right before these: "an Ottawa street", "Washington airport", "the Taipei lantern festival",
# and events named after where they were held: "last year's London conference", "the Minsk accords".
_PLACE_NOUNS = frozenset(
    "street streets road roads airport airports city suburb suburbs district districts residents resident "
    "mayor hotel hotels stadium station metro subway zoo skyline neighbourhood neighborhood apartment "
    "apartments marathon festival lantern office offices bureau correspondent hospital university "
    "conference conferences summit talks accord accords agreement agreements treaty protocol declaration "
    "forum meeting attack attacks bombing bombings".split()
)
# ... or after "<one of these> of": "the Karrada district of Baghdad", "south of Baghdad".
_PLACE_OF = frozenset(
    "north south east west northeast northwest southeast southwest outskirts centre center heart edge "
    "streets city district districts suburb suburbs area areas part parts residents mayor province "
    "region".split()
)
# ... or after a locative and one of these: "in both Vienna and Riyadh", "in northern Baghdad".
_PLACE_MODIFIERS = frozenset("both either central northern southern eastern western".split())
# After a place at a paragraph's start, the marks of a dateline: "BAGHDAD –", "Moscow (Reuters) -".
_DATELINE_MARKS = (" (", " –", " —", " -")
# "the Pyongyang regime" and "the Beijing government" still mean the state ("the Beijing Olympics" not).
_STATE_NOUNS = frozenset(
    "government regime leadership administration authorities establishment side delegation officials".split()
)
# ... unless these follow: "officials in Pyongyang said" speaks for the state.
_STATE_VERBS = frozenset(
    "said says say announced announces warned warns accused accuses denied denies rejected rejects "
    "responded responds condemned condemns insisted insists claimed claims vowed vows urged urges "
    "confirmed confirms declared declares threatened threatens".split()
)
# Capitalized words that may stand before a capital without making "<word> <capital>" a person.
_NOT_A_FIRST_NAME = _FUNCTION_WORDS | frozenset(
    "Downtown Greater Old East West North South Meanwhile Today Yesterday Earlier Later Then Now Still "
    "Yet So Thus Both Official".split()
)


def _word_before(text: str, start: int) -> str:
    """The word directly before `text[start]`, separated by one space ("" if anything else)."""
    if start < 2 or text[start - 1] != " " or not text[start - 2].isalpha():
        return ""
    word_start = start - 2
    while word_start > 0 and text[word_start - 1].isalpha():
        word_start -= 1
    return text[word_start : start - 1]


def _word_after(text: str, end: int) -> str:
    """The word directly after `text[end - 1]`, separated by one space ("" if anything else)."""
    if end + 1 >= len(text) or text[end] != " ":
        return ""
    word_end = end + 1
    while word_end < len(text) and text[word_end].isalpha():
        word_end += 1
    return text[end + 1 : word_end]


class _PlaceUse:
    """Tells a capital or building used as the state ("Pyongyang fired", "talks between Pyongyang
    and Washington", "the Pentagon said") from one used as a place, not tagged as the country:
    - after a locative word or before a place noun: "in Kabul", "at the Pentagon", "an Ottawa
      street", "the London conference" (but "officials in Pyongyang said");
    - the dateline at a paragraph's start: "BAGHDAD –", "Moscow (Reuters) -", "WASHINGTON, Feb 3";
    - after "<direction or place noun> of" or "<locative> <modifier>": "the Karrada district of
      Baghdad", "south of Baghdad", "in both Vienna and Riyadh";
    - attributive after "the": "the Taipei lantern festival" (but "the Pyongyang regime");
    - qualified by a place or qualifying its country: "Seattle, Washington", "Taipei, Taiwan";
    - part of a longer proper name in the body: "Washington Dulles", "Taipei City";
    - a person's surname: once "Valeska Paris" appears, no bare "Paris" of that article is France.
    """

    def __init__(
        self,
        text: str,
        body_start: int,
        accepted: list[tuple[int, int, int]],
        entry_actor: tuple[int, ...],
        table: tuple[_ActorPattern, ...],
        candidates: Iterable[tuple[int, int, int]],
    ) -> None:
        self._text, self._body_start, self._table = text, body_start, table
        candidates = list(candidates)
        self._actor_at = {start: entry_actor[entry] for start, _, entry in accepted}
        # Where any actor name ends: "Beijing, Moscow and Tehran" is a list, not "Seattle, Washington".
        self._mention_ends = {end for _, end, _ in accepted} | {end for _, end, _ in candidates}
        self._surnames = {
            table[number].via
            for start, _, number in candidates
            if table[number].place
            and start >= body_start
            and (word := _word_before(text, start))[:1].isupper()
            and word not in _NOT_A_FIRST_NAME
            and start - 1 not in self._mention_ends
        }

    def is_place(self, start: int, end: int, number: int) -> bool:
        text, pattern = self._text, self._table[number]
        if pattern.via in self._surnames:
            return True
        before, after = _word_before(text, start), _word_after(text, end).lower()
        if after in _STATE_VERBS:
            return False
        if before.lower() in _LOCATIVE or after in _PLACE_NOUNS or self._dateline(start, end):
            return True
        if (lowered := before.lower()) == "of" or lowered in _PLACE_MODIFIERS:
            earlier = _word_before(text, start - 1 - len(before)).lower()
            if earlier in (_PLACE_OF if lowered == "of" else _LOCATIVE):
                return True
        if (
            before.lower() == "the"
            and not pattern.via.lower().startswith("the ")
            and after not in _STATE_NOUNS
        ):
            return True
        if text.startswith(", ", end) and self._actor_at.get(end + 2) == pattern.actor:
            return True  # "Taipei, Taiwan"
        if (
            start >= 3
            and text[start - 2 : start] == ", "
            and text[start - 3].isalpha()
            and start - 2 not in self._mention_ends
        ):
            head = start - 3
            while head > 0 and text[head - 1].isalpha():
                head -= 1
            if text[head].isupper():
                return True  # "Seattle, Washington"
        return start >= self._body_start and _in_longer_name(text, start, end)

    def _dateline(self, start: int, end: int) -> bool:
        """The place at a body paragraph's start where the report was filed."""
        text = self._text
        if start < self._body_start or (start > 0 and text[start - 1] != "\n"):
            return False
        return text.startswith(_DATELINE_MARKS, end) or (
            text[start:end].isupper() and text.startswith((",", ":"), end)
        )


def _in_longer_name(text: str, start: int, end: int) -> bool:
    """True when the word before or after [start, end) is a capitalized word joined by one space.

    `Chad Smith`, `Michael Jordan`: a personal (or other proper) name, not the country. Function
    words (`In Jordan`), titles after the name (`Jordan King Abdullah`) and, for an all-caps alias
    such as `IS`, all-caps neighbours (`WHAT IS THIS`) are handled: the latter is a shouted headline.
    """
    shout = text[start:end].isupper() and end - start <= 3
    if start >= 2 and text[start - 1] == " " and text[start - 2].isalpha():
        word_start = max(text.rfind(" ", 0, start - 1), text.rfind("\n", 0, start - 1)) + 1
        word = text[word_start : start - 1]
        if shout and len(word) > 1 and word.isupper():
            return True
        if not shout and word[:1].isupper() and word not in _FUNCTION_WORDS:
            return True
    if end + 1 < len(text) and text[end] == " " and text[end + 1].isalpha():
        word_end = end + 1
        while word_end < len(text) and text[word_end].isalpha():
            word_end += 1
        word = text[end + 1 : word_end]
        if shout and len(word) > 1 and word.isupper():
            return True
        if not shout and word[:1].isupper() and word not in _FOLLOWING_OK:
            return True
    return False


# --- a quick benchmark: python -m pipelines.tag_match [--articles N] ------------------------------


def synthetic_articles(
    registry: Registry, count: int, size: int = 3000, seed: int = 7, corpus: Sequence[str] = ()
) -> list[tuple[str, str]]:
    """`count` (title, body) pairs of about `size` characters of news-like English.

    Sentences are drawn from `corpus` (default: the repository's seed articles) with their actor
    names swapped for random registry names (persons for persons, countries for countries), so the
    density of names and topic phrases stays that of real wire copy while the actors vary.
    """
    import random

    rng = random.Random(seed)
    if not corpus:
        folder = Path(__file__).resolve().parent.parent / "seeds"
        corpus = [
            path.read_text(encoding="utf-8").split("\n", 1)[-1] for path in sorted(folder.glob("*.txt"))
        ]
    sentences = [s.strip() for text in corpus for s in re.split(r"(?<=[.!?])\s+", text) if s.strip()]
    persons = sorted(a.name for a in registry.actors if a.kind == "person" and a.name.isascii())
    countries = sorted(a.name for a in registry.actors if a.kind == "country" and a.name.isascii())
    swaps = (
        ("Kim Jong Un", persons), ("Vladimir Putin", persons), ("North Korea", countries),
        ("Russia", countries), ("China", countries), ("Ukraine", countries),
    )  # fmt: skip
    articles = []
    for _ in range(count):
        cast = {name: rng.choice(pool) for name, pool in swaps}
        parts: list[str] = []
        length = 0
        while length < size:
            sentence = rng.choice(sentences)
            for name, replacement in cast.items():
                sentence = sentence.replace(name, replacement)
            parts.append(sentence + ("\n\n" if rng.random() < 0.2 else " "))
            length += len(sentence) + 1
        body = "".join(parts).strip()
        articles.append((body.split(". ", 1)[0][:120], body))
    return articles


def _rss_kib() -> int:
    try:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * 4
    except OSError:  # pragma: no cover - not Linux
        return 0


def _bench(argv: Iterable[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--articles", type=int, default=20000)
    parser.add_argument("--size", type=int, default=3000)
    parser.add_argument("--python", action="store_true", help="time the Python path (native=False)")
    args = parser.parse_args(list(argv) if argv is not None else None)
    rss_before = _rss_kib()
    started = time.perf_counter()
    tagger = Tagger.from_files(native=False if args.python else None)
    loaded = time.perf_counter() - started
    rss_after = _rss_kib()
    articles = synthetic_articles(tagger.registry, args.articles, args.size)
    chars = sum(len(t) + len(b) + 2 for t, b in articles)
    started = time.perf_counter()
    actor_tags = topic_tags = 0
    for title, body in articles:
        result = tagger.tag(title, body)
        actor_tags += len(result.actors)
        topic_tags += len(result.topics)
    elapsed = time.perf_counter() - started
    print(
        f"registry {tagger.registry_version}: {len(tagger.registry.actors)} actors, "
        f"{tagger.patterns} patterns; load+build {loaded:.3f} s (build {tagger.build_seconds:.3f} s), "
        f"RSS +{(rss_after - rss_before) / 1024:.1f} MiB"
    )
    print(
        f"{len(articles)} articles of {chars / len(articles):.0f} chars: {elapsed:.2f} s, "
        f"{len(articles) / elapsed:,.0f} articles/s on one core "
        f"({'compiled path, tagcore' if tagger.native else 'Python path'}); "
        f"{actor_tags / len(articles):.1f} actors and {topic_tags / len(articles):.1f} topics per article"
    )


if __name__ == "__main__":
    _bench()


__all__ = [
    "CONTEXT_RULES",
    "ActorTag",
    "ContextRule",
    "Span",
    "TagResult",
    "Tagger",
    "TopicTag",
    "document_text",
    "matching_text",
    "synthetic_articles",
    "topic_score",
]
