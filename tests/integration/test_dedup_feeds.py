"""Deduplication across feeds and runs, end to end: the CLI, feeds on 127.0.0.1, both stores.

Three outlets carry one wire story: the original, a rewrite with a new headline, byline and
footer, and the original again under its tracking-parameter link. A fourth item is a different
article on the same story. Re-running the same feeds must not add a canonical article, and a copy
that appears in a later run must join the stored story's lineage.
"""

from __future__ import annotations

import json
import pathlib
import random
from typing import Any
from xml.sax.saxutils import escape

import pytest

from schemas.feeds import FeedSpec
from tests.feed_server import ConditionalFeed, FeedServer
from tests.integration.conftest import StoreUnderTest
from tests.integration.test_feeds_cli import new_catalog, ww
from tests.pipelines.test_dedup import KIM_PUTIN_NOV_9, seed_body, syndicate

pytestmark = pytest.mark.integration
# Items are published in this order (hours of one day): in a batch the earliest is canonical.

STORY = seed_body(KIM_PUTIN_NOV_9)
OTHER_STORY = seed_body("004_0150c9251e40f8c3.txt")


def _rss(*items: tuple[str, str, str, int], permalink: str = "true") -> bytes:
    """An RSS document of (link, title, text, hour published) items, the link also the GUID (a
    permalink unless `permalink="false"`)."""
    body = "".join(
        f"<item><title>{escape(title)}</title><link>{escape(link)}</link>"
        f'<guid isPermaLink="{permalink}">{escape(link)}</guid>'
        f"<pubDate>Thu, 09 Nov 2023 {hour:02d}:00:00 GMT</pubDate>"
        f"<description>{escape(text)}</description></item>"
        for link, title, text, hour in items
    )
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{body}</channel></rss>'.encode()


class Outlets:
    """Three outlets' feeds on one local server; `wire` can publish more later."""

    def __init__(self, server: FeedServer) -> None:
        self.wire = ConditionalFeed(
            _rss(("https://www.wire.example.com/world/kim-putin", "Kim ends Russia visit", STORY, 8))
        )
        server.route("/wire.xml", self.wire)
        rewrite = syndicate(STORY)
        server.route(
            "/daily.xml",
            ConditionalFeed(
                _rss(
                    ("https://daily.example.org/news/123", "Kim and Putin seal alliance", rewrite, 10),
                    ("https://daily.example.org/news/124", "What a meeting could mean", OTHER_STORY, 9),
                )
            ),
        )
        tracked = "https://wire.example.com/world/kim-putin/?utm_source=rss&utm_medium=feed"
        # An opaque GUID: as a permalink, the tracked link would be the wire's own article (its id).
        aggregated = _rss((tracked, "Kim ends Russia visit", STORY, 11), permalink="false")
        server.route("/aggregator.xml", ConditionalFeed(aggregated))
        self.specs = [
            FeedSpec(url=server.url(f"/{name}.xml"), name=name, allow_private=True)
            for name in ("wire", "daily", "aggregator")
        ]

    def publish_late_copy(self) -> None:
        late = syndicate(STORY, random.Random(5))
        self.wire.update(
            _rss(
                ("https://www.wire.example.com/world/kim-putin", "Kim ends Russia visit", STORY, 8),
                ("https://www.wire.example.com/asia/kim-update", "UPDATE 1-Kim ends visit", late, 12),
            )
        )


def _run(tmp_path: pathlib.Path, outlets: Outlets, flags: list[str]) -> dict[str, Any]:
    catalog = new_catalog(tmp_path, *outlets.specs)
    result = ww("run", "--feeds", str(catalog), "--json", *flags, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    summary: dict[str, Any] = json.loads(result.stdout)
    return summary


def test_copies_across_feeds_fold_and_reruns_add_no_canonical_article(
    server: FeedServer, tmp_path: pathlib.Path, store: StoreUnderTest
):
    flags, read = store
    outlets = Outlets(server)
    first = _run(tmp_path, outlets, flags)
    assert (first["read"], first["canonical"], first["duplicates"]) == (4, 2, 2)
    docs = read()
    canonical = {i for i, d in docs.items() if d["duplicate_of"] is None}
    assert len(docs) == 4
    assert len(canonical) == 2
    (story_id,) = [i for i in canonical if docs[i]["source"]["name"] == "wire"]
    story = docs[story_id]
    copies = {d["source"]["name"]: d for d in docs.values() if d["duplicate_of"]}
    assert {name: (d["duplicate_of"], d["duplicate_reason"]) for name, d in copies.items()} == {
        "daily": (story_id, "near"),
        "aggregator": (story_id, "url"),  # the tracking-parameter link is the same article
    }
    assert story["source_count"] == 3
    assert story["independent_source_count"] == 2  # wire.example.com twice, daily.example.org once
    assert {s["outlet"] for s in story["sources_seen"]} == {"wire.example.com", "daily.example.org"}

    again = _run(tmp_path, outlets, flags)
    assert (again["canonical"], again["duplicates"], again["written"]) == (0, 0, 0)
    assert read() == docs

    outlets.publish_late_copy()
    later = _run(tmp_path, outlets, flags)
    assert (later["canonical"], later["duplicates"], later["written"]) == (0, 1, 1)
    after = read()
    assert {i for i, d in after.items() if d["duplicate_of"] is None} == canonical
    assert after[story_id]["source_count"] == 4
