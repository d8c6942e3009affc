"""The `wirewatch` command against an Elasticsearch with security on (basic auth, file realm).

A separate node (`local_es.py start --name secure --security`) runs beside the one `make test`
starts, so the default node stays open. Its password is random per module and reaches the node
only through $LOCAL_ES_PASSWORD.

The job graph never carries the password: workers in their own processes read it themselves from
ELASTICSEARCH_PASSWORD, the file ELASTICSEARCH_PASSWORD_FILE names, or what the CLI moved into its
environment from user:password@ in --es-url.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import pathlib
import re
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import quote

import pytest
from elasticsearch import Elasticsearch

from pipelines.local_service import free_port, serving
from pipelines.prism import prism_binary
from tests.conftest import REPO, SEEDS, delete_prefix

pytestmark = [pytest.mark.integration, pytest.mark.slow]

LOCAL_ES = REPO / "deploy" / "elasticsearch" / "local_es.py"
WIREWATCH = str(pathlib.Path(sys.executable).parent / "wirewatch")
NODE = "secure"
USER = "wirewatch-test"
PREFIX = "test-sec"
# local_es.py's own one-line errors when a prerequisite is absent: the only reasons to skip.
MISSING_TOOLS = ("mvn not found on PATH", "no JDK >= ")
LOCK_WAIT_S = 900.0
CREDENTIAL_VARIABLES = (
    "ELASTICSEARCH_USERNAME",
    "ELASTICSEARCH_PASSWORD",
    "ELASTICSEARCH_PASSWORD_FILE",
    "ELASTICSEARCH_API_KEY",
    "ELASTICSEARCH_API_KEY_FILE",
    "ELASTICSEARCH_API_KEY_SECRET",
    "ELASTICSEARCH_PASSWORD_SECRET",
)
# SDK workers in processes of their own: each must find the password itself, the graph has none.
WORKER_PROCESSES = ("--direct_num_workers=2", "--direct_running_mode=multi_processing")


@dataclass(frozen=True)
class SecureNode:
    url: str
    password: str
    start_s: float  # wall clock of `local_es.py start`, provisioning and user setup included


def _local_es(*args: str, password: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "ELASTICSEARCH_URL"}
    return subprocess.run(
        [sys.executable, str(LOCAL_ES), *args, "--name", NODE],
        env={**env, "LOCAL_ES_PASSWORD": password},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@contextlib.contextmanager
def _node_lock() -> Iterator[None]:
    """Hold the node's name for this session: two test sessions on one machine (say, two `make
    test` runs) would otherwise stop, or re-password, each other's node half-way."""
    cache = pathlib.Path(os.environ.get("XDG_CACHE_HOME") or pathlib.Path.home() / ".cache")
    path = cache / "wirewatch" / "elasticsearch" / f"node-{NODE}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as lock:
        deadline = time.monotonic() + LOCK_WAIT_S
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    pytest.fail(f"another test session held {path} for {LOCK_WAIT_S:.0f}s")
                time.sleep(0.5)
        yield  # closing the file releases the lock, also if this process dies


@pytest.fixture(scope="module")
def secure_node() -> Iterator[SecureNode]:
    with _node_lock():
        yield from _secure_node()


def _secure_node() -> Iterator[SecureNode]:
    password = secrets.token_urlsafe(24)
    # Under the lock, a node of this name is a leftover of a session that died before its
    # teardown; its password is lost, and `start` would refuse to reuse it.
    _local_es("stop", password=password)
    try:
        t0 = time.monotonic()
        start = _local_es("start", "--security", "--user", USER, password=password)
        elapsed = time.monotonic() - t0
        output = start.stdout + start.stderr
        assert password not in output, "local_es.py printed the password"
        if start.returncode != 0:
            missing = any(marker in start.stderr for marker in MISSING_TOOLS)
            if missing and not os.environ.get("CI"):
                pytest.skip(f"cannot provision Elasticsearch here: {start.stderr.strip().splitlines()[-1]}")
            pytest.fail(f"local_es.py start --name {NODE} --security failed:\n{start.stderr}")
        yield SecureNode(url=start.stdout.strip(), password=password, start_s=elapsed)
    finally:
        _local_es("stop", password=password)


def _delete_prefix(node: SecureNode) -> None:
    """Everything under PREFIX: the node's data outlives a stop, and the run must write afresh."""
    client = Elasticsearch(node.url, basic_auth=(USER, node.password), request_timeout=30)
    try:
        delete_prefix(client, PREFIX)
    finally:
        client.close()


@pytest.fixture
def clean_prefix(secure_node: SecureNode) -> Iterator[SecureNode]:
    _delete_prefix(secure_node)
    yield secure_node
    _delete_prefix(secure_node)


def _clean_environment() -> dict[str, str]:
    """This process's environment without any Elasticsearch address or credential: those come only
    from the test, never from the shell that runs it."""
    return {k: v for k, v in os.environ.items() if k != "ELASTICSEARCH_URL" and k not in CREDENTIAL_VARIABLES}


def wirewatch(
    *args: str, cwd: pathlib.Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    base = _clean_environment()
    return subprocess.run(
        [WIREWATCH, *args],
        cwd=cwd,
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _run_args(node: SecureNode, *extra: str) -> tuple[str, ...]:
    return ("run", "--seeds", str(SEEDS), "--es-url", node.url, "--es-index-prefix", PREFIX, "--json", *extra)


def _credentials(password: str) -> dict[str, str]:
    return {"ELASTICSEARCH_USERNAME": USER, "ELASTICSEARCH_PASSWORD": password}


def _error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The single `wirewatch:` line a failed run ends with (log lines may come before it)."""
    lines = [line for line in result.stderr.splitlines() if line.startswith("wirewatch:")]
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_run_and_search_with_basic_auth(tmp_path: pathlib.Path, clean_prefix: SecureNode):
    node = clean_prefix
    env = _credentials(node.password)
    run = wirewatch(*_run_args(node), cwd=tmp_path, env=env)
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout)
    assert (summary["written"], summary["dead_letters"]) == (2, 0)

    search = wirewatch(
        "search", "satellites", "--es-url", node.url, "--es-index-prefix", PREFIX, "--json",
        cwd=tmp_path, env=env,
    )  # fmt: skip
    assert search.returncode == 0, search.stderr
    hits = json.loads(search.stdout)
    assert hits, "no hits for 'satellites'"
    assert hits[0]["published_at"] == "2023-11-09T00:00:00Z"
    assert "[[satellites]]" in hits[0]["snippet"]
    for result in (run, search):
        assert node.password not in result.stdout + result.stderr


def test_run_without_credentials_fails_in_one_line(tmp_path: pathlib.Path, secure_node: SecureNode):
    result = wirewatch(*_run_args(secure_node), cwd=tmp_path)
    assert result.returncode != 0
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    line = _error_line(result)
    assert "authentication" in line.lower(), line
    assert "refused the credentials (401)" in line, line
    assert "ELASTICSEARCH_USERNAME" in line, line
    assert secure_node.url in line


@pytest.mark.parametrize("verbose", [False, True], ids=["quiet", "verbose"])
def test_wrong_password_fails_without_echoing_it(
    tmp_path: pathlib.Path, secure_node: SecureNode, verbose: bool
):
    wrong = "wrong-" + secrets.token_urlsafe(18)
    extra = ("-v",) if verbose else ()
    result = wirewatch(*_run_args(secure_node, *extra), cwd=tmp_path, env=_credentials(wrong))
    assert result.returncode != 0
    output = result.stdout + result.stderr
    basic = base64.b64encode(f"{USER}:{wrong}".encode()).decode("ascii")
    for form in (wrong, quote(wrong, safe=""), basic, secure_node.password):
        assert form not in output
    line = _error_line(result)
    assert re.search(rf"unable to authenticate user \[{re.escape(USER)}\]", line), line
    if verbose:
        assert "DEBUG" in result.stderr  # the debug logs really ran, and leaked nothing
    else:
        assert "Traceback" not in result.stderr


def _stored_run_ids(node: SecureNode) -> list[str]:
    """The run id of every article stored under PREFIX."""
    client = Elasticsearch(node.url, basic_auth=(USER, node.password), request_timeout=30)
    try:
        if not client.indices.exists(index=f"{PREFIX}-articles"):
            return []  # nobody got as far as installing the templates and aliases
        client.indices.refresh(index=f"{PREFIX}-articles")
        hits = client.search(index=f"{PREFIX}-articles", size=100, query={"match_all": {}}).body
        return sorted(hit["_source"]["pipeline"]["run_id"] for hit in hits["hits"]["hits"])
    finally:
        client.close()


def _assert_wrote_the_seeds(node: SecureNode, result: subprocess.CompletedProcess[str], run_id: str) -> None:
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert (summary["written"], summary["dead_letters"]) == (2, 0)
    assert _stored_run_ids(node) == [run_id, run_id]
    assert node.password not in result.stdout + result.stderr


@pytest.mark.parametrize("source", ["file", "variable"])
def test_workers_read_the_password_from_a_secret_file_or_the_environment(
    tmp_path: pathlib.Path, clean_prefix: SecureNode, source: str
):
    node = clean_prefix
    if source == "file":  # as Docker and Kubernetes mount secrets: the value and a newline
        secret = tmp_path / "secrets" / "es-password"
        secret.parent.mkdir()
        secret.write_text(node.password + "\n", encoding="utf-8")
        secret.chmod(0o600)
        env = {"ELASTICSEARCH_USERNAME": USER, "ELASTICSEARCH_PASSWORD_FILE": str(secret)}
    else:
        env = _credentials(node.password)
    run_id = f"secret-{source}"
    result = wirewatch(*_run_args(node, "--run-id", run_id, *WORKER_PROCESSES), cwd=tmp_path, env=env)
    _assert_wrote_the_seeds(node, result, run_id)


def test_workers_get_the_password_of_a_url_through_the_environment(
    tmp_path: pathlib.Path, clean_prefix: SecureNode
):
    node = clean_prefix
    url = node.url.replace("://", f"://{quote(USER, safe='')}:{quote(node.password, safe='')}@", 1)
    args = ("run", "--seeds", str(SEEDS), "--es-url", url, "--es-index-prefix", PREFIX, "--json")
    result = wirewatch(*args, "--run-id", "secret-url", *WORKER_PROCESSES, cwd=tmp_path)
    _assert_wrote_the_seeds(node, result, "secret-url")


@contextlib.contextmanager
def _remote_workers(folder: pathlib.Path, env: dict[str, str]) -> Iterator[list[str]]:
    """Beam flags for Prism with its SDK workers in a worker pool of their own (as on a Flink
    cluster): started beforehand, with `env` and not the CLI's environment."""
    port = free_port()
    bin_dir = str(pathlib.Path(sys.executable).parent)
    base = _clean_environment()
    process = subprocess.Popen(
        [sys.executable, "-m", "apache_beam.runners.worker.worker_pool_main", f"--service_port={port}"],
        cwd=folder,
        # The pool starts each SDK worker as `python`: this environment's.
        env={**base, "PATH": bin_dir + os.pathsep + base.get("PATH", ""), **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    with serving(process, port, within_s=60, what="the Beam worker pool") as endpoint:
        yield [
            "--runner=PrismRunner",
            f"--prism_location={prism_binary()}",
            "--environment_type=EXTERNAL",
            f"--environment_config={endpoint}",
        ]


def test_remote_workers_read_the_password_from_their_own_secret_file(
    tmp_path: pathlib.Path, clean_prefix: SecureNode
):
    node = clean_prefix
    secret = tmp_path / "worker-secrets" / "es-password"  # mounted on the workers only
    secret.parent.mkdir()
    secret.write_text(node.password + "\n", encoding="utf-8")
    worker_env = {"ELASTICSEARCH_PASSWORD_FILE": str(secret)}
    with _remote_workers(tmp_path, worker_env) as flags:
        result = wirewatch(
            *_run_args(node, "--run-id", "secret-remote", *flags),
            cwd=tmp_path,
            env=_credentials(node.password),
        )
    _assert_wrote_the_seeds(node, result, "secret-remote")


def test_remote_workers_without_the_password_fail_in_one_line(
    tmp_path: pathlib.Path, clean_prefix: SecureNode
):
    node = clean_prefix
    with _remote_workers(tmp_path, {}) as flags:
        result = wirewatch(*_run_args(node, *flags), cwd=tmp_path, env=_credentials(node.password))
    assert result.returncode != 0
    assert node.password not in result.stdout + result.stderr
    line = _error_line(result)
    assert (
        f"Elasticsearch at {node.url}: the job authenticates as user '{USER}', but this worker has no "
        "password: set ELASTICSEARCH_PASSWORD or ELASTICSEARCH_PASSWORD_FILE in its environment"
    ) in line, line
    assert _stored_run_ids(node) == []
