"""The page stage's rules: which feed items get their linked page fetched, and how a page's text
becomes the article's body (the fetching itself: tests/connectors/test_page_fetch.py; end to end:
tests/integration/test_pages.py)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from connectors.page_fetch import PageResult
from pipelines.pages import wants_page, with_page
from schemas.pages import PageConfig
from schemas.records import PageExtraction, PageStatus, Source
from tests.pipelines.test_normalize import normalize, raw

CONFIG = PageConfig(min_words=10)
LINK = "https://news.example.com/2026/12/07/story.html"
TEASER = "Five words in this teaser."
PAGE_TEXT = " ".join(f"word{i}" for i in range(40))
AT = dt.datetime(2026, 12, 7, 12, tzinfo=dt.UTC)


def _result(status: PageStatus, text: str | None = None, reason: str | None = None) -> PageResult:
    extraction = PageExtraction(
        status=status,
        reason=reason,
        url=LINK,
        word_count=len(text.split()) if text else 0,
        extractor="trafilatura test",
        fetched_at=AT,
    )
    return PageResult(extraction=extraction, text=text)


@pytest.mark.parametrize(
    ("fields", "config", "wanted"),
    [
        ({"url": LINK}, CONFIG, True),
        ({"url": LINK}, CONFIG.model_copy(update={"enabled": False}), False),
        ({"url": LINK, "body": PAGE_TEXT}, CONFIG, False),  # long enough already
        ({"url": LINK, "body": f"<p>{TEASER}</p>" + "<b></b>" * 50, "body_format": "html"}, CONFIG, True),
        ({}, CONFIG, False),  # no link
        ({"url": "ftp://news.example.com/story"}, CONFIG, False),
        ({"url": LINK, "source": Source(kind="seed", name="seeds", file="a.txt")}, CONFIG, False),
        ({"url": LINK, "guid": "g", "guid_shared": "content"}, CONFIG, False),  # its id is its text
        ({"url": LINK, "page": _result("timeout").extraction}, CONFIG, False),  # asked already
    ],
)
def test_only_short_feed_items_with_a_web_link_want_their_page(
    fields: dict[str, Any], config: PageConfig, wanted: bool
):
    assert wants_page(raw(**{"body": TEASER, **fields}), config) is wanted


def test_an_extracted_page_becomes_the_body_and_the_feeds_text_the_summary():
    record = raw(f"<p>{TEASER}</p>", body_format="html", url=LINK, title="A &amp; B")
    article = normalize(with_page(record, _result("extracted", PAGE_TEXT)))
    assert (article.body, article.summary, article.title) == (PAGE_TEXT, TEASER, "A & B")
    assert article.body_source == "extracted"
    assert article.page is not None
    assert article.page.status == "extracted"
    assert article.word_count == 40
    # The id comes from the link, so the page's text does not change it.
    assert article.id == normalize(record).id


def test_a_feed_summary_is_kept_as_the_summary():
    record = raw(TEASER, summary="The feed's own summary.", url=LINK)
    article = normalize(with_page(record, _result("extracted", PAGE_TEXT)))
    assert (article.body, article.summary) == (PAGE_TEXT, "The feed's own summary.")


@pytest.mark.parametrize("status", ["http_error", "timeout", "robots_disallowed", "unreachable", "not_html"])
def test_a_failed_page_keeps_the_feeds_text_and_says_why(status: PageStatus):
    record = raw(TEASER, url=LINK)
    article = normalize(with_page(record, _result(status, reason=f"because {status}")))
    assert (article.body, article.body_source) == (TEASER, "feed")
    assert article.page is not None
    assert (article.page.status, article.page.reason) == (status, f"because {status}")


def test_a_page_no_longer_than_the_feeds_text_is_not_used():
    record = raw(TEASER + " And a sixth, seventh.", url=LINK)
    article = normalize(with_page(record, _result("extracted", "Only three words.")))
    assert (article.body_source, article.body) == ("feed", TEASER + " And a sixth, seventh.")
    assert article.page is not None
    assert article.page.status == "no_text"
    assert article.page.reason == "the page's text (3 words) is no longer than the feed's (9)"


def test_seed_articles_say_their_body_is_the_seeds():
    article = normalize(raw(TEASER, source=Source(kind="seed", name="seeds", file="a.txt")))
    assert (article.body_source, article.page) == ("seed", None)
