"""The local Flink cluster's make targets, as a user runs them, and what a Flink job submission carries.

`make flink-cluster-start` / `make flink-cluster-stop` run here against a cluster folder of their
own ($WIREWATCH_FLINK_CLUSTER_DIR), beside the session's cluster, which they must not touch.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import pathlib
import re
import subprocess
import urllib.request
import zipfile
from collections.abc import Iterator

import pytest

from pipelines import flink_cluster
from tests.conftest import REPO, SEEDS
from tests.integration.test_cli import wirewatch
from tests.integration.test_stream import alive
from tests.pipelines.test_graph_secrets import _unpacked

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def make(target: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "-s", "-C", str(REPO), target],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def jvms_marked(cluster_id: str) -> list[int]:
    """Every process on the machine whose command line carries this cluster's marker."""
    marker = f"{flink_cluster.MARKER}{cluster_id}".encode()
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if marker in pathlib.Path(entry.path, "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def test_make_starts_two_taskmanagers_and_stop_leaves_no_jvm_of_ours(
    tmp_path: pathlib.Path, flink_master: str
):
    env = {**os.environ, flink_cluster.CLUSTER_DIR_ENV: str(tmp_path / "cluster")}
    started = make("flink-cluster-start", env)
    try:
        assert started.returncode == 0, started.stderr
        (line,) = [line for line in started.stdout.splitlines() if line.startswith("FLINK_MASTER=")]
        master = line.removeprefix("FLINK_MASTER=")
        assert master != flink_master
        with urllib.request.urlopen(f"http://{master}/taskmanagers", timeout=10) as response:
            assert len(json.load(response)["taskmanagers"]) == 2
        state = json.loads((tmp_path / "cluster" / "cluster.json").read_text())
        pids = state["pids"]
        assert sorted(pids) == ["jobmanager", "taskmanager-1", "taskmanager-2"]
        assert all(alive(pid) for pid in pids.values())
        assert sorted(jvms_marked(state["cluster_id"])) == sorted(pids.values())
    finally:
        stopped = make("flink-cluster-stop", env)
    assert stopped.returncode == 0, stopped.stderr
    assert "stopped 3 process(es)" in stopped.stdout
    assert not any(alive(pid) for pid in pids.values())
    assert jvms_marked(state["cluster_id"]) == []
    # Its scratch folder (job jars copied to each TaskManager) goes with it.
    assert not (tmp_path / "cluster" / "tmp").exists()
    # The session's own cluster is untouched.
    with urllib.request.urlopen(f"http://{flink_master}/taskmanagers", timeout=10) as response:
        assert len(json.load(response)["taskmanagers"]) == 2
    again = make("flink-cluster-stop", env)
    assert again.returncode == 0
    assert "no local Flink cluster was running" in again.stdout


# --- what a submission carries ----------------------------------------------------------------

PASSWORD = "flink-Submit-Pa55word-41c9"
USER = "flink-submit-user"
_BASE64_RUN = re.compile(rb"[A-Za-z0-9+/]{24,}={0,2}")


def views(blob: bytes, depth: int = 0) -> Iterator[bytes]:
    """`blob`, and whatever base64 (of bz2/zlib pickles, or of nested protos) inside it decodes to."""
    yield blob
    if depth == 3:
        return
    for match in _BASE64_RUN.finditer(blob):
        unpacked = _unpacked(match.group())
        if not unpacked:
            try:
                unpacked = base64.b64decode(match.group(), validate=True)
            except (binascii.Error, ValueError):
                continue
        yield from views(unpacked, depth + 1)


def test_the_pipeline_submitted_to_flink_carries_no_credential(
    tmp_path: pathlib.Path, es_url: str, es_prefix: str
):
    """Beam's Flink job server writes exactly what it would submit (the pipeline proto, the options,
    the staged artifacts) into a jar with --output_executable_path; nothing in it is the password."""
    jar = tmp_path / "submission.jar"
    env_extra = {"ELASTICSEARCH_USERNAME": USER, "ELASTICSEARCH_PASSWORD": PASSWORD}
    result = wirewatch(
        "run", "--seeds", str(SEEDS), "--es-url", es_url, "--es-index-prefix", es_prefix,
        "--runner=FlinkRunner", f"--output_executable_path={jar}",
        cwd=tmp_path, env=env_extra,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    with zipfile.ZipFile(jar) as packed:
        submitted = {
            name: packed.read(name) for name in packed.namelist() if name.startswith("BEAM-PIPELINE/")
        }
    assert any(name.endswith("pipeline.json") for name in submitted)
    seen = [view for blob in submitted.values() for view in views(blob)]
    # The search reaches into the pickled sinks: the user name they do carry is found there.
    assert any(USER.encode() in view and b"EsEndpoint" in view for view in seen)
    assert not any(PASSWORD.encode() in view for view in seen)
