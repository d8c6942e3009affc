"""Fetch one feed politely and safely: conditional GET, bounded size/time/redirects, no private targets.

`fetch_feed` never raises for network, HTTP or data problems: every failure comes back as a
`FetchResult` with `outcome="error"`, a one-line `error` and its machine-readable `error_kind`, so
the caller's retry and health policy (`connectors.feed_schedule`) decides what happens next.
`fetch_url` is the same fetch for any http(s) resource (pages, robots.txt), without local files.

Proxies: the `requests` session honours `HTTP_PROXY`/`HTTPS_PROXY`/`ALL_PROXY`/`NO_PROXY` (its
`trust_env`). When a request goes through a proxy, the proxy resolves the target's name, so a local
resolution would check the wrong thing (and may fail where only the proxy can resolve names): host
*names* are then not resolved here and the proxy is the place to enforce egress rules. IP literals and
`localhost` names are still refused when proxied.

Known gap: the address check resolves the name, then `requests` resolves it again to connect; a DNS
answer that changes in between (rebinding) is not caught. The check still stops the common mistakes
and the simple attacks (a feed URL or a redirect naming an internal host or address).
"""

from __future__ import annotations

import http
import ipaddress
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Literal
from urllib.parse import urljoin, urlsplit
from urllib.request import url2pathname

import requests
import urllib3
from pydantic import BaseModel, Field

from connectors.files import FileTooLargeError, NotAFileError, read_at_most
from pipelines import __version__
from schemas.records import one_line
from schemas.types import FROZEN

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
FetchOutcome = Literal["ok", "not_modified", "error"]
# Why a fetch failed, for callers that branch on it (the page fetcher maps these to page statuses).
FetchErrorKind = Literal[
    "refused",  # check_target: a private address, a scheme or URL we never fetch
    "unreachable",  # DNS, connection, TLS or proxy failure
    "timeout",
    "too_large",
    "http_status",  # a 4xx/5xx answer (or another non-2xx, non-304 one)
    "redirect",  # a loop, too long a chain, or a redirect without a usable Location
    "broken",  # the connection broke or the body could not be decompressed
    "file",  # a local feed file could not be read
]

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
PERMANENT_REDIRECT_STATUSES = frozenset({301, 308})
RETRY_AFTER_STATUSES = frozenset({429, 503})
ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, "
    "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.1"
)
# Only what the standard library decodes: asking for br/zstd would depend on optional packages.
ACCEPT_ENCODING = "gzip, deflate"
CHUNK_BYTES = 64 * 1024
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_DEFAULT_PORTS = {"http": 80, "https": 443}


class FetchPolicy(BaseModel):
    """Limits for one fetch; the defaults suit public news feeds."""

    model_config = FROZEN

    timeout_s: float = Field(default=20.0, gt=0)  # for the whole fetch, redirects and body included
    max_bytes: int = Field(default=10 * 1024 * 1024, ge=1)  # after decompression
    max_redirects: int = Field(default=5, ge=0)
    user_agent: str = (
        f"Wirewatch/{__version__} (news-intelligence feed reader; +https://github.com/wirewatch/wirewatch)"
    )
    allow_private: bool = False  # loopback, private, link-local… targets: tests and intranet feeds only


class FetchResult(BaseModel):
    """What one fetch produced; `outcome` says whether `body` holds a feed to parse."""

    model_config = FROZEN

    requested_url: str
    final_url: str  # after redirects; for an error, the URL being fetched when it happened
    outcome: FetchOutcome
    status: int | None  # None for local files and for failures before any HTTP response
    body: bytes = b""
    headers: dict[str, str] = {}  # of the last response, names lower-cased
    etag: str | None = None
    last_modified: str | None = None
    permanent_redirect: str | None = None  # the new URL when only 301/308 led there and it answered
    retry_after_s: float | None = None  # from Retry-After on 429/503
    error: str | None = None  # one line, for the user and the feed's state
    # Out of dumps: it restates `error` for code, and a feed's recorded result stays what it was.
    error_kind: FetchErrorKind | None = Field(default=None, exclude=True)
    elapsed_s: float = 0.0


