"""Which persons' surnames may stand alone: "Putin warns Europe", "Lavrov met Wang Yi in Beijing".

A person's `surnames` normally count only after the full name appeared in the same article, because
most surnames are shared: "Kim", "Johnson", "Lee". A surname is *distinctive*, and then names its
person anywhere, when the data says nobody else is meant by it:

- unique in the registry: no other actor has it as a surname, an alias or a word of an alias
  ("Paris" is France's capital, "Jordan" a country, "Boko" a word of "Boko Haram"), persons out of
  the news (below) aside;
- not a frequent name: outside the 1,000 most frequent surnames and the 500 most frequent given
  names (of either sex) of the US Census 1990 name lists;
- not a common English word: its lower-case form is not in SCOWL's size-35 word list ("trump",
  "xi" and "field" are);
- still in the news: a person whose every role ended more than `IN_THE_NEWS_YEARS` before the
  registry's version is history ("Meta" is no longer Albania's president but a company);
- holding an office: a seat in a legislature is no office here. A member of a legislature with no
  office is one of tens of thousands (the registry lists whole chambers): their surname never stands
  alone, and they do not count against an office holder's ("Rutte" alone is Mark Rutte, although a
  Dutch MP of 2015 was Arno Rutte). Their surnames still name them after their full name.

The name and word lists come from `sources/surnames.csv`, one row per Latin-script surname the registry
declares, written by `python -m pipelines.actors_surnames --extract` (see its docstring for where
the lists come from); a surname is looked up without its diacritics (Sánchez as SANCHEZ). A surname
in another script (Путин) is judged by uniqueness alone. The lists cannot know how news uses a word:
`registry.yaml` may pass a surname they reject as a reviewed decision with its reason
(`surnames_alone`: "xi" is a Greek letter, no word of news text, so Xi alone is Xi Jinping);
uniqueness still applies.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from schemas.actors import Actor

EVIDENCE_FILE = Path("sources") / "surnames.csv"
EVIDENCE_COLUMNS = ("surname", "surname_rank", "given_rank", "english_word")
FREQUENT_SURNAME_RANK = 1000  # of 88,799 Census 1990 surnames: Johnson 2, Sanders 75, Carney 956
FREQUENT_GIVEN_RANK = 500  # of 1,219 male and 4,275 female given names: Kim 397, Vance 576
IN_THE_NEWS_YEARS = 4

_LATIN_WORD = re.compile(r"^[A-Za-z\u00c0-\u024f'’.-]+$")
_NAME_WORDS = re.compile(r"[\w'’]+")


class Evidence(NamedTuple):
    """What the name and word lists say of one surname (a rank of 0: not in that list)."""

    surname_rank: int
    given_rank: int
    english_word: bool

    @property
    def frequent_or_common(self) -> bool:
        return (
            0 < self.surname_rank <= FREQUENT_SURNAME_RANK
            or 0 < self.given_rank <= FREQUENT_GIVEN_RANK
            or self.english_word
        )


def is_latin(surname: str) -> bool:
    """Surnames the name and word lists can speak for (the rest are judged by uniqueness alone)."""
    return bool(_LATIN_WORD.match(surname))


def read_evidence(path: Path) -> dict[str, Evidence]:
    """surname -> its evidence; {} when the file is absent (then no Latin surname is distinctive)."""
    if not path.is_file():
        return {}
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        if tuple(reader.fieldnames or ()) != EVIDENCE_COLUMNS:
            raise ValueError(f"{path}: expected columns {','.join(EVIDENCE_COLUMNS)}")
        return {
            row["surname"]: Evidence(
                int(row["surname_rank"] or 0), int(row["given_rank"] or 0), row["english_word"] == "1"
            )
            for row in reader
        }


def declared_latin_surnames(actors: Iterable[Actor]) -> set[str]:
    """Every Latin-script surname the registry declares: the rows the evidence file must hold."""
    return {surname for actor in actors for surname in actor.surnames if is_latin(surname)}


def in_the_news(actor: Actor, as_of: date) -> bool:
    """An office (not a seat in a legislature) open or ended within `IN_THE_NEWS_YEARS` of `as_of`
    (or no roles: nothing says not)."""
    if not actor.roles:
        return True
    since = as_of.replace(year=as_of.year - IN_THE_NEWS_YEARS, day=min(as_of.day, 28))
    ends = [role.bounds()[1] for role in actor.roles if not role.seat]
    return any(end is None or end >= since for end in ends)


def distinctive_surnames(
    actors: Iterable[Actor],
    evidence: Mapping[str, Evidence],
    normalize: Callable[[str], str],
    as_of: date,
    reviewed: Iterable[str] = (),
) -> dict[str, tuple[str, ...]]:
    """actor id -> its distinctive surnames (only actors that have one). `reviewed` surnames skip
    the name and word lists."""
    actors = tuple(actors)
    passed = set(reviewed)
    # How many actors use each key: as a surname, an alias or a word of an alias. A person out of
    # the news does not count: "Assad" alone is Bashar al-Assad now, not his father; nor does one
    # with only a seat in a legislature (`in_the_news` counts offices only).
    users: Counter[str] = Counter()
    for actor in actors:
        if actor.kind == "person" and not in_the_news(actor, as_of):
            continue
        keys = {normalize(surname) for surname in actor.surnames}
        for alias in actor.all_aliases:
            keys.add(alias.key)
            keys.update(normalize(word) for word in _NAME_WORDS.findall(alias.text))
        users.update(keys)
    found: dict[str, tuple[str, ...]] = {}
    for actor in actors:
        if not actor.surnames or not in_the_news(actor, as_of):
            continue
        kept = []
        for surname in actor.surnames:
            if users[normalize(surname)] != 1:
                continue
            if is_latin(surname) and surname not in passed:
                facts = evidence.get(surname)
                if facts is None or facts.frequent_or_common:
                    continue
            kept.append(surname)
        if kept:
            found[actor.id] = tuple(kept)
    return found
