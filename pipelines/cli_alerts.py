"""`wirewatch alerts list|show|rules|test`: what fired, the rules, and back-testing rules on history.

`test` feeds the stored articles (oldest first) through the same engine the pipeline runs
(`pipelines.alert_match.run_history`), so what it prints is what the stream would have fired on
that history; nothing is written and nobody is notified.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
from collections.abc import Iterator
from typing import Any

from pipelines.console import parse_since, print_json
from pipelines.stores import Store, open_existing_store
from schemas.alerts import Alert, AlertRules
from schemas.errors import ConfigError

_log = logging.getLogger(__name__)
SAMPLES = 3  # sample articles printed per would-be alert


def add_parser(commands: Any, common: argparse.ArgumentParser) -> None:
    alerts = commands.add_parser(
        "alerts",
        help="List and show fired alerts, list the rules, back-test rules on stored articles.",
        description="Alerts fire once per story (copies update them), per threshold window or surge "
        "bucket. `test` back-tests a rules file on the articles already stored, writing nothing.",
        parents=[common],
    )
    actions = alerts.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser("list", parents=[common], help="the most recently updated alerts")
    listing.add_argument("--rule", help="only the alerts of this rule id")
    listing.add_argument("--limit", type=int, default=20, help="how many (default 20)")
    show = actions.add_parser("show", parents=[common], help="one alert, with its articles")
    show.add_argument("alert_id", metavar="ID", help="an alert id (or a unique prefix of 6+ characters)")
    rules = actions.add_parser("rules", parents=[common], help="the rules of a rules file, validated")
    rules.add_argument("--alerts", help="rules file (default: seeds/alerts.yaml)")
    test = actions.add_parser(
        "test", parents=[common], help="the alerts a rules file would have fired on the stored history"
    )
    test.add_argument("rules_file", metavar="RULE_FILE", help="the rules (YAML) to back-test")
    test.add_argument("--since", default="30d", help="how far back: 7d, 30d, 12h … or 'all' (default 30d)")


def run_alerts(args: argparse.Namespace) -> int:
    if args.action == "rules":
        return _rules(args)
    store = open_existing_store(es_url=args.es_url, store=args.store, es_prefix=args.es_index_prefix)
    try:
        if args.action == "list":
            return _list(args, store)
        if args.action == "show":
            return _show(args, store)
        return _test(args, store)
    finally:
        store.close()


def _load(path: str | None) -> AlertRules:
    from pipelines.options import load_alert_rules

    return load_alert_rules(path)


# --- list, show, rules -----------------------------------------------------------------------------


def _line(alert: Alert) -> str:
    subject = alert.latest.title if alert.kind == "story" else f"{alert.count} stories from {alert.key}"
    return (
        f"{alert.id[:12]}  {alert.severity:<8} {alert.rule_id:<28} {alert.updated_at:%Y-%m-%d %H:%M}  "
        f"{alert.article_count:>3} art. {alert.independent_source_count:>2} outlets  {subject[:70]}"
    )


def _list(args: argparse.Namespace, store: Store) -> int:
    if args.limit < 1:
        raise ConfigError(f"--limit must be at least 1, got {args.limit}")
    found = store.alerts(limit=args.limit, rule_id=args.rule)
    if args.json:
        print_json([alert.model_dump(mode="json") for alert in found])
    elif not found:
        print("no alerts yet" + (f" for rule {args.rule}" if args.rule else ""))
    else:
        for alert in found:
            print(_line(alert))
    return 0


def _find(store: Store, alert_id: str) -> Alert:
    alert = store.get_alert(alert_id)
    if alert is None and len(alert_id) >= 6:
        matches = [a for a in store.alerts(limit=10_000) if a.id.startswith(alert_id)]
        alert = matches[0] if len(matches) == 1 else None
    if alert is None:
        raise ConfigError(f"no alert {alert_id!r} (see `wirewatch alerts list`)")
    return alert


def _show(args: argparse.Namespace, store: Store) -> int:
    alert = _find(store, args.alert_id)
    if args.json:
        print_json(alert.model_dump(mode="json"))
        return 0
    print(f"{alert.rule_name}  [{alert.severity}, {alert.kind}]  rule {alert.rule_id}")
    print(f"  id          {alert.id}")
    print(f"  fired       {alert.first_fired_at:%Y-%m-%d %H:%M:%S} UTC, updated {alert.updated_at:%H:%M:%S}")
    outlets = ", ".join(alert.outlets)
    print(f"  articles    {alert.article_count} from {alert.independent_source_count} outlets: {outlets}")
    if alert.count is not None:
        print(f"  count       {alert.count}" + _baseline(alert))
    if alert.suppressed:
        print(f"  suppressed  {alert.suppressed} (cooldown)")
    print(
        f"  latest      {alert.latest.title}"
        + (f"\n              {alert.latest.url}" if alert.latest.url else "")
    )
    for article_id in alert.article_ids[-SAMPLES:]:
        doc = store.get(article_id)
        print(f"    - {article_id[:12]} {doc['title'][:90] if doc else '(not stored)'}")
    for note in alert.notifications:
        detail = f": {note.error}" if note.error else ""
        print(f"  notified    {note.channel} {note.status} after {note.attempts} attempt(s){detail}")
    return 0


def _baseline(alert: Alert) -> str:
    if alert.baseline_mean is None:
        return ""
    return f" (baseline {alert.baseline_mean:.2f} ± {alert.baseline_std or 0:.2f} per bucket)"


def _rules(args: argparse.Namespace) -> int:
    rules = _load(args.alerts)
    if args.json:
        print_json(rules.model_dump(mode="json"))
        return 0
    print(f"rules version {rules.version}: {len(rules.rules)} rules, all valid")
    for rule in rules.rules:
        state = "" if rule.enabled else "  (disabled)"
        print(f"  {rule.id:<32} {rule.severity:<8} {rule.kind:<9} {rule.name}{state}")
    return 0


# --- test ------------------------------------------------------------------------------------------


def _history(store: Store, since: dt.datetime | None) -> Iterator[Any]:
    from pipelines.alert_match import Facts

    for doc in store.articles_since(since):
        yield Facts.of_doc(doc)


def _test(args: argparse.Namespace, store: Store) -> int:
    from pipelines.alert_match import run_history
    from pipelines.alerts import query_matcher

    rules = _load(args.rules_file)
    now = dt.datetime.now(dt.UTC)
    since = parse_since(args.since, now)
    history = list(_history(store, since))
    fired = sorted(
        run_history(rules, history, query=query_matcher(rules), now=lambda: now).values(),
        key=lambda alert: (alert.rule_id, alert.latest.published_at or now, alert.id),
    )
    if args.json:
        print_json({"scanned": len(history), "alerts": [alert.model_dump(mode="json") for alert in fired]})
        return 0
    window = "stored articles" if since is None else f"articles since {since:%Y-%m-%d %H:%M} UTC"
    print(f"back-test of {args.rules_file} on {len(history)} {window}: {len(fired)} would-be alerts")
    for alert in fired:
        print(_line(alert))
        for article_id in alert.article_ids[-SAMPLES:]:
            doc = store.get(article_id)
            print(f"    - {doc['title'][:100] if doc else article_id}")
    return 0
