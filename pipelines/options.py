"""Pipeline flags (one PipelineOptions subclass) and `load_config()`, which validates them up front.

The validated config is what the graph is built from, so it holds no secret: Elasticsearch is an
`EsEndpoint` (URL, user name, which kind of credential) and every worker reads the password or API
key from its own environment (ELASTICSEARCH_PASSWORD / ELASTICSEARCH_API_KEY, the file a
..._FILE variable names, or the Secret Manager version a ..._SECRET variable names, which the
graph may carry since a version name is no secret). `move_url_credentials()` takes
a user:password@ out of --es-url for workers this process starts; remote workers need the variables.
"""

from __future__ import annotations

import datetime as dt
import difflib
import os
import uuid
from collections.abc import Mapping, MutableMapping, Sequence
from typing import Literal

from apache_beam.options.pipeline_options import PipelineOptions, _BeamArgumentParser
from pydantic import BaseModel, Field

from connectors import es_client
from connectors.es_client import EsEndpoint, RetryPolicy, settings_from_env
from connectors.feed_catalog import load_catalog
from connectors.seedio import DEFAULT_MAX_BYTES, expand_seed_pattern, has_glob, list_seed_paths
from pipelines import __version__
from pipelines.store_location import (
    DEFAULT_INDEX_PREFIX,
    check_store_writable,
    es_index_prefix,
    resolve_store_path,
)
from schemas.alerts import DEFAULT_FILE as DEFAULT_ALERTS
from schemas.alerts import AlertRules, RulesError, load_rules, validate_rules
from schemas.dates import DEFAULT_DATE_WINDOW, DEFAULT_EARLIEST, DEFAULT_MAX_FUTURE_DAYS, DateWindow
from schemas.dedup import DedupConfig
from schemas.errors import ConfigError
from schemas.feeds import FeedSpec
from schemas.pages import DEFAULT_MIN_WORDS, PageConfig
from schemas.types import FROZEN, NonEmptyStr, UtcDatetime

DEFAULT_SEEDS = "seeds"
DEFAULT_DEDUP = DedupConfig()


