"""EvaluateAlerts: the alert rules applied to the tagged articles, in the batch and the streaming graph.

The engine is `pipelines.alert_match` (pure); this module routes articles to it:
1. `_MatchFn`, element-wise: which enabled rules each article meets (`Article.alerts` gets their
   ids, so Kibana can filter on them), and one `(rule id, Facts)` pair per rule met;
2. batch: one GroupByKey per rule, the rule's articles sorted by event time and fed to a fresh
   `RuleMachine` (the same result whatever the runner's parallelism); stream: a stateful step per
   rule whose machine is Beam state, fed in arrival order;
3. out: every alert created or updated, the latest state per alert id (a story's later copies
   update its alert). Delivery and storage are the caller's (`connectors.alert_channels`, the
   store's alert sink).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any, NamedTuple

import apache_beam as beam
from apache_beam.coders import PickleCoder
from apache_beam.pvalue import PCollection, TaggedOutput
from apache_beam.transforms.userstate import ReadModifyWriteStateSpec

import connectors.coders  # noqa: F401  (registers the record coders)
from connectors.store import AlertStore, ArticleSink
from pipelines.alert_match import Facts, QueryMatcher, RuleMachine, applies
from schemas.alerts import Alert, AlertRules
from schemas.feeds import FeedSpec
from schemas.records import Article

_MATCHED = "matched"


def query_matcher(rules: AlertRules) -> QueryMatcher | None:
    """A matcher for the rules' query strings (compiled once), or None when no rule has one."""
    queries = {rule.when.query for rule in rules.rules if rule.when.query}
    if not queries:
        return None
    from pipelines.alert_query import compile_query

    compiled = {query: compile_query(query) for query in queries}

    def matches(query: str, facts: Facts) -> bool:
        return facts.doc is not None and compiled[query].matches(facts.doc)

    return matches


class _MatchFn(beam.DoFn):
    def __init__(self, rules: AlertRules, reliability: dict[str, str]) -> None:
        self._rules = rules
        self._reliability = reliability  # feed URL -> Admiralty grade, from the feed catalog
        self._query: QueryMatcher | None = None
        self._needs_doc = any(rule.when.query for rule in rules.rules)

    def setup(self) -> None:
        self._query = query_matcher(self._rules)

    def process(self, article: Article) -> Iterator[Any]:
        facts = Facts.of_article(article, reliability=self._reliability.get(article.source.feed_url or ""))
        if self._needs_doc:
            facts = facts.with_doc(article.model_dump(mode="json"))
        met = [rule for rule in self._rules.rules if applies(rule, facts, self._query)]
        yield article.model_copy(update={"alerts": tuple(rule.id for rule in met)}) if met else article
        for rule in met:
            yield TaggedOutput(_MATCHED, (rule.id, facts.without_doc()))


