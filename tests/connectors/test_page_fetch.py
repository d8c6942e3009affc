"""fetch_page against a real scripted HTTP server on 127.0.0.1: each page status, robots.txt, the limiter."""

from __future__ import annotations

import gzip
import json
import os
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
import trafilatura

from benchmarks.eval_extract import shingle_f1
from connectors import http_fetch
from connectors.feed_schedule import HostLimiter
from connectors.http_fetch import FetchPolicy
from connectors.page_fetch import EXTRACTOR, PageResult, fetch_page
from connectors.robots import RobotsCache
from tests.feed_server import FeedServer, Response

pytestmark = pytest.mark.integration

ARTICLES = Path(__file__).resolve().parents[3] / "shared" / "data" / "articles"
ARTICLE_ID = "06e5123e4ef7cfb4533250dc45d1e03d0838fc66223f45c583c4d12f48b4da85"  # a VentureBeat story
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LOCAL = FetchPolicy(allow_private=True, timeout_s=5.0)
HTML = {"Content-Type": "text/html; charset=utf-8"}
ALLOW_ALL = Response(200, b"User-agent: *\nAllow: /\n", {"Content-Type": "text/plain"})
PARAGRAPH = (
    "The council voted on Tuesday to extend the river crossing by two lanes, after a year of public "
    "hearings in which residents of both banks argued about noise, cost and the fate of the old ferry. "
)
ARTICLE = (
    "<!DOCTYPE html><html><head><title>Council widens the bridge</title></head><body>"
    "<nav><a href='/'>Home</a> <a href='/news'>News</a></nav><article><h1>Council widens the bridge</h1>"
    + "".join(f"<p>{PARAGRAPH * 2}Part {i}.</p>" for i in range(4))
    + "</article><footer>Copyright The Daily Example</footer></body></html>"
).encode()


class Pages:
    """One run's shared fetch state: the session, robots cache and host limiter fetch_page is given."""

    def __init__(self, policy: FetchPolicy = LOCAL, min_delay_s: float = 0.0) -> None:
        self.policy = policy
        self.session = requests.Session()
        self.robots = RobotsCache()
        self.limiter = HostLimiter(min_delay_s=min_delay_s)

    def fetch(self, url: str, *, max_host_wait_s: float = 60.0) -> PageResult:
        return fetch_page(
            url,
            policy=self.policy,
            session=self.session,
            robots=self.robots,
            limiter=self.limiter,
            now=NOW,
            max_host_wait_s=max_host_wait_s,
        )


@pytest.fixture
def pages() -> Iterator[Pages]:
    state = Pages()
    yield state
    state.session.close()


def serve(server: FeedServer, path: str, *responses: Response, robots: Response = ALLOW_ALL) -> str:
    server.route("/robots.txt", [robots])
    server.route(path, list(responses))
    return server.url(path)


def failed(result: PageResult, url: str, status: str, reason: str, http_status: int | None) -> None:
    """The result is a failure with exactly this status and reason, and no text."""
    assert result.text is None
    assert result.extraction.model_dump(exclude={"final_url"}) == {
        "status": status,
        "reason": reason,
        "url": url,
        "http_status": http_status,
        "word_count": 0,
        "extractor": EXTRACTOR,
        "fetched_at": NOW,
    }


# --- extracted -------------------------------------------------------------------------------------


def test_a_real_article_page_is_extracted(server: FeedServer, pages: Pages):
    truth_path = ARTICLES / "ground-truth.json"
    if not truth_path.is_file():
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but the article data is missing: {ARTICLES}")
        pytest.skip(f"no article data at {ARTICLES}")
    truth = json.loads(truth_path.read_text(encoding="utf-8"))[ARTICLE_ID]["articleBody"]
    body = (ARTICLES / "html" / f"{ARTICLE_ID}.html.gz").read_bytes()
    url = serve(
        server, "/story.html", Response(200, body, {"Content-Type": "text/html", "Content-Encoding": "gzip"})
    )

    result = pages.fetch(url)

    assert result.extraction.status == "extracted", result.extraction.reason
    assert result.text is not None
    assert shingle_f1(truth, result.text) > 0.8
    assert result.extraction.word_count == len(result.text.split())
    assert result.extraction.model_dump(exclude={"word_count"}) == {
        "status": "extracted",
        "reason": None,
        "url": url,
        "final_url": url,
        "http_status": 200,
        "extractor": EXTRACTOR,
        "fetched_at": NOW,
    }
    robots_request, page_request = server.requests
    assert (robots_request.path, page_request.path) == ("/robots.txt", "/story.html")
    assert page_request.headers["accept"].startswith("text/html")
    assert page_request.headers["user-agent"] == LOCAL.user_agent
    assert gzip.decompress(body)  # served compressed, extracted decompressed


