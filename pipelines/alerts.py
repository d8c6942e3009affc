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

Thresholds, surges and cooldowns span runs and restarts: a machine first replays the stored
articles of its rule's lookback (`AlertRule.lookback_s`) before the earliest article it is fed,
up to its lookback after the latest (a backfill can be older than what is stored). The batch
graph reads that history once per run for all rules (`_ReadHistoryFn`: one indexed store read of
the union of their windows, only the fields the rules look at, this run's own articles left out
by the query) and joins it to each rule's articles in the same shuffle; the stream reads a rule's
history on its first article.
"""

from __future__ import annotations

import math
import threading
import uuid
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, NamedTuple

import apache_beam as beam
import orjson
from apache_beam.coders import PickleCoder
from apache_beam.metrics import Metrics
from apache_beam.pvalue import PCollection, TaggedOutput
from apache_beam.transforms.userstate import ReadModifyWriteStateSpec

from connectors import counters
from connectors.coders import RecordCoder  # importing it registers the record coders
from connectors.store import AlertStore, ArticleSink, OwnArticles
from pipelines.alert_match import Facts, QueryMatcher, RuleMachine, applies, history_fields
from pipelines.keyed_join import JoinByKey
from schemas.alerts import Alert, AlertRules
from schemas.feeds import FeedSpec
from schemas.records import Article

_MATCHED = "matched"
RuleFacts = tuple[str, Facts]  # (rule id, an article the rule met)
EventSpan = tuple[float, float | None]  # a rule's first and last event of this run (no last: a stream)


class FactsCoder(RecordCoder):
    """What a rule's machine is fed, as one orjson list (never pickled across the per-rule shuffle)."""

    value_type = Facts

    def encode(self, f: Facts) -> bytes:
        published = None if f.published_at is None else f.published_at.isoformat()
        return orjson.dumps(
            [
                f.id,
                f.story_id,
                f.title,
                f.url,
                f.outlet,
                published,
                f.event_time,
                f.text,
                sorted(f.actor_ids),
                sorted(f.topic_ids),
                sorted(f.countries),
                f.reliability,
                f.doc,
            ]
        )

    def decode(self, encoded: bytes) -> Facts:
        (i, story, title, url, outlet, published, event, text, actors, topics, countries, grade, doc) = (
            orjson.loads(encoded)
        )
        return Facts(
            i,
            story,
            title,
            url,
            outlet,
            None if published is None else datetime.fromisoformat(published),
            event,
            text,
            frozenset(actors),
            frozenset(topics),
            frozenset(countries),
            grade,
            doc,
        )


beam.coders.registry.register_coder(Facts, FactsCoder)
_RUN, _HISTORY = "run", "history"  # a rule's articles of this run, and the stored ones it replays


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


