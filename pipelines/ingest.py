"""The batch pipeline graph: sources → Normalize → sink, every stage's dead letters into one sink."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import NamedTuple, Protocol

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.pvalue import PCollection
from apache_beam.runners.runner import PipelineResult
from pydantic import BaseModel, Field

from connectors import counters
from connectors.alertio import DeliverAlerts
from connectors.elasticsearchio import ElasticsearchSink
from connectors.es_indices import IndexNames
from connectors.feed_schedule import ScheduleBounds
from connectors.lineageio import WriteLineage
from connectors.localstore import LocalStore
from connectors.localstoreio import LocalStoreSink
from connectors.rssio import PollFeeds, ReadFeeds
from connectors.seedio import ReadSeedFiles
from connectors.store import ArticleSink, OwnArticles
from pipelines import flink
from pipelines.alerts import EvaluateAlerts, reliability_of
from pipelines.dedup import Deduplicate
from pipelines.feed_health import FeedFailure, failed_feeds
from pipelines.normalize import Normalize
from pipelines.options import IngestConfig, load_config, move_url_credentials
from pipelines.pages import FetchPages
from pipelines.run_metrics import counter_totals
from pipelines.stores import RUN_INTEGRITY_BUDGET_S
from pipelines.tagging import TagArticles
from schemas.records import Article, DeadLetter, PipelineInfo, RawRecord
from schemas.types import FROZEN


class RunSummary(BaseModel):
    """What a run did, from the pipeline's own metrics."""

    model_config = FROZEN

    run_id: str
    store: str
    read: int = Field(ge=0)
    normalized: int = Field(ge=0)
    canonical: int = Field(default=0, ge=0)  # new stories
    duplicates: int = Field(default=0, ge=0)  # copies folded into a canonical article
    near_duplicates: int = Field(default=0, ge=0)  # of which near (not exact) copies
    already_stored: int = Field(ge=0)  # articles stored by an earlier run, read again
    read_twice: int = Field(default=0, ge=0)  # further readings of one article in this run
    tagged: int = Field(default=0, ge=0)
    alerts_fired: int = Field(default=0, ge=0)  # new alerts
    alerts_updated: int = Field(default=0, ge=0)  # stored alerts a copy or later article changed
    notifications_failed: int = Field(default=0, ge=0)  # recorded on their alerts
    written: int = Field(ge=0)
    dead_letters: int = Field(ge=0)
    feeds_polled: int = Field(default=0, ge=0)
    feeds_not_modified: int = Field(default=0, ge=0)
    feeds_failed: int = Field(default=0, ge=0)
    pages_fetched: int = Field(default=0, ge=0)  # linked pages of short feed items
    pages_extracted: int = Field(default=0, ge=0)  # of which the text became the body
    # The feeds that failed this run (or were skipped as disabled), from their saved state.
    failed_feeds: tuple[FeedFailure, ...] = ()
    # Every feed failed and no seed file was read: the run had nothing to work with.
    every_source_failed: bool = False
    elapsed_s: float = Field(ge=0)


class SourceResult(Protocol):
    """What every source transform returns: records, and the inputs it could not read."""

    @property
    def records(self) -> PCollection[RawRecord]: ...

    @property
    def dead_letters(self) -> PCollection[DeadLetter]: ...


class IngestOutputs(NamedTuple):
    """What the graph produced, before the sinks: for tests and for stages added later."""

    articles: PCollection[Article]
    dead_letters: PCollection[DeadLetter]


def worker_path(path: str) -> str:
    """`path` as a worker must see it. The SDK harness may run in another process and folder
    (Flink's, a worker pool): a relative path checked here would mean another file there."""
    return path if "://" in path else os.path.abspath(os.path.expanduser(path))


def sink_for(config: IngestConfig, *, streaming: bool = False) -> ArticleSink:
    """Elasticsearch when a URL was given, else the embedded store. A stream waits out an
    Elasticsearch outage of any length; a batch run fails within the retry bound."""
    if config.elasticsearch is not None:
        retry = config.es_retry.model_copy(update={"wait_out_outages": streaming})
        return ElasticsearchSink(config.elasticsearch, IndexNames(config.es_index_prefix), retry)
    return LocalStoreSink(worker_path(config.store_path))


