"""Issue 16, item 2: a distinctive surname alone names its person, in a headline or a body; a common
one ("Johnson", "Kim") or a capital ("Paris", "Jordan") does not; nor a surname inside another
person's name. Each on the compiled and the Python path alike."""

from __future__ import annotations

import pytest

from tests.pipelines.both_taggers import both_taggers

PUTIN, ZELENSKYY, LAVROV, MACRON, KIM_JONG_UN = "Q7747", "Q3874799", "Q58217", "Q3052772", "Q56226"
BIDEN, NETANYAHU, XI = "Q6279", "Q43723", "Q15031"


def _persons(title: str, body: str) -> list[set[str]]:
    found = []
    for tagger in both_taggers():
        result = tagger.tag(title, body)
        found.append({actor.id for actor in result.actors if actor.kind == "person"})
    assert found[0] == found[1], found  # both paths agree
    return found


@pytest.mark.parametrize(
    ("title", "body", "expected"),
    [
        ("Putin warns Europe over troops", "The warning came on Monday.", {PUTIN}),
        (
            "Talks",
            "Putin said the troops would stay. Zelensky and Xi spoke. Kim met Lavrov.",
            {PUTIN, ZELENSKYY, XI, LAVROV},
        ),
        ("Talks", "President Macron met Foreign Minister Lavrov on Tuesday.", {MACRON, LAVROV}),
        ("NETANYAHU VOWS TO PRESS ON", "The cabinet met overnight.", {NETANYAHU}),
    ],
)
def test_a_distinctive_surname_alone_names_its_person(title: str, body: str, expected: set[str]):
    for found in _persons(title, body):
        assert expected <= found


@pytest.mark.parametrize(
    "body",
    [
        "Johnson said the vote would be close.",  # a frequent surname: Boris or Mike or anyone
        "Kim met the delegation in the capital.",  # a shared surname (and a frequent given name)
        "Paris and Jordan sent envoys.",  # capitals and countries, not persons
        "Hunter Biden arrived late to the hearing.",  # inside another person's name
        "Trump Tower was evacuated on Monday.",  # "trump" is an English word
    ],
)
def test_a_common_or_shared_surname_alone_names_nobody(body: str):
    for found in _persons("Overnight report", body):
        assert not found & {KIM_JONG_UN, BIDEN, "Q22686"}, found
        assert not {p for p in found if p not in {KIM_JONG_UN, BIDEN, "Q22686"}}, found


def test_a_shared_surname_still_counts_after_the_full_name():
    for found in _persons("Talks", "Kim Jong Un inspected a factory. Later, Kim met the delegation."):
        assert KIM_JONG_UN in found
