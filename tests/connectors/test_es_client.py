"""es_client without a server: settings, redaction, the retry policy and bulk_write's sorting.

bulk_write and bulk_update run against the real elasticsearch-py client and helpers; only the HTTP node under
them is scripted, to produce statuses a healthy test cluster never sends (429, 503, truncation).
"""

from __future__ import annotations

import base64
import json
import pathlib
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import pytest
from elastic_transport import (
    ApiResponseMeta,
    BaseNode,
    ConnectionError,
    ConnectionTimeout,
    HttpHeaders,
    SecurityWarning,
)
from elastic_transport._node import NodeApiResponse
from elasticsearch import Elasticsearch
from pydantic import SecretStr, ValidationError

from connectors.es_client import (
    BulkOutcome,
    BulkRetryExhaustedError,
    EsSettings,
    PartialUpdate,
    RetryPolicy,
    bulk_update,
    bulk_write,
    classify,
    make_client,
    raise_if_exhausted,
    redact,
    settings_from_env,
)
from connectors.store import StoreError
from schemas.errors import ConfigError

INDEX = "articles"
SECRET = "hunter2-Secret"
API_KEY = base64.b64encode(b"key-id:api-key-secret-part").decode()

# --- a scripted node under the real client ---------------------------------------------------

ITEM_ERRORS: dict[int, dict[str, Any]] = {
    400: {
        "type": "document_parsing_exception",
        "reason": "failed to parse field [published_at] of type [date]",
        "caused_by": {"type": "illegal_argument_exception", "reason": "failed to parse date field [soon]"},
    },
    404: {"type": "index_not_found_exception", "reason": "no such index [articles]"},
    409: {"type": "version_conflict_engine_exception", "reason": "version conflict, document already exists"},
    413: {"type": "illegal_argument_exception", "reason": "document too large"},
    429: {
        "type": "es_rejected_execution_exception",
        "reason": "rejected execution of coordinating operation",
    },
    503: {"type": "unavailable_shards_exception", "reason": "primary shard is not active"},
}


@dataclass
class Sent:
    op: str
    id: str
    source: dict[str, Any]
    meta: dict[str, Any] = field(default_factory=dict)


# A step answers one bulk request: a status per item (None: the server's usual answer), or the
# whole response, or an exception raised as the network would.
Step = Callable[["FakeServer", list[Sent]], Any]


