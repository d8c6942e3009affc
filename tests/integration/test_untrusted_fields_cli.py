"""`wirewatch run` end to end over inputs that lie: implausible dates, markup in titles, photo
captions where the description should be. Seed files on disk and feeds from a real HTTP server on
127.0.0.1, into a real SQLite store, read back as stored and as `search` / `show` print it."""

from __future__ import annotations

import datetime as dt
import json
import pathlib
import subprocess
from typing import Any

import pytest

from connectors.localstore import LocalStore
from pipelines.normalize import normalize_record
from schemas.feeds import FeedSpec
from schemas.records import PipelineInfo, RawRecord, Source
from tests.conftest import REPO, embedded_docs
from tests.feed_server import FeedServer, Response
from tests.integration.test_feeds_cli import new_catalog, ww

pytestmark = pytest.mark.integration

NYT_WORLD = REPO / "tests" / "fixtures" / "feeds" / "nyt_world_media.xml"
RSS = "application/rss+xml; charset=utf-8"


def rss(items: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><title>Test wire</title>'
        f"<link>https://news.example/</link>{items}</channel></rss>"
    ).encode()


def run(tmp_path: pathlib.Path, *args: str) -> dict[str, Any]:
    result = ww("run", *args, "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    summary: dict[str, Any] = json.loads(result.stdout)
    assert summary["dead_letters"] == 0, summary["rejected"]
    return summary


def by_title(store: pathlib.Path) -> dict[str, dict[str, Any]]:
    return {doc["title"]: doc for doc in embedded_docs(store).values()}


def printed(tmp_path: pathlib.Path, *args: str) -> str:
    result: subprocess.CompletedProcess[str] = ww(*args, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    return result.stdout


def stored_time(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value)


# --- issue 15, item 5: absurd dates ------------------------------------------------------------


def test_implausible_dates_are_stored_as_the_fetch_time_and_say_what_was_rejected(
    server: FeedServer, tmp_path: pathlib.Path
):
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    seed_dates = {
        "Ministers met in Geneva on Monday.": "9999-01-01",
        "Floods closed the coastal highway.": "1900-01-01",
        "The central bank held its rates.": "0001-01-01",
        "A new bridge opened to traffic.": "1995-05-05",  # only --earliest-date 2000-01-01 refuses it
        "Dockworkers ended their strike.": "2024-03-01",
    }
    for number, (sentence, date) in enumerate(seed_dates.items()):
        (seeds / f"{number}.txt").write_text(f"date {date} {sentence} Officials gave no further details.\n")
    server.route(
        "/dates.xml",
        [
            Response(
                200,
                rss(
                    "<item><title>Parliament passes the budget</title><link>https://news.example/1</link>"
                    "<pubDate>Mon, 01 Jan 2024 10:00:00 +9999</pubDate>"
                    "<description>Close vote.</description></item>"
                    "<item><title>Harbor reopens after storm</title><link>https://news.example/2</link>"
                    "<pubDate>Mon, 01 Jan 2024 10:00:00 +0100</pubDate>"
                    "<description>Ships are back.</description></item>"
                ),
                {"Content-Type": RSS},
            )
        ],
    )
    catalog = new_catalog(tmp_path, FeedSpec(url=server.url("/dates.xml"), name="Dates", allow_private=True))
    store = tmp_path / "w.db"

    started = dt.datetime.now(dt.UTC)
    summary = run(
        tmp_path,
        "--seeds", str(seeds), "--feeds", str(catalog), "--store", str(store),
        "--earliest-date", "2000-01-01", "--no-dedup", "--no-alerts",
    )  # fmt: skip
    finished = dt.datetime.now(dt.UTC)
    assert summary["written"] == 7

    docs = by_title(store)
    seen = {title: (doc["date_source"], doc["date_rejected"]) for title, doc in docs.items()}
    assert {title: source for title, (source, _) in seen.items()} == {
        "Ministers met in Geneva on Monday.": "fetched",
        "Floods closed the coastal highway.": "fetched",
        "The central bank held its rates.": "fetched",
        "A new bridge opened to traffic.": "fetched",
        "Dockworkers ended their strike.": "seed",
        "Parliament passes the budget": "fetched",
        "Harbor reopens after storm": "published",
    }
    assert seen["Ministers met in Geneva on Monday."][1].startswith(
        "seed date 9999-01-01T00:00:00Z is after "
    )
    assert seen["Ministers met in Geneva on Monday."][1].endswith(", the latest plausible date")
    earliest = ", the earliest plausible date"
    assert seen["Floods closed the coastal highway."][1] == (
        f"seed date 1900-01-01T00:00:00Z is before 2000-01-01T00:00:00Z{earliest}"
    )
    assert seen["The central bank held its rates."][1] == (
        f"seed date 0001-01-01T00:00:00Z is before 2000-01-01T00:00:00Z{earliest}"
    )
    assert seen["A new bridge opened to traffic."][1] == (
        f"seed date 1995-05-05T00:00:00Z is before 2000-01-01T00:00:00Z{earliest}"
    )
    assert seen["Parliament passes the budget"][1] == (
        "published date 'Mon, 01 Jan 2024 10:00:00 +9999': UTC offset +9999 is beyond ±14 h"
    )
    assert seen["Dockworkers ended their strike."][1] is None
    assert seen["Harbor reopens after storm"][1] is None

    # What is stored instead is the time the item was read: within the run, never 9999 or 1900.
    for title, (source, _) in seen.items():
        published = stored_time(docs[title]["published_at"])
        if source == "fetched":
            assert started - dt.timedelta(seconds=1) <= published <= finished, title
    assert docs["Dockworkers ended their strike."]["published_at"] == "2024-03-01T00:00:00Z"
    assert docs["Harbor reopens after storm"]["published_at"] == "2024-01-01T09:00:00Z"

    stats = json.loads(printed(tmp_path, "stats", "--json", "--store", str(store)))
    assert stats["earliest_published"] == "2024-01-01T09:00:00Z"
    assert stored_time(stats["latest_published"]) <= finished

    future = docs["Ministers met in Geneva on Monday."]
    shown = printed(tmp_path, "show", future["id"], "--store", str(store))
    assert (
        f"  published   {future['published_at']}  (fetch time; seed date 9999-01-01T00:00:00Z is after "
        in shown
    )


# --- issue 15, item 6: markup in titles ----------------------------------------------------------


def test_markup_never_reaches_a_stored_or_printed_title(server: FeedServer, tmp_path: pathlib.Path):
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "geneva.txt").write_text(
        "date 2024-03-01 <script>alert(1)</script>Ministers met in Geneva on Monday. "
        "Talks went on for hours.\n"
    )
    server.route(
        "/markup.xml",
        [
            Response(
                200,
                rss(
                    "<item><title>&lt;script&gt;alert(1)&lt;/script&gt;Parliament passes the "
                    "&lt;b&gt;budget&lt;/b&gt;</title><link>https://news.example/budget</link>"
                    "<description>&lt;p&gt;The vote was close.&lt;/p&gt;</description>"
                    "<dc:creator>&lt;b&gt;Jane Roe&lt;/b&gt;</dc:creator>"
                    "<category>&lt;i&gt;Politics&lt;/i&gt;</category></item>"
                    "<item><title><![CDATA[<img src=x onerror=alert(1)>Floods close the highway]]></title>"
                    "<link>https://news.example/floods</link>"
                    "<description>Water rose overnight &amp;amp; roads closed.</description></item>"
                ),
                {"Content-Type": RSS},
            )
        ],
    )
    catalog = new_catalog(
        tmp_path, FeedSpec(url=server.url("/markup.xml"), name="Markup", allow_private=True)
    )
    store = tmp_path / "w.db"

    summary = run(
        tmp_path, "--seeds", str(seeds), "--feeds", str(catalog), "--store", str(store), "--no-alerts"
    )
    assert summary["written"] == 3

    docs = by_title(store)
    assert sorted(docs) == [
        "Floods close the highway",
        "Ministers met in Geneva on Monday.",
        "Parliament passes the budget",
    ]
    budget = docs["Parliament passes the budget"]
    assert (budget["summary"], budget["body"], budget["authors"], budget["categories"]) == (
        "The vote was close.",
        "The vote was close.",
        ["Jane Roe"],
        ["Politics"],
    )
    assert docs["Floods close the highway"]["body"] == "Water rose overnight & roads closed."
    assert docs["Ministers met in Geneva on Monday."]["body"] == (
        "Ministers met in Geneva on Monday. Talks went on for hours."
    )
    for doc in docs.values():
        text = json.dumps([doc["title"], doc["summary"], doc["body"], doc["authors"], doc["categories"]])
        assert "<" not in text, doc["title"]
        assert "&amp;" not in text, doc["title"]
        assert "&lt;" not in text, doc["title"]

    # A store written before titles were cleaned: what `search` and `show` print is still text.
    old = normalize_record(
        RawRecord(
            source=Source(kind="feed", name="Old wire", feed_url="https://old.example/rss"),
            uri="https://old.example/harbour",
            url="https://old.example/harbour",
            body="The harbour reopened after the storm.",
            fetched_at=dt.datetime(2025, 1, 2, tzinfo=dt.UTC),
        ),
        ingested_at=dt.datetime(2025, 1, 2, tzinfo=dt.UTC),
        pipeline=PipelineInfo(version="0.0.1", run_id="old-run"),
    ).model_copy(update={"title": "<script>alert(1)</script>Harbour <b>reopens</b>"})
    writer = LocalStore(str(store))
    try:
        assert writer.write_articles([old]).written == 1
    finally:
        writer.close()

    for query, title in (("harbour", "Harbour reopens"), ("budget", "Parliament passes the budget")):
        found = printed(tmp_path, "search", query, "--store", str(store))
        assert f"\n    {title}\n" in found
        assert "<" not in found
        assert "&lt;" not in found
    shown = printed(tmp_path, "show", old.id, "--store", str(store))
    assert shown.splitlines()[0] == "Harbour reopens"
    assert "<" not in shown


# --- issue 15, item 9: photo captions as the body ------------------------------------------------


def test_photo_captions_of_a_news_feed_are_never_stored_as_the_article(
    server: FeedServer, tmp_path: pathlib.Path
):
    server.route(
        "/world.xml", [Response(200, NYT_WORLD.read_bytes(), {"Content-Type": "text/xml; charset=UTF-8"})]
    )
    catalog = new_catalog(
        tmp_path, FeedSpec(url=server.url("/world.xml"), name="NYT World", allow_private=True)
    )
    store = tmp_path / "w.db"

    summary = run(tmp_path, "--feeds", str(catalog), "--store", str(store), "--no-alerts")
    assert summary["written"] == 4

    docs = by_title(store)
    assert {title: doc["body"] for title, doc in docs.items()} == {
        "Flooding Forces Thousands From Homes Along the Danube": (
            "Officials in three countries ordered evacuations as the river rose."
        ),
        "Talks on Prisoner Exchange Resume in Geneva": (
            "Negotiators met for the first time in four months, and diplomats said both sides had brought "
            "lists of names, a sign that an agreement could come before the end of the year."
        ),
        "What to Know About the Election in Chile": (
            "Voters choose a president in a runoff on Sunday. Here is what is at stake."
        ),
        "Port Strike Leaves Ships Waiting Offshore": "The dockworkers want higher pay.",
    }
    assert all(doc["summary"] == doc["body"] for doc in docs.values())
    # Words only the captions hold find nothing: no caption was stored or indexed.
    for caption_word in ("sandbags", "delegations", "cargo"):
        hits = json.loads(printed(tmp_path, "search", caption_word, "--json", "--store", str(store)))
        assert hits == [], caption_word
