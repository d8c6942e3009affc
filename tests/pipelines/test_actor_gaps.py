"""`wirewatch actors gaps` (issue 16, item 6): which name-like mentions count, and which are covered."""

from __future__ import annotations

from typing import Any

import pytest

from pipelines.actor_gaps import find_gaps, name_mentions, registry_keys
from schemas.actors import load_registry, normalize_alias


def _names(text: str) -> list[str]:
    return [text[start:end] for start, end in name_mentions(text)]


@pytest.mark.parametrize(
    ("text", "names"),
    [
        # headlines name people by surname; a sentence's first word counts only with a second
        ("Putin warns Europe over troops. Zelensky and Xi met. Kim met Lavrov.", ["Europe", "Xi", "Lavrov"]),
        # particles inside names; a leading "The" is dropped
        (
            "The Kurdistan Regional Government said Bashar al-Assad and the Bank of England met.",
            ["Kurdistan Regional Government", "Bashar al-Assad", "Bank of England"],
        ),
        # titles and function words are no names; acronyms are
        (
            "But the SDF and Iraqi Security Forces advanced, President Joe Biden said on Monday.",
            ["SDF", "Iraqi Security Forces", "Joe Biden"],
        ),
        # a quoted headline still starts a sentence; a line break ends one
        ("“Airstrikes destroy ISIL’s tanks,” said Gen. Smith.\nOfficials agreed.", ["ISIL’s", "Smith"]),
        # names do not run across punctuation
        ("Russia, China and Iran", ["China", "Iran"]),
    ],
)
def test_name_like_mentions(text: str, names: list[str]):
    assert _names(text) == names


def _doc(article_id: str, body: str, *, actors: Any = (), duplicate_of: str | None = None) -> dict[str, Any]:
    return {
        "id": article_id,
        "title": "Report",
        "body": body,
        "actors": list(actors),
        "duplicate_of": duplicate_of,
    }


def test_gaps_rank_names_by_articles_and_skip_what_is_covered():
    body = "Talks with Zorblat Quennik went on, said Qarvath Front envoy Zorblat Quennik’s aide."
    start = len("Report\n\n") + body.index("Qarvath Front")
    covered = [{"evidence": [{"start": start, "end": start + len("Qarvath Front")}]}]
    docs = [
        _doc("a1", body, actors=covered),
        _doc("a2", "Later Zorblat Quennik met Velmora Ostin in Tarsk."),
        _doc("a3", "Zorblat Quennik spoke.", duplicate_of="a2"),  # a copy: not counted again
        _doc("a4", "Reporters met Velmora Ostin at the Tarsk conference."),
    ]
    gaps, scanned = find_gaps(docs, frozenset({normalize_alias("Tarsk")}))
    assert scanned == 3
    by_name = {gap.name: gap for gap in gaps}
    assert set(by_name) == {"Zorblat Quennik", "Velmora Ostin"}  # Tarsk is known, Qarvath Front covered
    quennik = by_name["Zorblat Quennik"]
    assert (quennik.mentions, sorted(quennik.article_ids)) == (3, ["a1", "a2"])  # the possessive folds in
    assert [example[0] for example in quennik.examples] == ["a1", "a2"]
    assert "Talks with Zorblat Quennik went on" in quennik.examples[0][1]
    assert gaps[0].name == "Zorblat Quennik"  # 2 articles and 3 mentions before 2 articles and 2
    assert quennik.as_json()["articles"] == 2


def test_the_registry_knows_its_aliases_names_and_surnames():
    registry = load_registry()
    known = registry_keys(registry)
    putin = registry.get("Q7747")
    assert putin is not None
    assert normalize_alias(putin.name) in known
    assert all(normalize_alias(surname) in known for surname in putin.surnames)
    text = "Talks went on. Officials said Vladimir Putin met Zorblat Quennik in Moscow."
    gaps, _ = find_gaps([_doc("a1", text)], known)
    assert [gap.name for gap in gaps] == ["Zorblat Quennik"]
