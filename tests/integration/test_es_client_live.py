"""es_client against a real Elasticsearch node, and against a real HTTP server that checks credentials.

Needs $ELASTICSEARCH_URL. Without it the module is skipped, unless $CI is set: then it fails.
"""

from __future__ import annotations

import base64
import http.server
import json
import logging
import os
import random
import re
import socket
import threading
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from elastic_transport import TransportError
from elasticsearch import ApiError, Elasticsearch
from pydantic import SecretStr

from connectors.es_client import (
    BulkRetryExhaustedError,
    EsSettings,
    RetryPolicy,
    bulk_write,
    make_client,
    raise_if_exhausted,
    redact,
    settings_from_env,
)
from connectors.store import StoreError

pytestmark = pytest.mark.integration

PASSWORD = "Tr0ub4dor-and-3"
API_KEY = base64.b64encode(b"live-key-id:live-key-secret").decode()
WRONG_KEY = base64.b64encode(b"live-key-id:wrong-key-value").decode()
MAPPINGS = {"properties": {"title": {"type": "text"}, "published_at": {"type": "date"}}}


@pytest.fixture(scope="module")
def live() -> EsSettings:
    """The node under test, with its ELASTICSEARCH_* credentials if any; in CI a missing or
    unreachable node is a failure, never a skip."""
    if not os.environ.get("ELASTICSEARCH_URL", "").strip():
        if os.environ.get("CI"):
            pytest.fail("CI is set but ELASTICSEARCH_URL is not: these tests need a real Elasticsearch")
        pytest.skip("ELASTICSEARCH_URL is not set")
    settings = settings_from_env(None, os.environ)
    assert settings is not None
    client = make_client(settings.model_copy(update={"request_timeout_s": 10.0}))
    try:
        # GET / answers 405 on the shared node, so ping() and info() cannot tell; health can.
        client.cluster.health(wait_for_status="yellow", timeout="20s")
    except (ApiError, TransportError) as exc:
        # A transport error's str() is a bare "Connection error"; the cause is in .message.
        detail = str(exc.message) if isinstance(exc, TransportError) else str(exc)
        pytest.fail(f"Elasticsearch at {settings.url} is not usable: {redact(detail, settings)}")
    finally:
        client.close()
    return settings


@pytest.fixture
def es(live: EsSettings) -> Iterator[Elasticsearch]:
    client = make_client(live)
    yield client
    client.close()


@pytest.fixture
def index(es: Elasticsearch) -> Iterator[str]:
    """A fresh index with `published_at` mapped as a date; deleted afterwards."""
    name = f"test-a-{uuid.uuid4().hex}"
    try:
        es.indices.create(index=name, mappings=MAPPINGS, settings={"number_of_replicas": 0})
        yield name
    finally:
        es.options(ignore_status=404).indices.delete(index=name)


def article(n: int, published_at: str = "2024-02-03T04:05:06Z") -> tuple[str, dict[str, Any]]:
    return f"doc-{n}", {"title": f"Report {n}", "published_at": published_at}


def stored_ids(es: Elasticsearch, index: str) -> set[str]:
    es.indices.refresh(index=index)
    hits = es.search(index=index, size=100, query={"match_all": {}})["hits"]["hits"]
    return {hit["_id"] for hit in hits}


def no_sleep(seconds: float) -> None:
    raise AssertionError(f"a healthy node needs no retry, yet bulk_write slept {seconds} s")


# --- bulk_write against the node ---------------------------------------------------------------


def test_create_then_the_same_ids_again_are_duplicates(es: Elasticsearch, index: str):
    docs = [article(n) for n in range(3)]
    first = bulk_write(es, index, docs, sleep=no_sleep)
    assert [(o.id, o.status, o.http_status) for o in first] == [(d, "created", 201) for d, _ in docs]
    assert stored_ids(es, index) == {"doc-0", "doc-1", "doc-2"}

    changed = [(doc_id, {**source, "title": "changed"}) for doc_id, source in docs]
    second = bulk_write(es, index, changed, sleep=no_sleep)
    assert [(o.id, o.status, o.http_status) for o in second] == [(d, "duplicate", 409) for d, _ in docs]
    assert all(o.reason and o.reason.startswith("version_conflict_engine_exception: ") for o in second)
    assert es.get(index=index, id="doc-1")["_source"]["title"] == "Report 1"  # create never overwrites


