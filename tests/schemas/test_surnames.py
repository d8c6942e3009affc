"""Which surnames stand alone (issue 16, item 2): unique in the registry, not a frequent name, not a
common English word, the person still in the news; and the evidence file covers the registry."""

from __future__ import annotations

from datetime import date

import pytest

from schemas.actors import Actor, load_registry, normalize_alias, validate_registry
from schemas.surnames import Evidence, declared_latin_surnames, distinctive_surnames

AS_OF = date(2026, 12, 7)
RARE = Evidence(surname_rank=0, given_rank=0, english_word=False)


def person(qid: str, name: str, surnames: list[str], end: str | None = None, **extra: object) -> Actor:
    role = {"title": "Minister", "start": "2010-01-01", "end": end}
    return Actor.model_validate(
        {"id": qid, "kind": "person", "name": name, "source": "test", "surnames": surnames, "roles": [role]}
        | extra
    )


def country(qid: str, name: str, aliases: list[str]) -> Actor:
    return Actor.model_validate(
        {"id": qid, "kind": "country", "name": name, "country": "AAA", "aliases": aliases}
    )


def distinctive(*actors: Actor, evidence: dict[str, Evidence] | None = None) -> dict[str, tuple[str, ...]]:
    facts = evidence if evidence is not None else dict.fromkeys(declared_latin_surnames(actors), RARE)
    return distinctive_surnames(actors, facts, normalize_alias, AS_OF)


def test_a_unique_rare_surname_of_a_person_in_office_is_distinctive():
    assert distinctive(person("Q1", "Sergey Lavrov", ["Lavrov"])) == {"Q1": ("Lavrov",)}


def test_a_surname_two_persons_share_is_not():
    assert distinctive(person("Q1", "Kim Jong Un", ["Kim"]), person("Q2", "Kim Yo Jong", ["Kim"])) == {}


def test_a_surname_that_is_a_word_of_another_persons_name_is_not():
    assert distinctive(person("Q1", "Gustavo Petro", ["Petro"]), person("Q2", "Petro Poroshenko", [])) == {}


@pytest.mark.parametrize(
    ("surname", "other"),
    [("Paris", country("Q142", "France", ["Paris"])), ("Boko", country("Q9", "Boko Haram", []))],
)
def test_a_surname_another_actor_uses_as_an_alias_or_a_word_of_one_is_not(surname: str, other: Actor):
    assert distinctive(person("Q1", f"Ann {surname}", [surname]), other) == {}


@pytest.mark.parametrize(
    ("evidence", "why"),
    [
        (Evidence(surname_rank=2, given_rank=1128, english_word=False), "Johnson: a frequent surname"),
        (Evidence(surname_rank=233, given_rank=397, english_word=False), "Kim: a frequent given name"),
        (Evidence(surname_rank=0, given_rank=397, english_word=False), "a frequent given name only"),
        (Evidence(surname_rank=8608, given_rank=0, english_word=True), "Trump: an English word"),
    ],
)
def test_a_frequent_name_or_an_english_word_is_not(evidence: Evidence, why: str):
    assert distinctive(person("Q1", "Ann Smithers", ["Smithers"]), evidence={"Smithers": evidence}) == {}, why


def test_the_limits_are_inclusive_and_a_rank_beyond_them_passes():
    beyond = Evidence(surname_rank=1001, given_rank=501, english_word=False)
    assert distinctive(person("Q1", "Ann Carneyx", ["Carneyx"]), evidence={"Carneyx": beyond}) == {
        "Q1": ("Carneyx",)
    }
    at = Evidence(surname_rank=1000, given_rank=0, english_word=False)
    assert distinctive(person("Q1", "Ann Carneyx", ["Carneyx"]), evidence={"Carneyx": at}) == {}


def test_a_latin_surname_without_evidence_is_not_and_another_script_needs_none():
    putin = person("Q7747", "Vladimir Putin", ["Putin", "Путин"])
    assert distinctive(putin, evidence={}) == {"Q7747": ("Путин",)}


