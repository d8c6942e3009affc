"""parse_feed on hand-written feeds: golden records, dates, identity, encodings, entity attacks, limits."""

from __future__ import annotations

import datetime as dt
import json
import tracemalloc
from pathlib import Path

import pytest

from connectors import feed_parse
from connectors.feed_parse import MAX_ENTRIES, REFUSED_ENTITIES, FeedParseResult, parse_feed
from schemas.feeds import FeedSpec
from schemas.identity import record_canonical_url, record_id
from schemas.ids import article_id_from_url
from schemas.text import html_to_text

FEEDS = Path(__file__).resolve().parents[1] / "fixtures" / "feeds"
FETCHED_AT = dt.datetime(2026, 2, 1, 12, 0, tzinfo=dt.UTC)
NAME = "Example News"

# fixture → (the feed's URL in the catalog, the response headers it came with)
GOLDEN: dict[str, tuple[str, dict[str, str]]] = {
    "rss20.xml": ("https://news.example.com/rss.xml", {"Content-Type": "application/rss+xml; charset=utf-8"}),
    "atom.xml": ("https://atom.example.org/feed.atom", {"Content-Type": "application/atom+xml"}),
    "rss10.rdf": ("https://rdf.example.com/rss.rdf", {}),
    "dates.xml": ("https://dates.example.com/rss", {}),
    "guids_links.xml": (
        "https://links.example.com/feeds/main.xml",
        {"Content-Location": "/feeds/v2/main.xml"},
    ),
    "windows1251.xml": ("https://ru.example.com/rss", {"Content-Type": "application/xml"}),
    "malformed_usable.xml": ("https://malformed.example.com/rss", {}),
    "broken_no_entries.xml": ("https://broken.example.com/rss", {}),
    "html_page.html": ("https://news.example.com/rss.xml", {"Content-Type": "text/html; charset=utf-8"}),
    "billion_laughs.xml": ("https://bomb.example.com/rss", {}),
    "billion_laughs_same_line.xml": ("https://bomb.example.com/rss", {}),
    "nyt_world_media.xml": (
        "https://rss.nytimes.com/services/xml/rss/nyt/World.xml",
        {"Content-Type": "text/xml; charset=UTF-8"},
    ),
}


def spec(url: str = "https://example.com/rss.xml") -> FeedSpec:
    return FeedSpec(url=url, name=NAME)


def parse(
    data: bytes, headers: dict[str, str] | None = None, url: str = "https://example.com/rss.xml"
) -> FeedParseResult:
    return parse_feed(data, headers or {}, spec(url), fetched_at=FETCHED_AT)


def parse_fixture(name: str) -> FeedParseResult:
    url, headers = GOLDEN[name]
    return parse((FEEDS / name).read_bytes(), headers, url)


def rss(items: str, channel: str = "", namespaces: str = "") -> bytes:
    return (
        f'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"{namespaces}><channel>'
        f"<title>T</title><link>https://example.com/</link>{channel}{items}</channel></rss>"
    ).encode()


# --- golden: every fixture against its expected JSON ----------------------------------------------


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_fixture_matches_its_expected_json(name):
    expected = json.loads((FEEDS / f"{name.rsplit('.', 1)[0]}.expected.json").read_text(encoding="utf-8"))

    result = parse_fixture(name)

    assert result.model_dump(mode="json") == expected
    # Round trip: the golden file is a valid result, so the comparison above is of like with like.
    assert FeedParseResult.model_validate(expected) == result


def test_every_fixture_is_covered_by_a_golden_case():
    fixtures = {p.name for p in FEEDS.iterdir() if not p.name.endswith(".expected.json")}
    assert fixtures == set(GOLDEN)


# --- formats -------------------------------------------------------------------------------------


def test_rss20_channel_hints_and_first_item():
    result = parse_fixture("rss20.xml")

    assert (result.title, result.ttl_minutes, result.update_period_s) == ("Wire & World", 30, 1800)
    first = result.records[0]
    assert first.title == "Kim meets Putin in Vladivostok"
    assert first.summary == "<p>The two leaders met on Tuesday.</p>"  # <description>
    assert first.body.startswith("<p>The two leaders met on Tuesday at the station.</p>")  # content:encoded
    assert first.body_format == "html"
    assert first.authors == ("Jane Roe", "John Doe")
    assert first.categories == ("World", "Asia")
    assert first.media_urls == (
        "https://cdn.example.com/kim.jpg",
        "https://cdn.example.com/kim-large.jpg",
        "https://cdn.example.com/kim-thumb.jpg",
    )
    assert first.metadata == {"feed_version": "rss20", "feed_title": "Wire & World", "language": "en-gb"}
    assert first.published_at == dt.datetime(2023, 9, 11, 23, 30, tzinfo=dt.UTC)