class HistoryReplay:
    """Which stored articles the rules' machines replay, from one store scan for any number of rules."""

    def __init__(self, rules: AlertRules, reliability: dict[str, str], own: OwnArticles | None) -> None:
        self._all_rules = rules
        self._rules = {rule.id: rule for rule in rules.rules}
        self._reliability = reliability
        self._own = own
        self._query: QueryMatcher | None = None
        self._scans = Metrics.counter(counters.NAMESPACE, counters.ALERT_HISTORY_SCANS)
        self._replayed = Metrics.counter(counters.NAMESPACE, counters.ALERT_HISTORY_ARTICLES)

    def setup(self) -> None:
        self._query = query_matcher(self._all_rules)

    def read(self, store: AlertStore, spans: Mapping[str, EventSpan]) -> Iterator[tuple[str, Facts]]:
        """(rule id, facts) for every stored article the rule applies to whose event time lies
        within the rule's lookback of its span of this run's events (first - lookback to last +
        lookback; no end for a stream, whose last event is not known). Nothing outside can meet
        this run's articles in a window, a baseline or a cooldown, so a backfill older than
        everything stored reads what its own dates touch, not the store."""
        windows = {
            rule_id: (
                first - self._rules[rule_id].lookback_s,
                math.inf if last is None else last + self._rules[rule_id].lookback_s,
            )
            for rule_id, (first, last) in spans.items()
            if self._rules[rule_id].lookback_s > 0
        }
        if not windows:
            return
        rules = [self._rules[rule_id] for rule_id in windows]
        fields = history_fields(rules)
        first, last = min(w[0] for w in windows.values()), max(w[1] for w in windows.values())
        since = datetime.fromtimestamp(first, UTC)
        until = None if last == math.inf else datetime.fromtimestamp(last, UTC)
        self._scans.inc()
        for doc in store.alert_history(since, fields, until=until, exclude=self._own):
            self._replayed.inc()
            feed_url = (doc.get("source") or {}).get("feed_url") or ""
            facts = Facts.of_stored(doc, reliability=self._reliability.get(feed_url))
            if fields is None:  # a query string looks at the whole document
                facts = facts.with_doc(doc)
            for rule in rules:
                start, end = windows[rule.id]
                if start <= facts.event_time <= end and applies(rule, facts, self._query):
                    yield rule.id, facts.without_doc()


