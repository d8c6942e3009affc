"""Alert rules: the example file is valid, and every kind of mistake gets its own clear line."""

from __future__ import annotations

import datetime as dt

import pytest

from schemas.actors import Registry, load_registry
from schemas.alerts import (
    Alert,
    AlertArticle,
    Notification,
    RulesError,
    format_duration,
    load_rules,
    merge_alert,
    parse_duration,
    parse_rules,
    validate_rules,
)
from schemas.topics import Taxonomy, load_taxonomy

GOOD_RULE = """
- id: dprk-russia-arms
  name: North Korea and Russia with arms transfers
  when: {actors_all: [Q423, Q159], topics_any: [military.arms_transfer]}
"""


@pytest.fixture(scope="module")
def known() -> tuple[Registry, Taxonomy]:
    return load_registry(), load_taxonomy()


def problems_of(rules_yaml: str, known: tuple[Registry, Taxonomy]) -> list[str]:
    try:
        rules = parse_rules(f'version: "1"\nrules:\n{rules_yaml}')
    except RulesError as exc:
        return exc.problems
    return validate_rules(rules, known[0], known[1])


def test_example_rules_are_valid(known):
    rules = load_rules()
    assert validate_rules(rules, known[0], known[1]) == []
    assert {rule.kind for rule in rules.rules} == {"story", "threshold", "surge"}
    assert rules.get("dprk-russia-arms") is not None


def test_a_good_rule_has_no_problems(known):
    assert problems_of(GOOD_RULE, known) == []


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        pytest.param(
            GOOD_RULE.replace("Q159]", "Q999999999]"),
            "rule dprk-russia-arms: unknown actor id 'Q999999999'",
            id="unknown-actor",
        ),
        pytest.param(
            GOOD_RULE.replace("military.arms_transfer", "military.arms"),
            "rule dprk-russia-arms: unknown topic 'military.arms'",
            id="unknown-topic",
        ),
        pytest.param(
            GOOD_RULE + "  threshold: {count: 3, window: 7x}\n",
            "rule dprk-russia-arms: threshold.window: bad duration '7x'",
            id="bad-window",
        ),
        pytest.param(
            GOOD_RULE + "  cooldown: soon\n",
            "rule dprk-russia-arms: cooldown: bad duration 'soon'",
            id="bad-cooldown",
        ),
        pytest.param(
            GOOD_RULE.replace(
                "when: {actors_all: [Q423, Q159], topics_any: [military.arms_transfer]}", "when: {}"
            ),
            "rule dprk-russia-arms: a rule needs at least one condition",
            id="no-condition",
        ),
        pytest.param(
            GOOD_RULE + "  threshold: {count: 3, window: 1h}\n  surge: {actor: Q423}\n",
            "a rule has a threshold or a surge, not both",
            id="threshold-and-surge",
        ),
        pytest.param(
            "- {id: s, name: S, surge: {actor: Q423, topic: sanctions}}\n",
            "rule s: surge: a surge watches exactly one of actor, topic or country",
            id="surge-two-subjects",
        ),
        pytest.param(
            "- {id: s, name: S, surge: {country: PRK, bucket: 1d, baseline: 1d}}\n",
            "the baseline must span at least two buckets",
            id="surge-short-baseline",
        ),
        pytest.param(
            GOOD_RULE.replace("topics_any", "countries_any").replace("[military.arms_transfer]", "[XXX]"),
            "rule dprk-russia-arms: unknown country code 'XXX'",
            id="unknown-country",
        ),
        pytest.param(
            GOOD_RULE.replace("topics_any", "topic"),
            "rule dprk-russia-arms: when.topic: Extra inputs are not permitted",
            id="misspelt-field",
        ),
        pytest.param(
            GOOD_RULE + "  severity: urgent\n",
            "rule dprk-russia-arms: severity: Input should be 'info', 'low', 'medium', 'high' or 'critical'",
            id="bad-severity",
        ),
        pytest.param(
            GOOD_RULE + "  channels: [{type: webhook, url: 'ftp://x'}]\n",
            "rule dprk-russia-arms: channels.0.webhook.url",
            id="bad-webhook-url",
        ),
        pytest.param(
            GOOD_RULE + "  channels: [email]\n",
            "rule dprk-russia-arms: channels.0",
            id="unknown-channel",
        ),
        pytest.param(GOOD_RULE + GOOD_RULE, "rule id 'dprk-russia-arms' is used twice", id="duplicate-id"),
        pytest.param(
            GOOD_RULE.replace("Q159]", "Q159], actors_all: [Q30]"),
            "duplicate key 'actors_all'",
            id="duplicate-yaml-key",
        ),
        pytest.param(
            "- id: Bad Id\n  name: x\n  when: {keywords_any: [x]}\n", "rule Bad Id: id:", id="bad-id"
        ),
    ],
)
def test_each_mistake_gets_a_clear_line(known, rule, expected):
    problems = problems_of(rule, known)
    assert any(expected in line for line in problems), problems