class _Failure(Exception):
    """A fetch problem with its user-facing message; turned into an error result, never escapes."""

    def __init__(self, message: str, kind: FetchErrorKind) -> None:
        super().__init__(message)
        self.kind: FetchErrorKind = kind


@dataclass
class _Trace:
    """Where a fetch got to, so an error result can say which hop failed."""

    url: str
    status: int | None = None
    redirects: int = 0
    only_permanent: bool = True


# --- address safety ----------------------------------------------------------------------------


def is_public_address(address: IPAddress) -> bool:
    """True when `address` is a globally routable unicast address, embedded IPv4 forms included.

    IPv4-mapped (::ffff:a.b.c.d), 6to4 (2002::/16) and NAT64 (64:ff9b::/96) addresses reach the IPv4
    address inside them, so that one is judged.
    """
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return is_public_address(embedded)
        if address.is_site_local:
            return False
    return not (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_reserved
        or address.is_multicast
        or address.is_unspecified
        or not address.is_global  # e.g. 100.64.0.0/10, carrier-grade NAT
    )


def resolve_host(host: str, port: int) -> list[IPAddress]:
    """Every address `host` resolves to: a connection may use any of them, so all are checked."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [ipaddress.ip_address(str(info[4][0])) for info in infos]


def _show(address: IPAddress) -> str:
    """Mapped IPv4 in dotted form, as people write it (Python before 3.13 prints it in hex)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return f"::ffff:{address.ipv4_mapped}"
    return str(address)


def _literal_address(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _is_localhost_name(host: str) -> bool:
    """RFC 6761: these names are loopback wherever they are resolved, a proxy included."""
    name = host.lower().rstrip(".")
    return name == "localhost" or name.endswith(".localhost")


def check_target(url: str, *, allow_private: bool, proxied: bool) -> str | None:
    """Why `url` must not be fetched, or None: only http(s) to public addresses unless private is allowed.

    With a proxy, host names are not resolved here (see the module docstring).
    """
    problem = _target_problem(url, allow_private=allow_private, proxied=proxied)
    return problem[1] if problem else None


def target_problem(
    url: str, *, policy: FetchPolicy, session: requests.Session
) -> tuple[FetchErrorKind, str] | None:
    """`check_target` for `url` as `fetch_url` would check it, with the kind: "refused", or
    "unreachable" when the name does not resolve. Lets a caller stop before any request."""
    proxied = _proxy_for(session, url) is not None
    return _target_problem(url, allow_private=policy.allow_private, proxied=proxied)


def _target_problem(url: str, *, allow_private: bool, proxied: bool) -> tuple[FetchErrorKind, str] | None:
    try:
        parts = urlsplit(url)
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme.lower(), 0)
    except ValueError as exc:
        return "refused", f"invalid URL {url!r}: {exc}"
    if parts.scheme.lower() not in _DEFAULT_PORTS:
        return "refused", f"unsupported URL scheme {parts.scheme or 'none'!r} in {url!r}: only http and https"
    host = parts.hostname
    if not host:
        return "refused", f"URL has no host: {url!r}"
    if allow_private:
        return None
    literal = _literal_address(host)
    if literal is not None:
        addresses = [literal]
    elif _is_localhost_name(host):
        return "refused", f"refused {host}: a loopback name (allow_private is off)"
    elif proxied:
        return None
    else:
        try:
            addresses = resolve_host(host, port)
        except (OSError, UnicodeError) as exc:
            return "unreachable", f"cannot resolve host {host}: {exc}"
    for address in addresses:
        if not is_public_address(address):
            return (
                "refused",
                f"refused {host}: it resolves to non-public address {_show(address)} (allow_private is off)",
            )
    return None


# --- small pure helpers ------------------------------------------------------------------------


def parse_retry_after(
    value: str | None, *, date: str | None = None, now: datetime | None = None
) -> float | None:
    """Seconds to wait from a Retry-After value: delta-seconds or an HTTP date.

    A date is measured against the response's own `Date` header when it has one, so a skewed local
    clock does not change the answer; otherwise against `now` (default: the current UTC time).
    """
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(int(value))
    when = _http_date(value)
    if when is None:
        return None
    reference = _http_date(date) if date else None
    reference = reference or now or datetime.now(UTC)
    return max(0.0, (when - reference).total_seconds())