def test_atom_links_resolved_against_xml_base_and_feed_url():
    records = parse_fixture("atom.xml").records

    assert [r.url for r in records] == [
        "https://atom.example.org/2024/03/ceasefire",
        "https://mirror.example.net/news/only-updated",
        None,
    ]
    assert records[0].media_urls == ("https://atom.example.org/audio/ceasefire.mp3",)
    assert records[0].title == "Ceasefire <em>holds</em>"  # type="html", kept for Normalize
    assert records[1].body == "<p>Leap-day <b>story</b>.</p>"  # type="xhtml", wrapper div dropped
    assert records[1].body_format == "html"
    assert records[1].summary is None  # feedparser's copy of the content is not a summary
    assert records[2].metadata["language"] == "fr"  # the entry's xml:lang beats the feed's


def test_rss10_items_dated_by_dc_date_under_any_prefix():
    result = parse_fixture("rss10.rdf")

    assert [(r.date_source, r.published_at) for r in result.records] == [
        ("dc:date", dt.datetime(2024, 5, 6, 5, 8, 9, tzinfo=dt.UTC)),
        ("dc:date", dt.datetime(2024, 5, 6, tzinfo=dt.UTC)),
    ]
    assert result.records[0].authors == ("Karl Beispiel",)  # <dcel:creator>
    assert result.records[0].categories == ("Politik",)  # <dcel:subject>
    assert result.update_period_s == 86_400


# --- dates ---------------------------------------------------------------------------------------


def test_each_entry_dated_on_its_own_and_fallbacks_say_so():
    records = parse_fixture("dates.xml").records

    assert [(r.title, r.date_source, r.published_at) for r in records] == [
        ("Good RFC 822 date", "published", dt.datetime(2024, 1, 1, 9, tzinfo=dt.UTC)),
        ("Garbage date", "fetched", FETCHED_AT),
        ("Garbage pubDate, good dc:date", "dc:date", dt.datetime(2024, 1, 3, 15, tzinfo=dt.UTC)),
        ("No date at all", "fetched", FETCHED_AT),
        # feedparser reads it (as year 10000 in UTC); Python cannot hold it: a fallback, not a crash.
        ("Date past the end of the calendar", "fetched", FETCHED_AT),
        ("Named US time zone", "published", dt.datetime(2024, 1, 6, 14, 30, tzinfo=dt.UTC)),
        ("ISO date in pubDate", "published", dt.datetime(2024, 1, 7, 8, tzinfo=dt.UTC)),
    ]
    for record in records:
        assert record.published_at is not None
        assert record.published_at.utcoffset() == dt.timedelta(0)
        assert record.fetched_at == FETCHED_AT


def test_the_dates_given_but_not_used_are_recorded_with_the_reason():
    rejected = {r.title: r.date_rejected for r in parse_fixture("dates.xml").records}

    assert rejected == {
        "Good RFC 822 date": None,
        "Garbage date": "published date 'the day after tomorrow, probably': not a readable date",
        "Garbage pubDate, good dc:date": "published date '32 Foo 2024 99:99:99': not a readable date",
        "No date at all": None,  # nothing was given, so nothing was rejected
        "Date past the end of the calendar": (
            "published date '9999-12-31T23:00:00-05:00': not a readable date"
        ),
        "Named US time zone": None,
        "ISO date in pubDate": None,
    }


@pytest.mark.parametrize(
    ("written", "offset"),
    [
        ("Mon, 01 Jan 2024 10:00:00 +9999", "+9999"),
        ("Mon, 01 Jan 2024 10:00:00 -1500", "-1500"),
        ("2024-01-01T10:00:00+99:99", "+9999"),
        ("2024-01-01T10:00:00.250+14:30", "+1430"),
        ("Mon, 01 Jan 2024 10:00:00 +0575", "+0575"),
    ],
)
def test_a_utc_offset_no_clock_has_is_not_applied_but_recorded(written, offset):
    # feedparser applies "+9999" as 99 h 99 min: the date moved by four days, without a word.
    record = parse(rss(f"<item><title>x</title><pubDate>{written}</pubDate></item>")).records[0]

    assert (record.published_at, record.date_source) == (FETCHED_AT, "fetched")
    assert record.date_rejected == f"published date {written!r}: UTC offset {offset} is beyond ±14 h"


def test_a_bad_offset_on_pubdate_falls_back_to_a_good_dc_date():
    doc = rss(
        "<item><title>x</title><pubDate>Mon, 01 Jan 2024 10:00:00 +9999</pubDate>"
        "<dc:date>2024-01-03T12:00:00-03:00</dc:date></item>",
        namespaces=' xmlns:dc="http://purl.org/dc/elements/1.1/"',
    )
    record = parse(doc).records[0]

    assert (record.published_at, record.date_source) == (
        dt.datetime(2024, 1, 3, 15, tzinfo=dt.UTC),
        "dc:date",
    )
    assert record.date_rejected == (
        "published date 'Mon, 01 Jan 2024 10:00:00 +9999': UTC offset +9999 is beyond ±14 h"
    )


