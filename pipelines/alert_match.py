"""The pure alert engine: which rules an article meets, and when a rule fires (no Beam, no I/O).

`RuleMachine` holds one rule's memory and is fed the matching articles in event-time order
(`observe`); it returns the alerts to create or update. The batch graph feeds it from a
GroupByKey (sorted), the streaming graph from a stateful step (arrival order), and
`wirewatch alerts test` from the store's history: one engine, so the back-test finds what the
stream found.

Stories, not copies: an article's story is its canonical article (`duplicate_of`, else itself).
- story rule: the first article of a story that meets `when` (and has enough independent outlets
  when `min_independent_sources` is set: outlets are counted over the story's articles seen) fires;
  every later article of that story updates the same alert (latest article, counts);
- threshold rule: each new matching story joins the rule's window; when `count` stories are within
  `window` of the newest, one alert fires for them and the window starts empty again;
- surge rule: stories naming the subject are counted per bucket; the current bucket fires when its
  count reaches `max(min_count, mean + k * std)` of the previous `baseline / bucket` buckets (empty
  buckets count as zeros);
- cooldown: within `cooldown` of the last alert the rule fired, a new story, window or bucket does
  not fire; the last alert counts it in `suppressed` instead (nothing is dropped silently).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from schemas.alerts import (
    MAX_ARTICLE_IDS,
    MAX_OUTLETS,
    Alert,
    AlertArticle,
    AlertRule,
    AlertRules,
    Conditions,
)
from schemas.records import Article

RELIABILITY_ORDER = "ABCDEF"  # Admiralty grades, most reliable first
STORY_MEMORY_S = 14 * 86400  # how long a story's alert and outlets are remembered for its copies


def alert_id(rule_id: str, key: str) -> str:
    """Deterministic: the same rule about the same story (window, bucket) is the same alert."""
    return hashlib.sha256(f"{rule_id}\x00{key}".encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Facts:
    """What the rules look at in one article (built once per article, for every rule)."""

    id: str
    story_id: str
    title: str
    url: str | None
    outlet: str
    published_at: datetime | None
    event_time: float  # published, else ingested (unix seconds): the order alerts are decided in
    text: str  # title and body, lower-cased, for `keywords_any`
    actor_ids: frozenset[str]
    topic_ids: frozenset[str]  # with every ancestor: `military` matches `military.arms_transfer`
    countries: frozenset[str]
    reliability: str | None
    doc: Mapping[str, Any] | None = None  # the stored form, for query strings (built when needed)

    @classmethod
    def of_article(cls, article: Article, *, reliability: str | None = None) -> Facts:
        from schemas.dedup import outlet_of

        event = article.published_at or article.ingested_at
        return cls(
            id=article.id,
            story_id=article.duplicate_of or article.id,
            title=article.title,
            url=article.url,
            outlet=outlet_of(article),
            published_at=article.published_at,
            event_time=event.timestamp(),
            text=f"{article.title}\n{article.body}".lower(),
            actor_ids=frozenset(article.actor_ids),
            topic_ids=_with_ancestors(article.topic_ids),
            countries=frozenset(article.countries),
            reliability=reliability,
        )

    @classmethod
    def of_doc(cls, doc: Mapping[str, Any], *, reliability: str | None = None) -> Facts:
        """From an article as stored (its JSON form), e.g. for `wirewatch alerts test`."""
        article = Article.model_validate(doc)
        return cls.of_article(article, reliability=reliability).with_doc(doc)

    @classmethod
    def of_stored(cls, doc: Mapping[str, Any], *, reliability: str | None = None) -> Facts:
        """From the `history_fields` of a stored article (or all of it), without validating it
        again: the store holds only validated articles, and a rule's memory is rebuilt from many.

        `text` has the body only when it was read (`history_fields` asks for it when a rule
        needs it); `doc` is not set.
        """
        from schemas.dedup import outlet_from

        source = doc.get("source") or {}
        published = _utc(doc.get("published_at"))
        event = published or _utc(doc["ingested_at"])
        assert event is not None, "every stored article has ingested_at"
        title = doc["title"]
        return cls(
            id=doc["id"],
            story_id=doc.get("duplicate_of") or doc["id"],
            title=title,
            url=doc.get("url"),
            outlet=outlet_from(doc.get("canonical_url"), doc.get("url"), source["name"]),
            published_at=published,
            event_time=event.timestamp(),
            text=f"{title}\n{doc.get('body') or ''}".lower(),
            actor_ids=frozenset(doc.get("actor_ids") or ()),
            topic_ids=_with_ancestors(doc.get("topic_ids") or ()),
            countries=frozenset(doc.get("countries") or ()),
            reliability=reliability,
        )

    def with_doc(self, doc: Mapping[str, Any]) -> Facts:
        return replace(self, doc=doc)

    def without_doc(self) -> Facts:
        """The facts without the stored form (what a machine keeps: small, cheap to pickle)."""
        return replace(self, doc=None) if self.doc is not None else self


# The stored fields `Facts.of_stored` reads (dotted paths into the document).
FACT_FIELDS = (
    "id",
    "duplicate_of",
    "title",
    "url",
    "canonical_url",
    "source.name",
    "source.feed_url",
    "published_at",
    "ingested_at",
    "actor_ids",
    "topic_ids",
    "countries",
)


def history_fields(rules: Iterable[AlertRule]) -> tuple[str, ...] | None:
    """What of a stored article the rules' memory is rebuilt from: `FACT_FIELDS`, plus the body
    when a rule looks for keywords; None (the whole document) when a rule has a query string."""
    rules = list(rules)
    if any(rule.when.query for rule in rules):
        return None
    if any(rule.when.keywords_any for rule in rules):
        return (*FACT_FIELDS, "body")
    return FACT_FIELDS


def _utc(value: str | None) -> datetime | None:
    """A stored timestamp (ISO 8601 with an offset, as the models write it) as a UTC datetime."""
    if not value:
        return None
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:  # the models refuse naive times: this document was not written by them
        raise ValueError(f"stored timestamp without a UTC offset: {value!r}")
    return parsed.astimezone(UTC)


def _with_ancestors(topic_ids: Iterable[str]) -> frozenset[str]:
    out: set[str] = set()
    for topic in topic_ids:
        parts = topic.split(".")
        out.update(".".join(parts[: i + 1]) for i in range(len(parts)))
    return frozenset(out)


QueryMatcher = Callable[[str, Facts], bool]  # (query string, facts) -> matches


def meets(when: Conditions, facts: Facts, query: QueryMatcher | None = None) -> bool:
    """Whether one article meets a rule's content conditions (sources are counted per story)."""
    if when.actors_all and not facts.actor_ids.issuperset(when.actors_all):
        return False
    if when.actors_any and facts.actor_ids.isdisjoint(when.actors_any):
        return False
    if when.topics_any and facts.topic_ids.isdisjoint(when.topics_any):
        return False
    if when.countries_any and facts.countries.isdisjoint(when.countries_any):
        return False
    if when.keywords_any and not any(keyword.lower() in facts.text for keyword in when.keywords_any):
        return False
    if when.min_reliability is not None and (
        facts.reliability is None
        or RELIABILITY_ORDER.index(facts.reliability) > RELIABILITY_ORDER.index(when.min_reliability)
    ):
        return False
    if when.query is not None:
        if query is None:
            raise ValueError("a rule with a query string needs a query matcher")
        return query(when.query, facts)
    return True