def _http_date(value: str) -> datetime | None:
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    # RFC 9110 dates are UTC; a "-0000" zone comes back naive.
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def request_headers(
    policy: FetchPolicy, etag: str | None, last_modified: str | None, *, accept: str = ACCEPT
) -> dict[str, str]:
    """The headers every hop sends: who we are, what we accept, and what we already have."""
    headers = {"User-Agent": policy.user_agent, "Accept": accept, "Accept-Encoding": ACCEPT_ENCODING}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    return headers


def _status_text(status: int, reason: str | None) -> str:
    """`HTTP 404 Not Found`: the standard phrase, since a server's own reason text can be anything."""
    try:
        phrase = http.HTTPStatus(status).phrase
    except ValueError:
        phrase = one_line(reason or "", 80)
    return f"HTTP {status} {phrase}".rstrip()


def _describe(exc: BaseException) -> str:
    """The innermost useful reason: requests wraps urllib3 errors in long `Max retries…` messages."""
    inner: object = exc.args[0] if exc.args else exc
    reason = getattr(inner, "reason", None)
    text = str(reason if reason is not None else inner)
    # urllib3 prefixes "<urllib3.connection.HTTPConnection object at 0x…>: " to connection errors.
    if text.startswith("<") and ">: " in text:
        text = text.split(">: ", 1)[1]
    return one_line(text, 300)


# --- local files -------------------------------------------------------------------------------


def _local_path(url: str) -> str | None:
    """The filesystem path for a file:// URL or an absolute path; None when `url` is neither."""
    parts = urlsplit(url)
    if parts.scheme.lower() == "file":
        if parts.netloc not in ("", "localhost"):
            raise _Failure(f"file URL names another host: {url!r}", "refused")
        return url2pathname(parts.path)
    if not parts.scheme and os.path.isabs(url):
        return url
    return None


def _read_file(path: str, max_bytes: int) -> bytes:
    try:
        return read_at_most(path, max_bytes)
    except NotAFileError as exc:  # a FIFO would hang the poll
        raise _Failure(f"cannot read {path}: it is {exc}, not a feed file", "file") from exc
    except OSError as exc:
        raise _Failure(f"cannot read {path}: {exc.strerror or exc}", "file") from exc
    except FileTooLargeError as exc:
        raise _Failure(f"file {exc}", "too_large") from exc


# --- HTTP --------------------------------------------------------------------------------------


def _proxy_for(session: requests.Session, url: str) -> str | None:
    """The proxy requests will use for `url`, found the same way `Session.request` finds it."""
    settings = session.merge_environment_settings(url, {}, None, None, None)
    return requests.utils.select_proxy(url, settings["proxies"])


def _remaining(deadline: float, clock: Callable[[], float], timeout_s: float) -> float:
    left = deadline - clock()
    if left <= 0:
        raise _Failure(f"timed out after {timeout_s:g} s", "timeout")
    return left


def _read_body(
    response: requests.Response,
    *,
    policy: FetchPolicy,
    deadline: float,
    clock: Callable[[], float],
    truncate: bool = False,
) -> bytes:
    """Read and decompress the body under the size cap and the total deadline.

    `read1` returns after at most one socket read and decompresses at most a chunk at a time, so a
    gzip bomb is stopped at the cap and a slow drip is stopped at the deadline, not at the end.
    With `truncate`, a longer body is cut at the cap instead of failing.
    """
    too_large = _Failure(f"response larger than {policy.max_bytes} bytes", "too_large")
    declared = response.headers.get("Content-Length", "")
    if (
        not truncate
        and declared.isdigit()
        and "Content-Encoding" not in response.headers
        and int(declared) > policy.max_bytes
    ):
        raise too_large
    raw: urllib3.HTTPResponse = response.raw
    chunks: list[bytes] = []
    size = 0
    while True:
        _set_socket_timeout(raw, _remaining(deadline, clock, policy.timeout_s))
        chunk = raw.read1(CHUNK_BYTES, decode_content=True)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > policy.max_bytes:
            if not truncate:
                raise too_large
            chunks.append(chunk[: len(chunk) - (size - policy.max_bytes)])
            return b"".join(chunks)
        chunks.append(chunk)


