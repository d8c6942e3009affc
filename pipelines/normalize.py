"""Normalize: turn what a connector read into a clean, validated Article with a deterministic id."""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.pvalue import PCollection, TaggedOutput
from pydantic import ValidationError

import connectors.coders  # noqa: F401  (registers the record coders)
from connectors import counters
from pipelines.language import detect_language
from pipelines.worker_gc import tune_for_throughput
from schemas.dates import DEFAULT_DATE_WINDOW, DateWindow
from schemas.errors import BadRecordError
from schemas.identity import record_canonical_url, record_id
from schemas.ids import content_hash
from schemas.records import Article, BodySource, DateSource, DeadLetter, PipelineInfo, RawRecord
from schemas.text import clean_line, count_words, first_sentence, markup_to_text

STAGE = "normalize"
DEAD_LETTERS = "dead_letters"


def _plausible_date(
    raw: RawRecord, dates: DateWindow, now: dt.datetime
) -> tuple[dt.datetime | None, DateSource | None, str | None]:
    """The record's date, source and rejected date, or, for a date outside the window, the fetch
    time said so (the fallback of a feed item without a date), with the rejected date and why."""
    when = raw.published_at
    if when is None or raw.date_source == "fetched":
        return when, raw.date_source, raw.date_rejected
    problem = dates.problem(when, now=now)
    if problem is None:
        return when, raw.date_source, raw.date_rejected
    return raw.fetched_at, "fetched", f"{raw.date_source or 'given'} date {problem}"


def normalize_record(
    raw: RawRecord,
    *,
    ingested_at: dt.datetime,
    pipeline: PipelineInfo,
    dates: DateWindow = DEFAULT_DATE_WINDOW,
) -> Article:
    """Clean, detect the language, hash and identify one record; a date outside `dates` (judged at
    `ingested_at`) is replaced by the fetch time and recorded in `date_rejected`.

    Every text field is cleaned by the one function bodies are (schemas.text.markup_to_text), so
    no title, summary, author or category keeps markup.
    Raises BadRecordError (or pydantic's ValidationError) for a record that cannot become an Article.
    """
    html = raw.body_format == "html"
    body = markup_to_text(raw.body, html)
    title = clean_line(markup_to_text(raw.title, html)) if raw.title else ""
    if not title and not body:
        raise BadRecordError("no text left after cleaning: both title and body are empty")
    # A title cut from the body adds no evidence of the language; counting it twice would.
    language = detect_language(f"{title}\n{body}" if title else body)
    title = title or first_sentence(body)
    summary = markup_to_text(raw.summary, html) if raw.summary else None
    # The id below still comes from the record as read: the fetch stage identified it that way.
    published_at, date_source, date_rejected = _plausible_date(raw, dates, ingested_at)

    hash_hex = content_hash(body or title)
    canonical = record_canonical_url(raw)
    article_id = record_id(raw, body or title)

    return Article(
        id=article_id,
        url=raw.url.strip() if raw.url else None,
        canonical_url=canonical,
        source=raw.source,
        title=title,
        summary=summary or None,
        body=body,
        body_source=_body_source(raw),
        page=raw.page,
        published_at=published_at,
        date_source=date_source,
        date_rejected=date_rejected,
        authors=_text_items(raw.authors),
        categories=_text_items(raw.categories),
        media_urls=raw.media_urls,
        ingested_at=ingested_at,
        language=language,
        word_count=count_words(body or title),
        content_hash=hash_hex,
        pipeline=pipeline,
        guid=_own_guid(raw),
    )


def _body_source(raw: RawRecord) -> BodySource:
    if raw.page is not None and raw.page.status == "extracted":
        return "extracted"
    return raw.source.kind


def _text_items(values: tuple[str, ...]) -> tuple[str, ...]:
    """Authors or categories: plain text in every feed format, so markup in one is found, not trusted."""
    return tuple(item for item in (clean_line(markup_to_text(value)) for value in values) if item)