@dataclass
class FakeServer:
    """An Elasticsearch stand-in: stores documents, answers 201/409 like the real one, unless the
    next scripted step says otherwise."""

    script: list[Step] = field(default_factory=list)
    stored: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[list[Sent]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    product_header: bool = True
    request_seconds: float = 0.0
    clock: FakeClock | None = None

    def answer(self, sent: list[Sent], override: dict[str, int] | None = None) -> tuple[int, Any]:
        items = []
        for op in sent:
            status = (override or {}).get(op.id)
            if status is None:
                status = self._store(op)
            item: dict[str, Any] = {"_index": INDEX, "_id": op.id, "status": status}
            if status >= 300:
                item["error"] = ITEM_ERRORS.get(status, {"type": "exception", "reason": f"status {status}"})
            items.append({op.op: item})
        return 200, {
            "took": 1,
            "errors": any(item["status"] >= 300 for entry in items for item in entry.values()),
            "items": items,
        }

    def _store(self, op: Sent) -> int:
        if op.op == "create" and op.id in self.stored:
            return 409
        status = 200 if op.id in self.stored else 201
        self.stored[op.id] = op.source
        return status

    def handle(self, sent: list[Sent]) -> Any:
        if self.clock is not None:
            self.clock.now += self.request_seconds
        step = self.script.pop(0) if self.script else None
        return step(self, sent) if step else self.answer(sent)


def per_item(**statuses: int) -> Step:
    return lambda server, sent: server.answer(sent, statuses)


def whole(status: int, body: Any) -> Step:
    return lambda server, sent: (status, body)


def refuse(exc: Exception) -> Step:
    def step(server: FakeServer, sent: list[Sent]) -> Any:
        raise exc

    return step


def truncated(keep: int) -> Step:
    def step(server: FakeServer, sent: list[Sent]) -> Any:
        status, body = server.answer(sent[:keep])
        return status, body

    return step


class FakeNode(BaseNode):
    server: FakeServer  # attached by fake_client(); the transport creates the node itself

    def perform_request(
        self,
        method: str,
        target: str,
        body: bytes | None = None,
        headers: Any = None,
        request_timeout: Any = None,
    ) -> NodeApiResponse:
        assert target.split("?")[0] == "/_bulk", target
        lines = [json.loads(line) for line in (body or b"").splitlines() if line.strip()]
        sent = []
        for action, source in zip(lines[::2], lines[1::2], strict=True):
            ((op, meta),) = action.items()
            assert meta["_index"] == INDEX
            sent.append(Sent(op, meta["_id"], source, meta))
        self.server.requests.append(sent)
        self.server.headers.append(dict(headers or {}))
        status, payload = self.server.handle(sent)
        response_headers = HttpHeaders()
        if isinstance(payload, (dict, list)):
            response_headers["content-type"] = "application/json"
            data = json.dumps(payload).encode()
        else:
            response_headers["content-type"] = "text/plain"
            data = str(payload).encode()
        if self.server.product_header:
            response_headers["x-elastic-product"] = "Elasticsearch"
        meta = ApiResponseMeta(
            status=status, http_version="1.1", headers=response_headers, duration=0.0, node=self.config
        )
        return NodeApiResponse(meta, data)


def fake_client(server: FakeServer, **options: Any) -> Elasticsearch:
    client = Elasticsearch(
        "http://es.test:9200", node_class=FakeNode, max_retries=0, retry_on_timeout=False, **options
    )
    for node in client.transport.node_pool.all():
        cast(FakeNode, node).server = server
    return client


@dataclass
class FakeClock:
    now: float = 100.0
    sleeps: list[float] = field(default_factory=list)

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def docs(*ids: str) -> list[tuple[str, dict[str, Any]]]:
    return [(i, {"title": f"title {i}"}) for i in ids]


def ids_per_request(server: FakeServer) -> list[list[str]]:
    return [[s.id for s in request] for request in server.requests]


def write(
    server: FakeServer, documents: Sequence[tuple[str, dict[str, Any] | bytes]], **kwargs: Any
) -> list[BulkOutcome]:
    clock = kwargs.pop("clock", None) or FakeClock()
    server.clock = clock
    return bulk_write(
        fake_client(server, **kwargs.pop("client_options", {})),
        INDEX,
        documents,
        sleep=clock.sleep,
        clock=clock,
        rng=kwargs.pop("rng", random.Random(7)),
        **kwargs,
    )


def statuses(outcomes: list[BulkOutcome]) -> list[tuple[str, str, int | None]]:
    return [(o.id, o.status, o.http_status) for o in outcomes]


# --- classify ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("http_status", "op_type", "expected"),
    [
        (200, "create", "created"),
        (201, "create", "created"),
        (200, "index", "created"),
        (201, "index", "created"),
        (409, "create", "duplicate"),
        (409, "index", "rejected"),
        (200, "update", "updated"),
        (409, "update", "conflict"),
        (404, "update", "rejected"),
        (503, "update", "retry"),
        (400, "create", "rejected"),
        (401, "create", "rejected"),
        (403, "index", "rejected"),
        (404, "create", "rejected"),
        (413, "create", "rejected"),
        (422, "index", "rejected"),
        (429, "create", "retry"),
        (429, "index", "retry"),
        (500, "create", "retry"),
        (502, "index", "retry"),
        (503, "create", "retry"),
        (504, "create", "retry"),
        (None, "create", "retry"),
        (None, "index", "retry"),
        (302, "create", "retry"),  # a redirecting proxy is not a success
    ],
)
def test_classify(http_status: int | None, op_type: str, expected: str):
    assert classify(http_status, op_type) == expected


@pytest.mark.parametrize(
    ("http_status", "error_type", "expected"),
    [
        (403, "cluster_block_exception", "retry"),  # index.blocks.write, flood-stage read-only
        (429, "cluster_block_exception", "retry"),
        (400, "index_closed_exception", "retry"),  # closed for maintenance, reopened after
        (403, "security_exception", "rejected"),  # a missing privilege is no passing state
        (400, "mapper_parsing_exception", "rejected"),
        (400, "document_parsing_exception", "rejected"),
        (201, None, "created"),
    ],
)
def test_classify_by_error_type(http_status: int, error_type: str | None, expected: str):
    assert classify(http_status, "create", error_type) == expected


# --- RetryPolicy -------------------------------------------------------------------------------


def test_delay_stays_within_the_exponential_cap_and_spans_it():
    policy = RetryPolicy(initial_backoff_s=0.5, max_backoff_s=30.0)
    rng = random.Random(42)
    for attempt, cap in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (6, 16.0), (7, 30.0), (50, 30.0)]:
        samples = [policy.delay(attempt, rng) for _ in range(500)]
        assert all(0.0 <= s <= cap for s in samples), attempt
        assert max(samples) > 0.9 * cap  # full jitter: the whole range is used …
        assert min(samples) < 0.1 * cap  # … down to nearly nothing