def _set_socket_timeout(raw: urllib3.HTTPResponse, seconds: float) -> None:
    """Shrink the socket's read timeout to what is left of the deadline, so one read cannot overrun it."""
    connection = raw.connection
    sock = connection.sock if connection is not None else None
    if sock is not None:
        sock.settimeout(seconds)


def _redirect_location(response: requests.Response, url: str) -> str | None:
    if response.status_code not in REDIRECT_STATUSES:
        return None
    location = response.headers.get("Location")
    if not location:
        raise _Failure(
            f"{_status_text(response.status_code, response.reason)} without a Location header", "redirect"
        )
    try:
        return urljoin(url, location.strip())
    except ValueError as exc:
        raise _Failure(f"bad redirect Location {location!r}: {exc}", "redirect") from exc


def _follow(trace: _Trace, status: int, location: str, visited: set[str], max_redirects: int) -> None:
    """Count one redirect and move the trace to its target, refusing loops and long chains."""
    if location in visited:
        raise _Failure(f"redirect loop: {trace.url} redirects back to {location}", "redirect")
    if trace.redirects >= max_redirects:
        raise _Failure(f"too many redirects (more than {max_redirects})", "redirect")
    visited.add(location)
    trace.redirects += 1
    trace.only_permanent = trace.only_permanent and status in PERMANENT_REDIRECT_STATUSES
    trace.url = location


def _final_result(
    response: requests.Response,
    trace: _Trace,
    *,
    requested_url: str,
    etag: str | None,
    last_modified: str | None,
    policy: FetchPolicy,
    deadline: float,
    clock: Callable[[], float],
    truncate: bool,
) -> FetchResult:
    """Turn the last (non-redirect) response into a result, reading the body only for a 2xx."""
    status = response.status_code
    base = FetchResult(
        requested_url=requested_url,
        final_url=trace.url,
        outcome="error",
        status=status,
        headers={name.lower(): value for name, value in response.headers.items()},
    )
    moved = trace.url if trace.redirects and trace.only_permanent else None
    if status == 304:
        return base.model_copy(
            update={
                "outcome": "not_modified",
                "etag": base.headers.get("etag", etag),
                "last_modified": base.headers.get("last-modified", last_modified),
                "permanent_redirect": moved,
            }
        )
    if 200 <= status < 300:
        body = _read_body(response, policy=policy, deadline=deadline, clock=clock, truncate=truncate)
        return base.model_copy(
            update={
                "outcome": "ok",
                "body": body,
                "etag": base.headers.get("etag"),
                "last_modified": base.headers.get("last-modified"),
                "permanent_redirect": moved,
            }
        )
    retry_after = None
    if status in RETRY_AFTER_STATUSES:
        retry_after = parse_retry_after(base.headers.get("retry-after"), date=base.headers.get("date"))
    return base.model_copy(
        update={
            "retry_after_s": retry_after,
            "error": _status_text(status, response.reason),
            "error_kind": "http_status",
        }
    )


def _fetch_http(
    url: str,
    *,
    etag: str | None,
    last_modified: str | None,
    policy: FetchPolicy,
    session: requests.Session,
    clock: Callable[[], float],
    trace: _Trace,
    deadline: float,
    accept: str,
    truncate: bool,
) -> FetchResult:
    """Follow redirects by hand so every hop is counted and its target checked before it is contacted."""
    headers = request_headers(policy, etag, last_modified, accept=accept)
    visited = {url}
    while True:
        problem = target_problem(trace.url, policy=policy, session=session)
        if problem:
            raise _Failure(problem[1], problem[0])
        left = _remaining(deadline, clock, policy.timeout_s)
        with session.get(
            trace.url, headers=headers, allow_redirects=False, stream=True, timeout=(left, left)
        ) as response:
            trace.status = response.status_code
            location = _redirect_location(response, trace.url)
            if location is None:
                return _final_result(
                    response,
                    trace,
                    requested_url=url,
                    etag=etag,
                    last_modified=last_modified,
                    policy=policy,
                    deadline=deadline,
                    clock=clock,
                    truncate=truncate,
                )
        _follow(trace, response.status_code, location, visited, policy.max_redirects)


