"""notify against a real HTTP receiver on 127.0.0.1: payloads, signatures, retries, refusals, stdout."""

from __future__ import annotations

import hashlib
import hmac
import http.server
import io
import json
import socket
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self

import pytest

from connectors.alert_channels import (
    BACKOFF_CAP_S,
    RETRY_AFTER_CAP_S,
    backoff_s,
    channel_label,
    notify,
    summary,
)
from connectors.http_fetch import FetchPolicy
from schemas.alerts import Alert, AlertArticle, Notification, StdoutChannel, WebhookChannel

NOW = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
SECRET_ENV = "WIREWATCH_TEST_WEBHOOK_SECRET"
ALERT = Alert(
    id="a" * 32,
    rule_id="dprk-missile",
    rule_name="DPRK missile launch",
    severity="high",
    kind="story",
    key="b" * 32,
    story_id="b" * 32,
    article_ids=("b" * 32, "c" * 32),
    article_count=2,
    latest=AlertArticle(
        id="c" * 32,
        title="North Korea fires  ballistic\nmissile <into> the sea & beyond",
        url="https://news.example.org/world/korea?id=1|2",
        outlet="Example News",
        published_at=datetime(2026, 3, 4, 4, 0, tzinfo=UTC),
    ),
    source_count=3,
    independent_source_count=2,
    first_fired_at=datetime(2026, 3, 4, 4, 30, tzinfo=UTC),
    updated_at=datetime(2026, 3, 4, 5, 0, tzinfo=UTC),
    rules_version="2026-03-01",
)
LINE = (
    "[HIGH] DPRK missile launch: North Korea fires ballistic missile <into> the sea & beyond "
    "(Example News) · 3 sources (2 independent) · https://news.example.org/world/korea?id=1|2"
)


# --- a real receiver ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    delay_s: float = 0.0  # wait before answering: a receiver that hangs


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: Mapping[str, str]  # names lower-cased
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class _HTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = False  # joined on close, so no socket outlives the test
    receiver: Receiver

    def handle_error(self, request: Any, client_address: Any) -> None:
        self.receiver.errors.append(repr(sys.exc_info()[1]))


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _HTTPServer
    protocol_version = "HTTP/1.0"
    timeout = 10

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests look at the recorded requests."""

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        received = Received(
            method=self.command,
            path=self.path,
            headers={name.lower(): value for name, value in self.headers.items()},
            body=self.rfile.read(length),
        )
        reply = self.server.receiver._record(received)
        if reply.delay_s and self.server.receiver._stopping.wait(reply.delay_s):
            return
        try:
            self.send_response_only(reply.status)
            self.send_header("Content-Length", str(len(reply.body)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(reply.body)
        except ConnectionError:
            self.close_connection = True  # the sender gave up (a timeout under test)


class Receiver:
    """A webhook receiver on 127.0.0.1 that records every request and plays scripted replies in order
    (the last one repeats)."""

    def __init__(self) -> None:
        self._replies: list[Reply] = [Reply()]
        self._received: list[Received] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self.errors: list[str] = []
        self._httpd = _HTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.receiver = self
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()
        if exc_type is None and self.errors:
            raise AssertionError(f"the receiver failed: {self.errors}")

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}{path}"

    def script(self, *replies: Reply) -> None:
        with self._lock:
            self._replies = list(replies)

    @property
    def received(self) -> list[Received]:
        with self._lock:
            return list(self._received)

    def _record(self, received: Received) -> Reply:
        with self._lock:
            index = min(len(self._received), len(self._replies) - 1)
            self._received.append(received)
            return self._replies[index]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


class Sleeps:
    """Records the waits instead of waiting."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def deliver(
    channels: Sequence[StdoutChannel | WebhookChannel], sleeps: Sleeps | None = None, alert: Alert = ALERT
) -> tuple[Notification, ...]:
    return notify(alert, channels, now=lambda: NOW, sleep=sleeps or Sleeps(), stdout=io.StringIO())