def _own_guid(raw: RawRecord) -> str | None:
    """The item's GUID; none when its feed gave it to other, different items too: such a GUID is
    no dedup key (`schemas.dedup`), or the items would fold into one story as copies."""
    if raw.guid_shared is not None or not raw.guid or not raw.guid.strip():
        return None
    return raw.guid.strip()


class _NormalizeFn(beam.DoFn):
    def __init__(self, ingested_at: dt.datetime | None, pipeline: PipelineInfo, dates: DateWindow) -> None:
        self._ingested_at = ingested_at
        self._pipeline = pipeline
        self._dates = dates
        self._ok = Metrics.counter(counters.NAMESPACE, counters.ARTICLES_NORMALIZED)
        self._bad = Metrics.counter(counters.NAMESPACE, "normalize_rejected")

    def setup(self) -> None:
        tune_for_throughput()  # every source's articles pass here, on every worker

    def process(self, raw: RawRecord):  # type: ignore[no-untyped-def]
        try:
            ingested_at = self._ingested_at or raw.fetched_at
            article = normalize_record(
                raw, ingested_at=ingested_at, pipeline=self._pipeline, dates=self._dates
            )
        except (BadRecordError, ValidationError) as exc:
            self._bad.inc()
            reason = exc.reason if isinstance(exc, BadRecordError) else _validation_reason(exc)
            yield TaggedOutput(
                DEAD_LETTERS,
                DeadLetter.build(
                    stage=STAGE,
                    error_type=type(exc).__name__,
                    error=reason,
                    payload=raw.model_dump_json(),
                    source=raw.uri,
                    occurred_at=dt.datetime.now(dt.UTC),
                    run_id=self._pipeline.run_id,
                    record_id=_record_id_or_none(raw),
                ),
            )
            return
        self._ok.inc()
        yield article


def _record_id_or_none(raw: RawRecord) -> str | None:
    try:
        return record_id(raw)
    except BadRecordError:
        return None


def _validation_reason(exc: ValidationError) -> str:
    """The first validation problem as 'field: message', which is what a user needs to fix it."""
    errors = exc.errors(include_url=False)
    first = errors[0]
    where = ".".join(str(part) for part in first["loc"]) or "record"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"invalid {where}: {first['msg']}{more}"


class NormalizeResult(NamedTuple):
    articles: PCollection[Article]
    dead_letters: PCollection[DeadLetter]


class Normalize(beam.PTransform[PCollection[RawRecord], NormalizeResult]):
    """RawRecord → Article: NFC and whitespace clean-up, HTML to text (in every text field),
    implausible dates replaced by the fetch time (and recorded), language, word count, content
    hash, canonical URL and the deterministic id.

    Bounded or unbounded alike; element-wise, so exactly one output per input. Records that cannot
    be normalized become DeadLetters (stage ``normalize``). Metrics: ``articles_normalized``,
    ``normalize_rejected``.
    """

    def __init__(
        self,
        *,
        ingested_at: dt.datetime | None,
        pipeline: PipelineInfo,
        dates: DateWindow = DEFAULT_DATE_WINDOW,
    ) -> None:
        """`ingested_at`: one time for the whole run (batch), or None for each record's fetch time
        (streaming, where a run lasts for days); it is also the "now" the date window is judged at."""
        super().__init__()
        if ingested_at is not None and ingested_at.tzinfo is None:
            raise ValueError("ingested_at must be timezone-aware")
        self._ingested_at = ingested_at
        self._pipeline = pipeline
        self._dates = dates

    def expand(self, records: PCollection[RawRecord]) -> NormalizeResult:
        results = records | "CleanAndValidate" >> beam.ParDo(
            _NormalizeFn(self._ingested_at, self._pipeline, self._dates)
        ).with_output_types(Article, dead_letters=DeadLetter).with_outputs(DEAD_LETTERS, main="articles")
        return NormalizeResult(results.articles, results[DEAD_LETTERS])
