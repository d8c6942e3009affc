"""The pure alert engine: one alert per story, thresholds, surges, cooldowns, conditions."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from pipelines.alert_match import (
    FACT_FIELDS,
    Facts,
    alert_id,
    applies,
    history_fields,
    machines,
    meets,
    run_history,
)
from schemas.alerts import Alert, AlertRules, load_rules, parse_rules
from tests.conftest import as_canonical, seed_articles

NOW = datetime(2026, 11, 22, tzinfo=UTC)
HOUR = 3600.0


def facts(
    article_id: str,
    *,
    at: float,
    story: str | None = None,
    outlet: str = "a.example",
    actors: tuple[str, ...] = ("Q423", "Q159"),
    topics: tuple[str, ...] = ("military.arms_transfer",),
    countries: tuple[str, ...] = ("PRK", "RUS"),
    text: str = "north korea ships shells to russia",
    reliability: str | None = None,
) -> Facts:
    article_id = article_id.ljust(32, "0")
    return Facts(
        id=article_id,
        story_id=(story or article_id).ljust(32, "0"),
        title=text[:40],
        url=f"https://{outlet}/{article_id}",
        outlet=outlet,
        published_at=datetime.fromtimestamp(at, UTC),
        event_time=at,
        text=text,
        actor_ids=frozenset(actors),
        topic_ids=frozenset({t for topic in topics for t in (topic, topic.split(".")[0])}),
        countries=frozenset(countries),
        reliability=reliability,
    )


def rules(yaml_rules: str) -> AlertRules:
    return parse_rules(f'version: "test"\nrules:\n{yaml_rules}')


STORY = rules(
    "- {id: arms, name: Arms, when: {actors_all: [Q423, Q159], topics_any: [military.arms_transfer]}}\n"
)


def fired(alerts_by_id: dict[str, Alert]) -> list[Alert]:
    return sorted(alerts_by_id.values(), key=lambda alert: alert.latest.published_at or NOW)


def test_one_alert_per_story_and_copies_update_it():
    history = [
        facts("a1", at=0, outlet="one.example"),
        facts("a2", at=HOUR, story="a1", outlet="two.example"),  # a syndicated copy
        facts("a3", at=2 * HOUR, story="a1", outlet="two.example"),  # another copy, same outlet
    ]
    alerts = run_history(STORY, history, now=lambda: NOW)
    assert len(alerts) == 1
    (alert,) = alerts.values()
    assert alert.id == alert_id("arms", "a1".ljust(32, "0"))
    assert alert.story_id == "a1".ljust(32, "0")
    assert alert.article_count == 3
    assert alert.source_count == 3
    assert alert.independent_source_count == 2
    assert alert.latest.id == "a3".ljust(32, "0")


def test_a_second_story_is_a_second_alert():
    alerts = run_history(STORY, [facts("a1", at=0), facts("b1", at=HOUR)], now=lambda: NOW)
    assert len(alerts) == 2


def test_conditions_both_ways():
    rule = STORY.rules[0]
    assert meets(rule.when, facts("a", at=0))
    assert not meets(rule.when, facts("a", at=0, actors=("Q423",)))
    assert not meets(rule.when, facts("a", at=0, topics=("sanctions",)))
    parent = rules("- {id: p, name: P, when: {topics_any: [military]}}\n").rules[0]
    assert meets(parent.when, facts("a", at=0))  # a parent topic matches its children
    words = rules("- {id: k, name: K, when: {keywords_any: [Shells To]}}\n").rules[0]
    assert meets(words.when, facts("a", at=0))
    assert not meets(words.when, facts("a", at=0, text="nothing here"))
    graded = rules("- {id: g, name: G, when: {actors_any: [Q423], min_reliability: B}}\n").rules[0]
    assert meets(graded.when, facts("a", at=0, reliability="A"))
    assert not meets(graded.when, facts("a", at=0, reliability="C"))
    assert not meets(graded.when, facts("a", at=0))  # unknown reliability is not B or better


def test_min_independent_sources_waits_for_the_second_outlet():
    rule_set = rules("- {id: two, name: Two, when: {actors_any: [Q423], min_independent_sources: 2}}\n")
    engine = machines(rule_set)["two"]
    assert engine.observe(facts("a1", at=0, outlet="one.example"), NOW) == []
    assert engine.observe(facts("a2", at=1, story="a1", outlet="one.example"), NOW) == []  # same outlet
    (alert,) = engine.observe(facts("a3", at=2, story="a1", outlet="two.example"), NOW)
    assert alert.independent_source_count == 2
    assert alert.story_id == "a1".ljust(32, "0")


def test_threshold_fires_on_the_nth_story_and_not_before():
    rule_set = rules("- {id: t, name: T, when: {actors_any: [Q423]}, threshold: {count: 3, window: 1h}}\n")
    engine = machines(rule_set)["t"]
    assert engine.observe(facts("a", at=0), NOW) == []
    assert engine.observe(facts("a2", at=60, story="a"), NOW) == []  # a copy does not count twice
    assert engine.observe(facts("b", at=600), NOW) == []
    (alert,) = engine.observe(facts("c", at=1200), NOW)
    assert alert.kind == "threshold"
    assert alert.count == 3
    assert alert.article_count == 3
    # the window starts empty again: two more stories are not enough
    assert engine.observe(facts("d", at=1300), NOW) == []
    assert engine.observe(facts("e", at=1400), NOW) == []


def test_threshold_window_slides():
    rule_set = rules("- {id: t, name: T, when: {actors_any: [Q423]}, threshold: {count: 2, window: 1h}}\n")
    alerts = run_history(rule_set, [facts("a", at=0), facts("b", at=2 * HOUR)], now=lambda: NOW)
    assert alerts == {}
    alerts = run_history(rule_set, [facts("a", at=0), facts("b", at=0.5 * HOUR)], now=lambda: NOW)
    assert len(alerts) == 1


def test_cooldown_suppresses_a_repeat_and_counts_it():
    rule_set = rules("- {id: c, name: C, when: {actors_any: [Q423]}, cooldown: 6h}\n")
    history = [facts("a", at=0), facts("b", at=HOUR), facts("c", at=2 * HOUR), facts("d", at=7 * HOUR)]
    alerts = fired(run_history(rule_set, history, now=lambda: NOW))
    assert [(alert.story_id or "")[:1] for alert in alerts] == ["a", "d"]
    assert alerts[0].suppressed == 2


def test_surge_fires_above_the_baseline_once_per_bucket():
    rule_set = rules(
        "- {id: s, name: S, surge: {actor: Q56226, bucket: 1d, baseline: 7d, k: 2, min_count: 3}}\n"
    )
    day = 86400.0
    quiet = [facts(f"b{d}", at=d * day, actors=("Q56226",)) for d in range(7)]  # one story a day
    loud = [facts(f"c{i}", at=7 * day + i * 60, actors=("Q56226",)) for i in range(5)]
    other = [facts("d", at=7 * day, actors=("Q7747",))]  # another actor: never counted
    engine = machines(rule_set)["s"]
    assert not applies(engine.rule, other[0])
    alerts = run_history(rule_set, [*quiet, *loud, *other], now=lambda: NOW)
    (alert,) = alerts.values()
    assert alert.kind == "surge"
    assert alert.count == 5
    assert alert.baseline_mean == pytest.approx(1.0)
    assert alert.baseline_std == 0.0
    assert alert.key.startswith("1970-01-08")
    # the steady days never fired
    assert run_history(rule_set, quiet, now=lambda: NOW) == {}


def test_seed_articles_fire_the_example_rule():
    from schemas.alerts import load_rules

    history = [Facts.of_article(as_canonical(article)) for article in seed_articles()]
    alerts = run_history(load_rules(), history, now=lambda: NOW)
    by_rule = {alert.rule_id for alert in alerts.values()}
    assert "dprk-russia-arms" in by_rule  # the 2023-11-09 seed: ammunition exchange
    arms = [alert for alert in alerts.values() if alert.rule_id == "dprk-russia-arms"]
    assert len(arms) == 1  # the 2023-11-07 seed has no arms transfer


# --- facts of stored articles ----------------------------------------------------------------------


def _stored_forms() -> list[dict[str, Any]]:
    """The seeds as stored, and a feed-like copy: a link on www., a canonical story, no date."""
    seeds = [as_canonical(article) for article in seed_articles()]
    copy = seeds[1].model_copy(
        update={
            "id": "c0" * 16,
            "url": "https://www.wire.example/kim-putin?utm=x",
            "canonical_url": "https://www.wire.example/kim-putin",
            "duplicate_of": seeds[1].id,
            "published_at": None,
        }
    )
    return [article.model_dump(mode="json") for article in (*seeds, copy)]


def _projected(doc: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    """Only `fields` of `doc`, nested as a store returns them."""
    out: dict[str, Any] = {}
    for field in fields:
        *parents, name = field.split(".")
        source, target = doc, out
        for parent in parents:
            source, target = source[parent], target.setdefault(parent, {})
        target[name] = source[name]
    return out


@pytest.mark.parametrize("reliability", [None, "B"])
def test_facts_of_the_stored_fields_equal_those_of_the_validated_article(reliability):
    fields = history_fields(load_rules().rules)
    assert fields == (*FACT_FIELDS, "body")  # an example rule looks for keywords
    for doc in _stored_forms():
        cheap = Facts.of_stored(_projected(doc, fields), reliability=reliability)
        assert cheap == Facts.of_doc(doc, reliability=reliability).without_doc()
        assert Facts.of_stored(doc, reliability=reliability) == cheap  # the whole document too


def test_without_keyword_rules_the_body_is_not_read_and_text_is_the_title():
    assert history_fields(STORY.rules) == FACT_FIELDS
    (doc,) = [doc for doc in _stored_forms()[:2] if applies(STORY.rules[0], Facts.of_doc(doc))]
    facts = Facts.of_stored(_projected(doc, FACT_FIELDS))
    assert facts.text == f"{doc['title']}\n".lower()
    assert facts == replace(Facts.of_doc(doc).without_doc(), text=facts.text)
    assert applies(STORY.rules[0], facts)  # what the rule looks at is all there


def test_a_query_string_needs_the_whole_stored_document():
    with_query = rules("- {id: q, name: Q, when: {query: 'title:kim'}}\n")
    assert history_fields([*STORY.rules, *with_query.rules]) is None


def test_a_stored_time_without_an_offset_is_refused():
    doc = _stored_forms()[0] | {"published_at": "2023-11-09T00:00:00"}
    with pytest.raises(ValueError, match="without a UTC offset"):
        Facts.of_stored(doc)
