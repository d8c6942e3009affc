"""The Beam transform that notifies and stores alerts, in either store.

For each alert the engine created or updated: read the stored one with its id; if there is none,
this is a new alert and its rule's channels are notified (every delivery, sent or failed, is
recorded on the alert); then the alert is stored merged into what was there. A re-run, or a copy
of a story, finds the stored alert and only updates it: nobody is told twice.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Iterator

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.pvalue import PCollection

import connectors.coders  # noqa: F401  (registers the record coders)
from connectors import counters
from connectors.alert_channels import notify
from connectors.store import AlertStore, ArticleSink, StoreError
from schemas.alerts import Alert, AlertRules, merge_alert
from schemas.records import DeadLetter

STAGE = "alerts"


class _DeliverFn(beam.DoFn):
    def __init__(self, sink: ArticleSink, rules: AlertRules, run_id: str | None, lines_to: str) -> None:
        self._sink = sink
        self._lines_to = lines_to
        self._channels = {rule.id: rule.channels for rule in rules.rules}
        self._run_id = run_id
        self._store: AlertStore | None = None
        self._fired = Metrics.counter(counters.NAMESPACE, counters.ALERTS_FIRED)
        self._updated = Metrics.counter(counters.NAMESPACE, counters.ALERTS_UPDATED)
        self._failed = Metrics.counter(counters.NAMESPACE, counters.NOTIFICATIONS_FAILED)

    def setup(self) -> None:
        self._store = self._sink.open_alert_store()

    def teardown(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    def process(self, alert: Alert) -> Iterator[DeadLetter]:
        assert self._store is not None, "setup() opens the store before any element arrives"
        try:
            stored = self._store.get_alert(alert.id)
            if stored is None:
                # Looked up at call time: a worker process has its own sys.stdout.
                stream = sys.stderr if self._lines_to == "stderr" else sys.stdout
                sent = notify(alert, self._channels.get(alert.rule_id, ()), stdout=stream)
                self._failed.inc(sum(1 for n in sent if n.status == "failed"))
                alert = alert.model_copy(update={"notifications": (*alert.notifications, *sent)})
                self._fired.inc()
            elif _unchanged(stored, alert):
                return  # a re-run saw the same articles again
            else:
                self._updated.inc()
            self._store.upsert_alert(alert)
        except StoreError as exc:
            yield DeadLetter.build(
                stage=STAGE,
                error_type=type(exc).__name__,
                error=f"could not store alert {alert.id} of rule {alert.rule_id}: {exc}",
                payload=alert.model_dump_json(),
                source=alert.rule_id,
                occurred_at=dt.datetime.now(dt.UTC),
                run_id=self._run_id,
                record_id=alert.story_id,
            )


def _unchanged(stored: Alert, alert: Alert) -> bool:
    """Whether storing `alert` would change nothing but the update time."""
    return merge_alert(stored, alert).model_copy(update={"updated_at": stored.updated_at}) == stored


class DeliverAlerts(beam.PTransform[PCollection[Alert], PCollection[DeadLetter]]):
    """Notifies new alerts on their rule's channels and stores every alert (see the module docstring).

    An alert the store refuses becomes a dead letter (stage ``alerts``) holding the alert. Metrics:
    ``alerts_fired``, ``alerts_updated``, ``notifications_failed``.
    """

    def __init__(
        self, sink: ArticleSink, rules: AlertRules, *, run_id: str | None = None, lines_to: str = "stdout"
    ) -> None:
        super().__init__()
        self._sink = sink
        self._rules = rules
        self._run_id = run_id
        self._lines_to = lines_to  # "stdout" or "stderr": where the stdout channel prints

    def expand(self, alerts: PCollection[Alert]) -> PCollection[DeadLetter]:
        refused: PCollection[DeadLetter] = alerts | "NotifyAndStore" >> beam.ParDo(
            _DeliverFn(self._sink, self._rules, self._run_id, self._lines_to)
        ).with_output_types(DeadLetter)
        return refused
