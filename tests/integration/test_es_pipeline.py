"""The pipeline into a real Elasticsearch: idempotent writes, rejections, throttling, outages."""

from __future__ import annotations

import json
import pathlib

import apache_beam as beam
import pytest
from apache_beam.testing import test_pipeline, util
from elasticsearch import Elasticsearch

from connectors.elasticsearchio import WriteDeadLettersToElasticsearch, WriteToElasticsearch
from connectors.es_client import EsEndpoint
from connectors.es_indices import IndexNames
from schemas.records import Article
from tests.conftest import SEEDS, seed_articles
from tests.integration.es_proxy import es_proxy
from tests.integration.test_cli import wirewatch

pytestmark = pytest.mark.integration


def _count(es_url: str, alias: str) -> int:
    client = Elasticsearch(es_url)
    try:
        client.indices.refresh(index=alias)
        return int(client.count(index=alias)["count"])
    finally:
        client.close()


def _run(tmp_path: pathlib.Path, es_url: str, prefix: str, *extra: str, seeds: pathlib.Path = SEEDS):
    return wirewatch(
        "run",
        "--seeds",
        str(seeds),
        "--es-url",
        es_url,
        "--es-index-prefix",
        prefix,
        "--json",
        *extra,
        cwd=tmp_path,
    )


def _synthetic_seeds(folder: pathlib.Path, count: int) -> pathlib.Path:
    folder.mkdir()
    for i in range(count):
        day = 1 + i % 28
        text = f" date 2024-02-{day:02d} Report {i} on talks in city{i}. Delegates number {i * 7} met again."
        (folder / f"{i:05d}.txt").write_text(text, encoding="utf-8")
    return folder


def test_seeds_into_elasticsearch_twice(tmp_path: pathlib.Path, es_url: str, es_prefix: str):
    first = _run(tmp_path, es_url, es_prefix)
    assert first.returncode == 0, first.stderr
    assert (json.loads(first.stdout)["written"], json.loads(first.stdout)["dead_letters"]) == (2, 0)

    second = _run(tmp_path, es_url, es_prefix)
    assert second.returncode == 0, second.stderr
    summary = json.loads(second.stdout)
    assert (summary["written"], summary["already_stored"]) == (0, 2)

    alias = IndexNames(es_prefix).articles_alias
    assert _count(es_url, alias) == 2
    client = Elasticsearch(es_url)
    mapping = next(iter(client.indices.get_mapping(index=alias).body.values()))["mappings"]
    client.close()
    assert mapping["properties"]["published_at"]["type"] == "date"
    assert mapping["properties"]["title"]["type"] == "text"
    assert mapping["properties"]["id"]["type"] == "keyword"

    search = wirewatch(
        "search", "satellites", "--es-url", es_url, "--es-index-prefix", es_prefix, "--json", cwd=tmp_path
    )
    assert search.returncode == 0, search.stderr
    hits = json.loads(search.stdout)
    assert hits[0]["published_at"] == "2023-11-09T00:00:00Z"
    assert "[[satellites]]" in hits[0]["snippet"]

    stats = wirewatch("stats", "--es-url", es_url, "--es-index-prefix", es_prefix, "--json", cwd=tmp_path)
    assert json.loads(stats.stdout)["articles"] == 2

    show = wirewatch(
        "show", hits[0]["id"][:8], "--es-url", es_url, "--es-index-prefix", es_prefix, cwd=tmp_path
    )
    assert show.returncode == 0, show.stderr
    assert show.stdout.startswith("In a significant development")


def test_rejected_document_becomes_a_dead_letter_and_the_batch_goes_on(es_url: str, es_prefix: str):
    names = IndexNames(es_prefix)
    client = Elasticsearch(es_url)
    # An index whose owner mapped word_count as a byte: articles over 127 words no longer fit.
    client.indices.create(
        index=names.articles_first_index,
        mappings={"properties": {"word_count": {"type": "byte"}}},
        settings={"number_of_replicas": 0},
        aliases={names.articles_alias: {"is_write_index": True}},
    )
    client.close()
    seeds = seed_articles()
    short = seeds[0].model_copy(update={"id": "f" * 32, "word_count": 12, "body": "A short note on talks."})
    endpoint = EsEndpoint(url=es_url)
    with test_pipeline.TestPipeline() as p:
        refused = (
            p
            | beam.Create([short, *seeds]).with_output_types(Article)
            | WriteToElasticsearch(endpoint=endpoint, names=names, batch_size=10)
        )
        util.assert_that(
            refused | "Project" >> beam.Map(lambda d: (d.stage, d.error_type, d.source)),
            util.equal_to([("write_elasticsearch", "rejected_400", a.source.file) for a in seeds]),
        )
        _ = refused | WriteDeadLettersToElasticsearch(endpoint=endpoint, names=names)

    assert _count(es_url, names.articles_alias) == 1
    client = Elasticsearch(es_url)
    client.indices.refresh(index=names.deadletters_alias)
    letters = client.search(index=names.deadletters_alias, size=10)["hits"]["hits"]
    client.close()
    assert len(letters) == 2
    for hit in letters:
        letter = hit["_source"]
        assert "word_count" in letter["error"]
        assert json.loads(letter["payload"])["id"] in {a.id for a in seeds}