def local(receiver: Receiver, **options: Any) -> WebhookChannel:
    return WebhookChannel(url=receiver.url(), allow_private=True, **options)


def label(receiver: Receiver) -> str:
    return f"webhook {receiver.url('')}/…"


def expected_hmac(key: bytes, timestamp: str, body: bytes) -> str:
    """The documented scheme, written out again as a receiver would."""
    return "sha256=" + hmac.new(key, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


# --- JSON payload, headers, signature -------------------------------------------------------------


def test_json_payload_and_headers_arrive(receiver: Receiver) -> None:
    notifications = deliver([local(receiver)])

    assert notifications == (Notification(channel=label(receiver), status="sent", attempts=1, at=NOW),)
    [request] = receiver.received
    assert (request.method, request.path) == ("POST", "/hook")
    assert request.json() == {**ALERT.model_dump(mode="json"), "text": LINE}
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"] == FetchPolicy().user_agent
    assert request.headers["x-wirewatch-alert-id"] == ALERT.id
    assert request.headers["idempotency-key"] == f"{ALERT.id}@2026-03-04T05:00:00+00:00"
    assert "x-wirewatch-signature" not in request.headers
    assert "x-wirewatch-timestamp" not in request.headers


def test_signature_verifies_with_the_documented_scheme(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SECRET_ENV, "s3cret-key")

    [notification] = deliver([local(receiver, secret_env=SECRET_ENV)])

    assert notification.status == "sent"
    [request] = receiver.received
    timestamp = request.headers["x-wirewatch-timestamp"]
    signature = request.headers["x-wirewatch-signature"]
    assert timestamp == str(int(NOW.timestamp()))
    assert hmac.compare_digest(signature, expected_hmac(b"s3cret-key", timestamp, request.body))
    assert not hmac.compare_digest(signature, expected_hmac(b"wrong-key", timestamp, request.body))
    # The timestamp is signed: replaying the body under another timestamp does not verify.
    assert not hmac.compare_digest(
        signature, expected_hmac(b"s3cret-key", str(int(timestamp) + 600), request.body)
    )


@pytest.mark.parametrize("value", [None, ""], ids=["unset", "empty"])
def test_a_missing_secret_fails_clearly_and_sends_nothing(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch, value: str | None
) -> None:
    if value is None:
        monkeypatch.delenv(SECRET_ENV, raising=False)
    else:
        monkeypatch.setenv(SECRET_ENV, value)

    [notification] = deliver([local(receiver, secret_env=SECRET_ENV)])

    state = "is not set" if value is None else "is empty"
    assert notification == Notification(
        channel=label(receiver),
        status="failed",
        attempts=1,
        error=f"not sent: the signing secret variable {SECRET_ENV} {state}",
        at=NOW,
    )
    assert receiver.received == []


# --- retries --------------------------------------------------------------------------------------


def test_500_500_200_is_sent_after_three_attempts_with_one_idempotency_key(receiver: Receiver) -> None:
    receiver.script(Reply(500), Reply(500), Reply(200))
    sleeps = Sleeps()

    [notification] = deliver([local(receiver, retries=3)], sleeps)

    assert (notification.status, notification.attempts, notification.error) == ("sent", 3, None)
    requests = receiver.received
    assert len(requests) == 3
    assert len({r.body for r in requests}) == 1
    assert {r.headers["idempotency-key"] for r in requests} == {f"{ALERT.id}@2026-03-04T05:00:00+00:00"}
    # Exponential backoff with jitter: the n-th wait lies in [base * 2**(n-1) / 2, base * 2**(n-1)).
    assert len(sleeps.waits) == 2
    assert 0.5 <= sleeps.waits[0] < 1.0
    assert 1.0 <= sleeps.waits[1] < 2.0


def test_always_500_fails_after_one_plus_retries_attempts(receiver: Receiver) -> None:
    receiver.script(Reply(500, b"database is down"))
    sleeps = Sleeps()

    [notification] = deliver([local(receiver, retries=2)], sleeps)

    assert notification == Notification(
        channel=label(receiver),
        status="failed",
        attempts=3,
        error="HTTP 500 Internal Server Error: database is down (gave up after 3 attempts)",
        at=NOW,
    )
    assert len(receiver.received) == 3
    assert len(sleeps.waits) == 2


def test_400_fails_at_once(receiver: Receiver) -> None:
    receiver.script(Reply(400, b"invalid_payload"), Reply(200))
    sleeps = Sleeps()

    [notification] = deliver([local(receiver, retries=3)], sleeps)

    assert (notification.status, notification.attempts) == ("failed", 1)
    assert notification.error == "HTTP 400 Bad Request: invalid_payload"
    assert len(receiver.received) == 1
    assert sleeps.waits == []


@pytest.mark.parametrize("status", [408, 429, 502, 503, 504])
def test_transient_statuses_are_retried(receiver: Receiver, status: int) -> None:
    receiver.script(Reply(status), Reply(204))

    [notification] = deliver([local(receiver, retries=1)])

    assert (notification.status, notification.attempts) == ("sent", 2)


@pytest.mark.parametrize("status", [401, 403, 404, 410, 413, 422])
def test_other_client_errors_are_not_retried(receiver: Receiver, status: int) -> None:
    receiver.script(Reply(status), Reply(200))

    [notification] = deliver([local(receiver, retries=3)])

    assert (notification.status, notification.attempts) == ("failed", 1)
    assert notification.error is not None
    assert notification.error.startswith(f"HTTP {status} ")


@pytest.mark.parametrize(("retry_after", "wait"), [("7", 7.0), ("86400", RETRY_AFTER_CAP_S)])
def test_retry_after_is_honoured_within_a_cap(receiver: Receiver, retry_after: str, wait: float) -> None:
    receiver.script(Reply(429, headers={"Retry-After": retry_after}), Reply(200))
    sleeps = Sleeps()

    [notification] = deliver([local(receiver, retries=1)], sleeps)

    assert (notification.status, notification.attempts) == ("sent", 2)
    assert sleeps.waits == [wait]


def test_a_receiver_that_hangs_times_out(receiver: Receiver) -> None:
    receiver.script(Reply(200, delay_s=10))

    [notification] = deliver([local(receiver, timeout_s=0.2, retries=1)])

    assert (notification.status, notification.attempts) == ("failed", 2)
    assert notification.error == "timed out after 0.2 s (gave up after 2 attempts)"
    assert len(receiver.received) == 2


def test_a_closed_port_is_a_retried_connection_failure() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    channel = WebhookChannel(url=f"http://127.0.0.1:{port}/hook", allow_private=True, retries=1)

    [notification] = deliver([channel])

    assert (notification.status, notification.attempts) == ("failed", 2)
    assert notification.error is not None
    assert notification.error.startswith("connection failed: ")
    assert "/hook" not in notification.error  # reasons are stored; the URL path may be a secret


# --- refusals -------------------------------------------------------------------------------------


def test_a_redirect_is_reported_not_followed(receiver: Receiver) -> None:
    receiver.script(Reply(302, headers={"Location": receiver.url("/elsewhere")}))

    [notification] = deliver([local(receiver, retries=3)])

    assert (notification.status, notification.attempts) == ("failed", 1)
    assert notification.error == (
        f"HTTP 302 Found: the webhook redirects to {receiver.url('/elsewhere')}; "
        "configure the final URL (redirects are not followed)"
    )
    assert [r.path for r in receiver.received] == ["/hook"]


def test_a_private_address_is_refused_without_allow_private(receiver: Receiver) -> None:
    port_url = receiver.url()
    channels = [
        WebhookChannel(url=port_url),
        WebhookChannel(url=port_url.replace("127.0.0.1", "localhost")),
        WebhookChannel(url="http://10.1.2.3/hook", timeout_s=0.2),
        WebhookChannel(url="http://169.254.169.254/latest/meta-data", timeout_s=0.2),
    ]

    notifications = deliver(channels)

    assert [(n.status, n.attempts) for n in notifications] == [("failed", 1)] * 4
    errors = [n.error or "" for n in notifications]
    assert errors[0] == "not sent: refused 127.0.0.1: it resolves to non-public address 127.0.0.1 " + (
        "(allow_private is off)"
    )
    assert errors[1] == "not sent: refused localhost: a loopback name (allow_private is off)"
    assert all(error.startswith("not sent: refused ") for error in errors)
    assert receiver.received == []


# --- formats --------------------------------------------------------------------------------------


def test_slack_payload_shape(receiver: Receiver) -> None:
    [notification] = deliver([local(receiver, format="slack")])

    assert notification.status == "sent"
    [request] = receiver.received
    assert request.headers["content-type"] == "application/json"
    assert request.json() == {
        "text": LINE,
        "blocks": [
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": "*[HIGH] DPRK missile launch*\n"
                    "<https://news.example.org/world/korea?id=1%7C2|North Korea fires ballistic missile "
                    "&lt;into&gt; the sea &amp; beyond> (Example News)\n"
                    "3 sources (2 independent)",
                },
            }
        ],
    }


