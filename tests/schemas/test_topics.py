"""The topic taxonomy in seeds/topics.yaml: it loads, validates, has the issue's ids, and the checks bite."""

from __future__ import annotations

import pytest

from schemas.topics import (
    DEFAULT_FILE,
    TaxonomyError,
    Topic,
    load_taxonomy,
    parse_taxonomy,
    validate_file,
    validate_taxonomy,
)

REQUIRED = """diplomacy diplomacy.summit diplomacy.alliance diplomacy.negotiations military
military.arms_transfer military.exercise military.conflict nuclear nuclear.weapons nuclear.negotiations
missiles space space.satellites sanctions economy economy.trade energy humanitarian human_rights cyber
terrorism elections""".split()


def test_seed_taxonomy_is_clean_and_complete():
    taxonomy = load_taxonomy(DEFAULT_FILE)
    assert validate_taxonomy(taxonomy) == []
    assert validate_file(DEFAULT_FILE) == []
    assert set(REQUIRED) <= set(taxonomy.by_id)
    assert taxonomy.ancestors("military.arms_transfer") == ["military"]
    for topic in taxonomy.topics:
        assert topic.label.strip()
        assert 0.0 < topic.threshold <= 1.0


def problems(yaml_text: str) -> list[str]:
    return validate_taxonomy(parse_taxonomy(yaml_text))


GOOD = """
version: "2026.01.01"
topics:
- {id: a, label: A, threshold: 0.5, phrases: {alpha: 1.0}}
- {id: a.b, label: B, threshold: 0.5, phrases: {"beta*": 0.9, gamma: -0.5}, regexes: {'delta \\w+': 0.4}}
"""


def test_a_sound_taxonomy_has_no_problems():
    assert problems(GOOD) == []


@pytest.mark.parametrize(
    ("broken", "expected"),
    [
        ("- {id: a, label: A2, phrases: {x: 1.0}}", "duplicate id"),
        ("- {id: c.d, label: D, phrases: {x: 1.0}}", "parent c is not a topic"),
        ("- {id: Bad-Id, label: X, phrases: {x: 1.0}}", "lower-case dotted"),
        ("- {id: e, label: E, phrases: {x: 1.5}}", "weight 1.5"),
        ("- {id: e, label: E, phrases: {x: 0.0}}", "weight 0.0"),
        ("- {id: e, label: E, threshold: 0, phrases: {x: 1.0}}", "threshold 0"),
        ("- {id: e, label: E, threshold: 1.2, phrases: {x: 1.0}}", "threshold 1.2"),
        ("- {id: e, label: E, threshold: 0.9, phrases: {x: 0.3}}", "is above"),
        ("- {id: e, label: E, phrases: {x: -0.3}}", "can never be assigned"),
        ("- {id: e, label: E, regexes: {'(': 0.9}}", "does not compile"),
        ("- {id: e, label: E, phrases: {'a*b': 0.9}}", "only at the end"),
        ("- {id: e, label: E, phrases: {'--': 0.9}}", "empty once normalized"),
        ("- {id: e, label: E, exact: {icbm: 0.9}}", "no capital letter"),
        ("- {id: e, label: E, phrases: {spy-satellite: 0.9, spy satellite: 0.5}}", "same phrase"),
    ],
)
def test_each_check_bites(broken, expected):
    found = problems(GOOD + broken + "\n")
    assert any(expected in line for line in found), found


def test_bad_version_and_shapes():
    assert any("YYYY.MM.DD" in line for line in problems(GOOD.replace("2026.01.01", "v1")))
    with pytest.raises(TaxonomyError, match="expected a mapping"):
        parse_taxonomy("- just a list")
    with pytest.raises(TaxonomyError, match="Extra inputs"):
        parse_taxonomy(GOOD + "- {id: z, label: Z, phrases: {x: 1.0}, colour: red}\n")


def test_duplicate_yaml_keys_are_refused():
    with pytest.raises(TaxonomyError, match="duplicate key"):
        parse_taxonomy(GOOD + "- id: z\n  label: Z\n  phrases:\n    x: 1.0\n    x: 0.5\n")


def test_topic_helpers():
    topic = Topic(id="a.b", label="B", phrases={"x": 1.0, "y": -0.5}, regexes={"z": 0.5})
    assert topic.parent == "a"
    assert [kind for kind, _, _ in topic.rules()] == ["phrase", "phrase", "regex"]
    assert 0.0 < topic.max_score() < 1.0
