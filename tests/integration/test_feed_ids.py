"""Feed item ids end to end: the CLI, feeds on 127.0.0.1, both stores (issue 15, items 7 and 8).

- A feed that gives one GUID to twenty different stories stores twenty articles, not one (and
  nineteen counted "already stored" that never were); re-polled, with a story edited, it stores
  none again.
- A permalink GUID's id does not depend on the feed URL: the same catalog with `?r=2` appended to
  the feed URL stores nothing new. A store written by the code before isPermaLink was read (ids
  scoped to the feed URL) is recognised too: no row is written again, no story counts itself twice.
"""

from __future__ import annotations

import json
import os
import pathlib
import random
import subprocess
import sys
from typing import Any
from xml.sax.saxutils import escape

import pytest

from schemas.feeds import FeedSpec
from schemas.ids import article_id_from_url
from tests.feed_server import ConditionalFeed, FeedServer
from tests.integration.conftest import StoreUnderTest
from tests.integration.test_feeds_cli import LOCAL_ENV, new_catalog, ww

pytestmark = pytest.mark.integration

REPO = pathlib.Path(__file__).resolve().parents[2]
_WORDS = (
    "minister talks border trade envoy summit ceasefire vote court ruling port strike drought "
    "harvest rebels capital bank rates inflation protest election parliament reactor satellite "
    "launch sanctions shipment pipeline treaty coast guard navy drill refugees aid convoy mayor "
    "flood bridge railway tariff exports oil gas grid outage hackers embassy visa talks budget"
).split()


def _text(n: int) -> str:
    """A story's text: 60 words drawn for story `n`, so no two stories are near copies."""
    rng = random.Random(n)
    return " ".join(rng.choice(_WORDS) + str(rng.randrange(1000)) for _ in range(60)) + "."


def _item(*, title: str, text: str, link: str | None, guid: str, permalink: str | None = None) -> str:
    attribute = f' isPermaLink="{permalink}"' if permalink else ""
    link_xml = f"<link>{escape(link)}</link>" if link else ""
    return (
        f"<item><title>{escape(title)}</title>{link_xml}<guid{attribute}>{escape(guid)}</guid>"
        f"<pubDate>Mon, 07 Dec 2026 0{len(title) % 10}:00:00 GMT</pubDate>"
        f"<description>{escape(text)}</description></item>"
    )


def _rss(items: list[str]) -> bytes:
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
        f"<link>https://outlet.example.com/</link>{''.join(items)}</channel></rss>"
    ).encode()