def store_location(config: IngestConfig) -> str:
    if config.elasticsearch is not None:
        return f"{config.elasticsearch.url} ({IndexNames(config.es_index_prefix).articles_alias})"
    return config.store_path


def schedule_bounds(config: IngestConfig) -> ScheduleBounds:
    """--poll-interval sets the default; the floor follows it down so short test intervals work."""
    interval = config.poll_interval_s
    return ScheduleBounds(
        default_interval_s=interval, min_interval_s=min(interval, ScheduleBounds().min_interval_s)
    )


def _batch_sources(pipeline: beam.Pipeline, config: IngestConfig, sink: ArticleSink) -> list[SourceResult]:
    sources: list[SourceResult] = []
    if config.seeds is not None:
        sources.append(
            pipeline
            | "ReadSeedFiles"
            >> ReadSeedFiles(
                pattern=worker_path(config.seeds), max_bytes=config.max_seed_bytes, run_id=config.run_id
            )
        )
    if config.feeds:
        sources.append(
            pipeline
            | "ReadFeeds"
            >> ReadFeeds(feeds=config.feeds, sink=sink, run_id=config.run_id, bounds=schedule_bounds(config))
        )
    return sources


def _stream_sources(pipeline: beam.Pipeline, config: IngestConfig, sink: ArticleSink) -> list[SourceResult]:
    return [
        pipeline
        | "PollFeeds"
        >> PollFeeds(
            feeds=config.feeds,
            sink=sink,
            run_id=config.run_id,
            start=config.started_at,
            tick_s=config.poll_tick_s,
            bounds=schedule_bounds(config),
        )
    ]


def build(
    pipeline: beam.Pipeline, config: IngestConfig, sink: ArticleSink | None = None, *, streaming: bool = False
) -> IngestOutputs:
    """Wire the graph onto `pipeline`: bounded reads for `run`, feed polling for `stream`; every
    transform after the sources is shared. Tests call this with a TestPipeline."""
    sink = sink or sink_for(config, streaming=streaming)
    sources = _stream_sources(pipeline, config, sink) if streaming else _batch_sources(pipeline, config, sink)
    records = [s.records for s in sources] | "FlattenSources" >> beam.Flatten()
    if config.feeds and config.pages.enabled:
        records = records | "FetchPages" >> FetchPages(config.pages, run_id=config.run_id, feeds=config.feeds)
    normalized = records | "Normalize" >> Normalize(
        ingested_at=None if streaming else config.started_at,
        pipeline=PipelineInfo(version=config.version, run_id=config.run_id),
        dates=config.dates,
    )
    deduplicated = normalized.articles | "Deduplicate" >> Deduplicate(
        config=config.dedup, sink=sink, streaming=streaming
    )
    tagged = deduplicated.articles | "Tag" >> TagArticles()
    alert_refused: list[PCollection[DeadLetter]] = []
    if config.alerts is not None and config.alerts.rules:
        evaluated = tagged | "EvaluateAlerts" >> EvaluateAlerts(
            config.alerts,
            reliability=reliability_of(config.feeds),
            streaming=streaming,
            history=sink,
            own_articles=OwnArticles(run_id=config.run_id, started_at=config.started_at),
        )
        articles = evaluated.articles
        alert_refused.append(
            evaluated.alerts
            | "DeliverAlerts"
            >> DeliverAlerts(sink, config.alerts, run_id=config.run_id, lines_to=config.alert_lines)
        )
    else:
        articles = tagged
    refused = articles | "WriteArticles" >> sink.write_articles()
    lineage_refused = deduplicated.lineage | "WriteLineage" >> WriteLineage(sink, run_id=config.run_id)
    dead_letters = (
        *(s.dead_letters for s in sources),
        normalized.dead_letters,
        refused,
        lineage_refused,
        *alert_refused,
    ) | "FlattenDeadLetters" >> beam.Flatten()
    _ = dead_letters | "WriteDeadLetters" >> sink.write_dead_letters()
    return IngestOutputs(articles, dead_letters)


