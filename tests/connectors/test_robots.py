"""robots.txt rules (RFC 9309) and the per-origin cache, with a scripted fetch in place of HTTP."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from connectors.http_fetch import FetchErrorKind, FetchResult
from connectors.robots import FAILURE_TTL_S, GOOD_TTL_S, RobotsCache, RobotsRules, robots_url


def ok(body: str) -> FetchResult:
    return FetchResult(requested_url="x", final_url="x", outcome="ok", status=200, body=body.encode())


def error(status: int | None, kind: FetchErrorKind, message: str) -> FetchResult:
    return FetchResult(
        requested_url="x", final_url="x", outcome="error", status=status, error=message, error_kind=kind
    )


class Fetches:
    """A fetch that answers every robots.txt URL with `result` and counts the calls per URL."""

    def __init__(self, result: FetchResult) -> None:
        self.result = result
        self.calls: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, url: str) -> FetchResult:
        with self._lock:
            self.calls.append(url)
        return self.result


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# --- the rules --------------------------------------------------------------------------------------


def allows(text: str, path: str) -> bool:
    return RobotsRules.parse(text).allows(path)


def test_the_longest_match_wins_whatever_the_order():
    text = "User-agent: *\nAllow: /news/public\nDisallow: /news\n"
    assert allows(text, "/news/public/1.html")
    assert not allows(text, "/news/private/1.html")
    assert allows(text, "/sport")


def test_allow_wins_a_tie():
    assert allows("User-agent: *\nDisallow: /a\nAllow: /a\n", "/a/1")


def test_wildcards_and_the_end_anchor():
    text = "User-agent: *\nDisallow: /*.pdf$\nDisallow: /private*/draft\n"
    assert not allows(text, "/files/report.pdf")
    assert allows(text, "/files/report.pdf?download=1")
    assert not allows(text, "/private-area/draft/2")
    assert allows(text, "/private-area/final")


def test_our_group_replaces_the_star_group_and_the_token_is_matched_loosely():
    text = (
        "User-agent: *\nDisallow: /\n\nUser-agent: OtherBot\nUser-agent: wirewatch/2.0\nDisallow: /private\n"
    )
    assert allows(text, "/news/1")
    assert not allows(text, "/private/1")


def test_groups_naming_us_are_merged():
    text = (
        "User-agent: Wirewatch\nDisallow: /a\n\n"
        "User-agent: *\nDisallow: /\n\n"
        "User-agent: WIREWATCH\nDisallow: /b\n"
    )
    assert not allows(text, "/a/1")
    assert not allows(text, "/b/1")
    assert allows(text, "/c/1")


def test_no_group_for_us_or_star_and_an_empty_disallow_allow_everything():
    assert allows("User-agent: OtherBot\nDisallow: /\n", "/a")
    assert allows("User-agent: *\nDisallow:\n", "/a")
    assert allows("", "/a")
    assert allows("garbage\n<html>not robots</html>\n", "/a")


def test_comments_other_lines_and_rules_before_any_group_are_ignored():
    text = (
        "Disallow: /early\n# comment\nUser-agent: * # everyone\n"
        "Crawl-delay: 5\nDisallow: /x # no\nSitemap: /s.xml\n"
    )
    assert allows(text, "/early")
    assert not allows(text, "/x/1")


def test_percent_encoding_is_compared_in_one_spelling():
    text = "User-agent: *\nDisallow: /caf%C3%A9\nDisallow: /%7Euser\nDisallow: /a%2fb\n"
    assert not allows(text, "/café/menu")
    assert not allows(text, "/~user/home")
    assert not allows(text, "/a%2Fb")
    assert allows(text, "/a/b")  # an encoded slash is not a slash


def test_robots_url_is_per_scheme_host_and_port():
    assert robots_url("https://User@News.Example.com/a/b?c=1#d") == "https://news.example.com/robots.txt"
    assert robots_url("http://example.com:80/a") == "http://example.com/robots.txt"
    assert robots_url("http://example.com:8080/a") == "http://example.com:8080/robots.txt"
    assert robots_url("http://[2001:db8::1]:8080/a") == "http://[2001:db8::1]:8080/robots.txt"


# --- the cache --------------------------------------------------------------------------------------


def test_one_robots_request_per_origin_for_many_pages():
    fetch = Fetches(ok("User-agent: *\nDisallow: /private\n"))
    cache = RobotsCache()
    verdicts = [cache.allowed(f"http://example.com/news/{i}", fetch=fetch) for i in range(5)]
    assert verdicts == [(True, None)] * 5
    assert cache.allowed("http://example.com/private/1", fetch=fetch) == (
        False,
        "robots.txt at http://example.com/robots.txt disallows /private/1 for Wirewatch",
    )
    cache.allowed("https://example.com/news/1", fetch=fetch)
    cache.allowed("http://example.com:8080/news/1", fetch=fetch)
    assert fetch.calls == [
        "http://example.com/robots.txt",
        "https://example.com/robots.txt",
        "http://example.com:8080/robots.txt",
    ]


def test_the_query_counts_and_robots_txt_itself_is_always_allowed():
    fetch = Fetches(ok("User-agent: *\nDisallow: /search?q=\nDisallow: /\n"))
    cache = RobotsCache()
    assert not cache.allowed("http://example.com/search?q=x", fetch=fetch)[0]
    assert cache.allowed("http://example.com/robots.txt", fetch=fetch) == (True, None)


@pytest.mark.parametrize(
    ("result", "verdict"),
    [
        (error(404, "http_status", "HTTP 404 Not Found"), (True, None)),
        (error(401, "http_status", "HTTP 401 Unauthorized"), (True, None)),
        (error(None, "redirect", "too many redirects (more than 5)"), (True, None)),
        (
            error(500, "http_status", "HTTP 500 Internal Server Error"),
            (
                False,
                "robots.txt at http://example.com/robots.txt could not be read "
                "(HTTP 500 Internal Server Error): RFC 9309 disallows all",
            ),
        ),
        (
            error(429, "http_status", "HTTP 429 Too Many Requests"),
            (
                False,
                "robots.txt at http://example.com/robots.txt could not be read "
                "(HTTP 429 Too Many Requests): RFC 9309 disallows all",
            ),
        ),
        (
            error(None, "unreachable", "connection failed: refused"),
            (
                False,
                "robots.txt at http://example.com/robots.txt could not be read "
                "(connection failed: refused): RFC 9309 disallows all",
            ),
        ),
        (
            error(None, "timeout", "timed out after 5 s"),
            (
                False,
                "robots.txt at http://example.com/robots.txt could not be read "
                "(timed out after 5 s): RFC 9309 disallows all",
            ),
        ),
    ],
)
def test_unavailable_allows_all_and_unreachable_disallows_all(
    result: FetchResult, verdict: tuple[bool, str | None]
):
    assert RobotsCache().allowed("http://example.com/a", fetch=Fetches(result)) == verdict


@pytest.mark.parametrize(
    ("result", "ttl_s"),
    [
        (ok("User-agent: *\nDisallow:\n"), GOOD_TTL_S),
        (error(404, "http_status", "HTTP 404 Not Found"), GOOD_TTL_S),
        (error(503, "http_status", "HTTP 503 Service Unavailable"), FAILURE_TTL_S),
    ],
)
def test_entries_expire_after_their_ttl(result: FetchResult, ttl_s: float):
    clock = Clock()
    fetch = Fetches(result)
    cache = RobotsCache(clock=clock)
    cache.allowed("http://example.com/a", fetch=fetch)
    clock.now += ttl_s - 1
    cache.allowed("http://example.com/b", fetch=fetch)
    assert len(fetch.calls) == 1
    clock.now += 1
    cache.allowed("http://example.com/c", fetch=fetch)
    assert len(fetch.calls) == 2


def test_only_the_first_500_kib_count():
    body = "User-agent: *\n" + "# padding\n" * (60 * 1024) + "Disallow: /\n"
    assert RobotsCache().allowed("http://example.com/a", fetch=Fetches(ok(body))) == (True, None)


def test_concurrent_pages_of_one_origin_fetch_robots_txt_once():
    release = threading.Event()
    fetch = Fetches(ok("User-agent: *\nDisallow: /no\n"))

    def slow(url: str) -> FetchResult:
        release.wait(5)
        return fetch(url)

    cache = RobotsCache()
    verdicts: list[tuple[bool, str | None]] = []
    threads = [
        threading.Thread(
            target=lambda i=i: verdicts.append(cache.allowed(f"http://example.com/{i}", fetch=slow))
        )
        for i in range(8)
    ]
    for thread in threads:
        thread.start()
    release.set()
    for thread in threads:
        thread.join(5)
    assert verdicts == [(True, None)] * 8
    assert fetch.calls == ["http://example.com/robots.txt"]


def test_an_invalid_url_is_refused_not_raised():
    fetch: Callable[[str], FetchResult] = Fetches(ok(""))
    allowed, reason = RobotsCache().allowed("http://[::1/a", fetch=fetch)
    assert not allowed
    assert reason is not None
    assert reason.startswith("invalid URL")


def test_ttls_must_be_positive():
    with pytest.raises(ValueError, match="TTLs must be > 0"):
        RobotsCache(failure_ttl_s=0)
