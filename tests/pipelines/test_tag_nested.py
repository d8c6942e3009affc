"""An organisation's name that names another actor mentions it too: "[United States] Navy", "the [US]
State Department"; a person's name does not ("Jordan Bardella"). Both paths alike."""

from __future__ import annotations

import pytest

from tests.pipelines.both_taggers import both_taggers

US, UN, SYRIA = "Q30", "Q1065", "Q858"


@pytest.mark.parametrize(
    ("body", "inner", "span"),
    [
        ("Image: United States Navy.", US, "United States"),
        ("The US State Department said the talks would go on.", US, "US"),
        ("the United Nations High Commissioner for Refugees recommended it", UN, "United Nations"),
        ("The Islamic State of Iraq and Syria claimed the attack.", SYRIA, "Syria"),
    ],
)
def test_a_name_inside_an_organisations_name_is_a_mention_of_its_actor(body: str, inner: str, span: str):
    for tagger in both_taggers():
        result = tagger.tag("Report", body)
        (actor,) = [a for a in result.actors if a.id == inner]
        (found,) = actor.spans
        offset = len("Report\n\n")  # the body follows the title and a blank line in the document text
        assert (found.text, body[found.start - offset : found.end - offset]) == (span, span)
        assert len(result.actors) >= 2  # the organisation itself too


def test_only_organisations_and_armed_groups_hold_names_inside_theirs():
    """A person's name names no country ("Jordan Bardella"): nesting is looked for in organisation
    and armed-group names only, and many of those hold one."""
    compiled, _ = both_taggers()
    outer_kinds = {
        compiled.registry.actors[pattern.actor].kind
        for pattern in compiled._actor_automaton.table
        if pattern.nested
    }
    assert outer_kinds == {"organisation", "armed_group"}