def test_a_document_the_mapping_rejects_does_not_stop_its_neighbours(es: Elasticsearch, index: str):
    docs = [article(1), article(2, published_at="not a date"), article(3)]
    outcomes = bulk_write(es, index, docs, sleep=no_sleep)

    assert [(o.id, o.status, o.http_status) for o in outcomes] == [
        ("doc-1", "created", 201),
        ("doc-2", "rejected", 400),
        ("doc-3", "created", 201),
    ]
    reason = outcomes[1].reason
    assert reason is not None
    assert reason.startswith(("document_parsing_exception: ", "mapper_parsing_exception: "))
    assert "[published_at]" in reason
    assert "not a date" in reason
    assert "\n" not in reason
    assert len(reason) <= 300
    assert stored_ids(es, index) == {"doc-1", "doc-3"}


def test_the_same_id_twice_in_one_call_is_a_duplicate_because_the_server_says_so(
    es: Elasticsearch, index: str
):
    outcomes = bulk_write(es, index, [article(1), article(1)], sleep=no_sleep)
    assert [(o.status, o.http_status) for o in outcomes] == [("created", 201), ("duplicate", 409)]

    replaced = bulk_write(es, index, [article(1), article(1)], op_type="index", sleep=no_sleep)
    assert [(o.status, o.http_status) for o in replaced] == [("created", 200), ("created", 200)]


def test_a_refused_connection_is_retried_then_reported_in_one_line():
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = EsSettings(url=f"http://127.0.0.1:{port}", username="elastic", password=SecretStr(PASSWORD))
    client = make_client(settings)
    sleeps: list[float] = []
    try:
        outcomes = bulk_write(
            client,
            "test-a-unreachable",
            [article(1), article(2)],
            retry=RetryPolicy(max_attempts=3, initial_backoff_s=0.01, max_backoff_s=0.02),
            sleep=sleeps.append,
            rng=random.Random(0),
        )
    finally:
        client.close()
    assert [o.status for o in outcomes] == ["retry_exhausted", "retry_exhausted"]
    assert len(sleeps) == 2
    assert outcomes[0].reason is not None
    assert "Connection refused" in outcomes[0].reason
    with pytest.raises(BulkRetryExhaustedError) as caught:
        raise_if_exhausted(outcomes, settings)
    message = str(caught.value)
    assert re.fullmatch(
        rf"Elasticsearch at http://127\.0\.0\.1:{port} did not accept 2 documents after 3 attempts "
        r"over \d+ s \(last: ConnectionError: .*Connection refused.*\)",
        message,
    ), message
    assert PASSWORD not in message


# --- credentials on the wire: a real HTTP server in front of the node --------------------------


@dataclass
class Gate:
    """What the gate lets through and what it saw."""

    upstream: str
    upstream_authorization: str | None  # the node's own credentials, if it has any
    expected: str = ""
    seen: list[str] = field(default_factory=list)


