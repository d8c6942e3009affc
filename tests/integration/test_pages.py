"""Full text, end to end: `wirewatch run` on a feed on 127.0.0.1 whose short items link to pages on
the same server. Real article pages (../shared/data/articles) become the bodies; every way a page
can fail keeps the feed's text as the body, with the reason on the article, in `show` and in
`stats`; and the host sees page requests one at a time with its pause between them.
"""

from __future__ import annotations

import gzip
import json
import os
import pathlib
import signal
import uuid
from itertools import pairwise
from typing import Any
from xml.sax.saxutils import escape

import pytest

from schemas.feeds import FeedSpec
from tests.conftest import embedded_docs
from tests.feed_server import FeedServer, Response
from tests.integration.test_feeds_cli import new_catalog, ww
from tests.integration.test_stream import WIREWATCH, Articles, StreamProcess

pytestmark = pytest.mark.integration

ARTICLES = pathlib.Path(__file__).resolve().parents[3] / "shared" / "data" / "articles"
TEASER_WORDS = 20
HOST_PAUSE_S = 1.0  # connectors.poll_guard: the run's per-host pause, feeds and pages alike


def _ground_truth() -> dict[str, dict[str, str]]:
    if not ARTICLES.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"{ARTICLES} is missing: the page tests need the real article pages")
        pytest.skip(f"{ARTICLES} is absent outside CI")
    truth: dict[str, dict[str, str]] = json.loads(
        (ARTICLES / "ground-truth.json").read_text(encoding="utf-8")
    )
    return truth


def _real_pages(count: int) -> list[tuple[bytes, str]]:
    """`count` real article pages (HTML, ground-truth body) with long bodies, in a fixed order."""
    truth = _ground_truth()
    chosen = [key for key in sorted(truth) if len(truth[key]["articleBody"].split()) > 300][:count]
    return [
        (gzip.decompress((ARTICLES / "html" / f"{key}.html.gz").read_bytes()), truth[key]["articleBody"])
        for key in chosen
    ]


def _teaser(text: str) -> str:
    return " ".join(text.split()[:TEASER_WORDS])


def _rss(items: list[tuple[str, str, str]]) -> bytes:
    body = "".join(
        f"<item><title>{escape(title)}</title><link>{escape(link)}</link>"
        f'<guid isPermaLink="true">{escape(link)}</guid><description>{escape(text)}</description></item>'
        for link, title, text in items
    )
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{body}</channel></rss>'.encode()


def _shingles(text: str, n: int = 4) -> set[tuple[str, ...]]:
    words = text.split()
    return {tuple(words[i : i + n]) for i in range(max(1, len(words) - n + 1))}


def _by_link(store: pathlib.Path) -> dict[str, dict[str, Any]]:
    return {doc["url"]: doc for doc in embedded_docs(store).values()}


HTML = {"Content-Type": "text/html; charset=utf-8"}
# A long item: its own text is the article, so its link is never fetched.
LONG_TEXT = " ".join(f"word{i}" for i in range(200))


def test_short_items_get_their_pages_text_and_every_failure_keeps_the_feeds_text(tmp_path: pathlib.Path):
    pages = _real_pages(2)
    with FeedServer() as server:
        server.route("/robots.txt", [Response(200, b"User-agent: *\nDisallow: /private/\n")])
        for n, (html, _) in enumerate(pages):
            server.route(f"/news/{n}.html", [Response(200, html, HTML)])
        server.route("/news/missing.html", [Response(404, b"not here", HTML)])
        server.route("/news/slow.html", [Response(200, pages[0][0], HTML, delay_s=4)])
        server.route("/news/huge.html", [Response(200, b"<html><body>" + b"<p>x</p>" * 800_000, HTML)])
        server.route(
            "/news/report.pdf", [Response(200, b"%PDF-1.4 ...", {"Content-Type": "application/pdf"})]
        )
        server.route("/private/secret.html", [Response(200, pages[1][0], HTML)])
        server.route("/news/long.html", [Response(200, pages[1][0], HTML)])
        items = [
            (server.url(f"/news/{n}.html"), f"Story {n}", _teaser(body)) for n, (_, body) in enumerate(pages)
        ]
        failing = {
            "/news/missing.html": ("http_error", "404"),
            "/news/slow.html": ("timeout", ""),
            "/news/huge.html": ("too_large", ""),
            "/news/report.pdf": ("not_html", ""),
            "/private/secret.html": ("robots_disallowed", "robots.txt"),
        }
        items += [
            (server.url(path), f"Failing {path}", f"The feed's own teaser for {path}.") for path in failing
        ]
        items.append((server.url("/news/long.html"), "A long item", LONG_TEXT))
        server.route("/feed.xml", [Response(200, _rss(items), {"Content-Type": "application/rss+xml"})])
        catalog = new_catalog(
            tmp_path, FeedSpec(url=server.url("/feed.xml"), name="Pages", allow_private=True)
        )
        store = tmp_path / "store"
        run = ww("run", "--feeds", str(catalog), "--store", str(store), "--page-timeout", "2", cwd=tmp_path)
        paths = server.paths
        show_missing = ww(
            "show",
            "--store",
            str(store),
            _by_link(store)[server.url("/news/missing.html")]["id"],
            cwd=tmp_path,
        )
        stats = ww("stats", "--store", str(store), cwd=tmp_path)
        docs = _by_link(store)

    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    counted = dict(line.strip().rsplit(None, 1) for line in run.stdout.splitlines() if line.startswith("  "))
    assert (counted["pages fetched"], counted["text used"]) == (str(len(items) - 1), "2"), run.stdout
    assert len(docs) == len(items)  # nothing lost, and no dead letter for a page
    for n, (_, truth) in enumerate(pages):
        doc = docs[server.url(f"/news/{n}.html")]
        assert doc["body_source"] == "extracted"
        assert doc["page"]["status"] == "extracted", doc["page"]
        assert doc["summary"] == _teaser(truth)
        assert doc["word_count"] > 5 * TEASER_WORDS
        overlap = len(_shingles(doc["body"]) & _shingles(truth)) / len(_shingles(truth))
        assert overlap > 0.8, (n, overlap)
    for path, (status, reason) in failing.items():
        doc = docs[server.url(path)]
        assert doc["body_source"] == "feed"
        assert doc["body"] == f"The feed's own teaser for {path}."
        assert doc["page"]["status"] == status, doc["page"]
        assert reason in (doc["page"]["reason"] or ""), doc["page"]
    long = docs[server.url("/news/long.html")]
    assert (long["body_source"], long.get("page")) == ("feed", None)
    assert "/news/long.html" not in paths
    assert "/private/secret.html" not in paths
    assert paths.count("/robots.txt") == 1
    assert "the linked page: http_error: HTTP 404" in show_missing.stdout
    assert "extracted 2" in stats.stdout, stats.stdout
    assert "http_error 1" in stats.stdout, stats.stdout


