"""fetch_feed against a real scripted HTTP server, plus the address check and local files on their own."""

from __future__ import annotations

import gzip
import ipaddress
import os
import socket
import tracemalloc
from datetime import UTC, datetime, timedelta

import pytest
import requests

from connectors import http_fetch
from connectors.http_fetch import (
    ACCEPT,
    FetchPolicy,
    FetchResult,
    check_target,
    fetch_feed,
    is_public_address,
    parse_retry_after,
)
from tests.feed_server import ConditionalFeed, FeedServer, Response, http_date

FEED = (
    b'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>'
    b"<item><guid>1</guid></item></channel></rss>"
)
FEED_2 = FEED.replace(b"</channel>", b"<item><guid>2</guid></item></channel>")
LOCAL = FetchPolicy(allow_private=True, timeout_s=5.0)


def fields(result: FetchResult) -> dict[str, object]:
    """Every field except the ones that vary per run (timing, server-generated headers)."""
    return result.model_dump(exclude={"elapsed_s", "headers"})


def expected(url: str, **overrides: object) -> dict[str, object]:
    base: dict[str, object] = {
        "requested_url": url,
        "final_url": url,
        "outcome": "ok",
        "status": 200,
        "body": b"",
        "etag": None,
        "last_modified": None,
        "permanent_redirect": None,
        "retry_after_s": None,
        "error": None,
    }
    return {**base, **overrides}


def conditional_headers(server: FeedServer) -> list[tuple[str | None, str | None]]:
    return [(r.headers.get("if-none-match"), r.headers.get("if-modified-since")) for r in server.requests]


# --- conditional GET and the request headers -----------------------------------------------------


@pytest.mark.integration
def test_first_fetch_sends_who_we_are_and_what_we_accept(server: FeedServer):
    server.route("/a.xml", [Response(200, FEED, {"Content-Type": "application/rss+xml"})])
    result = fetch_feed(server.url("/a.xml"), policy=LOCAL)
    assert fields(result) == expected(server.url("/a.xml"), body=FEED)
    assert result.headers["content-type"] == "application/rss+xml"
    [request] = server.requests
    assert (request.method, request.path) == ("GET", "/a.xml")
    assert request.headers["user-agent"] == LOCAL.user_agent
    assert request.headers["user-agent"].startswith("Wirewatch/")
    assert request.headers["accept-encoding"] == "gzip, deflate"
    assert request.headers["accept"] == ACCEPT
    assert "if-none-match" not in request.headers
    assert "if-modified-since" not in request.headers


@pytest.mark.integration
def test_etag_is_sent_back_and_a_304_is_not_modified(server: FeedServer):
    feed = ConditionalFeed(FEED)
    server.route("/a.xml", feed)
    url = server.url("/a.xml")
    first = fetch_feed(url, policy=LOCAL)
    assert fields(first) == expected(url, body=FEED, etag=feed.etag)

    second = fetch_feed(url, etag=first.etag, policy=LOCAL)
    assert fields(second) == expected(url, outcome="not_modified", status=304, etag=feed.etag)
    assert conditional_headers(server) == [(None, None), (feed.etag, None)]


@pytest.mark.integration
def test_last_modified_is_sent_back_and_a_304_is_not_modified(server: FeedServer):
    stamp = "Wed, 21 Oct 2026 07:28:00 GMT"
    feed = ConditionalFeed(FEED, last_modified=stamp, use_etag=False)
    server.route("/a.xml", feed)
    url = server.url("/a.xml")
    first = fetch_feed(url, policy=LOCAL)
    assert fields(first) == expected(url, body=FEED, last_modified=stamp)

    second = fetch_feed(url, last_modified=first.last_modified, policy=LOCAL)
    assert fields(second) == expected(url, outcome="not_modified", status=304, last_modified=stamp)
    assert conditional_headers(server) == [(None, None), (None, stamp)]


@pytest.mark.integration
def test_a_bare_304_echoes_the_validators_that_were_sent(server: FeedServer):
    server.route("/a.xml", [Response(304)])
    stamp = "Wed, 21 Oct 2026 07:28:00 GMT"
    result = fetch_feed(server.url("/a.xml"), etag='"v1"', last_modified=stamp, policy=LOCAL)
    url = server.url("/a.xml")
    assert fields(result) == expected(
        url, outcome="not_modified", status=304, etag='"v1"', last_modified=stamp
    )
    assert conditional_headers(server) == [('"v1"', stamp)]