class WirewatchOptions(PipelineOptions):
    """Wirewatch's own flags. Beam's flags (--runner, --direct_num_workers, …) live beside them."""

    @classmethod
    def _add_argparse_args(cls, parser: _BeamArgumentParser) -> None:
        parser.add_argument(
            "--seeds",
            default=None,
            help=f"seed folder, glob or file (default: ./{DEFAULT_SEEDS}/)",
        )
        parser.add_argument(
            "--feeds",
            default=None,
            help="feed catalog (YAML) to fetch: once with `run`, continuously with `stream`",
        )
        parser.add_argument(
            "--poll-tick",
            dest="poll_tick",
            type=float,
            default=10.0,
            help="stream: how often (seconds) to look for feeds whose next poll is due",
        )
        parser.add_argument(
            "--poll-interval",
            dest="poll_interval",
            type=int,
            default=900,
            help="stream: seconds between polls of a feed that sets no interval and sends no hint",
        )
        parser.add_argument(
            "--store",
            default=None,
            help="embedded store file or folder (default: $WIREWATCH_HOME, else ~/.local/share/wirewatch)",
        )
        parser.add_argument(
            "--max-seed-bytes",
            dest="max_seed_bytes",
            type=int,
            default=DEFAULT_MAX_BYTES,
            help="seed files larger than this become dead letters",
        )
        parser.add_argument(
            "--earliest-date",
            dest="earliest_date",
            default=None,
            help="publication dates before this (YYYY-MM-DD) are not believed "
            f"(default {DEFAULT_EARLIEST:%Y-%m-%d})",
        )
        parser.add_argument(
            "--max-future-days",
            dest="max_future_days",
            type=float,
            default=DEFAULT_MAX_FUTURE_DAYS,
            help="publication dates more than this many days after the run's start are not believed "
            f"(default {DEFAULT_MAX_FUTURE_DAYS:g})",
        )
        parser.add_argument("--run-id", dest="run_id", default=None, help="label for this run")
        parser.add_argument(
            "--es-url",
            dest="es_url",
            default=None,
            help="write to Elasticsearch at this URL instead of the embedded store (or $ELASTICSEARCH_URL)",
        )
        parser.add_argument(
            "--es-index-prefix",
            dest="es_index_prefix",
            default=None,
            help=f"prefix of the Elasticsearch aliases and templates (default {DEFAULT_INDEX_PREFIX})",
        )
        parser.add_argument(
            "--es-max-retry-seconds",
            dest="es_max_retry_seconds",
            type=float,
            default=None,
            help="give up on an unavailable or throttling Elasticsearch after this long (default 180)",
        )
        parser.add_argument(
            "--dedup-threshold",
            dest="dedup_threshold",
            type=float,
            default=DEFAULT_DEDUP.near.threshold,
            help="similarity (0-1, estimated Jaccard of 3-word shingles) at which a text is a near-copy "
            f"(default {DEFAULT_DEDUP.near.threshold})",
        )
        parser.add_argument(
            "--dedup-containment",
            dest="dedup_containment",
            type=float,
            default=DEFAULT_DEDUP.containment,
            help="share (0-1) of a teaser's 3-word shingles found in a text at least 1/0.6 times its "
            "size at which it folds into it, when both open with the same words "
            f"(default {DEFAULT_DEDUP.containment})",
        )
        parser.add_argument(
            "--dedup-min-words",
            dest="dedup_min_words",
            type=int,
            default=DEFAULT_DEDUP.min_words,
            help=f"shorter texts are matched by exact keys only (default {DEFAULT_DEDUP.min_words})",
        )
        parser.add_argument(
            "--no-fetch-pages",
            dest="no_fetch_pages",
            action="store_true",
            help="keep feed items' own text: never fetch the linked page of a short item",
        )
        parser.add_argument(
            "--page-min-words",
            dest="page_min_words",
            type=int,
            default=DEFAULT_MIN_WORDS,
            help="fetch the linked page of feed items with fewer words than this "
            f"(default {DEFAULT_MIN_WORDS})",
        )
        parser.add_argument(
            "--page-timeout",
            dest="page_timeout",
            type=float,
            default=PageConfig().timeout_s,
            help=f"seconds allowed for one page, redirects included (default {PageConfig().timeout_s:g})",
        )
        parser.add_argument(
            "--alerts",
            default=None,
            help="alert rules (YAML) to evaluate (default: seeds/alerts.yaml; see `wirewatch alerts list`)",
        )
        parser.add_argument(
            "--alert-lines",
            dest="alert_lines",
            choices=("stdout", "stderr"),
            default="stdout",
            help="where the `stdout` alert channel prints (`wirewatch run --json` sends it to stderr)",
        )
        parser.add_argument(
            "--no-alerts",
            dest="no_alerts",
            action="store_true",
            help="evaluate no alert rules",
        )
        parser.add_argument(
            "--no-dedup",
            dest="no_dedup",
            action="store_true",
            help="keep every copy as its own canonical article (exact re-reads are still skipped)",
        )


class IngestConfig(BaseModel):
    """Everything the batch graph needs, validated before the pipeline is built."""

    model_config = FROZEN

    seeds: NonEmptyStr | None
    feeds: tuple[FeedSpec, ...] = ()
    poll_tick_s: float = Field(default=10.0, ge=0.5, le=3600)
    poll_interval_s: int = Field(default=900, ge=1, le=86400)
    store_path: NonEmptyStr
    elasticsearch: EsEndpoint | None = None  # never the secret: workers read it themselves
    es_index_prefix: NonEmptyStr = DEFAULT_INDEX_PREFIX
    es_retry: RetryPolicy = RetryPolicy()
    max_seed_bytes: int = Field(ge=1, le=1024**3)
    dates: DateWindow = DEFAULT_DATE_WINDOW  # believable publication dates (schemas.dates)
    dedup: DedupConfig = DEFAULT_DEDUP
    pages: PageConfig = PageConfig()  # feed items whose text is short: fetch the linked page
    alerts: AlertRules | None = None  # validated against the registry and taxonomy; None: no alerting
    alert_lines: Literal["stdout", "stderr"] = "stdout"  # the stream the `stdout` channel prints to
    run_id: NonEmptyStr
    started_at: UtcDatetime
    version: NonEmptyStr


