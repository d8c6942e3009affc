"""A write block on the articles index (an operator's `index.blocks.write`, or the flood-stage
watermark's read-only block) is a passing state of the cluster: the run waits it out within the
retry bound, and past it fails loudly; the blocked articles never become dead letters."""

from __future__ import annotations

import json
import pathlib
import subprocess
import threading
import time
from collections.abc import Iterator

import pytest
from elasticsearch import Elasticsearch

from connectors.es_indices import IndexNames
from tests.integration.test_cli import WIREWATCH
from tests.integration.test_es_pipeline import _synthetic_seeds

pytestmark = pytest.mark.integration

ARTICLES = 300
BLOCKED_FOR_S = 10.0


@pytest.fixture
def es(es_url: str) -> Iterator[Elasticsearch]:
    client = Elasticsearch(es_url, request_timeout=30)
    yield client
    client.close()


def _set_up_blocked(tmp_path: pathlib.Path, es: Elasticsearch, es_url: str, prefix: str) -> IndexNames:
    """The test's indices, created by `wirewatch es setup`, with the articles index write-blocked."""
    setup = subprocess.run(
        [WIREWATCH, "es", "setup", "--es-url", es_url, "--es-index-prefix", prefix],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert setup.returncode == 0, setup.stderr
    names = IndexNames(prefix)
    es.indices.put_settings(index=names.articles_first_index, settings={"index.blocks.write": True})
    return names


def _lift(es: Elasticsearch, names: IndexNames) -> None:
    es.indices.put_settings(index=names.articles_first_index, settings={"index.blocks.write": None})


def _count(es: Elasticsearch, alias: str) -> int:
    client = es.options(ignore_status=404)
    client.indices.refresh(index=alias)
    return int(client.count(index=alias).body.get("count", 0))


def _run(
    tmp_path: pathlib.Path, es_url: str, prefix: str, seeds: pathlib.Path, *extra: str
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            WIREWATCH,
            "run",
            "--seeds",
            str(seeds),
            "--es-url",
            es_url,
            "--es-index-prefix",
            prefix,
            "--json",
            *extra,
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_write_block_lifted_mid_run_stores_every_article_and_dead_letters_none(
    tmp_path: pathlib.Path, es: Elasticsearch, es_url: str, es_prefix: str
):
    seeds = _synthetic_seeds(tmp_path / "seeds", ARTICLES)
    names = _set_up_blocked(tmp_path, es, es_url, es_prefix)
    lifted = threading.Event()

    def lift_later() -> None:
        time.sleep(BLOCKED_FOR_S)
        _lift(es, names)
        lifted.set()

    lifter = threading.Thread(target=lift_later, daemon=True)
    run = _run(tmp_path, es_url, es_prefix, seeds)
    lifter.start()
    try:
        stdout, stderr = run.communicate(timeout=300)
    finally:
        run.kill()
        lifter.join()
    assert lifted.is_set()
    assert run.returncode == 0, stderr
    summary = json.loads(stdout)
    assert (summary["written"], summary["dead_letters"]) == (ARTICLES, 0), stderr
    assert "cluster_block_exception" in stderr  # the block was met, and waited out
    assert "Traceback" not in stderr
    assert _count(es, names.articles_alias) == ARTICLES
    assert _count(es, names.deadletters_alias) == 0


def test_a_write_block_never_lifted_fails_the_run_in_one_line_without_dead_letters(
    tmp_path: pathlib.Path, es: Elasticsearch, es_url: str, es_prefix: str
):
    seeds = _synthetic_seeds(tmp_path / "seeds", ARTICLES)
    names = _set_up_blocked(tmp_path, es, es_url, es_prefix)
    try:
        run = _run(tmp_path, es_url, es_prefix, seeds, "--es-max-retry-seconds", "3")
        try:
            _, stderr = run.communicate(timeout=300)
        finally:
            run.kill()
    finally:
        _lift(es, names)
    assert run.returncode == 1, stderr
    assert "Traceback" not in stderr
    failure = [line for line in stderr.splitlines() if line.startswith("wirewatch: run failed:")]
    assert len(failure) == 1, stderr
    assert "403 cluster_block_exception" in failure[0]
    assert es_url in failure[0]
    assert _count(es, names.articles_alias) == 0
    assert _count(es, names.deadletters_alias) == 0
