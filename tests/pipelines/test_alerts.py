"""EvaluateAlerts in a Beam graph: the seeds fire the example rule once; a copy updates it."""

from __future__ import annotations

import datetime as dt

import apache_beam as beam
import pytest
from apache_beam.testing import test_pipeline
from apache_beam.testing.util import assert_that, equal_to

from connectors import counters
from connectors.localstore import LocalStore
from connectors.localstoreio import LocalStoreSink
from connectors.store import OwnArticles
from pipelines.alerts import EvaluateAlerts
from pipelines.run_metrics import counter_totals
from schemas.alerts import Alert, load_rules, parse_rules
from schemas.records import Article, PipelineInfo
from tests.conftest import RUN_AT, as_canonical, seed_articles

COPY_ID = "c0" * 16


def _articles() -> list[Article]:
    seeds = sorted((as_canonical(article) for article in seed_articles()), key=lambda a: str(a.published_at))
    nov_9 = seeds[-1]
    copy = nov_9.model_copy(
        update={
            "id": COPY_ID,
            "url": "https://wire.example/kim-putin",
            "duplicate_of": nov_9.id,
            "duplicate_reason": "near",
            "published_at": (nov_9.published_at or nov_9.ingested_at) + dt.timedelta(hours=2),
        }
    )
    return [*seeds, copy]


def _run(articles: list[Article], check_alerts, check_articles) -> None:
    with test_pipeline.TestPipeline() as pipeline:
        result = pipeline | beam.Create(articles) | EvaluateAlerts(load_rules())
        assert_that(result.alerts | "AlertList" >> beam.combiners.ToList(), check_alerts, label="alerts")
        assert_that(
            result.articles | "ArticleList" >> beam.combiners.ToList(), check_articles, label="articles"
        )


def test_seeds_fire_once_and_the_copy_updates_the_alert():
    articles = _articles()
    nov_9 = articles[1]

    def check_alerts(found: list[list[Alert]]) -> None:
        (alerts,) = found
        arms = [alert for alert in alerts if alert.rule_id == "dprk-russia-arms"]
        assert len(arms) == 1, alerts
        (alert,) = arms
        assert alert.story_id == nov_9.id
        assert alert.article_count == 2
        assert set(alert.article_ids) == {nov_9.id, COPY_ID}
        assert alert.independent_source_count == 2

    def check_articles(found: list[list[Article]]) -> None:
        (stored,) = found
        by_id = {article.id: article for article in stored}
        assert len(by_id) == 3  # nothing dropped
        assert "dprk-russia-arms" in by_id[nov_9.id].alerts
        assert "dprk-russia-arms" in by_id[COPY_ID].alerts
        assert "dprk-russia-arms" not in by_id[articles[0].id].alerts

    _run(articles, check_alerts, check_articles)


@pytest.mark.parametrize("order", [slice(None), slice(None, None, -1)])
def test_batch_result_does_not_depend_on_arrival_order(order):
    articles = _articles()[order]

    def check_alerts(found: list[list[Alert]]) -> None:
        (alerts,) = found
        arms = [alert for alert in alerts if alert.rule_id == "dprk-russia-arms"]
        assert [alert.latest.id for alert in arms] == [COPY_ID]  # the newest article of the story

    _run(articles, check_alerts, lambda found: None)


TWO_STORIES = parse_rules(
    'version: "test"\nrules:\n'
    "- {id: two, name: Two, when: {actors_any: [Q423]}, threshold: {count: 2, window: 3d}}\n"
)


@pytest.mark.parametrize("streaming", [False, True])
def test_the_rules_memory_comes_from_the_store_without_the_runs_own_articles(tmp_path, streaming):
    nov_7, nov_9 = sorted((as_canonical(a) for a in seed_articles()), key=lambda a: str(a.published_at))
    this_run = OwnArticles(run_id="this-run", started_at=RUN_AT + dt.timedelta(days=1))
    earlier = nov_7.model_copy(update={"pipeline": PipelineInfo(version="test", run_id="earlier")})
    own = nov_9.model_copy(
        update={
            "pipeline": PipelineInfo(version="test", run_id="this-run"),
            "ingested_at": this_run.started_at,
        }
    )
    store = LocalStore(str(tmp_path / "w.db"))
    store.write_articles([earlier, own])  # the sink wrote this run's article before the rules decide
    store.close()

    pipeline = test_pipeline.TestPipeline()
    result = (
        pipeline
        | beam.Create([own])
        | EvaluateAlerts(
            TWO_STORIES,
            streaming=streaming,
            history=LocalStoreSink(str(tmp_path / "w.db")),
            own_articles=this_run,
        )
    )
    assert_that(
        result.alerts | beam.Map(lambda alert: (alert.rule_id, alert.count, sorted(alert.article_ids))),
        equal_to([("two", 2, sorted([earlier.id, own.id]))]),
    )
    outcome = pipeline.run()
    outcome.wait_until_finish()
    totals = counter_totals(outcome)
    assert (totals[counters.ALERT_HISTORY_SCANS], totals[counters.ALERT_HISTORY_ARTICLES]) == (1, 1)


def test_a_history_needs_the_runs_own_articles():
    with pytest.raises(ValueError, match="own_articles"):
        EvaluateAlerts(TWO_STORIES, history=LocalStoreSink("unused.db"))
