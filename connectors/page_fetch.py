"""Fetch a feed item's linked page politely and extract its main text (issue 18).

`fetch_page` never raises for a bad URL, a failing host or a page it cannot read: the outcome is a
`PageExtraction` status with a one-line reason. Politeness: the feed fetcher's SSRF rules, robots.txt
(`connectors.robots`), and every request (robots.txt included) inside the run's `HostLimiter` slot,
so pages and feeds of one host share one request at a time, its pause and any Retry-After.
"""

from __future__ import annotations

import logging
import re
import threading
from datetime import datetime
from typing import NamedTuple

import requests
import trafilatura

from connectors.feed_schedule import HostLimiter
from connectors.http_fetch import FetchErrorKind, FetchPolicy, FetchResult, fetch_url, target_problem
from connectors.robots import MAX_ROBOTS_BYTES, RobotsCache
from schemas.records import PageExtraction, PageStatus, one_line

EXTRACTOR = f"trafilatura {trafilatura.__version__}"
HTML_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.1"
ROBOTS_ACCEPT = "text/plain, */*;q=0.1"
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})

_STATUS_OF: dict[FetchErrorKind, PageStatus] = {
    "refused": "refused",
    "unreachable": "unreachable",
    "timeout": "timeout",
    "too_large": "too_large",
    "http_status": "http_error",
    "redirect": "http_error",
    "broken": "unreachable",  # the connection broke mid-answer: as good as no answer
    "file": "refused",  # fetch_url never reads files; listed so every kind has a status
}
_DOWN: frozenset[FetchErrorKind | None] = frozenset({"unreachable", "timeout", "broken"})
_META_CHARSET = re.compile(rb"""<meta[^>]*?charset\s*=\s*["']?\s*([A-Za-z0-9_:.-]+)""", re.IGNORECASE)
_BOM = b"\xef\xbb\xbf"
_log = logging.getLogger(__name__)
# trafilatura parses every page with one module-level lxml parser, and an lxml parser must not be
# used by two threads at once (seen: "free(): invalid pointer" and an abort with pages of several
# hosts extracted together). Extraction is CPU work under the GIL anyway; the fetches stay parallel.
_EXTRACTING = threading.Lock()


class PageResult(NamedTuple):
    """The record's `PageExtraction` and, only when its status is "extracted", the page's main text."""

    extraction: PageExtraction
    text: str | None


def fetch_page(
    url: str,
    *,
    policy: FetchPolicy,
    session: requests.Session,
    robots: RobotsCache,
    limiter: HostLimiter,
    now: datetime,
    max_host_wait_s: float = 60.0,
) -> PageResult:
    """Fetch `url` as HTML under `policy` and extract its article text with trafilatura.

    Stops without a request when the target is refused (or its name does not resolve), when its
    host is held off by a Retry-After for longer than `max_host_wait_s`, or when robots.txt
    forbids it (or could not be read). A 429/503 with Retry-After holds the host off in `limiter`.
    `now` is the record's `fetched_at`.
    """
    try:
        problem = target_problem(url, policy=policy, session=session)
    except ValueError as exc:  # a URL too broken for even the proxy lookup
        problem = ("refused", f"invalid URL {url!r}: {exc}")
    if problem:
        return _failed(url, now, _STATUS_OF[problem[0]], problem[1])
    waiting = _host_waiting(url, limiter, max_host_wait_s)
    if waiting:
        return _failed(url, now, "host_waiting", waiting)

    robots_policy = policy.model_copy(update={"max_bytes": min(policy.max_bytes, MAX_ROBOTS_BYTES)})

    def fetch_robots(robots_url: str) -> FetchResult:
        # Truncated, not refused: RFC 9309 has crawlers parse the first 500 KiB of a longer file.
        return _polite_fetch(
            robots_url,
            policy=robots_policy,
            session=session,
            limiter=limiter,
            accept=ROBOTS_ACCEPT,
            truncate=True,
        )

    allowed, why = robots.allowed(url, fetch=fetch_robots)
    if not allowed:
        # A host that does not answer is down, not forbidding: say so in the status.
        status: PageStatus = "unreachable" if robots.failure_kind(url) in _DOWN else "robots_disallowed"
        return _failed(url, now, status, why or "robots.txt disallows it")
    waiting = _host_waiting(url, limiter, max_host_wait_s)  # the robots.txt answer may have asked
    if waiting:
        return _failed(url, now, "host_waiting", waiting)

    result = _polite_fetch(url, policy=policy, session=session, limiter=limiter, accept=HTML_ACCEPT)
    if result.outcome != "ok":
        status = _STATUS_OF[result.error_kind] if result.error_kind else "http_error"
        reason = result.error or f"HTTP {result.status}"
        if result.retry_after_s:
            reason += f"; the host asked for a {result.retry_after_s:g} s pause (Retry-After)"
        return _failed(url, now, status, reason, result)
    media_type, charset = _content_type(result.headers.get("content-type"))
    if media_type not in HTML_TYPES and not (media_type is None and _looks_like_html(result.body)):
        return _failed(url, now, "not_html", f"content type {media_type or 'missing'}, not HTML", result)
    return _extracted(url, now, result, charset)