def test_delay_is_reproducible_with_a_seed_and_jittered_without():
    policy = RetryPolicy()
    first = [policy.delay(3, random.Random(1)) for _ in range(3)]
    assert first == [policy.delay(3, random.Random(1))] * 3
    rng = random.Random(1)
    assert len({policy.delay(3, rng) for _ in range(20)}) == 20


def test_delay_refuses_attempt_zero():
    with pytest.raises(ValueError, match="attempt must be at least 1"):
        RetryPolicy().delay(0, random.Random(0))


@pytest.mark.parametrize(
    "fields",
    [
        {"max_attempts": 0},
        {"max_attempts": 51},
        {"initial_backoff_s": -1.0},
        {"max_elapsed_s": 0.0},
        {"initial_backoff_s": 5.0, "max_backoff_s": 1.0},
    ],
)
def test_retry_policy_refuses_nonsense(fields: dict[str, Any]):
    with pytest.raises(ValidationError):
        RetryPolicy(**fields)


def test_retry_policy_is_frozen():
    with pytest.raises(ValidationError):
        RetryPolicy().max_attempts = 3  # type: ignore[misc]


# --- bulk_write --------------------------------------------------------------------------------


def test_mixed_statuses_are_sorted_and_only_transient_ones_resent():
    server = FakeServer(script=[per_item(c=400, d=429, e=503)], stored={"b": {}})
    outcomes = write(server, docs("a", "b", "c", "d", "e"), rng=random.Random(3))

    assert statuses(outcomes) == [
        ("a", "created", 201),
        ("b", "duplicate", 409),
        ("c", "rejected", 400),
        ("d", "created", 201),
        ("e", "created", 201),
    ]
    assert ids_per_request(server) == [["a", "b", "c", "d", "e"], ["d", "e"]]
    assert server.clock is not None
    assert server.clock.sleeps == [RetryPolicy().delay(1, random.Random(3))]
    assert [o.attempts for o in outcomes] == [1, 1, 1, 2, 2]
    assert outcomes[0].reason is None
    assert (
        outcomes[1].reason == "version_conflict_engine_exception: version conflict, document already exists"
    )
    assert outcomes[2].reason == (
        "document_parsing_exception: failed to parse field [published_at] of type [date] "
        "(caused by: illegal_argument_exception: failed to parse date field [soon])"
    )
    assert [s.source for s in server.requests[1]] == [{"title": "title d"}, {"title": "title e"}]


def test_encoded_sources_are_sent_as_they_are_and_resent_on_retry():
    server = FakeServer(script=[per_item(b=429)])
    documents: list[tuple[str, dict[str, Any] | bytes]] = [
        ("a", b'{"title":"title a","n":1.0}'),
        ("b", b'{"title":"t\xc3\xa9"}'),
        *docs("c"),
    ]
    outcomes = write(server, documents)

    assert statuses(outcomes) == [("a", "created", 201), ("b", "created", 201), ("c", "created", 201)]
    assert ids_per_request(server) == [["a", "b", "c"], ["b"]]
    assert server.stored == {
        "a": {"title": "title a", "n": 1.0},
        "b": {"title": "t\u00e9"},
        "c": {"title": "title c"},
    }


def test_bulk_update_sends_conditional_partial_updates_and_sorts_conflicts_apart():
    server = FakeServer(script=[per_item(b=409, c=404, d=503)], stored={key: {} for key in "abcd"})
    clock = FakeClock()
    server.clock = clock
    updates = [
        PartialUpdate(id=i, index=INDEX, doc={"actor_ids": [i]}, seq_no=n, primary_term=3)
        for n, i in enumerate("abcd")
    ]
    outcomes = bulk_update(fake_client(server), updates, sleep=clock.sleep, clock=clock, rng=random.Random(7))

    assert statuses(outcomes) == [
        ("a", "updated", 200),
        ("b", "conflict", 409),
        ("c", "rejected", 404),
        ("d", "updated", 200),
    ]
    assert ids_per_request(server) == [["a", "b", "c", "d"], ["d"]]  # only the transient one again
    first = server.requests[0][0]
    assert (first.op, first.source) == ("update", {"doc": {"actor_ids": ["a"]}})
    assert (first.meta["if_seq_no"], first.meta["if_primary_term"]) == (0, 3)