@pytest.mark.integration
def test_a_feed_that_gains_an_item_between_polls_is_fetched_again(server: FeedServer):
    feed = ConditionalFeed(FEED)
    server.route("/a.xml", feed)
    url = server.url("/a.xml")
    first = fetch_feed(url, policy=LOCAL)
    old_etag = feed.etag
    feed.update(FEED_2)

    second = fetch_feed(url, etag=first.etag, policy=LOCAL)
    assert fields(second) == expected(url, body=FEED_2, etag=feed.etag)
    assert feed.etag != old_etag
    assert conditional_headers(server) == [(None, None), (old_etag, None)]


@pytest.mark.integration
def test_a_callers_session_is_used_and_left_open(server: FeedServer):
    server.route("/a.xml", [Response(200, FEED)])
    with requests.Session() as session:
        session.headers["X-Probe"] = "mine"
        first = fetch_feed(server.url("/a.xml"), policy=LOCAL, session=session)
        second = fetch_feed(server.url("/a.xml"), policy=LOCAL, session=session)
    assert (first.outcome, second.outcome) == ("ok", "ok")
    assert [r.headers.get("x-probe") for r in server.requests] == ["mine", "mine"]


# --- compression and size ------------------------------------------------------------------------


@pytest.mark.integration
@pytest.mark.parametrize("script", [Response.gzipped(FEED), Response.deflated(FEED)], ids=["gzip", "deflate"])
def test_compressed_bodies_come_back_decompressed(server: FeedServer, script: Response):
    server.route("/a.xml", [script])
    result = fetch_feed(server.url("/a.xml"), policy=LOCAL)
    assert fields(result) == expected(server.url("/a.xml"), body=FEED)


@pytest.mark.integration
@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "close-delimited"])
def test_a_body_over_max_bytes_is_an_error(server: FeedServer, declared: bool):
    server.route("/big.xml", [Response(200, b"x" * 5000, content_length=declared)])
    result = fetch_feed(server.url("/big.xml"), policy=LOCAL.model_copy(update={"max_bytes": 1000}))
    url = server.url("/big.xml")
    assert fields(result) == expected(url, outcome="error", error="response larger than 1000 bytes")


@pytest.mark.integration
def test_a_body_of_exactly_max_bytes_is_fine(server: FeedServer):
    server.route("/edge.xml", [Response.gzipped(b"x" * 1000)])
    result = fetch_feed(server.url("/edge.xml"), policy=LOCAL.model_copy(update={"max_bytes": 1000}))
    assert (result.outcome, len(result.body)) == ("ok", 1000)


@pytest.mark.integration
def test_a_gzip_bomb_is_stopped_at_max_bytes(server: FeedServer):
    bomb = gzip.compress(b"\0" * (20 * 1024 * 1024))
    assert len(bomb) < 100_000  # small on the wire, 20 MiB inflated
    server.route("/bomb.xml", [Response(200, bomb, {"Content-Encoding": "gzip"})])
    policy = LOCAL.model_copy(update={"max_bytes": 100_000})
    tracemalloc.start()
    try:
        result = fetch_feed(server.url("/bomb.xml"), policy=policy)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Inflating the whole bomb would need 20 MiB at least; a chunked read stays near the cap.
    assert peak < 4 * 1024 * 1024
    url = server.url("/bomb.xml")
    assert fields(result) == expected(url, outcome="error", error="response larger than 100000 bytes")


@pytest.mark.integration
def test_a_corrupt_gzip_body_is_an_error(server: FeedServer):
    server.route("/bad.xml", [Response(200, b"not gzip at all", {"Content-Encoding": "gzip"})])
    result = fetch_feed(server.url("/bad.xml"), policy=LOCAL)
    assert (result.outcome, result.status, result.body) == ("error", 200, b"")
    assert result.error is not None
    assert result.error.startswith("cannot decompress the response")


# --- time ----------------------------------------------------------------------------------------


@pytest.mark.integration
def test_a_server_slower_than_the_timeout_is_an_error(server: FeedServer):
    server.route("/slow.xml", [Response(200, FEED, delay_s=30)])
    result = fetch_feed(server.url("/slow.xml"), policy=LOCAL.model_copy(update={"timeout_s": 0.5}))
    url = server.url("/slow.xml")
    assert fields(result) == expected(url, outcome="error", status=None, error="timed out after 0.5 s")
    assert 0.5 <= result.elapsed_s < 3