def _classify(exc: Exception, policy: FetchPolicy) -> tuple[FetchErrorKind, str]:
    """The kind and one line for a network or data exception, worded for someone who manages feeds."""
    if isinstance(exc, _Failure):
        return exc.kind, one_line(str(exc))
    timeouts = (requests.exceptions.Timeout, urllib3.exceptions.TimeoutError, TimeoutError)
    if isinstance(exc, timeouts):
        return "timeout", f"timed out after {policy.timeout_s:g} s"
    if isinstance(exc, requests.exceptions.SSLError):
        return "unreachable", f"TLS error: {_describe(exc)}"
    if isinstance(exc, requests.exceptions.ProxyError):
        return "unreachable", f"proxy error: {_describe(exc)}"
    if isinstance(exc, requests.exceptions.ConnectionError):
        return "unreachable", f"connection failed: {_describe(exc)}"
    if isinstance(exc, urllib3.exceptions.DecodeError):
        return "broken", f"cannot decompress the response: {_describe(exc)}"
    if isinstance(exc, (urllib3.exceptions.ProtocolError, OSError)):
        return "broken", f"connection broken while reading: {_describe(exc)}"
    return "broken", f"request failed: {_describe(exc)}"


def _error_result(
    url: str, trace: _Trace, exc: Exception, policy: FetchPolicy, elapsed_s: float
) -> FetchResult:
    kind, message = _classify(exc, policy)
    return FetchResult(
        requested_url=url,
        final_url=trace.url,
        outcome="error",
        status=trace.status,
        error=message,
        error_kind=kind,
        elapsed_s=elapsed_s,
    )


def fetch_feed(
    url: str,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    policy: FetchPolicy = FetchPolicy(),  # noqa: B008 - frozen, so one shared default is safe
    session: requests.Session | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> FetchResult:
    """Fetch a feed's bytes from an http(s) URL, a file:// URL or an absolute path.

    `etag`/`last_modified` are the validators of the last good fetch; a 304 comes back as
    `not_modified`, a normal no-op. A `session` is used as is (the caller closes it); without one, a
    session is opened for this call and closed after it.
    """
    start = clock()
    try:
        path = _local_path(url)
        if path is None:
            return fetch_url(
                url, etag=etag, last_modified=last_modified, policy=policy, session=session, clock=clock
            )
        body = _read_file(path, policy.max_bytes)
    except _Failure as exc:
        return _error_result(url, _Trace(url=url), exc, policy, clock() - start)
    return FetchResult(
        requested_url=url, final_url=url, outcome="ok", status=None, body=body, elapsed_s=clock() - start
    )


def fetch_url(
    url: str,
    *,
    policy: FetchPolicy,
    session: requests.Session | None = None,
    accept: str = ACCEPT,
    etag: str | None = None,
    last_modified: str | None = None,
    truncate: bool = False,
    clock: Callable[[], float] = time.monotonic,
) -> FetchResult:
    """Fetch an http(s) URL under `policy` (anything else is refused), as `fetch_feed` does.

    `accept` is the Accept header; with `truncate`, a body longer than `policy.max_bytes` is cut
    there instead of being an error (robots.txt: its first 500 KiB are what counts).
    """
    start = clock()
    trace = _Trace(url=url)
    own_session = session is None
    active = session if session is not None else requests.Session()
    try:
        result = _fetch_http(
            url,
            etag=etag,
            last_modified=last_modified,
            policy=policy,
            session=active,
            clock=clock,
            trace=trace,
            deadline=start + policy.timeout_s,
            accept=accept,
            truncate=truncate,
        )
    except (_Failure, requests.exceptions.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
        return _error_result(url, trace, exc, policy, clock() - start)
    finally:
        if own_session:
            active.close()
    return result.model_copy(update={"elapsed_s": clock() - start})
