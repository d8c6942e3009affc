"""Deliver an alert to its channels (stdout, webhooks) and say, per channel, how the delivery went.

`notify` never raises for a delivery problem: every channel comes back as a `Notification`, `sent`
with the number of attempts or `failed` with a one-line reason, for the caller to store on the alert.

Webhooks get a JSON POST: the alert as `Alert.model_dump(mode="json")` plus a one-line `text`, or, with
`format: slack`, a Slack-compatible `{"text": ..., "blocks": [...]}`. Every request carries
`Content-Type: application/json`, the project's User-Agent and

    X-Wirewatch-Alert-Id: <alert id>
    Idempotency-Key: <alert id>@<alert updated_at, ISO 8601>

The key is the same on every retry of one delivery and changes when the alert is updated (a later copy
of the story), so a receiver can drop the duplicates a retry after a lost response produces.

Signing: when the channel names `secret_env`, the key is that environment variable's value (UTF-8
bytes) and every attempt also carries

    X-Wirewatch-Timestamp: <unix time in whole seconds>
    X-Wirewatch-Signature: sha256=<lower-case hex of HMAC-SHA256(key, timestamp + "." + body)>

where `timestamp` is the header's ASCII digits and `body` the exact request body bytes. To verify,
recompute the HMAC over the raw body as received (before parsing the JSON), compare it with a
constant-time comparison (`hmac.compare_digest`), and reject a timestamp more than a few minutes from
your clock: the timestamp is inside the signature, so a captured request cannot be replayed later.
A retry is signed again with a fresh timestamp; the body does not change.

Retries: a connection error, a timeout, 408, 429 and 5xx are retried up to the channel's `retries`
more times, with exponential backoff and jitter; a `Retry-After` is honoured up to
`RETRY_AFTER_CAP_S`. Any other 4xx fails at once (it will not get better), and so does a redirect: a
webhook URL that redirects is a misconfiguration, reported rather than followed (following it would
re-send the body, and the signature, to a host nobody configured). `timeout_s` bounds the connect and
each read of one attempt.

Address safety is `connectors.http_fetch.check_target`, checked before every attempt: loopback,
private and link-local receivers are refused unless the channel says `allow_private: true`.
"""

from __future__ import annotations

import hashlib
import hmac
import http
import os
import random
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TextIO
from urllib.parse import urlsplit

import orjson
import requests
import urllib3

from connectors.http_fetch import FetchPolicy, _proxy_for, check_target, parse_retry_after
from schemas.alerts import Alert, Notification, StdoutChannel, WebhookChannel
from schemas.records import one_line

USER_AGENT = FetchPolicy().user_agent
RETRY_STATUSES = frozenset({408, 429})  # and every 5xx
BACKOFF_BASE_S = 1.0  # before the first retry; doubles per retry
BACKOFF_CAP_S = 30.0
RETRY_AFTER_CAP_S = 60.0  # a receiver asking for longer gets this much
TITLE_CHARS = 200
DETAIL_CHARS = 200  # of a failing receiver's response body, in the reason

AlertChannel = StdoutChannel | WebhookChannel


class _Failed(Exception):
    """A delivery attempt failed for good; the message is the one-line reason. Never leaves the module."""