@pytest.mark.parametrize("written", ["Mon, 01 Jan 2024 10:00:00 +1400", "2024-01-01T10:00:00-12:00"])
def test_the_widest_real_offsets_are_applied(written):
    record = parse(rss(f"<item><title>x</title><pubDate>{written}</pubDate></item>")).records[0]

    assert record.date_source == "published"
    assert record.date_rejected is None
    assert record.published_at is not None
    assert abs(record.published_at - dt.datetime(2024, 1, 1, 10, tzinfo=dt.UTC)) in (
        dt.timedelta(hours=14),
        dt.timedelta(hours=12),
    )


def test_atom_updated_is_not_mistaken_for_dc_date():
    assert [r.date_source for r in parse_fixture("atom.xml").records] == ["published", "updated", "fetched"]


def test_fetched_at_must_be_aware():
    with pytest.raises(ValueError, match="timezone"):
        parse_feed(rss("<item><title>x</title></item>"), {}, spec(), fetched_at=dt.datetime(2026, 1, 1))  # noqa: DTZ001


def test_fetched_at_in_another_zone_is_stored_as_utc():
    tokyo = dt.datetime(2026, 2, 1, 21, 0, tzinfo=dt.timezone(dt.timedelta(hours=9)))
    record = parse_feed(rss("<item><title>x</title></item>"), {}, spec(), fetched_at=tokyo).records[0]
    assert record.fetched_at == record.published_at == FETCHED_AT
    assert record.fetched_at.tzinfo == dt.UTC


# --- identity ------------------------------------------------------------------------------------


def test_guids_permalinks_and_links():
    result = parse_fixture("guids_links.xml")

    assert [(r.title, r.guid, r.guid_is_permalink, r.url, r.uri) for r in result.records] == [
        (
            "Guid only, a permalink by default",
            "https://links.example.com/p/1",
            True,
            "https://links.example.com/p/1",
            "https://links.example.com/p/1",
        ),
        (
            "Permalink guid before the link",
            "https://links.example.com/p/2",
            True,
            "https://links.example.com/p/2?ref=rss",
            "https://links.example.com/p/2?ref=rss",
        ),
        # isPermaLink decides, not feedparser's guidislink (false once a <link> came first).
        (
            "Permalink guid after the link",
            "https://links.example.com/p/3-perma",
            True,
            "https://links.example.com/p/3",
            "https://links.example.com/p/3",
        ),
        (
            "Not a permalink, relative link",
            "https://links.example.com/p/4",
            False,
            "https://links.example.com/p/4",
            "https://links.example.com/p/4",
        ),
        (
            "A permalink guid that is no web address",
            "urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66",
            False,
            None,
            "urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66",
        ),
        (
            "Link relative to the document",
            None,
            False,
            "https://links.example.com/feeds/v2/p/6.html",  # against Content-Location, not the feed URL
            "https://links.example.com/feeds/v2/p/6.html",
        ),
        (
            "Relative permalink guid",
            "https://links.example.com/p/7",
            True,
            "https://links.example.com/p/7",
            "https://links.example.com/p/7",
        ),
        ("Script link", None, False, None, "https://links.example.com/feeds/main.xml#9"),
    ]
    assert result.entries_seen == 10
    assert result.entry_errors == (
        "entry 8: no guid, link or title",
        "entry 10: no title, summary or content",
    )


def _item(guid: str, link: str | None, title: str, text: str, permalink: str = "") -> str:
    link_xml = f"<link>{link}</link>" if link else ""
    guid_xml = f"<guid{permalink}>{guid}</guid>"
    return f"<item><title>{title}</title>{link_xml}{guid_xml}<description>{text}</description></item>"


def test_a_permalink_guid_gives_the_same_id_from_any_feed_url_and_element_order():
    after = rss(_item("https://p.example.com/a/1", "https://p.example.com/a/1?ref=rss", "A", "Text."))
    before = rss(
        "<item><guid isPermaLink='true'>https://p.example.com/a/1</guid>"
        "<link>https://p.example.com/a/1?ref=rss</link><title>A</title><description>Text.</description></item>"
    )
    records = [
        parse(doc, url=url).records[0]
        for doc in (after, before)
        for url in (
            "https://p.example.com/rss",
            "https://p.example.com/rss?r=2",
            "https://mirror.example.net/p",
        )
    ]
    assert {r.guid_is_permalink for r in records} == {True}
    assert {record_id(r) for r in records} == {article_id_from_url("https://p.example.com/a/1")}
    assert {record_canonical_url(r) for r in records} == {"https://p.example.com/a/1"}