def test_not_a_rules_file(tmp_path):
    with pytest.raises(RulesError, match="expected a mapping with a `version` and a `rules:` list"):
        parse_rules("- just a list")
    with pytest.raises(RulesError, match="no such rules file"):
        load_rules(tmp_path / "missing.yaml")


@pytest.mark.parametrize(
    ("text", "seconds"), [("30s", 30), ("15m", 900), ("6h", 21600), ("7d", 604800), ("2w", 1209600)]
)
def test_durations(text, seconds):
    assert parse_duration(text) == seconds
    assert parse_duration(format_duration(seconds)) == seconds


def test_a_bad_query_is_reported(known):
    rules = parse_rules('version: "1"\nrules:\n- {id: q, name: Q, when: {query: "title:("}}\n')
    found = validate_rules(rules, known[0], known[1], check_query=lambda query: "unbalanced parenthesis")
    assert found == ["rule q: query 'title:(': unbalanced parenthesis"]


def _alert(article_ids: tuple[str, ...], outlets: tuple[str, ...], hour: int, **changes: object) -> Alert:
    at = dt.datetime(2026, 11, 22, hour, tzinfo=dt.UTC)
    fields: dict[str, object] = {
        "id": "a" * 32,
        "rule_id": "r",
        "rule_name": "R",
        "severity": "high",
        "kind": "story",
        "key": "b" * 32,
        "story_id": "b" * 32,
        "article_ids": article_ids,
        "article_count": len(article_ids),
        "latest": AlertArticle(id=article_ids[-1], title="t", published_at=at),
        "source_count": len(article_ids),
        "independent_source_count": len(outlets),
        "outlets": outlets,
        "first_fired_at": at,
        "updated_at": at,
        "rules_version": "1",
    }
    return Alert.model_validate({**fields, **changes})


def test_merging_a_rerun_adds_only_what_is_new():
    sent = Notification(
        channel="stdout", status="sent", attempts=1, at=dt.datetime(2026, 11, 22, 1, tzinfo=dt.UTC)
    )
    stored = _alert(("1" * 32, "2" * 32), ("one.example", "two.example"), 1, notifications=(sent,))
    rerun = _alert(("2" * 32, "3" * 32), ("two.example", "three.example"), 5)
    merged = merge_alert(stored, rerun)
    assert merged.article_ids == ("1" * 32, "2" * 32, "3" * 32)
    assert merged.article_count == 3
    assert merged.independent_source_count == 3
    assert merged.latest.id == "3" * 32
    assert merged.first_fired_at == stored.first_fired_at
    assert merged.updated_at == rerun.updated_at
    assert merged.notifications == (sent,)
    assert merge_alert(merged, rerun) == merged.model_copy(
        update={"updated_at": rerun.updated_at}
    )  # idempotent
    assert merge_alert(None, rerun) == rerun
