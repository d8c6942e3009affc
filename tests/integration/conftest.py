"""Real servers for integration tests. In CI a missing Elasticsearch fails the test, never skips it."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from elasticsearch import Elasticsearch


@pytest.fixture(scope="session")
def es_url() -> str:
    url = os.environ.get("ELASTICSEARCH_URL")
    if not url:
        if os.environ.get("CI"):
            pytest.fail("CI is set but ELASTICSEARCH_URL is not: `make test` starts Elasticsearch")
        pytest.skip("no ELASTICSEARCH_URL: run `make test` (it starts a local Elasticsearch)")
    client = Elasticsearch(url, request_timeout=10)
    try:
        client.cluster.health(wait_for_status="yellow", timeout="30s")
    except Exception as exc:  # noqa: BLE001  (any failure here means "no usable server")
        pytest.fail(f"Elasticsearch at {url} is not usable: {exc}")
    finally:
        client.close()
    return url


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