def test_an_opaque_guid_is_scoped_to_its_feed_url():
    doc = rss(
        _item("https://p.example.com/a/1", "https://p.example.com/a/1", "A", "T.", ' isPermaLink="false"')
    )
    one, other = (
        parse(doc, url=url).records[0] for url in ("https://p.example.com/rss", "https://p.example.com/x")
    )
    assert not one.guid_is_permalink
    assert record_id(one) != record_id(other)
    assert record_canonical_url(one) == record_canonical_url(other) == "https://p.example.com/a/1"


@pytest.mark.parametrize("permalink", ["", ' isPermaLink="false"'])
def test_items_sharing_a_guid_with_their_own_links_are_told_apart_by_link(permalink):
    guid = "https://sloppy.example.com/feed" if not permalink else "item"
    items = "".join(
        _item(guid, f"https://sloppy.example.com/s/{n}", f"Story {n}", f"Text {n}.", permalink)
        for n in range(20)
    )
    records = parse(rss(items)).records
    assert {r.guid_shared for r in records} == {"link"}
    ids = [record_id(r) for r in records]
    assert ids == [article_id_from_url(f"https://sloppy.example.com/s/{n}") for n in range(20)]
    assert [record_canonical_url(r) for r in records] == [
        f"https://sloppy.example.com/s/{n}" for n in range(20)
    ]
    # The next poll edits one story's text: its id stays.
    edited = items.replace("Text 3.", "Text 3, updated with a correction.")
    assert [record_id(r) for r in parse(rss(edited)).records] == ids


def test_items_sharing_a_guid_and_a_link_are_told_apart_by_content():
    items = "".join(_item("42", "https://s.example.com/live", f"Update {n}", f"Text {n}.") for n in range(3))
    records = parse(rss(items)).records
    assert {r.guid_shared for r in records} == {"content"}
    assert len({record_id(r) for r in records}) == 3
    # Feed-scoped, and stable across polls (the same text, the same id).
    again = parse(rss(items)).records
    assert [record_id(r) for r in again] == [record_id(r) for r in records]
    assert record_id(parse(rss(items), url="https://example.com/other").records[0]) != record_id(records[0])


def test_an_item_listed_twice_or_alone_with_its_guid_keeps_the_guids_id():
    one = _item("g-1", "https://s.example.com/1", "One", "Text.")
    twice = parse(rss(one + one + _item("g-2", "https://s.example.com/2", "Two", "Text."))).records
    assert {r.guid_shared for r in twice} == {None}
    assert record_id(twice[0]) == record_id(twice[1])
    # The same item re-polled with an edited text keeps its id (it is not a new article).
    edited = parse(rss(_item("g-1", "https://s.example.com/1", "One", "Text, edited."))).records[0]
    assert edited.guid_shared is None
    assert record_id(edited) == record_id(twice[0])


def test_relative_links_resolve_against_the_feed_url_without_content_location():
    record = parse(
        rss("<item><title>x</title><link>../a/1</link></item>"), url="https://ex.com/f/rss"
    ).records[0]
    assert record.url == "https://ex.com/a/1"


def test_relative_xml_base_is_joined_to_the_document_url():
    doc = b"""<feed xmlns="http://www.w3.org/2005/Atom" xml:base="/news/"><title>A</title>
      <entry xml:base="2024/"><id>i1</id><title>x</title><link href="a/1"/>
        <link rel="enclosure" href="../img/1.jpg"/></entry></feed>"""
    record = parse(doc, {"Content-Location": "https://b.example.com/feeds/atom.xml"}).records[0]
    assert record.url == "https://b.example.com/news/2024/a/1"
    assert record.media_urls == ("https://b.example.com/news/img/1.jpg",)


def test_rss_enclosures_resolve_against_the_document_url():
    doc = rss("<item><title>x</title><enclosure url='m/1.mp3' type='audio/mpeg'/></item>")
    record = parse(doc, {"Content-Location": "https://b.example.com/feeds/rss.xml"}).records[0]
    assert record.media_urls == ("https://b.example.com/feeds/m/1.mp3",)


def test_relative_links_are_dropped_when_the_feed_is_a_local_file():
    record = parse(rss("<item><title>x</title><link>a/1</link></item>"), url="/data/feeds/x.xml").records[0]
    assert record.url is None
    assert record.uri == "/data/feeds/x.xml#1"


def test_atom_ids_are_never_permalinks():
    doc = b"""<feed xmlns="http://www.w3.org/2005/Atom"><title>A</title>
      <entry><id>https://a.example.com/1</id><title>x</title></entry></feed>"""
    record = parse(doc).records[0]
    assert (record.guid, record.guid_is_permalink) == ("https://a.example.com/1", False)


# --- text ----------------------------------------------------------------------------------------