@pytest.mark.integration
def test_a_slow_drip_body_is_cut_at_the_total_deadline(server: FeedServer):
    # Every byte arrives well within a read timeout; only a deadline for the whole fetch stops this.
    server.route("/drip.xml", [Response(200, FEED, drip_s=0.05)])
    result = fetch_feed(server.url("/drip.xml"), policy=LOCAL.model_copy(update={"timeout_s": 0.5}))
    url = server.url("/drip.xml")
    assert fields(result) == expected(url, outcome="error", error="timed out after 0.5 s")
    assert 0.5 <= result.elapsed_s < 3


# --- HTTP errors ---------------------------------------------------------------------------------


@pytest.mark.integration
def test_429_with_retry_after_in_seconds(server: FeedServer):
    server.route("/a.xml", [Response(429, b"slow down", {"Retry-After": "120"})])
    result = fetch_feed(server.url("/a.xml"), policy=LOCAL)
    assert fields(result) == expected(
        server.url("/a.xml"),
        outcome="error",
        status=429,
        retry_after_s=120.0,
        error="HTTP 429 Too Many Requests",
    )


@pytest.mark.integration
def test_503_with_retry_after_as_an_http_date_counts_from_the_servers_date(server: FeedServer):
    server_now = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
    headers = {"Date": http_date(server_now), "Retry-After": http_date(server_now + timedelta(seconds=90))}
    server.route("/a.xml", [Response(503, b"", headers)])
    result = fetch_feed(server.url("/a.xml"), policy=LOCAL)
    assert fields(result) == expected(
        server.url("/a.xml"),
        outcome="error",
        status=503,
        retry_after_s=90.0,
        error="HTTP 503 Service Unavailable",
    )


@pytest.mark.integration
def test_retry_after_is_ignored_on_other_errors(server: FeedServer):
    server.route("/a.xml", [Response(404, b"gone", {"Retry-After": "120"})])
    result = fetch_feed(server.url("/a.xml"), policy=LOCAL)
    assert fields(result) == expected(
        server.url("/a.xml"), outcome="error", status=404, error="HTTP 404 Not Found"
    )


@pytest.mark.integration
def test_500_until_the_server_recovers(server: FeedServer):
    server.route("/a.xml", [Response(500, b"oops")])
    url = server.url("/a.xml")
    failures = [fetch_feed(url, policy=LOCAL) for _ in range(2)]
    assert [fields(r) for r in failures] == [
        expected(url, outcome="error", status=500, error="HTTP 500 Internal Server Error")
    ] * 2
    server.route("/a.xml", [Response(200, FEED)])
    assert fields(fetch_feed(url, policy=LOCAL)) == expected(url, body=FEED)
    assert server.paths == ["/a.xml"] * 3


@pytest.mark.integration
def test_a_refused_connection_is_an_error_without_status():
    with socket.socket() as probe:  # a port that was just free: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/a.xml"
    result = fetch_feed(url, policy=LOCAL)
    assert (result.outcome, result.status, result.final_url) == ("error", None, url)
    assert result.error is not None
    assert result.error.startswith("connection failed:")
    assert "refused" in result.error.lower()


# --- redirects -----------------------------------------------------------------------------------


@pytest.mark.integration
@pytest.mark.parametrize("status", [301, 308])
def test_a_permanent_redirect_is_followed_and_reported(server: FeedServer, status: int):
    server.route("/old.xml", [Response.redirect(status, "/new.xml")])
    server.route("/new.xml", [Response(200, FEED)])
    result = fetch_feed(server.url("/old.xml"), etag='"e"', policy=LOCAL)
    new = server.url("/new.xml")
    assert fields(result) == expected(
        server.url("/old.xml"), final_url=new, body=FEED, permanent_redirect=new
    )
    assert server.paths == ["/old.xml", "/new.xml"]
    # Every hop carries the validators and who we are.
    assert conditional_headers(server) == [('"e"', None)] * 2
    assert {r.headers["user-agent"] for r in server.requests} == {LOCAL.user_agent}


