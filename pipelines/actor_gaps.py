"""`wirewatch actors gaps`: the names the stored articles mention most that no actor covers.

The registry grows from what analysts read; this shows what to add next. A name-like mention is a
run of capitalised words in an article's title or body, with the lower-case particles of names
between them ("Bashar al-Assad", "Bank of England", "Kurdistan Regional Government"; a leading
"The" is dropped). It counts as a gap when no actor's evidence in that article covers it and its
key (`normalize_alias`) is no alias, name or surname in the registry. Skipped: one capitalised word
that starts a sentence (every sentence starts with one), capitalised function words, weekdays and
months. Copies (`duplicate_of` set) are skipped so syndicated text counts once.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from schemas.actors import Registry, normalize_alias
from schemas.text import ABBREVIATIONS

# A word: a letter, then letters, digits and inner apostrophes, hyphens or dots (al-Assad, O'Brien,
# U.S); a possessive 's is cut off below.
_WORD = re.compile(r"[^\W\d_](?:[\w'’.\-]*\w)?")
_POSSESSIVE = re.compile(r"['’]s$")
# What ends the text before a word that starts a sentence: end punctuation (and closing quotes)
# then space, or a line break; opening quotes may follow.
_SENTENCE_BEFORE = re.compile(r"(?:^|(\S*)[.!?:]['\"’”)\]]*\s+|\n\s*)[\"“‘'(\[]*$")
# Lower-case words that sit inside names: "Bank of England", "Bashar al Assad", "Ursula von der Leyen".
_PARTICLES = frozenset(
    "of for de del della der den di da do dos du van von bin bint ibn al el la le ul".split()
)
# Capitalised words that are no names by themselves: function words, titles, days, months and the
# adverbs and nouns that open sentences ("Later Zorblat Quennik said" names Zorblat Quennik).
_NOT_NAMES = frozenset(
    """a an the this that these those it its he she they we i you his her their our my your there
    here but and or nor if so yet in on at for from by with as to of after before while when where
    what who whom whose why how all some many most more other such no not any each every both
    one two three mr mrs ms dr prof sir lord president minister prime general secretary chief
    gen col lt maj capt sgt adm gov sen rep
    monday tuesday wednesday thursday friday saturday sunday january february march april may june
    july august september october november december today yesterday tomorrow
    later earlier meanwhile however also then now still again instead despite although though
    because since until during under over about against among between through without within
    according last next new former senior top officials""".split()
)
CONTEXT_CHARS = 60  # on each side of an example mention


@dataclass
class Gap:
    """One name the registry does not know, over all the articles scanned."""

    key: str
    mentions: int = 0
    article_ids: set[str] = field(default_factory=set)
    forms: Counter[str] = field(default_factory=Counter)
    examples: list[tuple[str, str]] = field(default_factory=list)  # (article id, context)

    @property
    def name(self) -> str:
        """The spelling seen most often (the first seen among equals)."""
        return self.forms.most_common(1)[0][0]

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "mentions": self.mentions,
            "articles": len(self.article_ids),
            "spellings": [form for form, _ in self.forms.most_common()],
            "examples": [{"article_id": article, "context": context} for article, context in self.examples],
        }


def registry_keys(registry: Registry) -> frozenset[str]:
    """Every alias, name and surname of the registry, as `normalize_alias` keys."""
    keys = set(registry.alias_owner)
    for actor in registry.actors:
        keys.add(normalize_alias(actor.name))
        keys.update(normalize_alias(surname) for surname in actor.surnames)
    return frozenset(keys)


def _capitalised(word: str) -> bool:
    """A capitalised word, or a name that starts with a particle: al-Assad, el-Sisi, bin-Laden."""
    if word[0].isupper():
        return True
    particle, dash, rest = word.partition("-")
    return bool(dash) and particle in _PARTICLES and rest[:1].isupper()


def _starts_sentence(text: str, start: int) -> bool:
    # `^` matches only where the text starts, not where the search window does. A period after an
    # abbreviation ("Gen. Smith", "Mr. Kim") ends no sentence.
    found = _SENTENCE_BEFORE.search(text, max(0, start - 12), start)
    return found is not None and (found.group(1) or "").lower().lstrip("(\"“‘'") not in ABBREVIATIONS


def name_mentions(text: str) -> Iterator[tuple[int, int]]:
    """(start, end) of every name-like run of capitalised words in `text` (see the module doc)."""
    words = [(m.start(), m.end()) for m in _WORD.finditer(text)]
    i = 0
    while i < len(words):
        start, end = words[i]
        if not _capitalised(text[start:end]):
            i += 1
            continue
        run = [i]
        j = i + 1
        while j < len(words):
            gap = text[words[j - 1][1] : words[j][0]]
            if gap not in (" ", "-"):
                break
            word = text[words[j][0] : words[j][1]]
            if _capitalised(word):
                run.append(j)
                j += 1
                continue
            # a particle joins only when a capitalised word follows it ("Bank of England")
            if (
                word in _PARTICLES
                and j + 1 < len(words)
                and text[words[j][1] : words[j + 1][0]] in (" ", "-")
            ):
                following = text[words[j + 1][0] : words[j + 1][1]]
                if _capitalised(following):
                    run += [j, j + 1]
                    j += 2
                    continue
            break
        i = j
        opens_sentence = _starts_sentence(text, start)
        # Leading function words and titles ("The", "But", "President") are no part of the name.
        while run and text[words[run[0]][0] : words[run[0]][1]].lower() in _NOT_NAMES:
            run.pop(0)
        # One word left of a run that opened a sentence may be capitalised only for that.
        if not run or (len(run) == 1 and opens_sentence):
            continue
        yield words[run[0]][0], words[run[-1]][1]


def _covered(spans: list[tuple[int, int]], start: int, end: int) -> bool:
    return any(s < end and start < e for s, e in spans)


def _context(text: str, start: int, end: int) -> str:
    left = max(0, start - CONTEXT_CHARS)
    right = min(len(text), end + CONTEXT_CHARS)
    snippet = " ".join(text[left:right].split())
    return ("…" if left else "") + snippet + ("…" if right < len(text) else "")


def find_gaps(
    docs: Iterable[Mapping[str, Any]],
    known: frozenset[str],
    *,
    examples: int = 2,
    progress: Callable[[int], None] | None = None,
) -> tuple[list[Gap], int]:
    """The gaps in `docs` (stored article documents), most mentioned first, and how many articles
    were scanned. `progress(n)` is called every 1,000 articles."""
    gaps: dict[str, Gap] = {}
    scanned = 0
    for doc in docs:
        if doc.get("duplicate_of"):
            continue
        scanned += 1
        if progress is not None and scanned % 1000 == 0:
            progress(scanned)
        title, body = doc.get("title") or "", doc.get("body") or ""
        text = f"{title}\n\n{body}"
        spans = [
            (int(span["start"]), int(span["end"]))
            for actor in doc.get("actors") or ()
            for span in actor.get("evidence") or ()
        ]
        article_id = str(doc.get("id", ""))
        for start, end in name_mentions(text):
            if _covered(spans, start, end):
                continue
            surface = _POSSESSIVE.sub("", text[start:end])
            key = normalize_alias(surface)
            if not key or key in known:
                continue
            gap = gaps.get(key)
            if gap is None:
                gap = gaps[key] = Gap(key)
            gap.mentions += 1
            gap.forms[surface] += 1
            if article_id not in gap.article_ids and len(gap.examples) < examples:
                gap.examples.append((article_id, _context(text, start, end)))
            gap.article_ids.add(article_id)
    ranked = sorted(gaps.values(), key=lambda g: (-len(g.article_ids), -g.mentions, g.key))
    return ranked, scanned