def test_html_is_not_sanitized_here_and_normalize_still_drops_scripts():
    record = parse_fixture("rss20.xml").records[0]

    assert "<script>track()</script>" in record.body  # sanitize_html=False: raw markup passes through
    text = html_to_text(record.body)
    assert "track" not in text
    assert text == "The two leaders met on Tuesday at the station.\n\nTalks lasted four hours."


def test_plain_title_is_escaped_when_the_body_is_html():
    record = parse_fixture("rss20.xml").records[2]

    assert record.body_format == "html"
    assert record.title == "Q&amp;A: what the summit means"
    assert html_to_text(record.title) == "Q&A: what the summit means"


def test_plain_text_stays_text():
    doc = b"""<feed xmlns="http://www.w3.org/2005/Atom"><title>A</title>
      <entry><id>x</id><title>5 &lt; 6 &amp; more</title><summary>a &lt;b&gt; c</summary></entry></feed>"""
    record = parse(doc).records[0]
    assert (record.title, record.body, record.body_format) == ("5 < 6 & more", "a <b> c", "text")


def test_title_only_entry_has_an_empty_body():
    record = parse(rss("<item><title>Only a title</title></item>")).records[0]
    assert (record.title, record.body, record.summary) == ("Only a title", "", None)


def test_longest_of_content_and_summary_is_the_body():
    doc = rss(
        "<item><title>x</title><description>A much longer description than the content.</description>"
        "<content:encoded>Short.</content:encoded></item>",
        namespaces=' xmlns:content="http://purl.org/rss/1.0/modules/content/"',
    )
    record = parse(doc).records[0]
    assert record.body == record.summary == "A much longer description than the content."


def test_photo_captions_are_never_the_body_or_the_summary():
    # A New York Times world feed: <description> and, per image, <media:description> (its caption).
    # feedparser files the caption as `content` after a description (the longer one became the
    # body: 12 of 57 items) and as `summary` before one; neither may reach the record.
    records = parse_fixture("nyt_world_media.xml").records

    assert [(r.title, r.summary, r.body) for r in records] == [
        (
            "Flooding Forces Thousands From Homes Along the Danube",
            "Officials in three countries ordered evacuations as the river rose.",
            "Officials in three countries ordered evacuations as the river rose.",
        ),
        (
            "Talks on Prisoner Exchange Resume in Geneva",
            "Negotiators met for the first time in four months, and diplomats said both sides had brought "
            "lists of names, a sign that an agreement could come before the end of the year.",
            "Negotiators met for the first time in four months, and diplomats said both sides had brought "
            "lists of names, a sign that an agreement could come before the end of the year.",
        ),
        (
            "What to Know About the Election in Chile",
            "Voters choose a president in a runoff on Sunday. Here is what is at stake.",
            "Voters choose a president in a runoff on Sunday. Here is what is at stake.",
        ),
        (  # the caption comes first here, inside <media:content>
            "Port Strike Leaves Ships Waiting Offshore",
            "The dockworkers want higher pay.",
            "The dockworkers want higher pay.",
        ),
    ]
    assert records[0].media_urls == (
        "https://static01.nyt.com/images/2026/12/06/multimedia/06danube-flood-superJumbo.jpg",
    )
    assert records[0].authors == ("Anna Keller and Tomas Novak",)


@pytest.mark.parametrize("broken", [False, True], ids=["strict-parser", "loose-parser"])
def test_a_caption_alone_is_no_body_and_content_encoded_still_is(broken):
    # A stray "&" sends feedparser to its loose parser, which must skip captions too.
    items = (
        "<item><title>Only a photo</title><media:content url='https://example.com/p.jpg' medium='image'/>"
        "<media:description>A long caption of the photo, longer than anything else here."
        "</media:description></item>"
        "<item><title>Full text</title><media:description>Caption first, longer than the "
        "description.</media:description><description>Short.</description>"
        "<content:encoded>&lt;p&gt;The full text.&lt;/p&gt;</content:encoded></item>"
    )
    doc = rss(
        items,
        channel="<copyright>A & B</copyright>" if broken else "",
        namespaces=' xmlns:media="http://search.yahoo.com/mrss/"'
        ' xmlns:content="http://purl.org/rss/1.0/modules/content/"',
    )
    result = parse(doc)

    assert (result.bozo is not None) is broken
    assert [(r.title, r.summary, r.body) for r in result.records] == [
        ("Only a photo", None, ""),
        ("Full text", "Short.", "<p>The full text.</p>"),
    ]