@pytest.mark.integration
@pytest.mark.parametrize("statuses", [(302,), (307,), (301, 302), (302, 301)])
def test_a_chain_with_a_temporary_redirect_is_not_a_move(server: FeedServer, statuses: tuple[int, ...]):
    for hop, status in enumerate(statuses):
        server.route(f"/r{hop}.xml", [Response.redirect(status, server.url(f"/r{hop + 1}.xml"))])
    last = f"/r{len(statuses)}.xml"
    server.route(last, [Response(200, FEED)])
    result = fetch_feed(server.url("/r0.xml"), policy=LOCAL)
    assert fields(result) == expected(server.url("/r0.xml"), final_url=server.url(last), body=FEED)


@pytest.mark.integration
def test_a_permanent_redirect_to_a_failing_url_is_not_a_move(server: FeedServer):
    server.route("/old.xml", [Response.redirect(301, "/new.xml")])
    result = fetch_feed(server.url("/old.xml"), policy=LOCAL)
    assert fields(result) == expected(
        server.url("/old.xml"),
        final_url=server.url("/new.xml"),
        outcome="error",
        status=404,
        error="HTTP 404 Not Found",
    )


@pytest.mark.integration
def test_a_redirect_loop_is_an_error(server: FeedServer):
    server.route("/loop-a.xml", [Response.redirect(302, "/loop-b.xml")])
    server.route("/loop-b.xml", [Response.redirect(302, "/loop-a.xml")])
    result = fetch_feed(server.url("/loop-a.xml"), policy=LOCAL)
    assert fields(result) == expected(
        server.url("/loop-a.xml"),
        final_url=server.url("/loop-b.xml"),
        outcome="error",
        status=302,
        error=f"redirect loop: {server.url('/loop-b.xml')} redirects back to {server.url('/loop-a.xml')}",
    )
    assert server.paths == ["/loop-a.xml", "/loop-b.xml"]


@pytest.mark.integration
def test_more_redirects_than_allowed_is_an_error(server: FeedServer):
    for hop in range(10):
        server.route(f"/r{hop}.xml", [Response.redirect(301, f"/r{hop + 1}.xml")])
    result = fetch_feed(server.url("/r0.xml"), policy=LOCAL.model_copy(update={"max_redirects": 3}))
    assert fields(result) == expected(
        server.url("/r0.xml"),
        final_url=server.url("/r3.xml"),
        outcome="error",
        status=301,
        error="too many redirects (more than 3)",
    )
    assert server.paths == ["/r0.xml", "/r1.xml", "/r2.xml", "/r3.xml"]


@pytest.mark.integration
def test_a_redirect_without_location_is_an_error(server: FeedServer):
    server.route("/a.xml", [Response(302)])
    result = fetch_feed(server.url("/a.xml"), policy=LOCAL)
    error = "HTTP 302 Found without a Location header"
    assert fields(result) == expected(server.url("/a.xml"), outcome="error", status=302, error=error)


# --- address safety against the server ----------------------------------------------------------


@pytest.mark.integration
def test_a_private_address_is_refused_before_any_request(server: FeedServer):
    server.route("/a.xml", [Response(200, FEED)])
    result = fetch_feed(server.url("/a.xml"), policy=FetchPolicy())
    assert result.outcome == "error"
    assert (
        result.error
        == "refused 127.0.0.1: it resolves to non-public address 127.0.0.1 (allow_private is off)"
    )
    assert server.requests == []


@pytest.mark.integration
def test_every_redirect_hop_is_checked(server: FeedServer, monkeypatch: pytest.MonkeyPatch):
    # "localhost" plays a public name: the check is told it resolves to a public address, while the
    # connection still reaches the local server. Its redirect to 127.0.0.1 must then be refused.
    real = http_fetch.resolve_host

    def resolve(host: str, port: int) -> list[http_fetch.IPAddress]:
        return [ipaddress.ip_address("93.184.216.34")] if host == "localhost" else real(host, port)

    monkeypatch.setattr(http_fetch, "resolve_host", resolve)
    # A local-only name is refused outright unless it resolves; bypass that rule for this stand-in too.
    monkeypatch.setattr(http_fetch, "_is_localhost_name", lambda host: False)
    target = server.url("/internal.xml")
    server.route("/start.xml", [Response.redirect(302, target)])
    server.route("/internal.xml", [Response(200, b"secret")])
    start = f"http://localhost:{server.port}/start.xml"

    result = fetch_feed(start, policy=FetchPolicy(timeout_s=5))
    assert fields(result) == expected(
        start,
        final_url=target,
        outcome="error",
        status=302,
        error="refused 127.0.0.1: it resolves to non-public address 127.0.0.1 (allow_private is off)",
    )
    assert server.paths == ["/start.xml"]


