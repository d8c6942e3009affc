"""Real servers for integration tests. In CI a missing Elasticsearch fails the test, never skips it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from elasticsearch import Elasticsearch

from tests.conftest import delete_prefix


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