class _Retryable(_Failed):
    """A delivery attempt failed in a way another attempt may not (timeouts, 429, 5xx…)."""

    def __init__(self, reason: str, retry_after_s: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after_s = retry_after_s


def _utc_now() -> datetime:
    return datetime.now(UTC)


# --- what is said ------------------------------------------------------------------------------


def _sources(alert: Alert) -> str:
    sources = f"{alert.source_count} source{'' if alert.source_count == 1 else 's'}"
    if alert.independent_source_count != alert.source_count:
        sources += f" ({alert.independent_source_count} independent)"
    if alert.kind != "story" and alert.count is not None:
        sources = f"{alert.count} stor{'y' if alert.count == 1 else 'ies'}, {sources}"
    return sources


def summary(alert: Alert) -> str:
    """One readable line: severity, rule, the latest story's title and outlet, sources and link."""
    title = one_line(alert.latest.title, TITLE_CHARS) or "(untitled)"
    outlet = f" ({one_line(alert.latest.outlet, 80)})" if alert.latest.outlet else ""
    link = alert.latest.url or "no link"
    return f"[{alert.severity.upper()}] {alert.rule_name}: {title}{outlet} · {_sources(alert)} · {link}"


def _mrkdwn(text: str) -> str:
    """Text as Slack mrkdwn shows it literally: only &, < and > are special."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_payload(alert: Alert) -> dict[str, Any]:
    """A Slack incoming-webhook message: `text` for notifications, one section with the linked title."""
    title = _mrkdwn(one_line(alert.latest.title, TITLE_CHARS) or "(untitled)")
    if alert.latest.url:
        # `|` and `>` end a Slack link; percent-encoding them keeps the URL the same resource.
        url = alert.latest.url.replace("|", "%7C").replace(">", "%3E").replace("<", "%3C")
        title = f"<{url}|{title}>"
    outlet = f" ({_mrkdwn(one_line(alert.latest.outlet, 80))})" if alert.latest.outlet else ""
    heading = f"*[{alert.severity.upper()}] {_mrkdwn(alert.rule_name)}*"
    section = {"type": "mrkdwn", "text": f"{heading}\n{title}{outlet}\n{_sources(alert)}"}
    return {"text": summary(alert), "blocks": [{"type": "section", "text": section}]}


def webhook_body(alert: Alert, channel: WebhookChannel) -> bytes:
    """The exact bytes POSTed (and signed) for `channel`."""
    if channel.format == "slack":
        return orjson.dumps(slack_payload(alert))
    return orjson.dumps({**alert.model_dump(mode="json"), "text": summary(alert)})


def idempotency_key(alert: Alert) -> str:
    return f"{alert.id}@{alert.updated_at.isoformat()}"


def signature(key: bytes, timestamp: str, body: bytes) -> str:
    """`sha256=<hex>` of HMAC-SHA256(key, timestamp + "." + body): the X-Wirewatch-Signature value."""
    digest = hmac.new(key, timestamp.encode("ascii") + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def channel_label(channel: AlertChannel) -> str:
    """`stdout`, or `webhook <scheme://host:port>/…`: a webhook's path and query are often its secret
    (Slack's are), and the label is stored and searchable, so they are left out."""
    if isinstance(channel, StdoutChannel):
        return "stdout"
    parts = urlsplit(channel.url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    rest = "/…" if parts.path.strip("/") or parts.query else ""
    return f"webhook {parts.scheme}://{host}{port}{rest}"


# --- stdout ------------------------------------------------------------------------------------


def _print(alert: Alert, stream: TextIO) -> str | None:
    """Write the alert's line; why it could not be written, or None."""
    try:
        stream.write(summary(alert) + "\n")
        stream.flush()
    except (OSError, ValueError) as exc:  # ValueError: the stream is closed
        return f"cannot write to stdout: {one_line(str(exc), 200)}"
    return None


# --- webhooks ----------------------------------------------------------------------------------


def _status_text(status: int) -> str:
    try:
        return f"HTTP {status} {http.HTTPStatus(status).phrase}"
    except ValueError:
        return f"HTTP {status}"


def _detail(response: requests.Response) -> str:
    """The start of a failing receiver's answer (Slack says `invalid_blocks` there): one socket read at
    most, so a slow body cannot hold the delivery."""
    try:
        raw: urllib3.HTTPResponse = response.raw
        chunk = raw.read1(DETAIL_CHARS, decode_content=True)
    except (requests.exceptions.RequestException, urllib3.exceptions.HTTPError, OSError):
        chunk = b""
    text = one_line(chunk.decode("utf-8", "replace"), DETAIL_CHARS)
    return f": {text}" if text else ""


def _check_response(response: requests.Response) -> None:
    """Return for a 2xx; raise `_Retryable` or `_Failed` for anything else."""
    status = response.status_code
    if 200 <= status < 300:
        return
    if 300 <= status < 400:
        location = response.headers.get("Location")
        where = f" to {one_line(location, 200)}" if location else ""
        raise _Failed(
            f"{_status_text(status)}: the webhook redirects{where}; configure the final URL "
            "(redirects are not followed)"
        )
    reason = _status_text(status) + _detail(response)
    if status in RETRY_STATUSES or status >= 500:
        retry_after = parse_retry_after(
            response.headers.get("Retry-After"), date=response.headers.get("Date")
        )
        raise _Retryable(reason, retry_after)
    raise _Failed(reason)


def _network_error(exc: Exception, timeout_s: float) -> _Failed:
    """A requests/urllib3/socket exception as a reason, retryable or not (order matters: subclasses)."""
    inner: object = exc.args[0] if exc.args else exc
    reason = getattr(inner, "reason", None)
    text = str(reason if reason is not None else inner)
    # urllib3 prefixes "<urllib3.connection.HTTPConnection object at 0x…>: " to connection errors.
    if text.startswith("<") and ">: " in text:
        text = text.split(">: ", 1)[1]
    text = one_line(text, 300)
    if isinstance(exc, requests.exceptions.Timeout | urllib3.exceptions.TimeoutError | TimeoutError):
        return _Retryable(f"timed out after {timeout_s:g} s")
    if isinstance(exc, requests.exceptions.SSLError):
        return _Failed(f"TLS error: {text}")
    if isinstance(exc, requests.exceptions.ProxyError):
        return _Retryable(f"proxy error: {text}")
    if isinstance(exc, requests.exceptions.ConnectionError):
        return _Retryable(f"connection failed: {text}")
    if isinstance(exc, requests.exceptions.ChunkedEncodingError | urllib3.exceptions.ProtocolError | OSError):
        return _Retryable(f"connection broken: {text}")
    return _Failed(f"request failed: {text}")


def _post_once(
    channel: WebhookChannel,
    *,
    body: bytes,
    headers: dict[str, str],
    key: bytes | None,
    session: requests.Session,
    now: Callable[[], datetime],
) -> None:
    """One attempt: check the address, sign, POST; raise `_Retryable`/`_Failed` unless a 2xx came back."""
    refusal = check_target(
        channel.url, allow_private=channel.allow_private, proxied=_proxy_for(session, channel.url) is not None
    )
    if refusal:
        # A name that does not resolve now may resolve on the next attempt; a refused address will not.
        if refusal.startswith("cannot resolve host"):
            raise _Retryable(refusal)
        raise _Failed(f"not sent: {refusal}")
    headers = dict(headers)
    if key is not None:
        timestamp = str(int(now().timestamp()))
        headers["X-Wirewatch-Timestamp"] = timestamp
        headers["X-Wirewatch-Signature"] = signature(key, timestamp, body)
    try:
        with session.post(
            channel.url,
            data=body,
            headers=headers,
            allow_redirects=False,
            stream=True,  # the body is only read, a little, for a failure
            timeout=(channel.timeout_s, channel.timeout_s),
        ) as response:
            _check_response(response)
    except (requests.exceptions.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
        raise _network_error(exc, channel.timeout_s) from exc


def backoff_s(retry: int, retry_after_s: float | None = None, *, jitter: float | None = None) -> float:
    """Seconds to wait before retry number `retry` (1, 2, …): the receiver's Retry-After (capped at
    `RETRY_AFTER_CAP_S`) when it gave one, else `BACKOFF_BASE_S * 2**(retry-1)` capped at
    `BACKOFF_CAP_S`, scaled by a random factor in [0.5, 1) so many senders do not retry in step."""
    if retry_after_s is not None:
        return min(max(retry_after_s, 0.0), RETRY_AFTER_CAP_S)
    ceiling = min(BACKOFF_BASE_S * 2.0 ** (retry - 1), BACKOFF_CAP_S)
    return ceiling * (0.5 + 0.5 * (random.random() if jitter is None else jitter))


def _post(
    alert: Alert,
    channel: WebhookChannel,
    *,
    session: requests.Session,
    now: Callable[[], datetime],
    sleep: Callable[[float], None],
) -> tuple[int, str | None]:
    """Deliver to one webhook with the bounded retries: (attempts, why it failed or None)."""
    key: bytes | None = None
    if channel.secret_env:
        secret = os.environ.get(channel.secret_env)
        if not secret:
            state = "is empty" if secret is not None else "is not set"
            return 1, f"not sent: the signing secret variable {channel.secret_env} {state}"
        key = secret.encode("utf-8")
    body = webhook_body(alert, channel)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Wirewatch-Alert-Id": alert.id,
        "Idempotency-Key": idempotency_key(alert),
    }
    attempt = 0
    while True:
        attempt += 1
        try:
            _post_once(channel, body=body, headers=headers, key=key, session=session, now=now)
        except _Retryable as exc:
            if attempt > channel.retries:
                return attempt, (f"{exc} (gave up after {attempt} attempts)" if attempt > 1 else str(exc))
            sleep(backoff_s(attempt, exc.retry_after_s))
        except _Failed as exc:
            return attempt, str(exc)
        else:
            return attempt, None


# --- the entry point ---------------------------------------------------------------------------


def notify(
    alert: Alert,
    channels: Sequence[AlertChannel],
    *,
    now: Callable[[], datetime] = _utc_now,
    sleep: Callable[[float], None] = time.sleep,
    stdout: TextIO | None = None,
    session: requests.Session | None = None,
) -> tuple[Notification, ...]:
    """Deliver `alert` to every channel in turn; one `Notification` per channel, in order.

    `now` stamps the notifications and the signatures, `sleep` waits between retries, `stdout` is the
    stream the stdout channel writes to (default: `sys.stdout` at call time). A `session` is used as is
    (the caller closes it); without one, a session is opened for this call and closed after it.
    """
    own_session = session is None
    active = session if session is not None else requests.Session()
    notifications: list[Notification] = []
    try:
        for channel in channels:
            if isinstance(channel, StdoutChannel):
                attempts, error = 1, _print(alert, stdout if stdout is not None else sys.stdout)
            else:
                attempts, error = _post(alert, channel, session=active, now=now, sleep=sleep)
            notifications.append(
                Notification(
                    channel=channel_label(channel),
                    status="failed" if error else "sent",
                    attempts=attempts,
                    error=one_line(error) if error else None,
                    at=now(),
                )
            )
    finally:
        if own_session:
            active.close()
    return tuple(notifications)