class _ReadHistoryFn(beam.DoFn):
    """Batch: the run's one history read. Side input: {rule id: the event times of the first and
    last articles of this run the rule met}; out: (rule id, facts) of the stored articles it replays."""

    def __init__(self, replay: HistoryReplay, sink: ArticleSink) -> None:
        self._replay = replay
        self._sink = sink
        self._store: AlertStore | None = None

    def setup(self) -> None:
        self._replay.setup()
        self._store = self._sink.open_alert_store()

    def teardown(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    def process(self, _: None, spans: dict[str, EventSpan]) -> Iterator[tuple[str, Facts]]:
        assert self._store is not None, "setup() opens the store before any element arrives"
        yield from self._replay.read(self._store, spans)


def _event_span(element: RuleFacts) -> tuple[str, tuple[float, float]]:
    return element[0], (element[1].event_time, element[1].event_time)


def _widest(spans: Iterable[tuple[float, float]]) -> tuple[float, float]:
    firsts, lasts = zip(*spans, strict=True)
    return min(firsts), max(lasts)


class _DecideRunFn(beam.DoFn):
    """Batch: every article that met one rule, with the stored ones it replays, in event-time order
    through one machine."""

    def __init__(self, rules: AlertRules) -> None:
        self._rules = {rule.id: rule for rule in rules.rules}
        self._version = rules.version

    def process(self, element: tuple[str, dict[str, Iterable[Facts]]]) -> Iterator[Alert]:
        rule_id, found = element
        run = list(found[_RUN])  # never empty: a rule's history is read when it met an article
        # An article read again (a re-run) is also stored, by an earlier run: this run's copy counts.
        ids = {facts.id for facts in run}
        history = [facts for facts in found.get(_HISTORY, ()) if facts.id not in ids]
        machine = RuleMachine(self._rules[rule_id], self._version)
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


class _DecideStreamFn(beam.DoFn):
    """Stream: one machine per rule in Beam state, fed in arrival order (rebuilt from the store
    on the rule's first article after the stream starts)."""

    def __init__(self, rules: AlertRules, replay: HistoryReplay, sink: ArticleSink | None) -> None:
        self._rules = rules
        self._by_id = {rule.id: rule for rule in rules.rules}
        self._replay = replay
        self._sink = sink
        self._store: AlertStore | None = None
        self._token = uuid.uuid4().hex

    def setup(self) -> None:
        self._replay.setup()
        if self._sink is not None:
            self._store = self._sink.open_alert_store()

    def teardown(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    def _primed(self, rule_id: str, facts: Facts) -> tuple[RuleMachine, list[Alert]]:
        """A machine for the rule that has seen the stored history of `facts`' lookback (and
        after), and the alerts that replay gave again (the ids they had: storing them changes
        nothing, nobody is notified twice)."""
        machine = RuleMachine(self._by_id[rule_id], self._rules.version)
        if self._store is None:
            return machine, []
        history = sorted(
            (past for _, past in self._replay.read(self._store, {rule_id: (facts.event_time, None)})),
            key=lambda f: (f.event_time, f.id),
        )
        alerts: list[Alert] = []
        for past in history:
            if past.id != facts.id:  # the query leaves it out, unless a worker's clock ran behind
                alerts += machine.observe(past, datetime.now(UTC))
        return machine, alerts

    def process(self, element: tuple[str, Facts], machine_state: Any = _MACHINE_STATE) -> Iterator[Alert]:
        rule_id, facts = element
        key = (self._token, rule_id)
        with _LIVE_LOCK:
            candidates = [v for v in (machine_state.read(), _LIVE.get(key)) if v is not None]
            alerts: list[Alert] = []
            if candidates:
                version, machine = max(candidates, key=lambda v: v[0])
            else:  # the stream (re)starts: what the rule remembers comes back from the store
                machine, alerts = self._primed(rule_id, facts)
                version = 0
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
    """Applies `rules` to the tagged articles; see the module docstring.

    Bounded (`streaming=False`: decided per rule in event-time order) or unbounded (arrival order).
    `history`: the store the rules' memory is rebuilt from (None: they start empty), with
    `own_articles`, the articles this run writes there, which the history read leaves out.
    Metrics: ``alert_history_scans`` (store reads), ``alert_history_articles`` (documents they
    returned).
    """

    def __init__(
        self,
        rules: AlertRules,
        *,
        reliability: dict[str, str] | None = None,
        streaming: bool = False,
        history: ArticleSink | None = None,
        own_articles: OwnArticles | None = None,
    ) -> None:
        super().__init__()
        if history is not None and own_articles is None:
            raise ValueError("EvaluateAlerts: `history` needs `own_articles` (this run's id and start)")
        self._rules = AlertRules(version=rules.version, rules=tuple(r for r in rules.rules if r.enabled))
        self._reliability = dict(reliability or {})
        self._streaming = streaming
        self._history = history
        self._replay = HistoryReplay(self._rules, self._reliability, own_articles)

    def expand(self, articles: PCollection[Article]) -> AlertsResult:
        routed = articles | "MatchRules" >> beam.ParDo(
            _MatchFn(self._rules, self._reliability)
        ).with_output_types(Article, matched=RuleFacts).with_outputs(_MATCHED, main="articles")
        matched = routed[_MATCHED]
        alerts: PCollection[Alert]
        if self._streaming:
            alerts = matched | "DecideInOrder" >> beam.ParDo(
                _DecideStreamFn(self._rules, self._replay, self._history)
            ).with_output_types(Alert)
            return AlertsResult(routed.articles, alerts)
        per_rule: dict[str, PCollection[tuple[str, Facts]]] = {_RUN: matched}
        if self._history is not None and any(rule.lookback_s for rule in self._rules.rules):
            spans = (
                matched
                | "EventTimes" >> beam.Map(_event_span).with_output_types(tuple[str, tuple[float, float]])
                | "EventSpanPerRule" >> beam.CombinePerKey(_widest)
            )
            # One read for all rules, from a side input: gathering the rules' event spans into one
            # element would put them all on one key.
            per_rule[_HISTORY] = (
                articles.pipeline
                | "Once" >> beam.Create([None])
                | "ReadHistory"
                >> beam.ParDo(
                    _ReadHistoryFn(self._replay, self._history), beam.pvalue.AsDict(spans)
                ).with_output_types(RuleFacts)
            )
        alerts = (
            per_rule
            | "PerRule" >> JoinByKey()
            | "DecideByEventTime" >> beam.ParDo(_DecideRunFn(self._rules)).with_output_types(Alert)
        )
        return AlertsResult(routed.articles, alerts)