def _gate_handler(gate: Gate) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # keep the test output clean
            return

        def _reply(self, status: int, headers: dict[str, str], body: bytes) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _handle(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            authorization = self.headers.get("Authorization", "")
            gate.seen.append(authorization)
            if authorization != gate.expected:
                error = {
                    "type": "security_exception",
                    "reason": "unable to authenticate user [elastic] for REST request [/_bulk]",
                }
                refusal = {"error": {"root_cause": [error], **error}, "status": 401}
                headers = {"Content-Type": "application/json", "WWW-Authenticate": 'Basic realm="security"'}
                self._reply(401, headers, json.dumps(refusal).encode())
                return
            self._forward(body)

        def _forward(self, body: bytes) -> None:
            request = urllib.request.Request(
                gate.upstream + self.path, data=body or None, method=self.command
            )
            for name in ("Content-Type", "Accept"):
                if self.headers.get(name):
                    request.add_header(name, self.headers[name])
            if gate.upstream_authorization:
                request.add_header("Authorization", gate.upstream_authorization)
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    status, headers, data = response.status, response.headers, response.read()
            except urllib.error.HTTPError as refused:
                with refused:
                    status, headers, data = refused.code, refused.headers, refused.read()
            keep = ("Content-Type", "X-Elastic-Product")
            self._reply(status, {name: headers[name] for name in keep if headers.get(name)}, data)

        do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = _handle

    return Handler


@pytest.fixture
def gate(live: EsSettings, es: Elasticsearch) -> Iterator[tuple[str, Gate]]:
    """An HTTP server on 127.0.0.1 that answers 401 unless it gets the expected Authorization
    header, and otherwise forwards the request to the real node."""
    state = Gate(upstream=live.url, upstream_authorization=es._headers.get("authorization"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _gate_handler(state))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.mark.parametrize(
    ("env", "userinfo", "header"),
    [
        ({"ELASTICSEARCH_API_KEY": API_KEY}, "", f"ApiKey {API_KEY}"),
        (
            {"ELASTICSEARCH_USERNAME": "elastic", "ELASTICSEARCH_PASSWORD": PASSWORD},
            "",
            basic("elastic", PASSWORD),
        ),
        ({}, f"elastic:{PASSWORD.replace('-', '%2D')}@", basic("elastic", PASSWORD)),
    ],
    ids=["api-key", "basic", "basic-from-url"],
)
def test_credentials_really_reach_the_server(
    gate: tuple[str, Gate], es: Elasticsearch, index: str, env: dict[str, str], userinfo: str, header: str
):
    url, state = gate
    state.expected = header
    settings = settings_from_env(env={"ELASTICSEARCH_URL": url.replace("://", f"://{userinfo}"), **env})
    assert settings is not None
    client = make_client(settings)
    try:
        outcomes = bulk_write(client, index, [article(1), article(2)], sleep=no_sleep)
    finally:
        client.close()
    assert [o.status for o in outcomes] == ["created", "created"]
    assert state.seen == [header]
    assert stored_ids(es, index) == {"doc-1", "doc-2"}


@pytest.mark.parametrize(
    ("env", "secrets"),
    [
        (
            {"ELASTICSEARCH_USERNAME": "elastic", "ELASTICSEARCH_PASSWORD": "wrong-" + PASSWORD},
            [basic("elastic", "wrong-" + PASSWORD).split()[1], "wrong-" + PASSWORD],
        ),
        ({"ELASTICSEARCH_API_KEY": WRONG_KEY}, [WRONG_KEY, "wrong-key-value"]),
    ],
    ids=["wrong-password", "wrong-api-key"],
)
def test_wrong_credentials_fail_in_one_line_without_the_secret(
    gate: tuple[str, Gate],
    index: str,
    caplog: pytest.LogCaptureFixture,
    env: dict[str, str],
    secrets: list[str],
):
    url, state = gate
    state.expected = basic("elastic", PASSWORD)
    caplog.set_level(logging.DEBUG)  # the client's own request logs included
    settings = settings_from_env(env={"ELASTICSEARCH_URL": url, **env})
    assert settings is not None
    client = make_client(settings)
    try:
        with pytest.raises(StoreError) as caught:
            bulk_write(client, index, [article(1)], sleep=no_sleep)
    finally:
        client.close()
    message = str(caught.value)
    assert message == (
        "Elasticsearch refused the credentials: 401 security_exception: "
        "unable to authenticate user [elastic] for REST request [/_bulk]"
    )
    assert len(state.seen) == 1
    assert state.seen[0] != state.expected  # the wrong secret really went out …
    assert secrets[0] in state.seen[0]  # secrets[0] is the form on the wire
    assert "/_bulk" in caplog.text  # … and the client really logged the exchange
    for secret in secrets:  # … but neither the error nor any log line repeats it
        assert secret not in message
        assert secret not in caplog.text
        assert secret not in repr(settings)
