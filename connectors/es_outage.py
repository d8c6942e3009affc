"""Riding out an Elasticsearch outage: a client transport that waits for the server to come back.

A batch run fails within its retry bound when Elasticsearch goes away (re-running it writes exactly
what is missing). A stream is a service: it must outlast a restart or a network cut of any length
and carry on where it stopped. Every read and write of the stream's steps (feed state, the
dedup lookups, lineage, the article and dead-letter bulk writes, alerts) goes through one
transport, so waiting there covers them all without each step knowing about outages.

The wait is without bound but not blind: wrong credentials, a server that is not Elasticsearch
and refused documents still come back at once as answers; only "no answer" (refused or dropped
connections, timeouts) and "not now" (502, 503, 504) are waited out. A request that timed out may
have been applied; sending it again is safe because every write here is idempotent (`create` by
deterministic id, `index` by id, updates conditional on the version read).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from typing import Any

from elastic_transport import ConnectionError as TransportConnectionError
from elastic_transport import ConnectionTimeout, TransportApiResponse

from connectors.es_transport import ElasticsearchOnlyTransport
from schemas.records import one_line

_log = logging.getLogger(__name__)

# Statuses a proxy or a node that is starting sends while it cannot serve.
UNAVAILABLE_STATUSES = frozenset({502, 503, 504})
INITIAL_WAIT_S = 0.5
# Short enough that the stream resumes within seconds of the server's return; each retry is one
# cheap refused connection.
MAX_WAIT_S = 5.0


class OutageLog:
    """One line when a server goes away and one when it is back, however many threads wait on it."""

    def __init__(self, logger: logging.Logger = _log, clock: Callable[[], float] = time.monotonic) -> None:
        self._logger = logger
        self._clock = clock
        self._lock = threading.Lock()
        self._down_since: dict[str, float] = {}

    def failed(self, url: str, reason: str, wait_s: float) -> None:
        with self._lock:
            if url in self._down_since:
                return
            self._down_since[url] = self._clock()
        self._logger.warning(
            "Elasticsearch at %s unreachable (%s); retrying in %.1f s, then every %.0f s at most, "
            "until it is back",
            url,
            reason,
            wait_s,
            MAX_WAIT_S,
        )

    def answered(self, url: str) -> None:
        with self._lock:
            since = self._down_since.pop(url, None)
        if since is not None:
            self._logger.warning("Elasticsearch at %s back after %.0f s", url, self._clock() - since)


OUTAGES = OutageLog()


def wait_s(attempt: int, rng: random.Random) -> float:
    """Exponential from INITIAL_WAIT_S to MAX_WAIT_S, jittered so waiting workers do not come back
    in one burst."""
    cap = min(MAX_WAIT_S, INITIAL_WAIT_S * 2.0 ** min(attempt - 1, 30))
    return rng.uniform(cap / 2, cap)


class PatientTransport(ElasticsearchOnlyTransport):
    """An elastic_transport Transport whose requests wait out an unreachable or unavailable server,
    for `wirewatch stream` (see make_client(wait_out_outages=True))."""

    sleep: Callable[[float], None] = staticmethod(time.sleep)
    outages: OutageLog = OUTAGES
    _closed = False

    def close(self) -> None:
        self._closed = True
        super().close()

    def perform_request(self, method: str, target: str, **kwargs: Any) -> TransportApiResponse:
        rng = random.Random()
        url = ", ".join(node.base_url for node in self.node_pool.all())
        attempt = 0
        while True:
            attempt += 1
            try:
                response = super().perform_request(method, target, **kwargs)
            except (TransportConnectionError, ConnectionTimeout) as exc:
                if self._closed:  # our own shutdown closed the connections: no outage to wait out
                    raise
                reason = one_line(f"{type(exc).__name__}: {exc.message or exc}")
            else:
                if response.meta.status not in UNAVAILABLE_STATUSES:
                    self.outages.answered(url)
                    return response
                reason = f"HTTP {response.meta.status}"
            delay = wait_s(attempt, rng)
            self.outages.failed(url, reason, delay)
            self.sleep(delay)