def test_stdout_prints_one_readable_line() -> None:
    stream = io.StringIO()

    notifications = notify(ALERT, [StdoutChannel()], now=lambda: NOW, stdout=stream)

    assert notifications == (Notification(channel="stdout", status="sent", attempts=1, at=NOW),)
    assert stream.getvalue() == LINE + "\n"


def test_stdout_line_for_a_threshold_alert_without_link() -> None:
    alert = ALERT.model_copy(
        update={
            "kind": "threshold",
            "count": 5,
            "severity": "medium",
            "source_count": 1,
            "independent_source_count": 1,
            "latest": AlertArticle(id="c" * 32, title="Talks resume"),
        }
    )

    assert summary(alert) == "[MEDIUM] DPRK missile launch: Talks resume · 5 stories, 1 source · no link"


def test_a_closed_stdout_is_a_failed_notification() -> None:
    stream = io.StringIO()
    stream.close()

    [notification] = notify(ALERT, [StdoutChannel()], now=lambda: NOW, stdout=stream)

    assert (notification.status, notification.attempts) == ("failed", 1)
    assert notification.error == "cannot write to stdout: I/O operation on closed file"


# --- several channels, labels, backoff ------------------------------------------------------------


def test_every_channel_gets_a_notification_in_order(receiver: Receiver) -> None:
    receiver.script(Reply(404), Reply(200))
    channels: list[StdoutChannel | WebhookChannel] = [
        StdoutChannel(),
        local(receiver),
        local(receiver, format="slack"),
    ]

    notifications = deliver(channels)

    assert [(n.channel, n.status) for n in notifications] == [
        ("stdout", "sent"),
        (label(receiver), "failed"),
        (label(receiver), "sent"),
    ]


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://hooks.slack.com/services/T000/B000/XXXXSECRET", "webhook https://hooks.slack.com/…"),
        ("https://user:pass@example.org:8443/?token=abc", "webhook https://example.org:8443/…"),
        ("https://example.org/", "webhook https://example.org"),
        ("http://[::1]:8080/hook", "webhook http://[::1]:8080/…"),
    ],
)
def test_channel_label_leaves_out_credentials_paths_and_queries(url: str, shown: str) -> None:
    assert channel_label(WebhookChannel(url=url)) == shown


def test_backoff_doubles_with_jitter_and_is_capped() -> None:
    assert [backoff_s(n, jitter=0.0) for n in (1, 2, 3)] == [0.5, 1.0, 2.0]
    assert [backoff_s(n, jitter=1.0) for n in (1, 2, 3)] == [1.0, 2.0, 4.0]
    assert backoff_s(20, jitter=1.0) == BACKOFF_CAP_S
    assert backoff_s(1, 3.0) == 3.0
    assert backoff_s(1, 1e6) == RETRY_AFTER_CAP_S
