"""OutageLog: one line when a server goes away and one when it is back, whatever the threads do."""

from __future__ import annotations

import logging
import random

import pytest

from connectors.es_outage import INITIAL_WAIT_S, MAX_WAIT_S, OutageLog, wait_s

URL = "http://127.0.0.1:9200"


def test_one_line_per_state_change_however_many_requests_fail(caplog: pytest.LogCaptureFixture):
    now = [100.0]
    log = OutageLog(logging.getLogger("test.outage"), clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="test.outage"):
        log.answered(URL)  # up and answering: nothing to say
        for _ in range(5):
            log.failed(URL, "ConnectionError: refused", 0.5)
        now[0] += 12
        log.answered(URL)
        log.answered(URL)
        log.failed(URL, "HTTP 503", 1.0)
    assert [record.getMessage() for record in caplog.records] == [
        f"Elasticsearch at {URL} unreachable (ConnectionError: refused); retrying in 0.5 s, "
        f"then every {MAX_WAIT_S:.0f} s at most, until it is back",
        f"Elasticsearch at {URL} back after 12 s",
        f"Elasticsearch at {URL} unreachable (HTTP 503); retrying in 1.0 s, "
        f"then every {MAX_WAIT_S:.0f} s at most, until it is back",
    ]


def test_waits_grow_from_the_initial_wait_to_the_cap():
    rng = random.Random(7)
    waits = [wait_s(attempt, rng) for attempt in range(1, 40)]
    assert INITIAL_WAIT_S / 2 <= waits[0] <= INITIAL_WAIT_S
    assert all(MAX_WAIT_S / 2 <= w <= MAX_WAIT_S for w in waits[10:])


def test_a_closed_client_fails_at_once_instead_of_waiting_out_an_outage(monkeypatch: pytest.MonkeyPatch):
    """A stream's own shutdown closes the client; a write still in flight is no outage to wait out
    (it used to log "unreachable (Pool is closed)" and sleep)."""
    from elastic_transport import ConnectionError as TransportConnectionError
    from elasticsearch import Elasticsearch

    from connectors.es_outage import PatientTransport

    def waited(seconds: float) -> None:
        raise AssertionError(f"waited {seconds} s for a client that was closed")

    monkeypatch.setattr(PatientTransport, "sleep", staticmethod(waited))
    failed: list[str] = []
    monkeypatch.setattr(
        PatientTransport, "outages", type("Log", (), {"failed": lambda *a: failed.append(a[2])})()
    )
    client = Elasticsearch("http://127.0.0.1:9", transport_class=PatientTransport)
    client.close()
    with pytest.raises(TransportConnectionError):
        client.info()
    assert failed == []