def test_throttled_bulk_requests_are_retried_until_everything_is_in(
    tmp_path: pathlib.Path, es_url: str, es_prefix: str
):
    seeds = _synthetic_seeds(tmp_path / "seeds", 300)
    with es_proxy(es_url) as (proxy_url, plan):
        plan.statuses = [429, 429, 503, 429]
        result = _run(tmp_path, proxy_url, es_prefix, seeds=seeds)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert (summary["written"], summary["already_stored"], summary["dead_letters"]) == (300, 0, 0)
    assert plan.bulk_requests > plan.forwarded_bulk  # the refusals really happened
    assert _count(es_url, IndexNames(es_prefix).articles_alias) == 300


def test_a_node_still_starting_is_waited_for(tmp_path: pathlib.Path, es_url: str, es_prefix: str):
    with es_proxy(es_url) as (proxy_url, plan):
        plan.drop_first = 3  # the template/alias setup meets a closed door three times
        result = _run(tmp_path, proxy_url, es_prefix)
    assert result.returncode == 0, result.stderr
    assert plan.drop_first == 0
    assert json.loads(result.stdout)["written"] == 2


def test_endless_throttling_fails_the_run_within_the_bound(
    tmp_path: pathlib.Path, es_url: str, es_prefix: str
):
    with es_proxy(es_url) as (proxy_url, plan):
        plan.always = 429
        result = _run(tmp_path, proxy_url, es_prefix, "--es-max-retry-seconds", "3")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    failure = [line for line in result.stderr.splitlines() if line.startswith("wirewatch: run failed:")]
    assert len(failure) == 1
    assert "429" in failure[0]
    assert proxy_url in failure[0]


def test_elasticsearch_going_away_mid_run_then_rerun_is_exactly_once(
    tmp_path: pathlib.Path, es_url: str, es_prefix: str
):
    # More than two bulk requests of articles (500 each)
    seeds = _synthetic_seeds(tmp_path / "seeds", 1200)
    with es_proxy(es_url) as (proxy_url, plan):
        plan.down_after = 2  # two bulk requests get through, then the server is gone
        failed = _run(tmp_path, proxy_url, es_prefix, "--es-max-retry-seconds", "3", seeds=seeds)
    assert failed.returncode == 1
    assert "Traceback" not in failed.stderr
    assert any(line.startswith("wirewatch: run failed:") for line in failed.stderr.splitlines())
    alias = IndexNames(es_prefix).articles_alias
    partial = _count(es_url, alias)
    assert 0 < partial < 1200

    rerun = _run(tmp_path, es_url, es_prefix, seeds=seeds)
    assert rerun.returncode == 0, rerun.stderr
    summary = json.loads(rerun.stdout)
    assert (summary["written"], summary["already_stored"]) == (1200 - partial, partial)
    assert _count(es_url, alias) == 1200


def test_unreachable_elasticsearch_is_one_clear_line(tmp_path: pathlib.Path):
    result = wirewatch("stats", "--es-url", "http://127.0.0.1:9", "--json", cwd=tmp_path)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "127.0.0.1:9" in result.stderr


def test_es_setup_status_reset(tmp_path: pathlib.Path, es_url: str, es_prefix: str):
    args = ("--es-url", es_url, "--es-index-prefix", es_prefix)
    setup = wirewatch("es", "setup", *args, "--json", cwd=tmp_path)
    assert setup.returncode == 0, setup.stderr
    assert json.loads(setup.stdout)["created"] is True
    again = wirewatch("es", "setup", *args, "--json", cwd=tmp_path)
    assert json.loads(again.stdout)["created"] is False
    status = wirewatch("es", "status", *args, "--json", cwd=tmp_path)
    assert status.returncode == 0, status.stderr
    text = wirewatch("es", "status", *args, cwd=tmp_path).stdout  # readable: no Python dicts
    names = IndexNames(es_prefix)
    assert f"articles         {names.articles_alias}: 0 documents in {names.articles_first_index}" in text
    assert "templates        7 installed, all at the shipped versions" in text
    assert "{" not in text
    refused = wirewatch("es", "reset", *args, cwd=tmp_path)
    assert refused.returncode == 2
    assert "--yes" in refused.stderr
    reset = wirewatch("es", "reset", *args, "--yes", "--json", cwd=tmp_path)
    assert reset.returncode == 0, reset.stderr
    assert IndexNames(es_prefix).articles_first_index in json.loads(reset.stdout)["deleted"]