def summarize(result: PipelineResult, config: IngestConfig, elapsed_s: float) -> RunSummary:
    """Read the run's counters back; committed values where the runner has them."""
    totals = counter_totals(result)
    # The sink refuses every second write of an id: an article stored before, or one read twice in
    # this run (two files or feeds carrying the same item). Deduplication tells the first kind.
    refused = totals.get(counters.ARTICLES_DUPLICATE, 0)
    stored_before = totals.get(counters.ARTICLES_ALREADY_STORED, 0) if config.dedup.enabled else refused
    stored_before = min(stored_before, refused)
    return RunSummary(
        run_id=config.run_id,
        store=store_location(config),
        read=totals.get(counters.RECORDS_READ, 0),
        normalized=totals.get(counters.ARTICLES_NORMALIZED, 0),
        canonical=totals.get(counters.ARTICLES_CANONICAL, 0),
        duplicates=totals.get(counters.ARTICLES_FOLDED, 0),
        near_duplicates=totals.get(counters.ARTICLES_NEAR_DUPLICATE, 0),
        already_stored=stored_before,
        read_twice=refused - stored_before,
        tagged=totals.get(counters.ARTICLES_TAGGED, 0),
        alerts_fired=totals.get(counters.ALERTS_FIRED, 0),
        alerts_updated=totals.get(counters.ALERTS_UPDATED, 0),
        notifications_failed=totals.get(counters.NOTIFICATIONS_FAILED, 0),
        written=totals.get(counters.ARTICLES_WRITTEN, 0),
        dead_letters=totals.get(counters.DEAD_LETTERS, 0),
        feeds_polled=totals.get(counters.FEEDS_POLLED, 0),
        feeds_not_modified=totals.get(counters.FEEDS_NOT_MODIFIED, 0),
        feeds_failed=totals.get(counters.FEEDS_FAILED, 0),
        pages_fetched=totals.get(counters.PAGES_FETCHED, 0),
        pages_extracted=totals.get(counters.PAGES_EXTRACTED, 0),
        elapsed_s=round(elapsed_s, 3),
    )


def run(argv: Sequence[str], config: IngestConfig | None = None) -> RunSummary:
    """Run the batch pipeline with Beam flags `argv` and wait for it; raises if the run fails.

    A user:password@ in --es-url moves into this process's environment first, where the workers
    it starts find it (see move_url_credentials)."""
    options = PipelineOptions(list(argv))
    move_url_credentials(options, os.environ)
    config = config or load_config(options)
    flink.prepare(options)  # --runner=FlinkRunner: the cached job server jar, a JDK, LOOPBACK
    if config.elasticsearch is None:
        # Create the file and schema before workers race to; check the file first, so a run does
        # not write into a damaged store (workers open it without checking). Bounded (see
        # RUN_INTEGRITY_BUDGET_S): damage past the budget fails the run when a statement meets it.
        LocalStore(config.store_path, integrity_budget_s=RUN_INTEGRITY_BUDGET_S).close()
    started = time.monotonic()
    pipeline = beam.Pipeline(options=options)
    build(pipeline, config)
    result = pipeline.run()
    result.wait_until_finish()
    summary = summarize(result, config, time.monotonic() - started)
    return with_feed_health(summary, config)


def with_feed_health(summary: RunSummary, config: IngestConfig) -> RunSummary:
    """`summary` with the feeds that failed, read from their state once the run is over."""
    if not config.feeds:
        return summary
    store = sink_for(config).open_state_store()
    try:
        failed = failed_feeds(store, config.feeds, config.started_at)
    finally:
        store.close()
    every_source_failed = len(failed) == len(config.feeds) and summary.read == 0
    return summary.model_copy(
        update={"failed_feeds": tuple(failed), "every_source_failed": every_source_failed}
    )