def test_throttling_forever_ends_as_retry_exhausted_after_max_attempts():
    policy = RetryPolicy(max_attempts=4, initial_backoff_s=1.0, max_backoff_s=8.0, max_elapsed_s=1000.0)
    server = FakeServer(script=[per_item(a=429)] * 100)
    outcomes = write(server, docs("a", "b"), retry=policy)

    assert statuses(outcomes) == [("a", "retry_exhausted", 429), ("b", "created", 201)]
    assert outcomes[0].attempts == 4
    assert (
        outcomes[0].reason == "es_rejected_execution_exception: rejected execution of coordinating operation"
    )
    assert ids_per_request(server) == [["a", "b"], ["a"], ["a"], ["a"]]
    assert server.clock is not None
    assert len(server.clock.sleeps) == 3
    assert all(0 <= s <= cap for s, cap in zip(server.clock.sleeps, [1.0, 2.0, 4.0], strict=True))


def test_throttling_forever_stops_within_max_elapsed_s():
    policy = RetryPolicy(max_attempts=50, initial_backoff_s=1.0, max_backoff_s=4.0, max_elapsed_s=20.0)
    clock = FakeClock(now=0.0)
    server = FakeServer(
        script=[whole(429, {"error": ITEM_ERRORS[429], "status": 429})] * 100, request_seconds=1.5
    )
    outcomes = write(server, docs("a", "b", "c"), retry=policy, clock=clock)

    assert {o.status for o in outcomes} == {"retry_exhausted"}
    assert 3 < len(server.requests) < 50
    # No sleep may start that would end past the bound; only the last request itself may.
    assert clock.now <= policy.max_elapsed_s + server.request_seconds
    assert clock.now + policy.max_backoff_s > policy.max_elapsed_s  # it did not give up early either
    assert outcomes[0].elapsed_s == pytest.approx(clock.now)


@pytest.mark.parametrize(
    "failure",
    [
        ConnectionError("Failed to establish a new connection: [Errno 111] Connection refused"),
        ConnectionTimeout("Read timed out. (read timeout=30)"),
    ],
    ids=["refused", "timeout"],
)
def test_network_failure_of_the_whole_request_is_retried(failure: Exception):
    server = FakeServer(script=[refuse(failure)])
    outcomes = write(server, docs("a", "b"))

    assert statuses(outcomes) == [("a", "created", 201), ("b", "created", 201)]
    assert [o.attempts for o in outcomes] == [2, 2]
    assert ids_per_request(server) == [["a", "b"], ["a", "b"]]


def test_network_failure_keeps_its_message_when_exhausted():
    server = FakeServer(script=[refuse(ConnectionError("[Errno 111] Connection refused"))] * 3)
    outcomes = write(server, docs("a"), retry=RetryPolicy(max_attempts=3))
    assert statuses(outcomes) == [("a", "retry_exhausted", None)]
    assert outcomes[0].reason == "ConnectionError: [Errno 111] Connection refused"


def test_network_failure_half_way_resends_only_the_unanswered_chunks():
    server = FakeServer(script=[lambda s, sent: s.answer(sent), refuse(ConnectionError("reset by peer"))])
    outcomes = write(server, docs("a", "b", "c", "d", "e"), chunk_size=2)

    assert statuses(outcomes) == [(i, "created", 201) for i in "abcde"]
    assert [o.attempts for o in outcomes] == [1, 1, 2, 2, 2]
    assert ids_per_request(server) == [["a", "b"], ["c", "d"], ["c", "d"], ["e"]]


@pytest.mark.parametrize(
    ("status", "body", "reason"),
    [
        (
            429,
            {"error": {"root_cause": [ITEM_ERRORS[429]], **ITEM_ERRORS[429]}, "status": 429},
            "es_rejected_execution_exception: rejected execution of coordinating operation",
        ),
        (503, "<html><body>503 Service Unavailable</body></html>", "service unavailable"),
        (502, "Bad Gateway", "bad gateway"),
    ],
)
def test_whole_request_refusals_become_per_item_retries(status: int, body: Any, reason: str):
    server = FakeServer(script=[whole(status, body)] * 2)
    outcomes = write(server, docs("a", "b"), retry=RetryPolicy(max_attempts=2))
    assert statuses(outcomes) == [("a", "retry_exhausted", status), ("b", "retry_exhausted", status)]
    assert {o.reason for o in outcomes} == {reason}

    recovered = FakeServer(script=[whole(status, body)])
    assert statuses(write(recovered, docs("a", "b"))) == [("a", "created", 201), ("b", "created", 201)]