def applies(rule: AlertRule, facts: Facts, query: QueryMatcher | None = None) -> bool:
    """Whether an article is fed to the rule's machine: it meets `when`, and names a surge's subject."""
    if rule.surge is not None:
        kind, value = rule.surge.subject
        present = {"actor_ids": facts.actor_ids, "topic_ids": facts.topic_ids, "countries": facts.countries}
        if value not in present[kind]:
            return False
    return meets(rule.when, facts, query)


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")


@dataclass
class _Story:
    outlets: set[str] = field(default_factory=set)
    last_seen: float = 0.0
    alert: Alert | None = None


@dataclass
class RuleMachine:
    """One rule's memory. Picklable (it lives in Beam state); `observe` in event-time order."""

    rule: AlertRule
    rules_version: str
    stories: dict[str, _Story] = field(default_factory=dict)
    last_fired: float | None = None
    last_alert: Alert | None = None  # the one a cooldown adds its suppressed count to
    window: list[tuple[float, str, Facts]] = field(default_factory=list)  # threshold: (time, story, facts)
    buckets: dict[int, set[str]] = field(default_factory=dict)  # surge: bucket number -> stories

    def observe(self, facts: Facts, now: datetime) -> list[Alert]:
        """The alerts to create or update because `facts` (an article that meets `when`) arrived."""
        story = self.stories.get(facts.story_id)
        is_new_story = story is None
        if story is None:
            story = self.stories[facts.story_id] = _Story()
        story.outlets.add(facts.outlet)
        story.last_seen = max(story.last_seen, facts.event_time)
        self._forget_before(facts.event_time - STORY_MEMORY_S)
        if self.rule.surge is not None:
            return self._surge(facts, is_new_story, now)
        if self.rule.threshold is not None:
            return self._threshold(facts, is_new_story, now)
        return self._story(facts, story, now)

    # -- the three kinds --------------------------------------------------------------------------

    def _story(self, facts: Facts, story: _Story, now: datetime) -> list[Alert]:
        if story.alert is not None:
            story.alert = self._updated(story.alert, facts, story, now)
            return [story.alert]
        if len(story.outlets) < self.rule.when.min_independent_sources:
            return []
        alert = self._fire(facts.story_id, facts, story, now, story_id=facts.story_id)
        if alert is None:
            return self._suppressed(now)
        story.alert = alert
        return [alert]

    def _threshold(self, facts: Facts, is_new_story: bool, now: datetime) -> list[Alert]:
        threshold = self.rule.threshold
        assert threshold is not None
        if not is_new_story:
            return []  # a copy: the story already counted once
        self.window.append((facts.event_time, facts.story_id, facts))
        self.window.sort(key=lambda item: item[0])
        newest = self.window[-1][0]
        self.window = [item for item in self.window if item[0] > newest - threshold.window]
        if len(self.window) < threshold.count:
            return []
        members, self.window = self.window, []
        first = members[0][0]
        alert = self._fire(_iso(first), facts, None, now, count=len(members), members=[m[2] for m in members])
        return [alert] if alert is not None else self._suppressed(now)

    def _surge(self, facts: Facts, is_new_story: bool, now: datetime) -> list[Alert]:
        surge = self.rule.surge
        assert surge is not None
        if not is_new_story:
            return []
        bucket = math.floor(facts.event_time / surge.bucket)
        self.buckets.setdefault(bucket, set()).add(facts.story_id)
        history = surge.baseline // surge.bucket
        counts = [len(self.buckets.get(bucket - i, ())) for i in range(1, history + 1)]
        mean = sum(counts) / history
        std = math.sqrt(sum((c - mean) ** 2 for c in counts) / history)
        current = len(self.buckets[bucket])
        for old in [b for b in self.buckets if b < bucket - history]:
            del self.buckets[old]
        key = _iso(bucket * surge.bucket)
        if self.last_alert is not None and self.last_alert.key == key:  # this bucket fired: keep counting
            self.last_alert = self.last_alert.model_copy(update={"count": current, "updated_at": now})
            return [self.last_alert]
        if current < max(surge.min_count, mean + surge.k * std):
            return []
        alert = self._fire(key, facts, None, now, count=current, baseline=(mean, std))
        return [alert] if alert is not None else self._suppressed(now)

    # -- building alerts --------------------------------------------------------------------------

    def _fire(
        self,
        key: str,
        facts: Facts,
        story: _Story | None,
        now: datetime,
        *,
        story_id: str | None = None,
        count: int | None = None,
        members: list[Facts] | None = None,
        baseline: tuple[float, float] | None = None,
    ) -> Alert | None:
        """A new alert, or None while the rule cools down (the caller counts the suppression)."""
        if (
            self.last_fired is not None
            and self.rule.cooldown
            and facts.event_time < self.last_fired + self.rule.cooldown
        ):
            return None
        members = members or [facts]
        outlets = story.outlets if story is not None else {m.outlet for m in members}
        alert = Alert(
            id=alert_id(self.rule.id, key),
            rule_id=self.rule.id,
            rule_name=self.rule.name,
            severity=self.rule.severity,
            kind=self.rule.kind,
            key=key,
            story_id=story_id,
            article_ids=tuple(m.id for m in members)[-MAX_ARTICLE_IDS:],
            article_count=len(members),
            latest=_latest(facts),
            source_count=len(members) if story is None else 1,
            independent_source_count=len(outlets),
            outlets=tuple(sorted(outlets))[:MAX_OUTLETS],
            count=count,
            baseline_mean=None if baseline is None else round(baseline[0], 3),
            baseline_std=None if baseline is None else round(baseline[1], 3),
            first_fired_at=now,
            updated_at=now,
            rules_version=self.rules_version,
        )
        self.last_fired, self.last_alert = facts.event_time, alert
        return alert

    def _updated(self, alert: Alert, facts: Facts, story: _Story, now: datetime) -> Alert:
        if facts.id in alert.article_ids:
            return alert  # the same article again (a re-run): nothing changes
        newer = alert.latest.published_at is None or (
            facts.published_at is not None and facts.published_at >= alert.latest.published_at
        )
        return alert.model_copy(
            update={
                "article_ids": (*alert.article_ids, facts.id)[-MAX_ARTICLE_IDS:],
                "article_count": alert.article_count + 1,
                "source_count": alert.source_count + 1,
                "independent_source_count": len(story.outlets),
                "outlets": tuple(sorted(story.outlets))[:MAX_OUTLETS],
                "latest": _latest(facts) if newer else alert.latest,
                "updated_at": now,
            }
        )

    def _suppressed(self, now: datetime) -> list[Alert]:
        if self.last_alert is None:
            return []
        self.last_alert = self.last_alert.model_copy(
            update={"suppressed": self.last_alert.suppressed + 1, "updated_at": now}
        )
        for story in self.stories.values():  # keep the story's copy of the alert the same object
            if story.alert is not None and story.alert.id == self.last_alert.id:
                story.alert = self.last_alert
        return [self.last_alert]

    def _forget_before(self, cutoff: float) -> None:
        if len(self.stories) < 1024:
            return  # cheap enough to keep; prune only when it grows
        for story_id in [s for s, story in self.stories.items() if story.last_seen < cutoff]:
            del self.stories[story_id]


def _latest(facts: Facts) -> AlertArticle:
    return AlertArticle(
        id=facts.id, title=facts.title, url=facts.url, outlet=facts.outlet, published_at=facts.published_at
    )


def machines(rules: AlertRules) -> dict[str, RuleMachine]:
    """A fresh machine per enabled rule."""
    return {rule.id: RuleMachine(rule, rules.version) for rule in rules.rules if rule.enabled}


def run_history(
    rules: AlertRules,
    articles: Iterable[Facts],
    *,
    query: QueryMatcher | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> dict[str, Alert]:
    """Every alert the rules give over `articles` fed in event-time order (id -> its last state)."""
    engines = machines(rules)
    alerts: dict[str, Alert] = {}
    for facts in sorted(articles, key=lambda f: (f.event_time, f.id)):
        for machine in engines.values():
            if applies(machine.rule, facts, query):
                for alert in machine.observe(facts, now()):
                    alerts[alert.id] = alert
    return alerts