def _check_seeds(pattern: str) -> None:
    if "://" in pattern:
        return  # remote filesystems are listed by the pipeline itself
    expanded = expand_seed_pattern(pattern)
    if expanded == pattern and not has_glob(pattern) and not os.path.exists(pattern):
        raise ConfigError(f"--seeds: no such file or folder: {pattern}")
    if not list_seed_paths(pattern):
        raise ConfigError(f"--seeds: nothing matches {expanded}")


def load_config(
    options: PipelineOptions,
    *,
    env: Mapping[str, str] | None = None,
    now: dt.datetime | None = None,
) -> IngestConfig:
    """Validate the flags into an IngestConfig; raises ConfigError with one line naming the flag."""
    env = os.environ if env is None else env
    flags = options.view_as(WirewatchOptions)
    feeds: tuple[FeedSpec, ...] = ()
    if flags.feeds:
        feeds = tuple(feed for feed in load_catalog(flags.feeds).feeds if feed.enabled)
        if not feeds:
            raise ConfigError(f"--feeds: {flags.feeds} has no enabled feed")
    # Seeds are the default input; with a feed catalog they are read only when asked for.
    seeds = flags.seeds or (None if feeds else DEFAULT_SEEDS)
    if seeds is not None:
        _check_seeds(seeds)
    if not 1 <= flags.poll_interval <= 86400:
        raise ConfigError(f"--poll-interval must be between 1 and 86400 seconds, got {flags.poll_interval}")
    if not 0.5 <= flags.poll_tick <= 3600:
        raise ConfigError(f"--poll-tick must be between 0.5 and 3600 seconds, got {flags.poll_tick}")
    store_path = resolve_store_path(flags.store, env)
    es = settings_from_env(flags.es_url, env)
    if es is None:
        check_store_writable(store_path, "--store" if flags.store else "WIREWATCH_HOME")
    prefix = es_index_prefix(flags.es_index_prefix, env)
    retry = RetryPolicy()
    if flags.es_max_retry_seconds is not None:
        if not 0 < flags.es_max_retry_seconds <= 24 * 3600:
            raise ConfigError(
                f"--es-max-retry-seconds must be between 0 and 86400, got {flags.es_max_retry_seconds}"
            )
        retry = retry.model_copy(update={"max_elapsed_s": flags.es_max_retry_seconds})
    if not 1 <= flags.max_seed_bytes <= 1024**3:
        raise ConfigError(f"--max-seed-bytes must be between 1 and {1024**3}, got {flags.max_seed_bytes}")
    if not 0 < flags.dedup_threshold <= 1:
        raise ConfigError(f"--dedup-threshold must be above 0 and at most 1, got {flags.dedup_threshold}")
    if not 0 < flags.dedup_containment <= 1:
        raise ConfigError(f"--dedup-containment must be above 0 and at most 1, got {flags.dedup_containment}")
    if flags.dedup_min_words < 1:
        raise ConfigError(f"--dedup-min-words must be at least 1, got {flags.dedup_min_words}")
    dedup = DEFAULT_DEDUP.model_copy(
        update={
            "enabled": not flags.no_dedup,
            "min_words": flags.dedup_min_words,
            "containment": flags.dedup_containment,
            "near": DEFAULT_DEDUP.near.model_copy(update={"threshold": flags.dedup_threshold}),
        }
    )
    pages = _page_config(flags)
    alerts = None if flags.no_alerts else load_alert_rules(flags.alerts)
    started_at = now or dt.datetime.now(dt.UTC)
    dates = _date_window(flags.earliest_date, flags.max_future_days, started_at)
    run_id = flags.run_id or f"{started_at:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"
    return IngestConfig(
        seeds=seeds,
        feeds=feeds,
        poll_tick_s=flags.poll_tick,
        poll_interval_s=flags.poll_interval,
        store_path=store_path,
        elasticsearch=es.endpoint if es is not None else None,
        es_index_prefix=prefix,
        es_retry=retry,
        max_seed_bytes=flags.max_seed_bytes,
        dates=dates,
        dedup=dedup,
        pages=pages,
        alerts=alerts,
        alert_lines=flags.alert_lines,
        run_id=run_id,
        started_at=started_at,
        version=__version__,
    )


