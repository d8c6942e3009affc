"""No Elasticsearch secret in the job graph: what a runner receives carries the URL, the user name
and which kind of credential to use, never the password or API key.

Beam pickles every DoFn and transform with cloudpickle, compresses it (bz2) and base64-encodes it
into the pipeline proto, so a plain search of the proto bytes would miss a pickled password: every
base64 run in it is decoded and decompressed too. The user name and URL, which the graph does
carry, must be found by the same search, or it is not looking where the secrets would be. So must
the name of a Secret Manager secret version (ELASTICSEARCH_*_SECRET): it is not a secret, and workers
without the launcher's environment (Dataflow's) fetch the value from it.
"""

from __future__ import annotations

import base64
import binascii
import bz2
import re
import zlib
from collections.abc import Iterator, Mapping
from typing import Any

import apache_beam as beam
import pytest
from apache_beam.internal import pickler
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.pipeline import AppliedPTransform, PipelineVisitor
from pydantic import SecretStr

from connectors import es_client
from connectors.es_client import EsEndpoint
from pipelines.ingest import build
from pipelines.options import WirewatchOptions, load_config, move_url_credentials
from tests.conftest import REPO, SEEDS

PASSWORD = "graph-Pa55word-7f3a9c"
API_KEY_PART = "graph-api-key-secret-5d1e"
API_KEY = base64.b64encode(f"key-id-0001:{API_KEY_PART}".encode()).decode()
USER = "graph-user-wirewatch"
HOST = "es-graph.example"
FEEDS = REPO / "seeds" / "feeds.yaml"
VERSION = "projects/graph-project/secrets/graph-es-credential/versions/4"

_BASE64_RUN = re.compile(rb"[A-Za-z0-9+/]{24,}={0,2}")


def _argv(url: str) -> list[str]:
    # Seeds and feeds: every source, dedup, tagging, alerts (the default rules), lineage and sinks.
    return ["--seeds", str(SEEDS), "--feeds", str(FEEDS), "--es-url", url, "--run-id", "graph-test"]


def _build(argv: list[str], env: Mapping[str, str]) -> beam.Pipeline:
    options = PipelineOptions(argv)
    pipeline = beam.Pipeline(options=options)
    build(pipeline, load_config(options, env=env))
    return pipeline


def _unpacked(blob: bytes) -> bytes:
    """A pickled payload as Beam stores it (base64 of bz2 or zlib), or nothing."""
    try:
        raw = base64.b64decode(blob, validate=True)
    except (binascii.Error, ValueError):
        return b""
    for decompress in (bz2.decompress, zlib.decompress):
        try:
            return decompress(raw)
        except (OSError, ValueError, zlib.error):
            continue
    return b""


def _proto_views(pipeline: beam.Pipeline) -> Iterator[bytes]:
    """The serialized pipeline proto, and every pickled payload inside it, unpacked."""
    proto = pipeline.to_runner_api().SerializeToString()
    yield proto
    for match in _BASE64_RUN.finditer(proto):
        unpacked = _unpacked(match.group())
        if unpacked:
            yield unpacked


def _applied(pipeline: beam.Pipeline) -> list[AppliedPTransform]:
    found: list[AppliedPTransform] = []

    class Collect(PipelineVisitor):
        def visit_transform(self, node: AppliedPTransform) -> None:
            found.append(node)

        def enter_composite_transform(self, node: AppliedPTransform) -> None:
            if node.transform is not None:
                found.append(node)

    pipeline.visit(Collect())
    return found


def _pickled_transforms(pipeline: beam.Pipeline) -> Iterator[tuple[str, bytes]]:
    """Every transform of the graph (and the DoFn of every ParDo) pickled as Beam pickles them."""
    for node in _applied(pipeline):
        objects: list[Any] = [node.transform]
        fn = getattr(node.transform, "fn", None)
        if fn is not None:
            objects.append(fn)
        for obj in objects:
            yield node.full_label, _unpacked(pickler.dumps(obj))


def _assert_no_secret(pipeline: beam.Pipeline, secrets: list[str], carried: list[str]) -> None:
    """No form of `secrets` anywhere; every one of `carried` somewhere in the unpacked pickles."""
    forms = {form for s in secrets for form in (s.encode(), base64.b64encode(s.encode()))}
    views = list(_proto_views(pipeline))
    assert len(views) > 10, "found no pickled payloads in the proto: the unpacking is broken"
    for view in views:
        for form in forms:
            assert form not in view, "a secret is in the serialized pipeline proto"
    pickled = list(_pickled_transforms(pipeline))
    assert any(label.endswith("BulkCreate") for label, _ in pickled)
    for label, payload in pickled:
        assert payload, f"{label}: could not unpack Beam's pickle"
        for form in forms:
            assert form not in payload, f"a secret is in the pickled transform {label}"
    # What the graph does carry is found where a pickled secret would be.
    for value in carried:
        assert any(value.encode() in view for view in views[1:]), f"{value} not in the proto's pickles"
        assert any(value.encode() in payload for _, payload in pickled), f"{value} not in the transforms"