@pytest.mark.parametrize(
    ("media", "body"),
    [
        (
            "<media:content url='https://example.com/v/1' type='application/x-shockwave-flash'/>",
            "What the video shows.",
        ),
        ("<media:content url='https://example.com/1.jpg' type='image/jpeg'/>", ""),
    ],
    ids=["video", "image"],
)
def test_the_description_of_the_item_own_media_is_its_text_when_it_has_no_other(media, body):
    # A YouTube entry: its only text is the description of its video, the item itself.
    doc = f"""<feed xmlns="http://www.w3.org/2005/Atom" xmlns:media="http://search.yahoo.com/mrss/">
      <title>Channel</title><entry><id>yt:video:1</id><title>A video</title>
      <media:group><media:title>A video</media:title>{media}
      <media:description>What the video shows.</media:description></media:group></entry></feed>""".encode()
    record = parse(doc).records[0]

    assert (record.body, record.summary, record.body_format) == (body, body or None, "text")


def test_authors_keep_names_not_bare_email_addresses():
    record = parse(rss("<item><title>x</title><author>desk@example.com</author></item>")).records[0]
    assert record.authors == ()


# --- encodings -----------------------------------------------------------------------------------


def test_windows_1251_declared_in_the_document():
    result = parse_fixture("windows1251.xml")

    assert result.title == "Новости дня"
    assert result.records[0].title == "Переговоры в Москве"
    assert result.records[0].body == "Стороны «договорились» о встрече — в среду."
    assert result.records[0].categories == ("Политика",)
    assert result.bozo is None


def test_charset_from_the_content_type_header():
    data = (FEEDS / "windows1251.xml").read_bytes().replace(b' encoding="windows-1251"', b"")
    result = parse(data, {"Content-Type": "application/rss+xml; charset=windows-1251"})
    assert result.records[0].title == "Переговоры в Москве"
    assert result.bozo is None


def test_a_wrong_charset_header_is_survived_and_reported():
    data = (FEEDS / "windows1251.xml").read_bytes()
    result = parse(data, {"content-type": "application/rss+xml; charset=utf-8"})
    assert result.records[0].title == "Переговоры в Москве"
    assert result.bozo == "CharacterEncodingOverride: document declared as utf-8, but parsed as windows-1251"


def test_utf16_document():
    url, _ = GOLDEN["rss20.xml"]
    text = (FEEDS / "rss20.xml").read_text(encoding="utf-8").replace('encoding="utf-8"', 'encoding="utf-16"')
    data = text.encode("utf-16")
    assert data.startswith(b"\xff\xfe")

    result = parse(data, {"Content-Type": "application/rss+xml"}, url)

    assert result.records == parse_fixture("rss20.xml").records
    assert result.records[0].title == "Kim meets Putin in Vladivostok"


# --- not a feed ----------------------------------------------------------------------------------


@pytest.mark.parametrize("data", [b"", b"  \r\n\t ", b"\n"])
def test_empty_document(data):
    assert parse(data) == FeedParseResult(records=(), entries_seen=0, feed_error="empty document")


def test_html_page_is_not_a_feed():
    result = parse_fixture("html_page.html")
    assert result.records == ()
    assert result.feed_error is not None
    assert result.feed_error.startswith("not an RSS/Atom feed (an HTML page): ")


def test_json_feed_is_named():
    result = parse(b'{"version": "https://jsonfeed.org/version/1.1", "title": "J", "items": []}')
    assert result.feed_error is not None
    assert result.feed_error.startswith(
        "not an RSS/Atom feed (JSON, perhaps a JSON Feed, which is not supported)"
    )


@pytest.mark.parametrize(
    "data",
    [
        bytes(range(256)) * 4,
        b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03",  # the start of a gzip stream
        b"<<<<>>>>&&&&;;;;",
        b"<?xml version='1.0'?>",
        b"<rss",
        b"\x00" * 64,
    ],
    ids=["all-bytes", "gzip", "punctuation", "declaration-only", "truncated", "nul"],
)
def test_garbage_never_raises(data):
    result = parse(data)
    assert result.feed_error is not None
    assert (result.records, result.entries_seen) == ((), 0)


def test_invalid_utf8_falls_back_to_windows_1252():
    # A UTF-8-encoded lone surrogate is not UTF-8: feedparser tries windows-1252 next, and says so.
    data = "<rss version='2.0'><channel><item><title>\ud800</title></item></channel></rss>".encode(
        "utf-8", "surrogatepass"
    )
    result = parse(data)
    assert [r.title for r in result.records] == ["\xed\xa0\u20ac"]
    assert result.bozo == "CharacterEncodingOverride: document declared as utf-8, but parsed as windows-1252"


def test_a_valid_empty_feed_is_not_an_error():
    result = parse(rss(""))
    assert (result.records, result.entries_seen, result.feed_error, result.title) == ((), 0, None, "T")


def test_a_malformed_feed_with_entries_is_used_and_flagged():
    result = parse_fixture("malformed_usable.xml")
    assert [r.title for r in result.records] == ["Cats &amp; dogs", "Second item"]
    assert result.feed_error is None
    assert result.bozo is not None
    assert result.bozo.startswith("SAXParseException:")