class _DecideFn(beam.DoFn):
    """What both deciding steps share: the rules, and the store a rule's memory is rebuilt from."""

    def __init__(self, rules: AlertRules, reliability: dict[str, str], sink: ArticleSink | None) -> None:
        self._all_rules = rules
        self._rules = {rule.id: rule for rule in rules.rules}
        self._reliability = reliability
        self._sink = sink
        self._store: AlertStore | None = None
        self._query: QueryMatcher | None = None

    def setup(self) -> None:
        self._query = query_matcher(self._all_rules)
        if self._sink is not None:
            self._store = self._sink.open_alert_store()

    def teardown(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    def _primed(self, rule_id: str, first_event: float, skip: set[str]) -> tuple[RuleMachine, list[Facts]]:
        """A machine for the rule, and the stored articles it must see first: those of its
        lookback before `first_event` (and after it: a batch is decided in event order).

        Thresholds, surges and cooldowns span runs and restarts: replaying the rule's lookback
        from the store rebuilds its memory; the alerts that replay gives again have the ids they
        had, so storing them changes nothing and nobody is notified twice.
        """
        rule = self._rules[rule_id]
        machine = RuleMachine(rule, self._all_rules.version)
        if self._store is None or rule.lookback_s == 0:
            return machine, []
        history = []
        for doc in self._store.articles_since(datetime.fromtimestamp(first_event - rule.lookback_s, UTC)):
            if doc.get("id") in skip:
                continue
            feed_url = (doc.get("source") or {}).get("feed_url") or ""
            facts = Facts.of_doc(doc, reliability=self._reliability.get(feed_url))
            if applies(rule, facts, self._query):
                history.append(facts.without_doc())
        history.sort(key=lambda f: (f.event_time, f.id))
        return machine, history


class _DecideRunFn(_DecideFn):
    """Batch: every article that met one rule, in event-time order, through one machine."""

    def process(self, element: tuple[str, Iterable[Facts]]) -> Iterator[Alert]:
        rule_id, matched = element
        run = list(matched)
        machine, history = self._primed(rule_id, min(f.event_time for f in run), {f.id for f in run})
        latest: dict[str, Alert] = {}
        for facts in sorted([*history, *run], key=lambda f: (f.event_time, f.id)):
            for alert in machine.observe(facts, datetime.now(UTC)):
                latest[alert.id] = alert
        yield from latest.values()


_MACHINE_STATE = beam.DoFn.StateParam(ReadModifyWriteStateSpec("machine", PickleCoder()))
# Prism may run the parts of one split stateful bundle at once, each reading the state as it was
# before the bundle (see pipelines/dedup.py): the newest machine per rule is also kept here.
_LIVE_LOCK = threading.Lock()
_LIVE: dict[tuple[str, str], tuple[int, RuleMachine]] = {}


class _DecideStreamFn(_DecideFn):
    """Stream: one machine per rule in Beam state, fed in arrival order (rebuilt from the store
    when the stream starts, see `_DecideFn._primed`)."""

    def __init__(self, rules: AlertRules, reliability: dict[str, str], sink: ArticleSink | None) -> None:
        super().__init__(rules, reliability, sink)
        self._token = uuid.uuid4().hex

    def process(self, element: tuple[str, Facts], machine_state: Any = _MACHINE_STATE) -> Iterator[Alert]:
        rule_id, facts = element
        key = (self._token, rule_id)
        with _LIVE_LOCK:
            candidates = [v for v in (machine_state.read(), _LIVE.get(key)) if v is not None]
            alerts: list[Alert] = []
            if candidates:
                version, machine = max(candidates, key=lambda v: v[0])
            else:  # the stream (re)starts: what the rule remembers comes back from the store
                machine, history = self._primed(rule_id, facts.event_time, {facts.id})
                version = 0
                for past in history:
                    alerts += machine.observe(past, datetime.now(UTC))
            alerts += machine.observe(facts, datetime.now(UTC))
            machine_state.write((version + 1, machine))
            _LIVE[key] = (version + 1, machine)
        yield from alerts


def reliability_of(feeds: Iterable[FeedSpec]) -> dict[str, str]:
    """Feed URL -> the outlet's Admiralty grade, for `min_reliability` (seed files have none)."""
    return {feed.url: feed.reliability for feed in feeds}


class AlertsResult(NamedTuple):
    articles: PCollection[Article]  # every article, `alerts` set to the ids of the rules it met
    alerts: PCollection[Alert]  # alerts created or updated


class EvaluateAlerts(beam.PTransform[PCollection[Article], AlertsResult]):
    """Applies `rules` to the tagged articles; see the module docstring."""

    def __init__(
        self,
        rules: AlertRules,
        *,
        reliability: dict[str, str] | None = None,
        streaming: bool = False,
        history: ArticleSink | None = None,
    ) -> None:
        super().__init__()
        self._rules = AlertRules(version=rules.version, rules=tuple(r for r in rules.rules if r.enabled))
        self._reliability = dict(reliability or {})
        self._streaming = streaming
        self._history = history  # the store rules' memory is rebuilt from; None: they start empty

    def expand(self, articles: PCollection[Article]) -> AlertsResult:
        routed = articles | "MatchRules" >> beam.ParDo(_MatchFn(self._rules, self._reliability)).with_outputs(
            _MATCHED, main="articles"
        )
        matched = routed[_MATCHED]
        alerts: PCollection[Alert]
        if self._streaming:
            alerts = matched | "DecideInOrder" >> beam.ParDo(
                _DecideStreamFn(self._rules, self._reliability, self._history)
            ).with_output_types(Alert)
        else:
            alerts = (
                matched
                | "PerRule" >> beam.GroupByKey()
                | "DecideByEventTime"
                >> beam.ParDo(_DecideRunFn(self._rules, self._reliability, self._history)).with_output_types(
                    Alert
                )
            )
        return AlertsResult(routed.articles, alerts)