def test_the_text_is_decoded_by_the_http_charset_or_the_meta_charset(server: FeedServer, pages: Pages):
    latin = ARTICLE.replace(b"Part", "Café".encode("latin-1"))
    server.route("/robots.txt", [ALLOW_ALL])
    server.route("/http.html", [Response(200, latin, {"Content-Type": "text/html; charset=ISO-8859-1"})])
    meta = latin.replace(b"<head>", b'<head><meta charset="iso-8859-1">')
    server.route("/meta.html", [Response(200, meta, {"Content-Type": "text/html"})])
    for path in ("/http.html", "/meta.html"):
        result = pages.fetch(server.url(path))
        assert result.text is not None, result.extraction.reason
        assert "Café 3." in result.text


def test_a_redirect_is_followed_and_the_final_url_kept(server: FeedServer, pages: Pages):
    url = serve(server, "/old.html", Response.redirect(301, "/new.html"))
    server.route("/new.html", [Response(200, ARTICLE, HTML)])
    result = pages.fetch(url)
    assert result.extraction.status == "extracted"
    assert result.extraction.final_url == server.url("/new.html")
    assert result.text is not None
    assert PARAGRAPH.strip() in result.text


# --- HTTP outcomes ---------------------------------------------------------------------------------


def test_404_is_an_http_error(server: FeedServer, pages: Pages):
    url = serve(server, "/gone.html", Response(404, b"no"))
    failed(pages.fetch(url), url, "http_error", "HTTP 404 Not Found", 404)


def test_500_is_an_http_error(server: FeedServer, pages: Pages):
    url = serve(server, "/broken.html", Response(500, b"oops"))
    failed(pages.fetch(url), url, "http_error", "HTTP 500 Internal Server Error", 500)


def test_a_slow_server_times_out(server: FeedServer):
    state = Pages(FetchPolicy(allow_private=True, timeout_s=0.5))
    url = serve(server, "/slow.html", Response(200, ARTICLE, HTML, delay_s=3))
    failed(state.fetch(url), url, "timeout", "timed out after 0.5 s", None)
    state.session.close()


def test_a_page_over_max_bytes_is_too_large(server: FeedServer):
    state = Pages(FetchPolicy(allow_private=True, timeout_s=5.0, max_bytes=1000))
    url = serve(server, "/big.html", Response(200, ARTICLE, HTML))
    failed(state.fetch(url), url, "too_large", "response larger than 1000 bytes", 200)
    state.session.close()


def test_a_pdf_is_not_html(server: FeedServer, pages: Pages):
    url = serve(server, "/paper.pdf", Response(200, b"%PDF-1.7 ...", {"Content-Type": "application/pdf"}))
    failed(pages.fetch(url), url, "not_html", "content type application/pdf, not HTML", 200)


def test_xhtml_and_an_untyped_html_page_are_html(server: FeedServer, pages: Pages):
    xhtml = serve(server, "/a.xhtml", Response(200, ARTICLE, {"Content-Type": "application/xhtml+xml"}))
    server.route("/untyped", [Response(200, ARTICLE)])
    assert pages.fetch(xhtml).extraction.status == "extracted"
    assert pages.fetch(server.url("/untyped")).extraction.status == "extracted"


def test_a_host_that_does_not_answer_is_unreachable_not_forbidding(pages: Pages):
    with socket.socket() as probe:  # a port nothing listens on: its robots.txt has no answer either
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}/x.html"
    result = pages.fetch(closed)
    assert result.extraction.status == "unreachable"
    assert result.extraction.reason is not None
    assert "robots.txt" in result.extraction.reason


def test_a_connection_failure_is_unreachable(server: FeedServer, pages: Pages):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}/x.html"
    url = serve(server, "/moved.html", Response.redirect(302, closed))
    result = pages.fetch(url)
    assert result.extraction.status == "unreachable"
    assert result.extraction.reason is not None
    assert result.extraction.reason.startswith("connection failed")


def test_a_page_without_article_text_is_no_text(server: FeedServer, pages: Pages):
    url = serve(
        server, "/empty.html", Response(200, b"<html><head><title>T</title></head><body></body></html>", HTML)
    )
    failed(pages.fetch(url), url, "no_text", "no article text found on the page", 200)


def test_an_extractor_failure_is_no_text_not_an_exception(
    server: FeedServer, pages: Pages, monkeypatch: pytest.MonkeyPatch
):
    def explode(*args: object, **kwargs: object) -> str:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(trafilatura, "extract", explode)
    url = serve(server, "/deep.html", Response(200, ARTICLE, HTML))
    failed(
        pages.fetch(url),
        url,
        "no_text",
        "extraction failed: RecursionError: maximum recursion depth exceeded",
        200,
    )


# --- robots.txt ------------------------------------------------------------------------------------


def test_robots_txt_disallowing_the_path_stops_the_page_request(server: FeedServer, pages: Pages):
    robots = Response(200, b"User-agent: *\nDisallow: /private/\n", {"Content-Type": "text/plain"})
    url = serve(server, "/private/a.html", Response(200, ARTICLE, HTML), robots=robots)
    failed(
        pages.fetch(url),
        url,
        "robots_disallowed",
        f"robots.txt at {server.url('/robots.txt')} disallows /private/a.html for Wirewatch",
        None,
    )
    assert server.paths == ["/robots.txt"]