def test_no_fetch_pages_keeps_the_feeds_text_and_asks_for_no_page(tmp_path: pathlib.Path):
    ((html, body),) = _real_pages(1)
    with FeedServer() as server:
        server.route("/news/0.html", [Response(200, html, HTML)])
        server.route(
            "/feed.xml", [Response(200, _rss([(server.url("/news/0.html"), "Story", _teaser(body))]))]
        )
        catalog = new_catalog(
            tmp_path, FeedSpec(url=server.url("/feed.xml"), name="Pages", allow_private=True)
        )
        store = tmp_path / "store"
        run = ww("run", "--feeds", str(catalog), "--store", str(store), "--no-fetch-pages", cwd=tmp_path)
        paths = server.paths
    assert run.returncode == 0, run.stderr
    (doc,) = _by_link(store).values()
    assert (doc["body_source"], doc.get("page"), doc["body"]) == ("feed", None, _teaser(body))
    assert paths == ["/feed.xml"]


@pytest.mark.slow
def test_fifty_pages_on_one_host_are_asked_for_one_at_a_time_with_the_hosts_pause(tmp_path: pathlib.Path):
    ((html, _),) = _real_pages(1)
    with FeedServer() as server:
        server.route("/robots.txt", [Response(404)])
        items = []
        for n in range(50):
            server.route(f"/news/{n}.html", [Response(200, html, HTML)])
            items.append((server.url(f"/news/{n}.html"), f"Story {n}", f"Teaser number {n} of fifty."))
        server.route("/feed.xml", [Response(200, _rss(items))])
        catalog = new_catalog(
            tmp_path, FeedSpec(url=server.url("/feed.xml"), name="Many", allow_private=True)
        )
        run = ww("run", "--feeds", str(catalog), "--store", str(tmp_path / "store"), cwd=tmp_path)
        served = sorted(server.served, key=lambda r: r.started)
    assert run.returncode == 0, run.stderr
    pages = [r for r in served if r.path.startswith("/news/")]
    assert len(pages) == 50
    # Counted at the server, which sees a pause as longer than the client kept it, never shorter.
    gaps = [round(b.started - a.finished, 3) for a, b in pairwise(served)]
    assert min(gaps) >= HOST_PAUSE_S, gaps


def test_the_stream_fetches_a_short_items_page_before_storing_it(
    tmp_path: pathlib.Path, articles: Articles, es_url: str, es_prefix: str
):
    ((html, body),) = _real_pages(1)
    title = f"Stream story {uuid.uuid4().hex[:8]}"
    with FeedServer() as server:
        server.route("/news/0.html", [Response(200, html, HTML)])
        server.route("/feed.xml", [Response(200, _rss([(server.url("/news/0.html"), title, _teaser(body))]))])
        catalog = new_catalog(
            tmp_path, FeedSpec(url=server.url("/feed.xml"), name="Stream", allow_private=True)
        )
        argv = [
            WIREWATCH, "stream", "--feeds", str(catalog),
            "--es-url", es_url, "--es-index-prefix", es_prefix, "--poll-tick", "0.5",
        ]  # fmt: skip
        stream = StreamProcess(argv, tmp_path, "stream")
        try:
            articles.wait_searchable(title, stream)
            stream.signal_group(signal.SIGINT)
            assert stream.wait(60) == 0, stream.output()
        finally:
            stream.kill_everything()
    articles.refresh()
    doc = articles.by_title(title)
    assert (doc["body_source"], doc["page"]["status"], doc["summary"]) == (
        "extracted",
        "extracted",
        _teaser(body),
    )
    assert doc["word_count"] > 5 * TEASER_WORDS
