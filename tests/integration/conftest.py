"""Real servers for integration tests. In CI a missing Elasticsearch fails the test, never skips it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from elasticsearch import Elasticsearch


@pytest.fixture
def es_prefix(es_url: str) -> Iterator[str]:
    """A unique index prefix per test; everything under it is deleted afterwards."""
    prefix = f"test-{uuid.uuid4().hex[:10]}"
    yield prefix
    client = Elasticsearch(es_url, request_timeout=30)
    try:
        client.options(ignore_status=404).indices.delete(index=f"{prefix}-*", expand_wildcards="all")
        for template in (
            client.options(ignore_status=404)
            .indices.get_index_template(name=f"{prefix}-*")
            .get("index_templates", [])
        ):
            client.indices.delete_index_template(name=template["name"])
        components = client.options(ignore_status=404).cluster.get_component_template(name=f"{prefix}-*")
        for component in components.get("component_templates", []):
            client.cluster.delete_component_template(name=component["name"])
    finally:
        client.close()
