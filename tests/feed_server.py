"""A real HTTP server on 127.0.0.1 that plays scripted feed responses and records every request.

    with FeedServer() as server:
        server.route("/a.xml", [Response(200, body, {"ETag": '"v1"'}), Response(304)])
        fetch_feed(server.url("/a.xml"), ...)
        assert server.requests[0].headers["user-agent"] == ...

A route's script is either a list of `Response`s, played in order with the last one repeating, or a
callable that builds the response from the request (see `ConditionalFeed`). Routing the same path
again replaces its script ("500 until told otherwise"). When the server is used as an HTTP proxy, the
request target is the absolute URL, so routes are keyed by that URL.
"""

from __future__ import annotations

import gzip
import hashlib
import http.server
import sys
import threading
import time
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime
from types import TracebackType
from typing import Any, Self


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server saw it; header names lower-cased."""

    method: str
    path: str
    headers: Mapping[str, str]


@dataclass(frozen=True)
class ServedRequest:
    """When the server was busy with one request (time.monotonic()): from its arrival to the
    last byte of the answer, so overlapping requests and the pauses between them show."""

    path: str
    started: float
    finished: float


@dataclass(frozen=True)
class Response:
    """One scripted response and how badly to behave while sending it."""

    status: int = 200
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    delay_s: float = 0.0  # wait before the status line: a server that is slow to answer
    drip_s: float = 0.0  # wait before each `drip_bytes` of body: a slow-drip body
    drip_bytes: int = 1
    content_length: bool = True  # False: no Content-Length, the body ends when the connection closes

    @classmethod
    def redirect(cls, status: int, location: str) -> Response:
        return cls(status, headers={"Location": location})

    @classmethod
    def gzipped(cls, body: bytes, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
        return cls(status, gzip.compress(body), {**(headers or {}), "Content-Encoding": "gzip"})

    @classmethod
    def deflated(cls, body: bytes, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
        return cls(status, zlib.compress(body), {**(headers or {}), "Content-Encoding": "deflate"})


Handler = Callable[[RecordedRequest], Response]
Script = Sequence[Response] | Handler


def http_date(when: datetime) -> str:
    """`when` as an HTTP date (RFC 9110 IMF-fixdate)."""
    return format_datetime(when, usegmt=True)


class ConditionalFeed:
    """A feed document that answers conditional GETs like a well-behaved server, and can change.

    Its ETag is derived from the body; If-None-Match wins over If-Modified-Since (RFC 9110 §13.2.2).
    `update()` swaps in new content, as when a publisher adds an item between two polls.
    """

    def __init__(self, body: bytes, *, last_modified: str | None = None, use_etag: bool = True) -> None:
        self._lock = threading.Lock()
        self._use_etag = use_etag
        self.update(body, last_modified=last_modified)

    def update(self, body: bytes, *, last_modified: str | None = None) -> None:
        with self._lock:
            self.body = body
            self.etag = f'"{hashlib.sha256(body).hexdigest()[:16]}"' if self._use_etag else None
            self.last_modified = last_modified

    def __call__(self, request: RecordedRequest) -> Response:
        with self._lock:
            validators = {}
            if self.etag:
                validators["ETag"] = self.etag
            if self.last_modified:
                validators["Last-Modified"] = self.last_modified
            if self._not_modified(request.headers):
                return Response(304, headers=validators)
            return Response(200, self.body, {"Content-Type": "application/rss+xml", **validators})

    def _not_modified(self, headers: Mapping[str, str]) -> bool:
        if "if-none-match" in headers:
            return self.etag is not None and headers["if-none-match"] == self.etag
        since = headers.get("if-modified-since")
        return since is not None and since == self.last_modified


class _Player:
    """Plays a list of responses in order; the last one repeats."""

    def __init__(self, responses: Sequence[Response]) -> None:
        if not responses:
            raise ValueError("a script needs at least one response")
        self._responses = list(responses)
        self._next = 0
        self._lock = threading.Lock()

    def __call__(self, request: RecordedRequest) -> Response:
        with self._lock:
            response = self._responses[min(self._next, len(self._responses) - 1)]
            self._next += 1
            return response


class _HTTPServer(http.server.ThreadingHTTPServer):
    # Handler threads are joined on close (they stop waiting as soon as the server stops), so no
    # socket outlives the server and no ResourceWarning reaches the tests.
    daemon_threads = False
    feed_server: FeedServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        self.feed_server.errors.append(repr(sys.exc_info()[1]))


class _RequestHandler(http.server.BaseHTTPRequestHandler):
    server: _HTTPServer
    protocol_version = "HTTP/1.0"  # one request per connection: nothing lingers between tests
    timeout = 10  # a client that connects and never sends must not hold a thread forever

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the recorded requests are what tests look at."""

    def do_GET(self) -> None:
        self._serve()

    def do_HEAD(self) -> None:
        self._serve()

    def _serve(self) -> None:
        started = time.monotonic()
        try:
            self._answer()
        finally:
            self.server.feed_server._served_one(ServedRequest(self.path, started, time.monotonic()))

    def _answer(self) -> None:
        feed_server = self.server.feed_server
        request = RecordedRequest(
            method=self.command,
            path=self.path,
            headers={name.lower(): value for name, value in self.headers.items()},
        )
        response = feed_server._respond(request)
        try:
            self._send(response, feed_server._stopping, head=self.command == "HEAD")
        except ConnectionError:
            # The client gave up (a timeout or a size cap under test): expected, not a server error.
            self.close_connection = True

    def _send(self, response: Response, stopping: threading.Event, *, head: bool) -> None:
        if response.delay_s and stopping.wait(response.delay_s):
            return
        self.send_response_only(response.status)
        names = {name.lower() for name in response.headers}
        if "date" not in names:
            self.send_header("Date", self.date_time_string())
        if response.content_length and response.status != 304 and "content-length" not in names:
            self.send_header("Content-Length", str(len(response.body)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if head or response.status == 304:
            return
        if not response.drip_s:
            self.wfile.write(response.body)
            return
        for start in range(0, len(response.body), response.drip_bytes):
            if stopping.wait(response.drip_s):
                return
            self.wfile.write(response.body[start : start + response.drip_bytes])
            self.wfile.flush()


class FeedServer:
    """The scripted server; use it as a context manager (it starts on enter and stops on exit)."""

    def __init__(self) -> None:
        self._routes: dict[str, Handler] = {}
        self._requests: list[RecordedRequest] = []
        self._served: list[ServedRequest] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.errors: list[str] = []  # unexpected exceptions in handlers: a broken script or server

    # --- lifecycle

    def start(self) -> Self:
        httpd = _HTTPServer(("127.0.0.1", 0), _RequestHandler)
        httpd.feed_server = self
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, name="feed-server", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
        if exc_type is None and self.errors:
            raise AssertionError(f"the feed server failed: {self.errors}")

    # --- scripting

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("the server is not started")
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def route(self, path: str, script: Script) -> None:
        """Serve `path` (or an absolute URL, for proxy requests) with `script`, replacing any earlier one."""
        handler = script if callable(script) else _Player(script)
        with self._lock:
            self._routes[path] = handler

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, in arrival order."""
        with self._lock:
            return list(self._requests)

    @property
    def served(self) -> list[ServedRequest]:
        """Every request answered so far with when it started and finished, in finishing order."""
        with self._lock:
            return list(self._served)

    def _served_one(self, served: ServedRequest) -> None:
        with self._lock:
            self._served.append(served)

    @property
    def paths(self) -> list[str]:
        return [request.path for request in self.requests]

    def wait_for_requests(self, count: int, timeout_s: float = 5.0) -> list[RecordedRequest]:
        """Poll until `count` requests arrived; fail at the deadline instead of hanging."""
        deadline = time.monotonic() + timeout_s
        while len(self.requests) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"expected {count} requests within {timeout_s} s, got {self.paths}")
            self._stopping.wait(0.01)
        return self.requests

    def _respond(self, request: RecordedRequest) -> Response:
        with self._lock:
            self._requests.append(request)
            handler = self._routes.get(request.path)
        if handler is None:
            return Response(404, b"no such route")
        return handler(request)
