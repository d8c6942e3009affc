"""An organisation's name that names another actor mentions it too: "[United States] Navy", "the [US]
State Department"; a person's name does not ("Jordan Bardella"). Both paths alike."""

from __future__ import annotations

import functools

import pytest

from pipelines.tag_match import Tagger

US, UN, IRAQ, SYRIA, JORDAN = "Q30", "Q1065", "Q796", "Q858", "Q810"


@functools.cache
def _taggers() -> tuple[Tagger, ...]:
    compiled = Tagger.from_files()
    assert compiled.native, "the compiled tagger (tagcore) is not installed"
    return (compiled, Tagger(compiled.registry, compiled.taxonomy, native=False))


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
    for tagger in _taggers():
        result = tagger.tag("Report", body)
        (actor,) = [a for a in result.actors if a.id == inner]
        (found,) = actor.spans
        offset = len("Report\n\n")  # the body follows the title and a blank line in the document text
        assert (found.text, body[found.start - offset : found.end - offset]) == (span, span)
        assert len(result.actors) >= 2  # the organisation itself too


def test_a_persons_name_names_no_country():
    for tagger in _taggers():
        assert JORDAN not in tagger.tag("Report", "Jordan Bardella spoke in Paris.").actor_ids