BLOCK = {
    "type": "cluster_block_exception",
    "reason": "index [wirewatch-articles-000001] blocked by: [FORBIDDEN/8/index write (api)];",
}


def test_a_write_block_is_waited_out_whole_or_per_item_and_never_rejects():
    whole_block = {"error": {"root_cause": [BLOCK], **BLOCK}, "status": 403}
    server = FakeServer(script=[whole(403, whole_block)] * 3)
    outcomes = write(server, docs("a", "b"), retry=RetryPolicy(max_attempts=3))
    assert statuses(outcomes) == [("a", "retry_exhausted", 403), ("b", "retry_exhausted", 403)]
    assert outcomes[0].reason == f"cluster_block_exception: {BLOCK['reason']}"

    recovered = FakeServer(script=[whole(403, whole_block), whole(403, whole_block)])
    assert statuses(write(recovered, docs("a", "b"))) == [("a", "created", 201), ("b", "created", 201)]
    assert len(recovered.requests) == 3


def test_whole_request_400_rejects_every_document_of_the_request():
    body = {"error": {"type": "illegal_argument_exception", "reason": "Malformed action/metadata line"}}
    server = FakeServer(script=[whole(400, body)])
    outcomes = write(server, docs("a", "b"))
    assert statuses(outcomes) == [("a", "rejected", 400), ("b", "rejected", 400)]
    assert outcomes[0].reason == "illegal_argument_exception: Malformed action/metadata line"
    assert len(server.requests) == 1


def test_rejected_credentials_raise_without_the_secret():
    body = {
        "error": {"type": "security_exception", "reason": "unable to authenticate with provided credentials"}
    }
    server = FakeServer(script=[whole(401, body)])
    with pytest.raises(StoreError) as caught:
        write(server, docs("a"), client_options={"api_key": API_KEY})
    assert str(caught.value) == (
        "Elasticsearch refused the credentials: 401 security_exception: "
        "unable to authenticate with provided credentials"
    )
    assert server.headers[0]["authorization"] == f"ApiKey {API_KEY}"
    assert API_KEY not in str(caught.value)


def test_a_server_that_is_not_elasticsearch_is_never_a_success():
    # The helper reports the client's product-check error as a failed item with status 200.
    server = FakeServer(product_header=False)
    with pytest.raises(StoreError, match="not Elasticsearch"):
        write(server, docs("a"))


def test_same_id_twice_is_sent_twice_and_the_server_decides():
    server = FakeServer()
    outcomes = write(server, docs("a", "b", "a"))
    assert ids_per_request(server) == [["a", "b", "a"]]
    assert statuses(outcomes) == [("a", "created", 201), ("b", "created", 201), ("a", "duplicate", 409)]

    overwrite = FakeServer()
    outcomes = write(overwrite, docs("a", "a"), op_type="index")
    assert statuses(outcomes) == [("a", "created", 201), ("a", "created", 200)]


def test_same_id_twice_is_matched_back_in_order_when_only_one_is_retried():
    # The first "a" is throttled and the second stored: answers are matched by _id, in order.
    def first_a_throttled(server: FakeServer, sent: list[Sent]) -> Any:
        status, body = server.answer(sent[1:])
        throttled = {"create": {"_index": INDEX, "_id": "a", "status": 429, "error": ITEM_ERRORS[429]}}
        body["items"].insert(0, throttled)
        return status, body

    server = FakeServer(script=[first_a_throttled])
    outcomes = write(server, docs("a", "a"))
    assert statuses(outcomes) == [("a", "duplicate", 409), ("a", "created", 201)]
    assert ids_per_request(server) == [["a", "a"], ["a"]]


def test_documents_missing_from_the_response_are_retried():
    server = FakeServer(script=[truncated(2)])
    outcomes = write(server, docs("a", "b", "c"))
    assert statuses(outcomes) == [("a", "created", 201), ("b", "created", 201), ("c", "created", 201)]
    assert ids_per_request(server) == [["a", "b", "c"], ["c"]]


def test_chunks_respect_chunk_size_and_max_chunk_bytes():
    server = FakeServer(script=[per_item(), per_item(c=429)])
    outcomes = write(server, docs("a", "b", "c", "d", "e"), chunk_size=2)
    assert ids_per_request(server) == [["a", "b"], ["c", "d"], ["e"], ["c"]]
    assert [o.id for o in outcomes] == ["a", "b", "c", "d", "e"]
    assert {o.status for o in outcomes} == {"created"}

    big = FakeServer()
    write(big, [(str(i), {"body": "x" * 300}) for i in range(4)], max_chunk_bytes=800)
    assert ids_per_request(big) == [["0", "1"], ["2", "3"]]