# --- entity attacks ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["billion_laughs.xml", "billion_laughs_same_line.xml"])
def test_billion_laughs_is_refused_quickly_in_little_memory(name):
    data = (FEEDS / name).read_bytes()
    tracemalloc.start()
    try:
        result = parse(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert result == FeedParseResult(records=(), entries_seen=0, feed_error=REFUSED_ENTITIES)
    # Let through, the same-line variant reaches expat, which stops it only after ~8 s and ~57 MB.
    assert peak < 2 * 1024 * 1024


def test_entity_declarations_hidden_by_the_encoding_are_refused():
    utf16 = (
        (FEEDS / "billion_laughs.xml")
        .read_text(encoding="utf-8")
        .replace('<?xml version="1.0"?>', '<?xml version="1.0" encoding="utf-16"?>')
        .encode("utf-16")
    )
    # UTF-7 spells "<" as "+ADw-"; feedparser decodes it before the XML parser and its DOCTYPE clean-up.
    utf7 = (
        b'<?xml version="1.0" encoding="utf-7"?>\n'
        b'+ADw-!DOCTYPE a+AD4-+ADw-!DOCTYPE rss +AFs-+ADw-!ENTITY x "HIDDEN"+AD4-+AF0-+AD4-\n'
        b'<rss version="2.0"><channel><title>t</title>'
        b"<item><title>a &x; b</title><link>https://a.example.com/1</link></item></channel></rss>"
    )
    for data in (utf16, utf7):
        assert b"<!ENTITY" not in data
        assert parse(data).feed_error == REFUSED_ENTITIES


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    path = tmp_path / "passwd"
    path.write_text("root:x:0:0:WIREWATCH-SECRET-7f3a:/root:/bin/bash\n", encoding="utf-8")
    return path


def _external_entity_documents(secret: Path, tmp_path: Path) -> dict[str, str]:
    uri = secret.as_uri()
    body = (
        '<rss version="2.0"><channel><title>t &x;</title><item><title>leak: &x;</title>'
        "<link>https://xxe.example.com/1</link><description>&x;</description></item></channel></rss>"
    )
    dtd = tmp_path / "evil.dtd"
    dtd.write_text(f'<!ENTITY x SYSTEM "{uri}">\n', encoding="utf-8")
    head = '<?xml version="1.0"?>\n'
    return {
        "internal-subset": f'{head}<!DOCTYPE rss [\n<!ENTITY x SYSTEM "{uri}">\n]>\n{body}',
        "same-line": f'{head}<!DOCTYPE a><!DOCTYPE rss [<!ENTITY x SYSTEM "{uri}">]>\n{body}',
        "parameter-entity": f'{head}<!DOCTYPE rss [\n<!ENTITY % e SYSTEM "{dtd.as_uri()}">\n%e;\n]>\n{body}',
        "external-dtd": f'{head}<!DOCTYPE rss SYSTEM "{dtd.as_uri()}">\n{body}',
    }


def test_external_entities_never_disclose_a_file(secret, tmp_path):
    for name, text in _external_entity_documents(secret, tmp_path).items():
        result = parse(text.encode())

        assert "WIREWATCH-SECRET" not in result.model_dump_json(), name
        if name == "external-dtd":
            # No declaration in the document itself: parsed, but the DTD is never fetched.
            assert [r.title for r in result.records] == ["leak: &amp;x;"], name
            assert result.bozo is not None, name
            assert result.bozo.endswith("undefined entity"), name
        else:
            assert result.feed_error == REFUSED_ENTITIES, name


def test_a_doctype_without_entities_is_fine():
    doc = (
        b'<?xml version="1.0"?>\n<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN" '
        b'"http://my.netscape.com/publish/formats/rss-0.91.dtd">\n<rss version="0.91"><channel>'
        b"<title>Old</title><item><title>Still here</title><link>https://old.example.com/1</link></item>"
        b"</channel></rss>"
    )
    result = parse(doc)
    assert result.feed_error is None
    assert [r.title for r in result.records] == ["Still here"]


# --- limits and isolation ------------------------------------------------------------------------


def test_entries_beyond_the_cap_are_dropped_and_said_so():
    items = "".join(
        f"<item><title>t{i}</title><link>https://big.example.com/{i}</link></item>" for i in range(10_003)
    )

    result = parse(rss(items))

    assert result.entries_seen == 10_003
    assert len(result.records) == MAX_ENTRIES == 10_000
    assert result.records[-1].title == "t9999"
    assert result.entry_errors == ("3 entries beyond the first 10000 were not read",)


def test_one_failing_entry_does_not_sink_the_feed(monkeypatch):
    real = feed_parse._authors

    def authors_failing_on_the_second(entry):
        if dict.get(entry, "title") == "two":
            raise ValueError("author list is corrupt")
        return real(entry)

    monkeypatch.setattr(feed_parse, "_authors", authors_failing_on_the_second)
    items = "".join(
        f"<item><title>{t}</title><link>https://e.example.com/{t}</link></item>"
        for t in ("one", "two", "three")
    )

    result = parse(rss(items))

    assert [r.title for r in result.records] == ["one", "three"]
    assert result.entry_errors == ("entry 2: author list is corrupt",)
    assert result.entries_seen == 3


def test_an_entry_failing_validation_is_skipped_with_a_one_line_reason(monkeypatch):
    monkeypatch.setattr(feed_parse, "_authors", lambda entry: (42,))

    result = parse(rss("<item><title>x</title></item>"))

    assert result.records == ()
    assert result.entry_errors == ("entry 1: invalid authors.0: Input should be a valid string",)


def test_a_bug_is_not_swallowed(monkeypatch):
    def broken(entry):
        raise AttributeError("a bug, not bad data")

    monkeypatch.setattr(feed_parse, "_authors", broken)
    with pytest.raises(AttributeError):
        parse(rss("<item><title>x</title></item>"))


# --- channel hints -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("period", "frequency", "expected"),
    [
        ("hourly", "2", 1800),
        ("daily", None, 86_400),
        (None, "4", 21_600),  # the period defaults to daily
        ("  Weekly ", "1", 604_800),
        ("monthly", "3", 864_000),
        ("yearly", "1", 31_536_000),
        ("", "", 86_400),  # present but empty: the spec's defaults
        ("hourly", "0", None),
        ("hourly", "-1", None),
        ("hourly", "often", None),
        ("hourly", "nan", None),
        ("fortnightly", "1", None),
        (None, None, None),
    ],
)
def test_update_period(period, frequency, expected):
    channel = "".join(
        f"<sy:{tag}>{value}</sy:{tag}>"
        for tag, value in (("updatePeriod", period), ("updateFrequency", frequency))
        if value is not None
    )
    doc = rss("", channel, ' xmlns:sy="http://purl.org/rss/1.0/modules/syndication/"')
    assert parse(doc).update_period_s == expected