def test_a_person_out_of_office_for_years_is_history():
    assert distinctive(person("Q1", "Ilir Meta", ["Meta"], end="2022-07-24")) == {}
    assert distinctive(person("Q1", "Ilir Meta", ["Meta"], end="2023-01-01")) == {"Q1": ("Meta",)}


def test_the_registry_has_evidence_for_every_declared_surname_and_its_distinctive_ones_are_sane():
    registry = load_registry()
    assert not [p for p in validate_registry(registry) if "surnames.csv" in p]
    alone = {surname for found in registry.distinctive_surnames.values() for surname in found}
    assert {"Putin", "Lavrov", "Zelensky", "Netanyahu", "Macron"} <= alone
    assert {"Xi", "Trump"} <= alone  # English words, passed by a reviewed decision (registry.yaml)
    assert not {"Kim", "Johnson", "Paris", "Jordan", "Wang", "Sanders"} & alone
    assert len(alone) >= 500


def test_a_reviewed_surname_skips_the_lists_but_not_uniqueness():
    english = {"Xi": Evidence(surname_rank=0, given_rank=0, english_word=True)}
    xi = person("Q15031", "Xi Jinping", ["Xi"])
    assert distinctive_surnames((xi,), english, normalize_alias, AS_OF) == {}
    assert distinctive_surnames((xi,), english, normalize_alias, AS_OF, ["Xi"]) == {"Q15031": ("Xi",)}
    other = person("Q2", "Xi Mingze", ["Xi"])
    assert distinctive_surnames((xi, other), english, normalize_alias, AS_OF, ["Xi"]) == {}


def test_a_reviewed_decision_names_a_declared_surname_and_says_why():
    registry = load_registry()
    broken = registry.model_copy(update={"surnames_alone": {"Nobodyov": "a reason", "Putin": " "}})
    found = [p for p in validate_registry(broken) if p.startswith("surnames_alone")]
    assert found == [
        "surnames_alone: 'Nobodyov' is no person's surname; drop the decision",
        "surnames_alone: 'Putin' needs its reason",
    ]


def test_a_namesake_out_of_the_news_does_not_take_the_surname():
    bashar = person("Q44329", "Bashar al-Assad", ["al-Assad", "Assad"])
    hafez = person("Q118725", "Hafez al-Assad", ["al-Assad", "Assad"], end="2000-06-10")
    assert distinctive(bashar, hafez) == {"Q44329": ("al-Assad", "Assad")}
    in_office_too = person("Q118725", "Hafez al-Assad", ["al-Assad", "Assad"])
    assert distinctive(bashar, in_office_too) == {}


def _member(qid: str, name: str, surnames: list[str], office: bool = False) -> Actor:
    roles: list[dict[str, object]] = [{"title": "Member of the Tweede Kamer", "start": "2012", "seat": True}]
    if office:
        roles.append({"title": "Minister", "start": "2020", "end": None})
    return Actor.model_validate(
        {"id": qid, "kind": "person", "name": name, "source": "test", "surnames": surnames, "roles": roles}
    )


def test_a_seat_in_a_legislature_is_no_office():
    # one of a chamber's members does not take an office holder's surname, nor stands alone by it
    rutte, arno = person("Q1", "Mark Rutte", ["Rutte"]), _member("Q2", "Arno Rutte", ["Rutte"])
    assert distinctive(rutte, arno) == {"Q1": ("Rutte",)}
    assert distinctive(_member("Q3", "Ann Lonely", ["Lonely"])) == {}
    # a member who also holds an office counts (and may stand alone) by the office
    assert distinctive(_member("Q4", "Ann Minister", ["Minister"], office=True)) == {"Q4": ("Minister",)}
    assert distinctive(rutte, _member("Q5", "Ann Rutte", ["Rutte"], office=True)) == {}