def test_ids_elasticsearch_would_refuse_are_rejected_unsent():
    # One such id makes Elasticsearch answer 400 for the whole request, sinking its neighbours.
    server = FakeServer()
    outcomes = write(server, docs("a", "", "x" * 513, "é" * 257, "b"))
    assert statuses(outcomes) == [
        ("a", "created", 201),
        ("", "rejected", None),
        ("x" * 513, "rejected", None),
        ("é" * 257, "rejected", None),
        ("b", "created", 201),
    ]
    assert outcomes[2].reason == "invalid _id: 513 bytes, Elasticsearch allows at most 512"
    assert ids_per_request(server) == [["a", "b"]]


def test_no_documents_no_request():
    server = FakeServer()
    assert write(server, []) == []
    assert server.requests == []


@pytest.mark.parametrize(("option", "value"), [("chunk_size", 0), ("max_chunk_bytes", 0)])
def test_bulk_write_refuses_empty_chunks(option: str, value: int):
    with pytest.raises(ValueError, match=option):
        write(FakeServer(), docs("a"), **{option: value})


def test_reasons_are_one_bounded_line_without_credentials():
    long_reason = (
        "failed\nto parse " + "field " * 400 + " Authorization: ApiKey c2VjcmV0LWtleQ== http://u:pw@host"
    )

    def step(server: FakeServer, sent: list[Sent]) -> Any:
        item = {"_index": INDEX, "_id": "a", "status": 400, "error": {"type": "x", "reason": long_reason}}
        return 200, {"errors": True, "items": [{"create": item}]}

    outcome = write(FakeServer(script=[step]), docs("a"))[0]
    assert outcome.reason is not None
    assert "\n" not in outcome.reason
    assert len(outcome.reason) <= 300
    short = "Authorization: ApiKey c2VjcmV0LWtleQ== from http://u:pw@host"

    def auth_step(server: FakeServer, sent: list[Sent]) -> Any:
        item = {"_index": INDEX, "_id": "a", "status": 400, "error": {"type": "x", "reason": short}}
        return 200, {"errors": True, "items": [{"create": item}]}

    outcome = write(FakeServer(script=[auth_step]), docs("a"))[0]
    assert outcome.reason == "x: Authorization: ApiKey *** from http://***@host"


# --- raise_if_exhausted ------------------------------------------------------------------------


def exhausted(doc_id: str, **fields: Any) -> BulkOutcome:
    values = {"http_status": 429, "reason": "too many requests", "attempts": 6, "elapsed_s": 61.2, **fields}
    return BulkOutcome(id=doc_id, status="retry_exhausted", **values)


def test_raise_if_exhausted_is_quiet_when_everything_settled():
    raise_if_exhausted(
        [BulkOutcome(id="a", status="created"), BulkOutcome(id="b", status="rejected", http_status=400)],
        "http://127.0.0.1:9200",
    )


def test_raise_if_exhausted_says_where_how_many_how_long_and_why():
    outcomes = [BulkOutcome(id="a", status="created"), *(exhausted(str(i)) for i in range(12))]
    with pytest.raises(BulkRetryExhaustedError) as caught:
        raise_if_exhausted(outcomes, "http://127.0.0.1:9200")
    assert str(caught.value) == (
        "Elasticsearch at http://127.0.0.1:9200 did not accept 12 documents after 6 attempts over 61 s "
        "(last: 429 too many requests)"
    )
    assert len(caught.value.outcomes) == 12
    assert isinstance(caught.value, RuntimeError)
    assert isinstance(caught.value, StoreError)


def test_raise_if_exhausted_names_a_network_failure():
    outcome = exhausted("a", http_status=None, reason="ConnectionError: refused", attempts=1, elapsed_s=0.2)
    with pytest.raises(BulkRetryExhaustedError) as caught:
        raise_if_exhausted([outcome], "https://es.example:443")
    assert str(caught.value) == (
        "Elasticsearch at https://es.example:443 did not accept 1 document after 1 attempt over 0 s "
        "(last: ConnectionError: refused)"
    )


