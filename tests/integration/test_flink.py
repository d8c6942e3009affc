"""The batch graph on Beam's portable runners stores exactly what it stores on the DirectRunner.

The input is the repository's seeds plus three outlets on 127.0.0.1 carrying one story and its
copies (test_dedup_feeds.Outlets), so the run folds exact and near copies, tags, and fires the
example alert rules. Each runner writes into its own index prefix of the real Elasticsearch; the
documents and the alerts must be the same, field by field, apart from `VOLATILE` ones.

- Flink: `--runner=FlinkRunner --parallelism=2`, i.e. Beam's Flink job server (a cached jar, see
  pipelines/flink.py) with its embedded mini-cluster, and the SDK harness in the CLI process.
- Prism: Beam's portable runner in Go, with the SDK harness in *separate* worker processes started
  from another folder by a worker pool, the form a Flink cluster uses (`--environment_type=EXTERNAL`
  with a worker-pool sidecar): whatever assumes one process, or one working folder, shows here.

Paths are given relative to the run's folder on purpose: a worker elsewhere must still find them.
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import shutil
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from pipelines.flink_jar import job_server_jar
from pipelines.local_service import free_port, serving
from pipelines.prism import prism_binary
from tests.conftest import SEEDS, delete_prefix
from tests.feed_server import FeedServer
from tests.integration.equivalence import stable, stable_alert
from tests.integration.test_cli import wirewatch
from tests.integration.test_dedup_feeds import Outlets
from tests.integration.test_feeds_cli import new_catalog

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def read_index(client: Elasticsearch, alias: str) -> dict[str, dict[str, Any]]:
    client.indices.refresh(index=alias)
    hits = client.search(index=alias, size=1000, query={"match_all": {}}, sort=["_doc"]).body
    return {h["_id"]: h["_source"] for h in hits["hits"]["hits"]}


@contextlib.contextmanager
def worker_pool(folder: pathlib.Path) -> Iterator[str]:
    """Beam's Python worker pool (the sidecar of a Flink TaskManager), started in `folder`; yields
    its address for `--environment_config`."""
    port = free_port()
    bin_dir = str(pathlib.Path(sys.executable).parent)
    process = subprocess.Popen(
        [sys.executable, "-m", "apache_beam.runners.worker.worker_pool_main", f"--service_port={port}"],
        cwd=folder,
        # The pool starts each SDK worker as `python`: this environment's.
        env={**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", "")},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    with serving(process, port, within_s=60, what="the Beam worker pool") as endpoint:
        yield endpoint


def run_once(
    cwd: pathlib.Path, catalog: pathlib.Path, es_url: str, prefix: str, beam_flags: list[str]
) -> dict[str, Any]:
    result = wirewatch(
        "run",
        *("--seeds", "seeds", "--feeds", catalog.name, "--es-url", es_url, "--es-index-prefix", prefix),
        "--json",
        *beam_flags,
        cwd=cwd,
    )
    assert result.returncode == 0, result.stderr
    summary: dict[str, Any] = json.loads(result.stdout)
    return summary


@pytest.fixture
def prefixes(es_url: str) -> Iterator[dict[str, str]]:
    names = {
        "direct": f"test-direct-{os.urandom(4).hex()}",
        "portable": f"test-portable-{os.urandom(4).hex()}",
    }
    yield names
    client = Elasticsearch(es_url, request_timeout=30)
    try:
        for prefix in names.values():
            delete_prefix(client, prefix)
    finally:
        client.close()


def _flink_flags(_: pathlib.Path) -> contextlib.AbstractContextManager[list[str]]:
    # Fetched once into ~/.cache/wirewatch/flink (`make flink`); a failed fetch fails the test.
    job_server_jar()
    return contextlib.nullcontext(["--runner=FlinkRunner", "--parallelism=2"])


@contextlib.contextmanager
def _prism_flags(tmp_path: pathlib.Path) -> Iterator[list[str]]:
    elsewhere = tmp_path / "worker-folder"
    elsewhere.mkdir()
    with worker_pool(elsewhere) as pool:
        yield [
            "--runner=PrismRunner",
            f"--prism_location={prism_binary()}",
            "--environment_type=EXTERNAL",
            f"--environment_config={pool}",
        ]


PORTABLE = {"FlinkRunner": _flink_flags, "PrismRunner": _prism_flags}


@pytest.mark.parametrize("runner", sorted(PORTABLE))
def test_a_portable_runner_stores_what_the_direct_runner_stores(
    runner: str, server: FeedServer, tmp_path: pathlib.Path, es_url: str, prefixes: dict[str, str]
):
    outlets = Outlets(server)
    run_dir = tmp_path / "run"
    (run_dir / "seeds").mkdir(parents=True)
    for seed in SEEDS.glob("*.txt"):
        shutil.copy(seed, run_dir / "seeds" / seed.name)
    catalog = new_catalog(run_dir, *outlets.specs)

    direct = run_once(run_dir, catalog, es_url, prefixes["direct"], [])
    with PORTABLE[runner](tmp_path) as flags:
        portable = run_once(run_dir, catalog, es_url, prefixes["portable"], flags)

    counts = ("read", "canonical", "duplicates", "near_duplicates", "written", "alerts_fired", "dead_letters")
    assert {k: portable[k] for k in counts} == {k: direct[k] for k in counts}
    assert (direct["read"], direct["canonical"], direct["duplicates"]) == (6, 2, 4)  # 2 seeds + 4 feed items

    client = Elasticsearch(es_url, request_timeout=30)
    try:
        docs = {name: read_index(client, f"{prefix}-articles") for name, prefix in prefixes.items()}
        alerts = {name: read_index(client, f"{prefix}-alerts") for name, prefix in prefixes.items()}
        letters = {name: read_index(client, f"{prefix}-deadletters") for name, prefix in prefixes.items()}
    finally:
        client.close()

    assert len(docs["direct"]) == 6
    assert docs["portable"].keys() == docs["direct"].keys()
    for doc_id, doc in docs["direct"].items():
        assert stable(docs["portable"][doc_id]) == stable(doc), doc_id
    # What the comparison above covers, spelled out: dedup decisions, tags and alert ids.
    assert any(d["duplicate_of"] for d in docs["direct"].values())
    assert any(d["actor_ids"] for d in docs["direct"].values())
    assert any(d["alerts"] for d in docs["direct"].values())

    assert len(alerts["direct"]) == direct["alerts_fired"] > 0
    assert alerts["portable"].keys() == alerts["direct"].keys()
    for alert_id, alert in alerts["direct"].items():
        assert stable_alert(alerts["portable"][alert_id]) == stable_alert(alert), alert_id
    assert letters["portable"].keys() == letters["direct"].keys()