def _run(tmp_path: pathlib.Path, url: str, flags: list[str], *, old_ids: bool = False) -> dict[str, Any]:
    catalog = new_catalog(tmp_path, FeedSpec(url=url, name="outlet", allow_private=True))
    args = ["run", "--feeds", str(catalog), "--json", *flags]
    if old_ids:  # the same CLI with the ids of commit 6d82520 (tests/integration/old_feed_ids.py)
        env = {k: v for k, v in os.environ.items() if k != "ELASTICSEARCH_URL"}
        env |= {**LOCAL_ENV, "PYTHONPATH": os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])}
        cmd = [sys.executable, "-m", "tests.integration.old_feed_ids", *args]
        result = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    else:
        result = ww(*args, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    summary: dict[str, Any] = json.loads(result.stdout)
    return summary


# --- item 7: one GUID, many stories ----------------------------------------------------------------


def _sloppy(*, links: bool, edited: int | None = None) -> bytes:
    """Twenty stories under one GUID (the feed's own address), each with its link or none."""
    return _rss(
        [
            _item(
                title=f"Story number {n}",
                text=_text(n) + (" Updated with a correction." if n == edited else ""),
                link=f"https://outlet.example.com/news/{n}" if links else None,
                guid="https://outlet.example.com/feed",
            )
            for n in range(20)
        ]
    )


@pytest.mark.parametrize("links", [True, False], ids=["own-links", "no-links"])
def test_twenty_stories_under_one_guid_are_twenty_articles(
    server: FeedServer, tmp_path: pathlib.Path, store: StoreUnderTest, links: bool
):
    flags, read = store
    feed = ConditionalFeed(_sloppy(links=links))
    server.route("/sloppy.xml", feed)
    url = server.url("/sloppy.xml")

    first = _run(tmp_path, url, flags)
    assert (first["read"], first["written"], first["already_stored"], first["dead_letters"]) == (20, 20, 0, 0)
    docs = read()
    assert len(docs) == 20
    assert sorted(d["title"] for d in docs.values()) == sorted(f"Story number {n}" for n in range(20))
    # Twenty stories, none a copy of another, none counting another as its source.
    assert [d["id"] for d in docs.values() if d["duplicate_of"] or d["source_count"] != 1] == []
    if links:  # told apart by link: the id any link-only item would have
        assert set(docs) == {article_id_from_url(f"https://outlet.example.com/news/{n}") for n in range(20)}

    again = _run(tmp_path, url, flags)
    assert (again["read"], again["written"]) == (0, 0)  # skipped before normalization: all stored
    assert read() == docs

    if links:  # the next poll edits one story: the same article, not a new one
        feed.update(_sloppy(links=True, edited=7))
        edited = _run(tmp_path, url, flags)
        assert (edited["read"], edited["written"]) == (0, 0)
        assert read() == docs


def test_the_same_story_re_polled_with_an_edit_is_not_a_new_article(
    server: FeedServer, tmp_path: pathlib.Path, store: StoreUnderTest
):
    flags, read = store
    story = {
        "title": "Port strike ends",
        "link": "https://outlet.example.com/news/strike",
        "guid": "strike-1",
    }
    feed = ConditionalFeed(_rss([_item(**story, text=_text(1), permalink="false")]))
    server.route("/one.xml", feed)
    url = server.url("/one.xml")
    assert _run(tmp_path, url, flags)["written"] == 1
    docs = read()

    feed.update(_rss([_item(**story, text=_text(1) + " Updated at noon.", permalink="false")]))
    later = _run(tmp_path, url, flags)
    assert (later["read"], later["written"]) == (0, 0)
    assert read() == docs


# --- item 8: the feed URL changes ----------------------------------------------------------------


def _catalog() -> bytes:
    """Ten stories, each with a <link> before its <guid>: six permalink GUIDs that are their link
    (without www.), two permalink GUIDs that are another address of the story, two opaque ones."""
    items = []
    for n in range(10):
        link = f"https://www.outlet.example.com/world/story-{n}"
        if n < 6:
            guid, permalink = f"https://outlet.example.com/world/story-{n}", None
        elif n < 8:
            guid, permalink = f"https://outlet.example.com/?p={n}", "true"
        else:
            guid, permalink = f"tag:outlet.example.com,2026:story-{n}", "false"
        items.append(
            _item(title=f"World story {n}", text=_text(100 + n), link=link, guid=guid, permalink=permalink)
        )
    return _rss(items)


def _serve_catalog(server: FeedServer) -> tuple[str, str]:
    feed = ConditionalFeed(_catalog())
    server.route("/world.xml", feed)
    server.route("/world.xml?r=2", feed)
    return server.url("/world.xml"), server.url("/world.xml?r=2")


def _lineage(docs: dict[str, dict[str, Any]]) -> dict[str, tuple[Any, ...]]:
    return {i: (d["duplicate_of"], d["source_count"], len(d["sources_seen"])) for i, d in docs.items()}


def test_permalink_ids_do_not_depend_on_the_feed_url(
    server: FeedServer, tmp_path: pathlib.Path, store: StoreUnderTest
):
    flags, read = store
    url, changed = _serve_catalog(server)
    first = _run(tmp_path, url, flags)
    assert (first["read"], first["written"], first["canonical"]) == (10, 10, 10)
    docs = read()
    permalinks = {f"https://outlet.example.com/world/story-{n}" for n in range(6)}
    permalinks |= {f"https://outlet.example.com/?p={n}" for n in (6, 7)}
    assert {article_id_from_url(p) for p in permalinks} <= set(docs)

    moved = _run(tmp_path, changed, flags)
    assert (moved["read"], moved["written"], moved["duplicates"]) == (0, 0, 0)
    assert read() == docs
    assert set(_lineage(docs).values()) == {(None, 1, 1)}


def test_a_store_written_with_feed_scoped_ids_is_not_written_again(
    server: FeedServer, tmp_path: pathlib.Path, store: StoreUnderTest
):
    flags, read = store
    url, changed = _serve_catalog(server)
    old = _run(tmp_path, url, flags, old_ids=True)
    assert (old["read"], old["written"]) == (10, 10)
    docs = read()
    # The old code scoped every id to the feed URL (a <link> came first): none is a permalink id.
    assert not {article_id_from_url(f"https://outlet.example.com/world/story-{n}") for n in range(6)} & set(
        docs
    )

    for feed_url in (changed, url):  # a changed feed URL, and the old one: new ids, same articles
        again = _run(tmp_path, feed_url, flags)
        assert (again["read"], again["written"], again["duplicates"]) == (0, 0, 0), feed_url
        assert read() == docs  # no row added, no story counting itself twice
    assert set(_lineage(docs).values()) == {(None, 1, 1)}