@pytest.mark.integration
def test_a_redirect_to_a_local_file_is_refused(server: FeedServer):
    server.route("/a.xml", [Response.redirect(301, "file:///etc/passwd")])
    result = fetch_feed(server.url("/a.xml"), policy=LOCAL)
    assert result.outcome == "error"
    assert result.body == b""
    assert result.error == "unsupported URL scheme 'file' in 'file:///etc/passwd': only http and https"


# --- proxies -------------------------------------------------------------------------------------


@pytest.mark.integration
def test_the_proxy_from_the_environment_is_used_and_resolves_the_name(
    server: FeedServer, monkeypatch: pytest.MonkeyPatch
):
    # feed.invalid cannot resolve here (RFC 6761), so only a request through the proxy can succeed.
    monkeypatch.setenv("HTTP_PROXY", server.base_url)
    url = "http://feed.invalid/a.xml"
    server.route(url, [Response(200, FEED)])
    result = fetch_feed(url, policy=FetchPolicy(timeout_s=5))
    assert fields(result) == expected(url, body=FEED)
    [request] = server.requests
    assert request.path == url
    assert request.headers["user-agent"] == FetchPolicy().user_agent


@pytest.mark.integration
def test_no_proxy_bypasses_the_proxy(server: FeedServer, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing there: using it would fail
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    server.route("/a.xml", [Response(200, FEED)])
    assert fields(fetch_feed(server.url("/a.xml"), policy=LOCAL)) == expected(server.url("/a.xml"), body=FEED)


@pytest.mark.integration
@pytest.mark.parametrize("target", ["http://127.0.0.1/a.xml", "http://[::1]/a.xml", "http://localhost/a.xml"])
def test_private_literals_and_localhost_are_refused_even_through_a_proxy(
    server: FeedServer, monkeypatch: pytest.MonkeyPatch, target: str
):
    monkeypatch.setenv("HTTP_PROXY", server.base_url)
    server.route(target, [Response(200, b"secret")])
    result = fetch_feed(target, policy=FetchPolicy(timeout_s=5))
    assert result.outcome == "error"
    assert result.error is not None
    assert result.error.startswith("refused ")
    assert server.requests == []


# --- the address check on its own ---------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.8.9.10",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",  # cloud metadata
        "100.64.0.1",  # carrier-grade NAT
        "0.0.0.0",
        "224.0.0.1",
        "240.0.0.1",
        "255.255.255.255",
        "192.0.2.1",  # documentation
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "fec0::1",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "::ffff:169.254.169.254",
        "2002:7f00:1::",  # 6to4 around 127.0.0.1
        "2002:a00:1::",  # 6to4 around 10.0.0.1
        "64:ff9b::a00:1",  # NAT64 around 10.0.0.1
    ],
)
def test_non_public_addresses_are_refused(address: str):
    assert not is_public_address(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "address", ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8", "2002:808:808::"]
)
def test_public_addresses_are_allowed(address: str):
    assert is_public_address(ipaddress.ip_address(address))


def _fake_getaddrinfo(answers: dict[str, list[str]]):
    def getaddrinfo(host, port, *args, **kwargs):
        if host not in answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
            for a in answers[host]
        ]

    return getaddrinfo


@pytest.mark.parametrize(
    ("answers", "reason"),
    [
        (
            ["10.0.0.7"],
            "refused intranet.example: it resolves to non-public address 10.0.0.7 (allow_private is off)",
        ),
        (
            ["93.184.216.34", "::ffff:192.168.0.1"],
            "refused intranet.example: it resolves to non-public address ::ffff:192.168.0.1 "
            "(allow_private is off)",
        ),
        (["93.184.216.34", "2606:4700:4700::1111"], None),
    ],
    ids=["private", "one-of-many-private", "all-public"],
)
def test_a_host_name_is_judged_by_every_address_it_resolves_to(
    monkeypatch: pytest.MonkeyPatch, answers: list[str], reason: str | None
):
    monkeypatch.setattr(socket, "getaddrinfo", _fake_getaddrinfo({"intranet.example": answers}))
    assert check_target("https://intranet.example/feed", allow_private=False, proxied=False) == reason
    # A proxy resolves names itself, so a name is not judged here then.
    assert check_target("https://intranet.example/feed", allow_private=False, proxied=True) is None
    assert check_target("https://intranet.example/feed", allow_private=True, proxied=False) is None


