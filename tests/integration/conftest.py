"""Real servers for integration tests. In CI a missing Elasticsearch fails the test, never skips it."""

from __future__ import annotations

import pathlib
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from pipelines import flink_cluster
from tests.conftest import delete_prefix, embedded_docs
from tests.integration.test_stream import Articles


@pytest.fixture(scope="session")
def flink_master() -> Iterator[str]:
    """HOST:PORT of the local Flink session cluster (a JobManager and two TaskManagers): the one
    `make flink-cluster-start` left running, else one started for this session and stopped after."""
    running = flink_cluster.read_state()
    if running is not None and flink_cluster.live_pids(running):
        yield running.master
        return
    state = flink_cluster.start(taskmanagers=2)
    try:
        yield state.master
    finally:
        flink_cluster.stop(state)


@pytest.fixture
def es_prefix(es_url: str) -> Iterator[str]:
    """A unique index prefix per test; everything under it is deleted afterwards."""
    prefix = f"test-{uuid.uuid4().hex[:10]}"
    yield prefix
    client = Elasticsearch(es_url, request_timeout=30)
    try:
        delete_prefix(client, prefix)
    finally:
        client.close()


Docs = dict[str, dict[str, Any]]
StoreUnderTest = tuple[list[str], Callable[[], Docs]]


@pytest.fixture(params=["embedded", "elasticsearch"])
def store(request: pytest.FixtureRequest, tmp_path: pathlib.Path) -> Iterator[StoreUnderTest]:
    """The store flags for `wirewatch run`, and a reader of every stored document by id."""
    if request.param == "embedded":
        path = tmp_path / "w.db"
        yield ["--store", str(path)], lambda: embedded_docs(path)
        return
    es_url = request.getfixturevalue("es_url")
    prefix = request.getfixturevalue("es_prefix")
    client = Elasticsearch(es_url, request_timeout=30)

    def read_es() -> Docs:
        client.indices.refresh(index=f"{prefix}-articles")
        hits = client.search(index=f"{prefix}-articles", size=100, query={"match_all": {}}).body
        return {h["_source"]["id"]: h["_source"] for h in hits["hits"]["hits"]}

    try:
        yield ["--es-url", es_url, "--es-index-prefix", prefix], read_es
    finally:
        client.close()


@pytest.fixture
def articles(es_url: str, es_prefix: str) -> Iterator[Articles]:
    """The stream tests' reader of the articles stored under the test's index prefix."""
    client = Elasticsearch(es_url, request_timeout=30)
    try:
        yield Articles(client, es_prefix)
    finally:
        client.close()
