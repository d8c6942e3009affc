"""Issue 16, item 4: a capital or building used as a place is not the state; used for the state it
is. Each sentence on the compiled and the Python path alike."""

from __future__ import annotations

import pytest

from tests.pipelines.both_taggers import both_taggers

IRAQ, AUSTRIA, SAUDI_ARABIA, UK, US = "Q796", "Q40", "Q851", "Q145", "Q30"
RUSSIA, UKRAINE, TURKIYE, CHINA = "Q159", "Q212", "Q43", "Q148"

# (body, actors the capital or building would wrongly add): the title never names a place.
PLACES = [
    ("A car bomb exploded in the Karrada district of Baghdad on Sunday, killing 12.", {IRAQ}),
    ("Two bombs went off south of Baghdad, police said.", {IRAQ}),
    ("Rockets landed on the outskirts of Kyiv overnight.", {UKRAINE}),
    ("BAGHDAD – A suicide bomber killed 20 people on Sunday.", {IRAQ}),
    ("BAGHDAD (Reuters) - A suicide bomber killed 20 people on Sunday.", {IRAQ}),
    ("MOSCOW, Dec 5 - Heavy snow closed two airports.", {RUSSIA}),
    ("Talks were held first.\n\nMoscow (AP) — Heavy snow closed two airports.", {RUSSIA}),
    ("Reporters gathered at the Pentagon on Tuesday for the briefing.", {US}),
    ("Protesters marched outside the White House.", {US}),
    ("Talks were held in both Vienna and now in Riyadh, diplomats said.", {AUSTRIA, SAUDI_ARABIA}),
    ("Pledges made at last year's London conference have not been met.", {UK}),
    ("Fighting broke out in northern Baghdad.", {IRAQ}),
    ("وقال تركي الفيصل إن المحادثات مستمرة", {TURKIYE}),  # Turki al-Faisal, a person
    ("ورحب سوري بالقرار", {"Q858"}),  # "a Syrian welcomed the decision": the adjective, not Syria
]

# The same names standing for the state: still tagged.
STATES = [
    ("Baghdad rejected the demand on Sunday.", {IRAQ}),
    ("The Pentagon said it would send more troops.", {US}),
    ("Moscow warned Kyiv on Monday.", {RUSSIA, UKRAINE}),
    ("Officials in Baghdad said the talks had failed.", {IRAQ}),
    ("Beijing said the talks had gone well.", {CHINA}),
    ("وقالت تركيا إن المحادثات مستمرة", {TURKIYE}),  # "Türkiye said the talks go on"
    ("The decision angered the Kremlin, which called it hostile.", {RUSSIA}),
]


@pytest.mark.parametrize(("body", "wrong"), PLACES)
def test_a_place_is_not_the_state(body: str, wrong: set[str]):
    for tagger in both_taggers():
        found = set(tagger.tag("Overnight report", body).actor_ids)
        assert not found & wrong, (body, tagger.native, found)


@pytest.mark.parametrize(("body", "expected"), STATES)
def test_a_capital_or_building_standing_for_the_state_is_the_state(body: str, expected: set[str]):
    for tagger in both_taggers():
        found = set(tagger.tag("Overnight report", body).actor_ids)
        assert expected <= found, (body, tagger.native, found)