def test_a_password_from_the_environment_is_not_in_the_graph(monkeypatch: pytest.MonkeyPatch):
    env = {"ELASTICSEARCH_USERNAME": USER, "ELASTICSEARCH_PASSWORD": PASSWORD}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    pipeline = _build(_argv(f"https://{HOST}:9243"), env)
    _assert_no_secret(pipeline, [PASSWORD, f"{USER}:{PASSWORD}"], carried=[USER, HOST])


def test_an_api_key_from_the_environment_is_not_in_the_graph(monkeypatch: pytest.MonkeyPatch):
    env = {"ELASTICSEARCH_API_KEY": API_KEY}
    monkeypatch.setenv("ELASTICSEARCH_API_KEY", API_KEY)
    pipeline = _build(_argv(f"https://{HOST}:9243"), env)
    _assert_no_secret(pipeline, [API_KEY, API_KEY_PART, f"key-id-0001:{API_KEY_PART}"], carried=[HOST])


def test_a_password_from_a_mounted_file_is_not_in_the_graph(monkeypatch: pytest.MonkeyPatch, tmp_path):
    secret = tmp_path / "es-password"
    secret.write_text(PASSWORD + "\n", encoding="utf-8")
    env = {"ELASTICSEARCH_USERNAME": USER, "ELASTICSEARCH_PASSWORD_FILE": str(secret)}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    pipeline = _build(_argv(f"https://{HOST}:9243"), env)
    _assert_no_secret(pipeline, [PASSWORD], carried=[USER, HOST])


def test_a_password_in_the_url_reaches_neither_the_graph_nor_the_options():
    env: dict[str, str] = {}
    options = PipelineOptions(_argv(f"https://{USER}:{PASSWORD}@{HOST}:9243"))
    move_url_credentials(options, env)
    assert env == {"ELASTICSEARCH_USERNAME": USER, "ELASTICSEARCH_PASSWORD": PASSWORD}
    assert options.view_as(WirewatchOptions).es_url == f"https://{HOST}:9243"
    # What a runner is sent as the job's options.
    assert PASSWORD not in repr(options.get_all_options())
    assert PASSWORD not in repr(options.get_all_options(drop_default=True))
    pipeline = beam.Pipeline(options=options)
    build(pipeline, load_config(options, env=env))
    _assert_no_secret(pipeline, [PASSWORD], carried=[USER, HOST])


def _fake_secret_manager(monkeypatch: pytest.MonkeyPatch, value: str) -> list[str]:
    """Secret Manager holding `value` at VERSION, in place of Beam's GcpSecret; the names asked for."""
    asked: list[str] = []

    def fetch(version: str) -> str:
        asked.append(version)
        return {VERSION: value + "\n"}[version]

    monkeypatch.setattr(es_client, "fetch_gcp_secret", fetch)
    return asked


def _endpoints_a_worker_gets(pipeline: beam.Pipeline) -> list[EsEndpoint]:
    """Every EsEndpoint held by a DoFn of the pipeline rebuilt from its proto, as a worker gets it."""
    rebuilt = beam.Pipeline.from_runner_api(pipeline.to_runner_api(), pipeline.runner, pipeline._options)
    found: list[EsEndpoint] = []
    for node in _applied(rebuilt):
        fn = getattr(node.transform, "fn", None)
        for value in vars(fn).values() if fn is not None else ():
            endpoint = value if isinstance(value, EsEndpoint) else getattr(value, "endpoint", None)
            if isinstance(endpoint, EsEndpoint):
                found.append(endpoint)
    return found


def test_an_api_key_from_secret_manager_is_not_in_the_graph_but_its_version_name_is(
    monkeypatch: pytest.MonkeyPatch,
):
    asked = _fake_secret_manager(monkeypatch, API_KEY)
    env = {"ELASTICSEARCH_API_KEY_SECRET": VERSION}
    monkeypatch.setenv("ELASTICSEARCH_API_KEY_SECRET", VERSION)
    pipeline = _build(_argv(f"https://{HOST}:9243"), env)
    assert asked == [VERSION], "the launching process checks the version it is given"
    _assert_no_secret(
        pipeline, [API_KEY, API_KEY_PART, f"key-id-0001:{API_KEY_PART}"], carried=[HOST, VERSION]
    )
    # A worker with nothing of the launcher's environment fetches the key from the name it carries.
    asked.clear()
    endpoints = _endpoints_a_worker_gets(pipeline)
    assert len(endpoints) >= 3
    for endpoint in endpoints:
        assert endpoint.secret_version == VERSION
        assert endpoint.resolve({}).api_key == SecretStr(API_KEY)
    assert asked == [VERSION] * len(endpoints)


def test_a_password_from_secret_manager_is_not_in_the_graph_but_its_version_name_is(
    monkeypatch: pytest.MonkeyPatch,
):
    asked = _fake_secret_manager(monkeypatch, PASSWORD)
    env = {"ELASTICSEARCH_USERNAME": USER, "ELASTICSEARCH_PASSWORD_SECRET": VERSION}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    pipeline = _build(_argv(f"https://{HOST}:9243"), env)
    assert asked == [VERSION]
    _assert_no_secret(pipeline, [PASSWORD, f"{USER}:{PASSWORD}"], carried=[USER, HOST, VERSION])
    for endpoint in _endpoints_a_worker_gets(pipeline):
        resolved = endpoint.resolve({})
        assert (resolved.username, resolved.password) == (USER, SecretStr(PASSWORD))