def test_robots_txt_404_allows_everything(server: FeedServer, pages: Pages):
    url = serve(server, "/a.html", Response(200, ARTICLE, HTML), robots=Response(404))
    assert pages.fetch(url).extraction.status == "extracted"
    assert server.paths == ["/robots.txt", "/a.html"]


def test_robots_txt_500_disallows_everything(server: FeedServer, pages: Pages):
    url = serve(server, "/a.html", Response(200, ARTICLE, HTML), robots=Response(500))
    failed(
        pages.fetch(url),
        url,
        "robots_disallowed",
        f"robots.txt at {server.url('/robots.txt')} could not be read (HTTP 500 Internal Server Error): "
        "RFC 9309 disallows all",
        None,
    )
    assert server.paths == ["/robots.txt"]


def test_robots_txt_is_fetched_once_per_host_for_many_pages(server: FeedServer, pages: Pages):
    server.route("/robots.txt", [ALLOW_ALL])
    for i in range(5):
        server.route(f"/{i}.html", [Response(200, ARTICLE, HTML)])
    statuses = [pages.fetch(server.url(f"/{i}.html")).extraction.status for i in range(5)]
    assert statuses == ["extracted"] * 5
    assert server.paths == ["/robots.txt", *(f"/{i}.html" for i in range(5))]


# --- refused and held off --------------------------------------------------------------------------


def test_a_private_address_is_refused_without_a_request(server: FeedServer):
    state = Pages(FetchPolicy(timeout_s=5.0))  # allow_private off
    url = serve(server, "/a.html", Response(200, ARTICLE, HTML))
    failed(
        state.fetch(url),
        url,
        "refused",
        "refused 127.0.0.1: it resolves to non-public address 127.0.0.1 (allow_private is off)",
        None,
    )
    assert server.requests == []
    state.session.close()


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://example.com/a.html", "/etc/passwd", "http://[::1/a"]
)
def test_other_schemes_and_bad_urls_are_refused(pages: Pages, url: str):
    result = pages.fetch(url)
    assert result.extraction.status == "refused"
    assert result.extraction.reason


def test_a_name_that_does_not_resolve_is_unreachable_without_a_request(
    pages: Pages, monkeypatch: pytest.MonkeyPatch
):
    def no_such_host(host: str, port: int) -> list[http_fetch.IPAddress]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(http_fetch, "resolve_host", no_such_host)
    state = Pages(FetchPolicy(timeout_s=5.0))
    url = "http://news.example.invalid/a.html"
    failed(
        state.fetch(url),
        url,
        "unreachable",
        "cannot resolve host news.example.invalid: [Errno -2] Name or service not known",
        None,
    )
    state.session.close()


def test_retry_after_holds_the_host_off(server: FeedServer, pages: Pages):
    url = serve(server, "/a.html", Response(429, b"slow down", {"Retry-After": "120"}))
    failed(
        pages.fetch(url),
        url,
        "http_error",
        "HTTP 429 Too Many Requests; the host asked for a 120 s pause (Retry-After)",
        429,
    )
    assert pages.limiter.held_for(url) > 100
    server.route("/b.html", [Response(200, ARTICLE, HTML)])
    other = server.url("/b.html")
    failed(
        pages.fetch(other, max_host_wait_s=10),
        other,
        "host_waiting",
        "the host asked for a pause (Retry-After): 120 s left, more than the 10 s this run waits",
        None,
    )
    assert server.paths == ["/robots.txt", "/a.html"]


def test_robots_txt_and_the_page_share_the_host_pause(server: FeedServer):
    state = Pages(min_delay_s=0.3)
    url = serve(server, "/a.html", Response(200, ARTICLE, HTML))
    assert state.fetch(url).extraction.status == "extracted"
    robots, page = sorted(server.served, key=lambda served: served.started)
    assert (robots.path, page.path) == ("/robots.txt", "/a.html")
    assert page.started - robots.finished >= 0.25
    state.session.close()


def test_a_robots_txt_over_500_kib_is_read_up_to_500_kib(server: FeedServer, pages: Pages):
    padding = b"# padding\n" * (60 * 1024)
    robots = Response(200, b"User-agent: *\nDisallow: /private/\n" + padding + b"Disallow: /\n")
    url = serve(server, "/a.html", Response(200, ARTICLE, HTML), robots=robots)
    assert pages.fetch(url).extraction.status == "extracted"
    assert pages.fetch(server.url("/private/b.html")).extraction.status == "robots_disallowed"


def test_a_short_hold_is_waited_for_in_the_host_slot():
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    limiter = HostLimiter(min_delay_s=1.0, clock=lambda: now[0], sleep=sleep)
    limiter.defer("http://example.com/a", 30)
    limiter.defer("http://example.com/b", 5)  # a shorter hold never shortens one
    assert limiter.held_for("http://example.com/c") == 30
    assert limiter.held_for("http://other.example/a") == 0
    with limiter.slot("http://example.com/c"):
        pass
    assert slept == [30]
    assert limiter.held_for("http://example.com/c") == 0
