"""normalize_record (pure) and one small Beam run of the Normalize transform."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import apache_beam as beam
import pytest
from apache_beam.testing import test_pipeline, util

from connectors.seedio import parse_seed
from pipelines.language import detect_language
from pipelines.normalize import Normalize, normalize_record
from schemas.dates import DateWindow
from schemas.errors import BadRecordError
from schemas.identity import record_id
from schemas.ids import article_id_from_content, article_id_from_url, content_hash, stable_id
from schemas.records import Article, DeadLetter, PipelineInfo, RawRecord, Source
from schemas.text import first_sentence

TESTS = Path(__file__).resolve().parents[1]
SEED_000 = TESTS.parent / "seeds" / "000_c188ed1eebfaaab7.txt"
FIXTURES = TESTS / "fixtures" / "normalize"

NOW = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)
INGESTED = dt.datetime(2024, 5, 1, 12, 5, tzinfo=dt.UTC)
PIPELINE = PipelineInfo(version="0.1.0", run_id="run-test")
FEED = Source(kind="feed", name="example", feed_url="https://example.com/rss")

GERMAN = (
    "Die Bundesregierung hat am Dienstag neue Maßnahmen zur Unterstützung der Industrie beschlossen. "
    "Die Opposition kritisierte den Plan als unzureichend und forderte weitere Gespräche mit den "
    "Gewerkschaften."
)
FRENCH = (
    "Le gouvernement français a annoncé mardi de nouvelles mesures pour soutenir l'industrie. "
    "L'opposition a jugé le plan insuffisant et réclame de nouvelles discussions avec les syndicats."
)


def raw(body: str = "Kim met Putin in Vladivostok. They talked for hours.", **fields: Any) -> RawRecord:
    values: dict[str, Any] = {
        "source": FEED,
        "uri": "https://example.com/rss#item-1",
        "body": body,
        "fetched_at": NOW,
    }
    values.update(fields)
    return RawRecord.model_validate(values)


def normalize(record: RawRecord) -> Article:
    return normalize_record(record, ingested_at=INGESTED, pipeline=PIPELINE)


def reason_of(record: RawRecord) -> str:
    with pytest.raises(BadRecordError) as info:
        normalize(record)
    return info.value.reason


# --- text clean-up --------------------------------------------------------------------------------


def test_body_is_nfc():
    article = normalize(raw("Cafe\u0301 owners met. They talked.", title="Cafe\u0301 news"))
    assert article.body == "Caf\u00e9 owners met. They talked."
    assert article.title == "Caf\u00e9 news"


def test_control_characters_removed():
    article = normalize(raw("Kim\x00 met\u200b Putin.\x07\n\nSecond\x1b paragraph.", title="T\x00itle\x9f"))
    assert article.body == "Kim met Putin.\n\nSecond paragraph."
    assert article.title == "Title"


def test_plain_text_body_keeps_paragraphs_and_joins_wrapped_lines():
    article = normalize(raw("First line\nwrapped.\r\n\r\n\r\nSecond\tparagraph.\u00a0"))
    assert article.body == "First line wrapped.\n\nSecond paragraph."


def test_html_body_becomes_text_with_paragraphs():
    html = (FIXTURES / "feed_item.html").read_text(encoding="utf-8")
    expected = (FIXTURES / "feed_item.expected.txt").read_text(encoding="utf-8")
    article = normalize(
        raw(
            html,
            body_format="html",
            title="Kim &amp; Putin <b>meet</b>",
            summary="<p>Kim arrives.</p><p>Talks&nbsp;begin.</p>",
        )
    )
    assert article.body == expected
    assert len(article.body.split("\n\n")) == 4
    assert article.title == "Kim & Putin meet"
    assert article.summary == "Kim arrives.\n\nTalks begin."
    assert "dataLayer" not in article.body
    assert "share" not in article.body
    assert article.word_count == 64
    assert article.language == "en"


def test_html_markup_in_a_text_body_is_kept_as_text():
    article = normalize(raw("Use <b> for bold. Always.", body_format="text"))
    assert article.body == "Use <b> for bold. Always."


def test_blank_summary_becomes_none():
    assert normalize(raw(summary="  \n ")).summary is None
    assert normalize(raw(summary=None)).summary is None
    assert normalize(raw(summary=" A  short\nsummary. ")).summary == "A short summary."


# --- language -------------------------------------------------------------------------------------


def test_language_of_a_real_seed_is_english():
    record = parse_seed(str(SEED_000), SEED_000.read_bytes(), read_at=NOW)
    article = normalize(record)
    assert article.language == "en"


@pytest.mark.parametrize(("text", "code"), [(GERMAN, "de"), (FRENCH, "fr")])
def test_language_of_german_and_french(text, code):
    assert normalize(raw(text)).language == code
    assert normalize(raw(text, title="Nachrichten" if code == "de" else "Actualités")).language == code


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("Yes no maybe", id="fewer-letters-than-the-minimum"),
        pytest.param("Oil prices rose", id="too-unsure"),
    ],
)
def test_language_of_a_three_word_text_is_none(text):
    # On its own the text is too short to tell; the article made of it must say so too, even when
    # its title is derived from (and so repeats) the body.
    assert detect_language(text) is None
    article = normalize(raw(text))
    assert article.title == text
    assert article.word_count == 3
    assert article.language is None


def test_language_of_three_words_over_title_and_body_is_none():
    assert normalize(raw("no maybe", title="Yes")).language is None


# --- hash, id, title ------------------------------------------------------------------------------


def test_hash_and_id_stable_across_whitespace_only_differences():
    a = normalize(raw("Kim met Putin in Vladivostok.\n\nThey talked for hours."))
    b = normalize(raw("  Kim  met\nPutin in\tVladivostok. \r\n\r\n\r\n  They   talked for\u00a0hours.  "))
    assert a.body == b.body
    assert a.content_hash == b.content_hash
    assert a.id == b.id
    assert a == b


def test_hash_and_id_change_when_a_word_changes():
    a = normalize(raw("Kim met Putin in Vladivostok."))
    b = normalize(raw("Kim met Putin in Moscow."))
    assert a.content_hash != b.content_hash
    assert a.id != b.id


def test_id_without_url_comes_from_content():
    article = normalize(raw("Kim met Putin in Vladivostok. They talked for hours."))
    expected_hash = content_hash("Kim met Putin in Vladivostok. They talked for hours.")
    assert article.content_hash == expected_hash
    assert article.id == article_id_from_content(expected_hash)
    assert article.url is None
    assert article.canonical_url is None


def test_title_derived_from_body_when_missing():
    body = "Mr. Kim met Mr. Putin in the U.S. consulate. They talked for hours.\n\nMore later."
    for title in (None, "", "   \n "):
        article = normalize(raw(body, title=title))
        assert article.title == "Mr. Kim met Mr. Putin in the U.S. consulate."
        assert article.title == first_sentence(article.body)


def test_title_derived_from_html_body():
    article = normalize(raw("<p>Kim arrives.</p><p>Talks begin.</p>", body_format="html"))
    assert article.title == "Kim arrives."
    assert article.body == "Kim arrives.\n\nTalks begin."


def test_title_only_record():
    article = normalize(raw("", title="  Kim meets Putin  "))
    assert article.title == "Kim meets Putin"
    assert article.body == ""
    assert article.content_hash == content_hash("Kim meets Putin")
    assert article.word_count == 3


def test_id_from_canonical_url():
    url = "HTTPS://Example.com:443/news/Kim-Putin?utm_source=rss&id=7#comments"
    article = normalize(raw(url=f"  {url} "))
    assert article.canonical_url == "https://example.com/news/Kim-Putin?id=7"
    assert article.id == article_id_from_url("https://example.com/news/Kim-Putin?id=7")
    assert article.url == url
    assert article.content_hash == content_hash(article.body)


def test_same_url_same_id_whatever_the_text():
    a = normalize(raw("First version.", url="https://example.com/a?utm_medium=rss"))
    b = normalize(raw("Updated version, longer.", url="https://EXAMPLE.com/a#top"))
    assert a.id == b.id
    assert a.content_hash != b.content_hash


def test_id_from_permalink_guid():
    record = raw(
        url="https://example.com/a?utm_source=rss",
        guid="https://Example.com/perma/1#x",
        guid_is_permalink=True,
    )
    article = normalize(record)
    assert article.canonical_url == "https://example.com/perma/1"
    assert article.id == article_id_from_url("https://example.com/perma/1")
    assert article.url == "https://example.com/a?utm_source=rss"


def test_permalink_guid_without_url():
    article = normalize(raw(guid="https://example.com/perma/2", guid_is_permalink=True))
    assert article.canonical_url == "https://example.com/perma/2"
    assert article.id == article_id_from_url("https://example.com/perma/2")
    assert article.url is None


def test_guid_that_is_not_a_permalink_identifies_the_item_within_its_feed():
    # A stable GUID outranks the link (links gain tracking parameters, GUIDs are meant as identity).
    with_url = normalize(raw(url="https://example.com/a", guid="tag:example.com,2024:1"))
    assert with_url.canonical_url == "https://example.com/a"
    assert with_url.id == stable_id("guid", "https://example.com/rss\x00tag:example.com,2024:1")
    without_url = normalize(raw(guid="https://example.com/perma/3", guid_is_permalink=False))
    assert without_url.canonical_url is None
    assert without_url.id == stable_id("guid", "https://example.com/rss\x00https://example.com/perma/3")


def test_feed_item_without_guid_or_link_is_identified_by_title_and_date():
    when = dt.datetime(2024, 5, 1, 12, tzinfo=dt.UTC)
    a = normalize(raw(title="Talks resume", published_at=when, date_source="published"))
    b = normalize(raw(title="Talks  resume!", published_at=when, date_source="published", body="Other text."))
    assert a.id == b.id
    assert a.id != normalize(raw(title="Talks resume", published_at=when + dt.timedelta(days=1))).id


def test_passes_through_metadata_fields():
    published = dt.datetime(2023, 11, 9, tzinfo=dt.UTC)
    article = normalize(raw(published_at=published))
    assert article.published_at == published
    assert article.ingested_at == INGESTED
    assert article.pipeline == PIPELINE
    assert article.source == FEED
    assert article.word_count == 9


# --- markup in every text field (issue 15, item 6) ------------------------------------------------


def test_markup_in_a_plain_title_is_removed_like_in_the_body():
    # What feed_parse hands over for an RSS item whose <title> held an escaped <script>: the body
    # is HTML, so the plain title was escaped to match, and one decoding would leave the tags.
    article = normalize(
        raw(
            "<p>Kim met Putin in Vladivostok.</p>",
            body_format="html",
            title="&lt;script&gt;alert(1)&lt;/script&gt;Kim &lt;b&gt;meets&lt;/b&gt; Putin",
            summary="<p>The two &lt;i&gt;leaders&lt;/i&gt; met.</p>",
            authors=("<b>Jane Roe</b>", "John &amp; Sons"),
            categories=("<i>World</i>", "Asia"),
        )
    )

    assert (article.title, article.summary, article.body) == (
        "Kim meets Putin",
        "The two leaders met.",
        "Kim met Putin in Vladivostok.",
    )
    assert article.authors == ("Jane Roe", "John & Sons")
    assert article.categories == ("World", "Asia")


def test_markup_in_a_text_record_is_removed_from_every_field():
    article = normalize(
        raw(
            "Kim met Putin. <script>steal()</script>They talked.",
            title="<img src=x onerror=alert(1)>Kim meets Putin",
            summary="Talks &amp;amp; dinner",
        )
    )

    assert (article.title, article.summary, article.body) == (
        "Kim meets Putin",
        "Talks & dinner",
        "Kim met Putin. They talked.",
    )


def test_a_title_that_was_only_markup_is_taken_from_the_body():
    article = normalize(raw("Kim met Putin. They talked.", title="<script>alert(1)</script>"))
    assert article.title == "Kim met Putin."


# --- implausible dates (issue 15, item 5) ----------------------------------------------------------


@pytest.mark.parametrize(
    ("published", "why"),
    [
        (dt.datetime(9999, 12, 31, tzinfo=dt.UTC), "9999-12-31T00:00:00Z is after 2024-05-02T12:05:00Z"),
        (dt.datetime(1900, 1, 1, tzinfo=dt.UTC), "1900-01-01T00:00:00Z is before 1990-01-01T00:00:00Z"),
        (dt.datetime(1, 1, 1, tzinfo=dt.UTC), "0001-01-01T00:00:00Z is before 1990-01-01T00:00:00Z"),
    ],
)
def test_an_implausible_date_is_replaced_by_the_fetch_time_and_recorded(published, why):
    article = normalize(raw(published_at=published, date_source="published"))

    assert (article.published_at, article.date_source) == (NOW, "fetched")
    assert article.date_rejected is not None
    assert article.date_rejected.startswith(f"published date {why}, the ")


def test_a_date_within_a_day_ahead_of_the_run_is_believed():
    ahead = INGESTED + dt.timedelta(hours=23)
    article = normalize(raw(published_at=ahead, date_source="published"))
    assert (article.published_at, article.date_source, article.date_rejected) == (ahead, "published", None)


def test_the_window_is_the_one_configured():
    window = DateWindow(earliest=dt.datetime(2024, 1, 1, tzinfo=dt.UTC), max_future_days=0)
    old = dt.datetime(2023, 6, 1, tzinfo=dt.UTC)
    article = normalize_record(
        raw(published_at=old, date_source="seed"), ingested_at=INGESTED, pipeline=PIPELINE, dates=window
    )

    assert (article.published_at, article.date_source) == (NOW, "fetched")
    assert article.date_rejected == (
        "seed date 2023-06-01T00:00:00Z is before 2024-01-01T00:00:00Z, the earliest plausible date"
    )
    assert normalize(raw(published_at=old, date_source="seed")).published_at == old  # the default window


def test_a_date_the_reader_rejected_is_kept_on_the_article():
    rejected = "published date 'Mon, 01 Jan 2024 10:00:00 +9999': UTC offset +9999 is beyond ±14 h"
    article = normalize(raw(published_at=NOW, date_source="fetched", date_rejected=rejected))
    assert (article.published_at, article.date_source, article.date_rejected) == (NOW, "fetched", rejected)


def test_an_implausible_date_keeps_the_id_the_fetch_stage_gave():
    # Without guid and link a feed item is identified by title and date; the fetch stage computed
    # that id from the record as read, and Normalize must stamp the same one.
    record = raw(
        title="Talks resume", published_at=dt.datetime(9999, 1, 1, tzinfo=dt.UTC), date_source="published"
    )
    assert normalize(record).id == record_id(record, normalize(record).body)


# --- rejected records -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "record",
    [
        pytest.param(raw("", title=None), id="both-missing"),
        pytest.param(raw(" \n\n\t ", title="  "), id="whitespace"),
        pytest.param(raw("\x00\u200b\ufeff", title="\x07"), id="controls-only"),
        pytest.param(raw("<script>x()</script><style>p{}</style>", body_format="html"), id="hidden-html"),
    ],
)
def test_empty_record_is_rejected(record):
    assert reason_of(record) == "no text left after cleaning: both title and body are empty"


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        pytest.param(
            {"url": "ftp://example.com/a"},
            "bad article URL: not an absolute http(s) URL: 'ftp://example.com/a'",
            id="ftp",
        ),
        pytest.param(
            {"url": "/news/a"},
            "bad article URL: not an absolute http(s) URL: '/news/a'",
            id="relative",
        ),
        pytest.param(
            {"guid": "urn:uuid:1234", "guid_is_permalink": True},
            "bad permalink GUID: not an absolute http(s) URL: 'urn:uuid:1234'",
            id="permalink-guid-not-a-url",
        ),
    ],
)
def test_bad_url_is_rejected(fields, reason):
    assert reason_of(raw(**fields)) == reason


def test_a_bad_permalink_guid_beside_a_good_link_is_only_a_name():
    article = normalize(raw(url="https://example.com/a", guid="urn:uuid:1234", guid_is_permalink=True))
    assert (article.canonical_url, article.guid) == ("https://example.com/a", "urn:uuid:1234")


# --- the Beam transform ---------------------------------------------------------------------------


def _dead_letter_key(letter: DeadLetter) -> tuple[str, str | None, str]:
    return (letter.stage, letter.source, letter.error)


def test_normalize_transform():
    good_seed = parse_seed(str(SEED_000), SEED_000.read_bytes(), read_at=NOW)
    good_feed = raw(
        "<p>Kim met Putin.</p><p>They talked.</p>",
        body_format="html",
        url="https://example.com/a?utm_source=rss",
    )
    empty = raw("  ", title=None, uri="https://example.com/rss#empty")
    expected_articles = [normalize(good_seed), normalize(good_feed)]

    with test_pipeline.TestPipeline() as pipeline:
        result = (
            pipeline
            | beam.Create([good_seed, good_feed, empty])
            | Normalize(ingested_at=INGESTED, pipeline=PIPELINE)
        )
        util.assert_that(result.articles, util.equal_to(expected_articles))
        util.assert_that(
            result.dead_letters | beam.Map(_dead_letter_key),
            util.equal_to(
                [
                    (
                        "normalize",
                        "https://example.com/rss#empty",
                        "no text left after cleaning: both title and body are empty",
                    )
                ]
            ),
            label="DeadLetters",
        )


def test_normalize_transform_judges_dates_by_its_window():
    window = DateWindow(earliest=dt.datetime(2024, 1, 1, tzinfo=dt.UTC))
    old = raw(published_at=dt.datetime(2023, 12, 31, tzinfo=dt.UTC), date_source="published")
    recent = raw(
        published_at=dt.datetime(2024, 4, 30, tzinfo=dt.UTC),
        date_source="published",
        uri="https://example.com/rss#item-2",
        body="Talks resumed in Geneva on Tuesday.",
    )

    with test_pipeline.TestPipeline() as pipeline:
        result = (
            pipeline
            | beam.Create([old, recent])
            | Normalize(ingested_at=INGESTED, pipeline=PIPELINE, dates=window)
        )
        util.assert_that(
            result.articles | beam.Map(lambda a: (a.published_at, a.date_source, a.date_rejected is None)),
            util.equal_to(
                [(NOW, "fetched", False), (dt.datetime(2024, 4, 30, tzinfo=dt.UTC), "published", True)]
            ),
        )


def test_normalize_transform_refuses_naive_ingested_at():
    with pytest.raises(ValueError, match=r"^ingested_at must be timezone-aware$"):
        Normalize(ingested_at=dt.datetime(2024, 5, 1), pipeline=PIPELINE)  # noqa: DTZ001