def test_a_name_that_does_not_resolve_is_an_error(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(socket, "getaddrinfo", _fake_getaddrinfo({}))
    reason = check_target("http://nowhere.example/", allow_private=False, proxied=False)
    assert reason is not None
    assert reason.startswith("cannot resolve host nowhere.example:")


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        (
            "ftp://example.com/feed",
            "unsupported URL scheme 'ftp' in 'ftp://example.com/feed': only http and https",
        ),
        (
            "gopher://example.com/",
            "unsupported URL scheme 'gopher' in 'gopher://example.com/': only http and https",
        ),
        ("feeds/a.xml", "unsupported URL scheme 'none' in 'feeds/a.xml': only http and https"),
        ("http:///a.xml", "URL has no host: 'http:///a.xml'"),
        ("http://example.com:99999/", "invalid URL 'http://example.com:99999/': Port out of range 0-65535"),
    ],
)
def test_only_http_and_https_urls_with_a_host_are_fetched(url: str, reason: str):
    assert check_target(url, allow_private=True, proxied=False) == reason
    result = fetch_feed(url, policy=LOCAL)
    assert fields(result) == expected(url, outcome="error", status=None, error=reason)


# --- local files ---------------------------------------------------------------------------------


def test_an_absolute_path_and_a_file_url_are_read(tmp_path):
    path = tmp_path / "feed.xml"
    path.write_bytes(FEED)
    for location in (str(path), path.as_uri()):
        assert fields(fetch_feed(location)) == expected(location, status=None, body=FEED)


def test_a_file_over_max_bytes_is_an_error(tmp_path):
    path = tmp_path / "big.xml"
    path.write_bytes(b"x" * 1001)
    result = fetch_feed(str(path), policy=FetchPolicy(max_bytes=1000))
    assert fields(result) == expected(
        str(path), outcome="error", status=None, error="file larger than the limit of 1000 bytes"
    )
    path.write_bytes(b"x" * 1000)
    assert fetch_feed(str(path), policy=FetchPolicy(max_bytes=1000)).body == b"x" * 1000


def test_a_missing_file_is_an_error(tmp_path):
    path = tmp_path / "missing.xml"
    result = fetch_feed(str(path))
    error = f"cannot read {path}: No such file or directory"
    assert fields(result) == expected(str(path), outcome="error", status=None, error=error)


def test_a_fifo_is_an_error_not_a_hang(tmp_path):
    path = tmp_path / "feed.xml"
    os.mkfifo(path)  # no writer: opening it to read would block the poll for ever
    result = fetch_feed(str(path))
    error = f"cannot read {path}: it is a FIFO (named pipe), not a feed file"
    assert fields(result) == expected(str(path), outcome="error", status=None, error=error)


def test_a_file_url_on_another_host_is_an_error():
    result = fetch_feed("file://fileserver/share/feed.xml")
    error = "file URL names another host: 'file://fileserver/share/feed.xml'"
    assert fields(result) == expected(
        "file://fileserver/share/feed.xml", outcome="error", status=None, error=error
    )


# --- Retry-After parsing -------------------------------------------------------------------------

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "date", "seconds"),
    [
        ("120", None, 120.0),
        (" 0 ", None, 0.0),
        ("Sun, 01 Mar 2026 12:05:00 GMT", None, 300.0),
        ("Sun, 01 Mar 2026 12:05:00 -0000", None, 300.0),  # a zone-less date is UTC, not local time
        ("Sun, 01 Mar 2026 12:05:00 GMT", "Sun, 01 Mar 2026 12:04:00 GMT", 60.0),  # the server's clock
        ("Sun, 01 Mar 2026 11:00:00 GMT", None, 0.0),  # in the past: retry now
        ("-5", None, None),
        ("soon", None, None),
        ("", None, None),
        (None, None, None),
    ],
)
def test_retry_after_values(value: str | None, date: str | None, seconds: float | None):
    assert parse_retry_after(value, date=date, now=NOW) == seconds


def test_policy_limits_are_validated():
    with pytest.raises(ValueError, match="timeout_s"):
        FetchPolicy(timeout_s=0)
    with pytest.raises(ValueError, match="max_redirects"):
        FetchPolicy(max_redirects=-1)
