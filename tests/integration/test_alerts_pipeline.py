"""Alerts end to end in the batch graph: the CLI, seeds plus feeds on 127.0.0.1, both stores.

The seeds and three outlets carry the two Kim–Putin stories (see test_dedup_feeds.Outlets). The
example rules (seeds/alerts.yaml) must fire exactly once per story they match; a re-run fires
nothing and notifies nobody; a copy published later updates its story's alert instead of adding one.
"""

from __future__ import annotations

import json
import pathlib
from typing import Any

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from connectors import counters
from connectors.localstore import LocalStore
from pipelines.ingest import build
from pipelines.options import load_config
from pipelines.run_metrics import counter_totals
from tests.feed_server import FeedServer
from tests.integration.conftest import StoreUnderTest
from tests.integration.test_dedup_feeds import Outlets
from tests.integration.test_feeds_cli import new_catalog, ww

pytestmark = pytest.mark.integration
SEEDS = str(pathlib.Path(__file__).resolve().parents[2] / "seeds")


def _run(tmp_path: pathlib.Path, outlets: Outlets, flags: list[str]) -> dict[str, Any]:
    catalog = new_catalog(tmp_path, *outlets.specs)
    result = ww("run", "--seeds", SEEDS, "--feeds", str(catalog), "--json", *flags, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    summary: dict[str, Any] = json.loads(result.stdout)
    return summary


def _alerts(tmp_path: pathlib.Path, flags: list[str]) -> dict[str, dict[str, Any]]:
    result = ww("alerts", "list", "--limit", "100", "--json", *flags, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    return {alert["id"]: alert for alert in json.loads(result.stdout)}


def test_one_alert_per_story_and_copies_update_it(
    server: FeedServer, tmp_path: pathlib.Path, store: StoreUnderTest
):
    flags, read = store
    outlets = Outlets(server)
    first = _run(tmp_path, outlets, flags)
    docs = read()
    stories = {d.get("duplicate_of") or i for i, d in docs.items()}
    assert len(stories) == 2  # the 2023-11-07 and 2023-11-09 stories, each with its copies

    alerts = _alerts(tmp_path, flags)
    by_rule: dict[str, list[dict[str, Any]]] = {}
    for alert in alerts.values():
        by_rule.setdefault(alert["rule_id"], []).append(alert)
    # Exactly the expected alerts: arms transfers and the satellite launch are the 11-09 story's;
    # sanctions on Russia with two independent outlets fire for both stories.
    assert {rule: len(found) for rule, found in by_rule.items()} == {
        "dprk-russia-arms": 1,
        "dprk-satellite-launch": 1,
        "russia-sanctions-confirmed": 2,
    }
    assert first["alerts_fired"] == 4
    (arms,) = by_rule["dprk-russia-arms"]
    story = arms["story_id"]
    assert story in stories
    story_articles = {i for i, d in docs.items() if (d.get("duplicate_of") or i) == story}
    assert set(arms["article_ids"]) == story_articles  # the seed, the wire item and both copies
    assert arms["article_count"] == len(story_articles) == 4
    assert arms["independent_source_count"] >= 3
    assert [n["status"] for n in arms["notifications"]] == ["sent"]  # stdout, once
    for article_id in story_articles:
        assert "dprk-russia-arms" in docs[article_id]["alerts"]

    again = _run(tmp_path, outlets, flags)
    assert (again["alerts_fired"], again["alerts_updated"]) == (0, 0)
    assert _alerts(tmp_path, flags) == alerts

    outlets.publish_late_copy()
    later = _run(tmp_path, outlets, flags)
    assert later["alerts_fired"] == 0
    after = _alerts(tmp_path, flags)
    assert after.keys() == alerts.keys()
    updated = after[arms["id"]]
    assert updated["article_count"] == 5
    assert updated["notifications"] == arms["notifications"]  # nobody is told twice
    assert updated["first_fired_at"] == arms["first_fired_at"]


def test_back_test_finds_what_the_run_fired(
    server: FeedServer, tmp_path: pathlib.Path, store: StoreUnderTest
):
    flags, _ = store
    outlets = Outlets(server)
    _run(tmp_path, outlets, flags)
    fired = _alerts(tmp_path, flags)
    result = ww("alerts", "test", f"{SEEDS}/alerts.yaml", "--since", "all", "--json", *flags, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    tested = {alert["id"]: alert for alert in json.loads(result.stdout)["alerts"]}
    assert tested.keys() == fired.keys()
    for alert_id, alert in tested.items():
        assert set(alert["article_ids"]) == set(fired[alert_id]["article_ids"])


ACROSS_RUNS_RULES = """version: "test"
rules:
- id: two-dprk-stories
  name: Two North Korea stories within three days
  when: {actors_any: [Q423]}
  threshold: {count: 2, window: 3d}
"""


@pytest.mark.parametrize(
    "order",
    [
        # Each scheduled run sees only its new articles; the rule's window must still span runs.
        pytest.param(
            ("004_0150c9251e40f8c3.txt", "000_c188ed1eebfaaab7.txt"), id="later-run"
        ),  # 11-07, 11-09
        # A backfill: older news than the store holds; the stored article, dated after this run's
        # earliest one, is still in the rule's window.
        pytest.param(("000_c188ed1eebfaaab7.txt", "004_0150c9251e40f8c3.txt"), id="backfill"),  # 11-09, 11-07
    ],
)
def test_a_threshold_counts_the_stories_of_earlier_runs(
    order: tuple[str, str], tmp_path: pathlib.Path, store: StoreUnderTest
):
    flags, _ = store
    rules = tmp_path / "rules.yaml"
    rules.write_text(ACROSS_RUNS_RULES, encoding="utf-8")
    summaries = []
    for name in order:
        result = ww(
            "run", "--seeds", f"{SEEDS}/{name}", "--alerts", str(rules), "--json", *flags, cwd=tmp_path
        )
        assert result.returncode == 0, result.stderr
        summaries.append(json.loads(result.stdout))
    assert [s["alerts_fired"] for s in summaries] == [0, 1]
    (alert,) = _alerts(tmp_path, flags).values()
    assert (alert["rule_id"], alert["count"], alert["article_count"]) == ("two-dprk-stories", 2, 2)


THREE_RULES = """version: "test"
rules:
- id: two-dprk-stories
  name: Two North Korea stories within three days
  when: {actors_any: [Q423]}
  threshold: {count: 2, window: 3d}
- id: russia-quiet-day
  name: Russia, once a day
  when: {actors_any: [Q159]}
  cooldown: 1d
- id: kim-surge
  name: Surge in Kim Jong Un coverage
  surge: {actor: Q56226, bucket: 1d, baseline: 7d, k: 3, min_count: 3}
"""


def _counted_run(tmp_path: pathlib.Path, flags: list[str], seed: str, rules: pathlib.Path) -> dict[str, int]:
    """`wirewatch run` in this process, for the counters the CLI summary does not show."""
    options = PipelineOptions(
        ["--seeds", f"{SEEDS}/{seed}", "--alerts", str(rules), "--alert-lines", "stderr", *flags]
    )
    config = load_config(options, env={})
    if config.elasticsearch is None:
        LocalStore(config.store_path).close()
    pipeline = beam.Pipeline(options=options)
    build(pipeline, config)
    result = pipeline.run()
    result.wait_until_finish()
    return counter_totals(result)


def test_one_history_scan_per_run_for_all_rules_and_never_of_the_runs_own_articles(
    tmp_path: pathlib.Path, store: StoreUnderTest
):
    flags, _ = store
    rules = tmp_path / "rules.yaml"
    rules.write_text(THREE_RULES, encoding="utf-8")
    counted = [
        _counted_run(tmp_path, flags, seed, rules)
        for seed in ("000_c188ed1eebfaaab7.txt", "004_0150c9251e40f8c3.txt", "004_0150c9251e40f8c3.txt")
    ]
    # Each seed meets all three rules, yet each run scans the store once. The first run's
    # article is stored by the time the rules decide: it is not read back.
    assert [c.get(counters.ALERT_HISTORY_SCANS) for c in counted] == [1, 1, 1]
    # The second run reads the first one's article (a later day, inside every rule's lookback);
    # the third (a re-run) reads both, its own seed stored by the second run.
    assert [c.get(counters.ALERT_HISTORY_ARTICLES, 0) for c in counted] == [0, 1, 2]
    # russia-quiet-day for 11-09; for 11-07 (two days earlier) and the threshold; nothing new.
    assert [c.get(counters.ALERTS_FIRED, 0) for c in counted] == [1, 2, 0]