def test_raise_if_exhausted_never_shows_secrets():
    settings = EsSettings(url="http://es:9200", username="elastic", password=SecretStr(SECRET))
    outcome = exhausted("a", reason=f"proxy said: bad password {SECRET}")
    with pytest.raises(BulkRetryExhaustedError) as caught:
        raise_if_exhausted([outcome], settings)
    assert SECRET not in str(caught.value)
    assert "bad password ***" in str(caught.value)

    with pytest.raises(BulkRetryExhaustedError) as caught:
        raise_if_exhausted([exhausted("a")], f"http://elastic:{SECRET}@es:9200")
    assert SECRET not in str(caught.value)
    assert "Elasticsearch at http://es:9200 did not" in str(caught.value)


# --- settings ----------------------------------------------------------------------------------


def test_no_url_means_no_elasticsearch():
    assert settings_from_env(None, {}) is None
    assert settings_from_env("", {"ELASTICSEARCH_URL": "  "}) is None
    assert settings_from_env(None, {"ELASTICSEARCH_API_KEY": API_KEY}) is None


def test_the_flag_wins_over_the_environment():
    settings = settings_from_env("http://flag:9200", {"ELASTICSEARCH_URL": "http://env:9200"})
    assert settings is not None
    assert settings.url == "http://flag:9200"
    env_settings = settings_from_env(None, {"ELASTICSEARCH_URL": "http://env:9200/"})
    assert env_settings == EsSettings(url="http://env:9200")


def test_settings_from_env_reads_every_variable(tmp_path: pathlib.Path):
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    with_key = settings_from_env(
        None,
        {
            "ELASTICSEARCH_URL": "https://es.example:9243",
            "ELASTICSEARCH_API_KEY": API_KEY,
            "ELASTICSEARCH_CA_CERTS": str(bundle),
            "ELASTICSEARCH_VERIFY_CERTS": "true",
        },
    )
    assert with_key is not None
    assert with_key.api_key is not None
    assert with_key.api_key.get_secret_value() == API_KEY
    assert (with_key.ca_certs, with_key.verify_certs, with_key.username) == (str(bundle), True, None)

    with_password = settings_from_env(
        "https://es.example:9243",
        {
            "ELASTICSEARCH_USERNAME": "elastic",
            "ELASTICSEARCH_PASSWORD": SECRET,
            "ELASTICSEARCH_VERIFY_CERTS": "FALSE",
        },
    )
    assert with_password is not None
    assert with_password.password is not None
    assert (with_password.username, with_password.password.get_secret_value()) == ("elastic", SECRET)
    assert with_password.verify_certs is False


def test_credentials_in_the_url_move_out_of_it():
    settings = settings_from_env(None, {"ELASTICSEARCH_URL": "http://elastic:p%40ss%3Aword@127.0.0.1:9200"})
    assert settings is not None
    assert settings.url == "http://127.0.0.1:9200"
    assert settings.username == "elastic"
    assert settings.password is not None
    assert settings.password.get_secret_value() == "p@ss:word"
    direct = EsSettings(url=f"https://elastic:{SECRET}@es.example:9243")
    assert (direct.url, direct.username) == ("https://es.example:9243", "elastic")


@pytest.mark.parametrize(
    ("flag", "env", "message"),
    [
        (
            None,
            {"ELASTICSEARCH_URL": "localhost:9200"},
            "ELASTICSEARCH_URL: must be an http:// or https:// URL",
        ),
        ("ftp://es:21", {}, "--es-url: must be an http:// or https:// URL"),
        ("http://localhost", {}, "--es-url: needs a port, e.g. http://localhost:9200"),
        ("http://localhost:99999", {}, "--es-url: has an invalid port"),
        ("http://localhost:9200/?pretty", {}, "--es-url: must not carry a query string"),
        (
            "http://es:9200",
            {"ELASTICSEARCH_USERNAME": "elastic"},
            "ELASTICSEARCH_USERNAME and ELASTICSEARCH_PASSWORD must be set together "
            "(only ELASTICSEARCH_USERNAME is set)",
        ),
        (
            "http://es:9200",
            {"ELASTICSEARCH_PASSWORD": SECRET},
            "ELASTICSEARCH_USERNAME and ELASTICSEARCH_PASSWORD must be set together "
            "(only ELASTICSEARCH_PASSWORD is set)",
        ),
        (
            "http://es:9200",
            {
                "ELASTICSEARCH_API_KEY": API_KEY,
                "ELASTICSEARCH_USERNAME": "e",
                "ELASTICSEARCH_PASSWORD": SECRET,
            },
            "ELASTICSEARCH_API_KEY and ELASTICSEARCH_USERNAME are both set; use one",
        ),
        (
            f"http://elastic:{SECRET}@es:9200",
            {"ELASTICSEARCH_API_KEY": API_KEY},
            "--es-url: carries user:password while ELASTICSEARCH_API_KEY is also set",
        ),
        (
            None,
            {"ELASTICSEARCH_URL": "http://elastic@es:9200"},
            "ELASTICSEARCH_URL: user:password in the URL needs both",
        ),
        (
            "https://es:9200",
            {"ELASTICSEARCH_CA_CERTS": "/no/such/ca.pem"},
            "ELASTICSEARCH_CA_CERTS: no such file: /no/such/ca.pem",
        ),
        (
            "http://es:9200",
            {"ELASTICSEARCH_CA_CERTS": __file__},
            "ELASTICSEARCH_CA_CERTS: a CA bundle needs an https:// URL",
        ),
        (
            "https://es:9200",
            {"ELASTICSEARCH_VERIFY_CERTS": "nope"},
            "ELASTICSEARCH_VERIFY_CERTS: expected true or false, got 'nope'",
        ),
    ],
)
def test_settings_errors_name_the_variable_in_one_line(flag: str | None, env: dict[str, str], message: str):
    with pytest.raises(ConfigError) as caught:
        settings_from_env(flag, env)
    text = str(caught.value)
    assert text.startswith(message)
    assert "\n" not in text
    assert SECRET not in text
    assert API_KEY not in text