def _page_config(flags: WirewatchOptions) -> PageConfig:
    if flags.page_min_words < 1:
        raise ConfigError(f"--page-min-words must be at least 1, got {flags.page_min_words}")
    if not 0 < flags.page_timeout <= 300:  # NaN fails this too
        raise ConfigError(f"--page-timeout must be above 0 and at most 300 seconds, got {flags.page_timeout}")
    return PageConfig(
        enabled=not flags.no_fetch_pages, min_words=flags.page_min_words, timeout_s=flags.page_timeout
    )


def _date_window(earliest: str | None, max_future_days: float, started_at: dt.datetime) -> DateWindow:
    first = DEFAULT_EARLIEST
    if earliest is not None:
        try:
            first = dt.datetime.combine(dt.date.fromisoformat(earliest.strip()), dt.time(), dt.UTC)
        except ValueError:
            raise ConfigError(f"--earliest-date must be a date YYYY-MM-DD, got {earliest!r}") from None
        if first >= started_at:
            raise ConfigError(f"--earliest-date must be before today, got {earliest}")
    if not 0 <= max_future_days <= 366:  # NaN fails this too
        raise ConfigError(f"--max-future-days must be between 0 and 366, got {max_future_days}")
    return DateWindow(earliest=first, max_future_days=max_future_days)


def move_url_credentials(options: PipelineOptions, env: MutableMapping[str, str]) -> None:
    """Move user:password@ of --es-url (or $ELASTICSEARCH_URL) into env's ELASTICSEARCH_USERNAME
    and ELASTICSEARCH_PASSWORD, and out of the options a runner is sent with the job.

    Call it with os.environ before the pipeline runs: workers this process starts (in-process,
    forked, LOOPBACK) inherit the password from there. Workers on a remote cluster inherit
    nothing; they need ELASTICSEARCH_PASSWORD (or its _FILE / _SECRET form) themselves.
    Raises ConfigError like load_config for credentials that do not fit together.
    """
    flags = options.view_as(WirewatchOptions)
    flags.es_url = es_client.move_url_credentials(flags.es_url, env)


def load_alert_rules(path: str | None) -> AlertRules:
    """The rules file (default: seeds/alerts.yaml), checked against the actor registry, the topic
    taxonomy and the query syntax; every mistake is one line of the ConfigError."""
    from pipelines.alert_query import check_query
    from schemas.actors import load_registry
    from schemas.topics import load_taxonomy

    flag = f"--alerts {path}" if path else f"alert rules {DEFAULT_ALERTS}"
    try:
        rules = load_rules(path or DEFAULT_ALERTS)
    except RulesError as exc:
        raise ConfigError(f"{flag}: " + "; ".join(exc.problems)) from exc
    problems = validate_rules(rules, load_registry(), load_taxonomy(), check_query)
    if problems:
        raise ConfigError(f"{flag}: " + "; ".join(problems))
    return rules


def check_known_flags(argv: Sequence[str]) -> None:
    """Refuse flags that neither Wirewatch nor Beam knows, so a typo is not silently ignored."""
    parser = _BeamArgumentParser(allow_abbrev=False, add_help=False, conflict_handler="resolve")
    known: set[str] = set()
    # Like Beam's own get_all_options(): every options class is a direct subclass.
    for cls in PipelineOptions.__subclasses__():
        cls._add_argparse_args(parser)
    for action in parser._actions:
        known.update(s for s in action.option_strings if s.startswith("--"))
    for arg in argv:
        if not arg.startswith("--"):
            continue
        name = arg.split("=", 1)[0]
        if name not in known:
            close = difflib.get_close_matches(name, sorted(known), n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise ConfigError(f"unknown flag {name}{hint}")