def extract_text(html: str | bytes, url: str | None) -> str | None:
    """The main text of an HTML page, or None when there is none.

    Settings chosen by F1 on benchmarks/eval_extract.py: `fast` (no fallback extractors) with
    `favor_recall`, tables kept, comments dropped. Raises whatever the parser raises.
    """
    with _EXTRACTING:
        text = trafilatura.extract(
            html,
            url=url,
            fast=True,
            favor_recall=True,
            include_comments=False,
            include_tables=True,
            output_format="txt",
            with_metadata=False,
        )
    return text.strip() or None if text else None


def decode_html(body: bytes, charset: str | None) -> str | bytes:
    """The page as text by its BOM, HTTP charset or meta charset; the bytes when none is usable,
    for trafilatura's own detection (UTF-8 first, then a guess)."""
    if body.startswith(_BOM):
        return body[len(_BOM) :].decode("utf-8", "replace")
    meta = _META_CHARSET.search(body, 0, 4096)
    for candidate in (charset, meta[1].decode("ascii") if meta else None):
        if candidate:
            try:
                return body.decode(candidate, "replace")
            except LookupError:  # an unknown label: try the next source
                continue
    return body


def _extracted(url: str, now: datetime, result: FetchResult, charset: str | None) -> PageResult:
    try:
        text = extract_text(decode_html(result.body, charset), result.final_url)
    # A third-party parser on arbitrary pages can fail in any way; the record must still go on.
    except Exception as exc:  # noqa: BLE001
        _log.debug("extraction failed for %s", url, exc_info=True)
        return _failed(url, now, "no_text", f"extraction failed: {type(exc).__name__}: {exc}", result)
    if text is None:
        return _failed(url, now, "no_text", "no article text found on the page", result)
    extraction = _extraction(url, now, "extracted", None, result, word_count=len(text.split()))
    return PageResult(extraction, text)


def _polite_fetch(
    url: str,
    *,
    policy: FetchPolicy,
    session: requests.Session,
    limiter: HostLimiter,
    accept: str,
    truncate: bool = False,
) -> FetchResult:
    with limiter.slot(url):
        result = fetch_url(url, policy=policy, session=session, accept=accept, truncate=truncate)
    if result.retry_after_s:
        # The host that answered asked for the pause, also when a redirect led there.
        limiter.defer(result.final_url, result.retry_after_s)
    return result


def _host_waiting(url: str, limiter: HostLimiter, max_host_wait_s: float) -> str | None:
    held = limiter.held_for(url)
    if held <= max_host_wait_s:
        return None
    return (
        f"the host asked for a pause (Retry-After): {held:.0f} s left, "
        f"more than the {max_host_wait_s:g} s this run waits"
    )


def _content_type(value: str | None) -> tuple[str | None, str | None]:
    """(media type lower-cased, charset) of a Content-Type header."""
    if not value:
        return None, None
    media_type, _, params = value.partition(";")
    charset = None
    for param in params.split(";"):
        name, _, argument = param.partition("=")
        if name.strip().lower() == "charset":
            charset = argument.strip().strip("\"'") or None
    return media_type.strip().lower() or None, charset


def _looks_like_html(body: bytes) -> bool:
    """For a response without a Content-Type: does it start like an HTML document?"""
    head = body[:1024].lstrip(_BOM + b" \t\r\n").lower()
    return head.startswith((b"<!doctype html", b"<html")) or b"<html" in head


def _failed(
    url: str, now: datetime, status: PageStatus, reason: str, result: FetchResult | None = None
) -> PageResult:
    return PageResult(_extraction(url, now, status, reason, result), None)


def _extraction(
    url: str,
    now: datetime,
    status: PageStatus,
    reason: str | None,
    result: FetchResult | None,
    *,
    word_count: int = 0,
) -> PageExtraction:
    return PageExtraction(
        status=status,
        reason=one_line(reason) if reason else None,
        url=url,
        final_url=result.final_url if result else None,
        http_status=result.status if result else None,
        word_count=word_count,
        extractor=EXTRACTOR,
        fetched_at=now,
    )