def test_secrets_never_show_in_repr_or_validation_errors():
    settings = EsSettings(url="http://es:9200", username="elastic", password=SecretStr(SECRET))
    keyed = EsSettings(url="http://es:9200", api_key=SecretStr(API_KEY))
    for text in (repr(settings), str(settings), settings.model_dump_json(), repr(keyed), str(keyed)):
        assert SECRET not in text
        assert API_KEY not in text
    with pytest.raises(ValidationError) as caught:
        EsSettings(url=f"ftp://elastic:{SECRET}@es", api_key=SecretStr(API_KEY))
    with pytest.raises(ValidationError) as caught_field:
        EsSettings.model_validate({"url": "http://es:9200", "password": SECRET})  # no username
    for error in (caught.value, caught_field.value):
        assert SECRET not in str(error)
        assert API_KEY not in str(error)


def test_redact_removes_every_form_of_the_secrets():
    basic = EsSettings(url="http://es:9200", username="elastic", password=SecretStr("p@ss word"))
    header = base64.b64encode(b"elastic:p@ss word").decode()
    text = f"pw=p@ss word quoted=p%40ss%20word header=Basic {header} user=elastic"
    assert redact(text, basic) == "pw=*** quoted=*** header=Basic *** user=elastic"

    keyed = EsSettings(url="http://es:9200", api_key=SecretStr(API_KEY))
    text = f"ApiKey {API_KEY} / key-id:api-key-secret-part / api-key-secret-part / key-id"
    assert redact(text, keyed) == "ApiKey *** / *** / *** / key-id"
    assert redact("nothing secret here", keyed) == "nothing secret here"


# --- make_client -------------------------------------------------------------------------------


def test_make_client_sends_the_api_key_and_never_retries_by_itself():
    client = make_client(EsSettings(url="http://es:9200", api_key=SecretStr(API_KEY), request_timeout_s=7.5))
    assert client._headers["authorization"] == f"ApiKey {API_KEY}"
    assert (client._max_retries, client._retry_on_timeout, client._request_timeout) == (0, False, 7.5)
    assert API_KEY not in repr(client)


def test_make_client_sends_basic_auth():
    client = make_client(EsSettings(url="http://es:9200", username="elastic", password=SecretStr(SECRET)))
    expected = base64.b64encode(f"elastic:{SECRET}".encode()).decode()
    assert client._headers["authorization"] == f"Basic {expected}"


def test_make_client_without_credentials_sends_no_authorization():
    client = make_client(EsSettings(url="http://es:9200"))
    node = client.transport.node_pool.all()[0]
    assert "authorization" not in client._headers
    assert "authorization" not in node.config.headers


def test_make_client_uses_the_ca_bundle(tmp_path: pathlib.Path):
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    client = make_client(EsSettings(url="https://es.example:9243", ca_certs=str(bundle)))
    config = client.transport.node_pool.all()[0].config
    assert (config.scheme, config.ca_certs, config.verify_certs) == ("https", str(bundle), True)


def test_make_client_without_verification_warns():
    with pytest.warns(SecurityWarning, match="verify_certs=False is insecure"):
        client = make_client(EsSettings(url="https://es.example:9243", verify_certs=False))
    assert client.transport.node_pool.all()[0].config.verify_certs is False