@pytest.mark.parametrize(
    ("ttl", "expected"), [("60", 60), (" 15 ", 15), ("0", None), ("soon", None), ("-5", None)]
)
def test_ttl(ttl, expected):
    assert parse(rss("", f"<ttl>{ttl}</ttl>")).ttl_minutes == expected


def test_no_ttl():
    assert parse(rss("")).ttl_minutes is None


def test_header_names_are_case_insensitive():
    lower = parse(
        rss("<item><title>x</title><link>a</link></item>"), {"content-location": "https://h.example.com/d/"}
    )
    upper = parse(
        rss("<item><title>x</title><link>a</link></item>"), {"CONTENT-LOCATION": "https://h.example.com/d/"}
    )
    assert lower.records[0].url == upper.records[0].url == "https://h.example.com/d/a"


def test_the_data_is_never_taken_for_a_file_name(tmp_path):
    target = tmp_path / "feed.xml"
    target.write_bytes(rss("<item><title>from the file</title></item>"))
    result = parse(str(target).encode())
    assert result.records == ()
    assert result.feed_error is not None


def test_a_broken_permalink_guid_beside_a_good_link_is_only_a_name():
    doc = rss(_item("http://news.example:99999/x", "https://news.example/x", "X", "Text."))
    record = parse(doc).records[0]
    assert record.guid_is_permalink
    assert record_canonical_url(record) == "https://news.example/x"
    assert record_id(record) == record_id(parse(doc).records[0])  # the feed-scoped GUID's id
    assert record_id(record) != record_id(parse(doc, url="https://example.com/other.xml").records[0])


def test_a_relative_guid_beside_a_link_is_a_name_not_an_address():
    # Resolved against the feed URL it would name the feed host's page: ids would follow the feed.
    doc = rss(_item("/weblog/2026/02/14/exploring-vancouver/", "https://site.example/weblog/x/", "X", "T."))
    record = parse(doc, url="https://feeds.example.net/site.xml").records[0]
    assert (record.guid, record.guid_is_permalink) == ("/weblog/2026/02/14/exploring-vancouver/", False)
    assert record_canonical_url(record) == "https://site.example/weblog/x"


def test_permalink_guids_that_are_one_page_are_names_scoped_to_the_feed():
    # One page's anchors: as canonical URLs (fragments dropped) they are one address.
    items = "".join(
        f"<item><title>Entry {n}</title><guid>https://s.example.com/awesome#entry-{n}</guid></item>"
        for n in range(5)
    )
    records = parse(rss(items)).records
    assert [r.guid_is_permalink for r in records] == [False] * 5
    assert len({record_id(r) for r in records}) == 5
    assert [record_id(r) for r in parse(rss(items)).records] == [record_id(r) for r in records]
