"""The batch graph on Beam's portable runners stores exactly what it stores on the DirectRunner.

The input is the repository's seeds plus three outlets on 127.0.0.1 carrying one story and its
copies (test_dedup_feeds.Outlets), so the run folds exact and near copies, tags, and fires the
example alert rules. Each runner writes into a store of its own, the real Elasticsearch (an index
prefix) or the embedded store (a file); the articles, alerts and dead letters must be the same,
field by field, apart from `VOLATILE` ones.

- `flink-embedded`: `--runner=FlinkRunner --parallelism=2`: Beam's Flink 1.19 job server built
  from deploy/flink/pom.xml, its embedded mini-cluster, the SDK harness in the CLI process.
- `flink-cluster`: the same job on the local session cluster (pipelines.flink_cluster: a
  JobManager and two TaskManagers, separate JVMs), each TaskManager starting its own Python
  worker with `wirewatch-sdk-worker`; the tasks must really spread over both TaskManagers.
- `prism`: Beam's portable runner in Go, the SDK harness in *separate* worker processes started
  from another folder by a worker pool (the form of a worker-pool sidecar).

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
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from connectors.localstore import LocalStore
from pipelines.flink_jar import job_server_jar
from pipelines.local_service import free_port, serving
from pipelines.prism import prism_binary
from tests import copy_corpus
from tests.conftest import SEEDS, delete_prefix
from tests.feed_server import FeedServer
from tests.integration.equivalence import stable, stable_alert
from tests.integration.test_cli import wirewatch
from tests.integration.test_dedup_feeds import Outlets
from tests.integration.test_feeds_cli import new_catalog

pytestmark = [pytest.mark.integration, pytest.mark.slow]

Stored = dict[str, dict[str, dict[str, Any]]]  # "articles" | "alerts" | "dead_letters" → id → doc


@contextlib.contextmanager
def worker_pool(folder: pathlib.Path) -> Iterator[str]:
    """Beam's Python worker pool (the sidecar of a TaskManager), started in `folder`; yields its
    address for `--environment_config`."""
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


def flink_jobs(master: str) -> list[dict[str, Any]]:
    with urllib.request.urlopen(f"http://{master}/jobs/overview", timeout=10) as response:
        jobs: list[dict[str, Any]] = json.load(response)["jobs"]
        return jobs


def taskmanagers_of(master: str, job_id: str) -> set[str]:
    """The TaskManagers that ran some subtask of the job."""
    used: set[str] = set()
    with urllib.request.urlopen(f"http://{master}/jobs/{job_id}", timeout=10) as response:
        vertices = json.load(response)["vertices"]
    for vertex in vertices:
        url = f"http://{master}/jobs/{job_id}/vertices/{vertex['id']}/taskmanagers"
        with urllib.request.urlopen(url, timeout=10) as response:
            used.update(tm["taskmanager-id"] for tm in json.load(response)["taskmanagers"])
    return used


# --- the stores --------------------------------------------------------------------------------


def read_index(client: Elasticsearch, alias: str) -> dict[str, dict[str, Any]]:
    client.indices.refresh(index=alias)
    hits = client.search(index=alias, size=1000, query={"match_all": {}}, sort=["_doc"]).body
    return {h["_id"]: h["_source"] for h in hits["hits"]["hits"]}


class EsStore:
    def __init__(self, es_url: str, prefix: str) -> None:
        self.flags = ["--es-url", es_url, "--es-index-prefix", prefix]
        self._url, self._prefix = es_url, prefix

    def read(self) -> Stored:
        client = Elasticsearch(self._url, request_timeout=30)
        try:
            return {
                kind: read_index(client, f"{self._prefix}-{alias}")
                for kind, alias in (
                    ("articles", "articles"),
                    ("alerts", "alerts"),
                    ("dead_letters", "deadletters"),
                )
            }
        finally:
            client.close()


class EmbeddedStore:
    def __init__(self, path: pathlib.Path) -> None:
        self.flags = ["--store", str(path)]
        self._path = path

    def read(self) -> Stored:
        store = LocalStore(str(self._path))
        try:
            return {
                table: {
                    row[0]: json.loads(row[1]) for row in store._db.execute(f"SELECT id, doc FROM {table}")
                }
                for table in ("articles", "alerts", "dead_letters")
            }
        finally:
            store.close()


@pytest.fixture(params=["elasticsearch", "embedded"])
def new_store(request: pytest.FixtureRequest, tmp_path: pathlib.Path) -> Iterator[Callable[[str], Any]]:
    """Makes a fresh store of the parametrized kind per name; Elasticsearch prefixes are deleted after."""
    prefixes: list[str] = []

    def make(name: str) -> EsStore | EmbeddedStore:
        if request.param == "embedded":
            return EmbeddedStore(tmp_path / f"{name}.db")
        prefixes.append(f"test-{name}-{os.urandom(4).hex()}")
        return EsStore(request.getfixturevalue("es_url"), prefixes[-1])

    yield make
    if prefixes:
        client = Elasticsearch(request.getfixturevalue("es_url"), request_timeout=30)
        try:
            for prefix in prefixes:
                delete_prefix(client, prefix)
        finally:
            client.close()


# --- the runners -------------------------------------------------------------------------------


def _flink_embedded(_: pathlib.Path, __: str | None) -> contextlib.AbstractContextManager[list[str]]:
    job_server_jar()  # built once into ~/.cache/wirewatch/flink (`make flink`); a failed build fails here
    return contextlib.nullcontext(["--runner=FlinkRunner", "--parallelism=2"])


def _flink_cluster(_: pathlib.Path, master: str | None) -> contextlib.AbstractContextManager[list[str]]:
    assert master is not None
    return contextlib.nullcontext(["--runner=FlinkRunner", f"--flink_master={master}", "--parallelism=2"])


@contextlib.contextmanager
def _prism(tmp_path: pathlib.Path, _: str | None) -> Iterator[list[str]]:
    elsewhere = tmp_path / "worker-folder"
    elsewhere.mkdir()
    with worker_pool(elsewhere) as pool:
        yield [
            "--runner=PrismRunner",
            f"--prism_location={prism_binary()}",
            "--environment_type=EXTERNAL",
            f"--environment_config={pool}",
        ]


PORTABLE = {"flink-embedded": _flink_embedded, "flink-cluster": _flink_cluster, "prism": _prism}


def run_once(
    cwd: pathlib.Path, catalog: pathlib.Path, store_flags: list[str], beam_flags: list[str]
) -> dict[str, Any]:
    result = wirewatch(
        "run", "--seeds", "seeds", "--feeds", catalog.name, *store_flags, "--json", *beam_flags, cwd=cwd
    )
    assert result.returncode == 0, result.stderr
    summary: dict[str, Any] = json.loads(result.stdout)
    return summary


@pytest.mark.parametrize("runner", sorted(PORTABLE))
def test_a_portable_runner_stores_what_the_direct_runner_stores(
    runner: str,
    request: pytest.FixtureRequest,
    server: FeedServer,
    tmp_path: pathlib.Path,
    new_store: Callable[[str], EsStore | EmbeddedStore],
):
    master = request.getfixturevalue("flink_master") if runner == "flink-cluster" else None
    jobs_before = {job["jid"] for job in flink_jobs(master)} if master else set()
    outlets = Outlets(server)
    run_dir = tmp_path / "run"
    (run_dir / "seeds").mkdir(parents=True)
    for seed in SEEDS.glob("*.txt"):
        shutil.copy(seed, run_dir / "seeds" / seed.name)
    catalog = new_catalog(run_dir, *outlets.specs)
    stores = {"direct": new_store("direct"), "portable": new_store("portable")}

    direct = run_once(run_dir, catalog, stores["direct"].flags, [])
    with PORTABLE[runner](tmp_path, master) as flags:
        portable = run_once(run_dir, catalog, stores["portable"].flags, flags)

    counts = ("read", "canonical", "duplicates", "near_duplicates", "written", "alerts_fired", "dead_letters")
    assert {k: portable[k] for k in counts} == {k: direct[k] for k in counts}
    assert (direct["read"], direct["canonical"], direct["duplicates"]) == (6, 2, 4)  # 2 seeds + 4 feed items

    got = {name: store.read() for name, store in stores.items()}
    docs, alerts = {n: s["articles"] for n, s in got.items()}, {n: s["alerts"] for n, s in got.items()}
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
    assert got["portable"]["dead_letters"].keys() == got["direct"]["dead_letters"].keys()

    if master:  # the job really ran on the cluster, spread over both TaskManagers
        (job,) = [job for job in flink_jobs(master) if job["jid"] not in jobs_before]
        assert job["state"] == "FINISHED"
        assert taskmanagers_of(master, job["jid"]) == {"taskmanager-1", "taskmanager-2"}


def test_the_cluster_folds_copy_chains_across_workers_as_one_direct_worker_does(
    request: pytest.FixtureRequest, tmp_path: pathlib.Path
):
    """1,160 articles with copy chains (tests/copy_corpus.py) decided at parallelism 2 on the
    cluster's two TaskManagers: the same copies, lineage and alerts as the DirectRunner's."""
    master = request.getfixturevalue("flink_master")
    corpus = copy_corpus.build(tmp_path / "seeds")
    rules = tmp_path / "rules.yaml"
    rules.write_text(copy_corpus.BROAD_RULES, encoding="utf-8")
    stores = {
        "direct": EmbeddedStore(tmp_path / "direct.db"),
        "cluster": EmbeddedStore(tmp_path / "cluster.db"),
    }
    beam_flags = {
        "direct": [],
        "cluster": ["--runner=FlinkRunner", f"--flink_master={master}", "--parallelism=2"],
    }
    summaries = {}
    for name, store in stores.items():
        result = wirewatch(
            "run",
            "--seeds",
            "seeds",
            "--alerts",
            rules.name,
            *store.flags,
            "--json",
            *beam_flags[name],
            cwd=tmp_path,
        )
        assert result.returncode == 0, result.stderr
        summaries[name] = json.loads(result.stdout)
    counts = ("read", "canonical", "duplicates", "near_duplicates", "written", "alerts_fired")
    assert {k: summaries["cluster"][k] for k in counts} == {k: summaries["direct"][k] for k in counts}
    assert summaries["direct"]["read"] == corpus.files
    assert summaries["direct"]["duplicates"] >= len(corpus.chains)

    got = {name: store.read() for name, store in stores.items()}
    for kind, same in (("articles", lambda d: corpus.comparable(stable(d))), ("alerts", stable_alert)):
        direct, cluster = got["direct"][kind], got["cluster"][kind]
        assert cluster.keys() == direct.keys(), kind
        assert {i: same(d) for i, d in cluster.items()} == {i: same(d) for i, d in direct.items()}, kind
    assert len({a["rule_id"] for a in got["direct"]["alerts"].values()}) >= 2
