"""A local Flink 1.19 session cluster: one JobManager and N TaskManagers as separate JVMs on 127.0.0.1.

For development and the scale-out tests: the same processes a production Flink cluster runs, only
on one machine. They come from the job server jar (`make flink`), which carries Flink itself, so
nothing else is downloaded. Flink's own launch scripts compute the JVM memory flags and settings;
here they are written out explicitly, small enough for a laptop.

    python -m pipelines.flink_cluster start [--taskmanagers 2] [--slots 2]   # prints FLINK_MASTER=…
    python -m pipelines.flink_cluster stop | status | master | jar

State (ports, pids, config, logs) lives under ~/.cache/wirewatch/flink/cluster/ (or
$WIREWATCH_FLINK_CLUSTER_DIR); `stop` signals only
the processes this module started, recognised by pid *and* a marker on their command line.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import shutil
import signal
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pipelines.flink_jar import JAVA_17_OPENS, cache_dir, find_java, job_server_jar
from pipelines.local_service import free_port
from schemas.errors import ConfigError

JOBMANAGER_MAIN = "org.apache.flink.runtime.entrypoint.StandaloneSessionClusterEntrypoint"
TASKMANAGER_MAIN = "org.apache.flink.runtime.taskexecutor.TaskManagerRunner"
MARKER = "-Dwirewatch.flink.cluster="
START_TIMEOUT_S = 180.0
POLL_S = 0.5

# TaskManager memory, every component spelled out (Flink refuses to derive them outside its
# scripts). The JVM flags below follow from these sizes the way Flink's scripts would set them.
TM_MEMORY_MB = {
    "taskmanager.memory.framework.heap.size": 64,
    "taskmanager.memory.task.heap.size": 768,
    "taskmanager.memory.managed.size": 128,  # sorting for batch GroupByKey; state for streams
    "taskmanager.memory.framework.off-heap.size": 128,
    "taskmanager.memory.task.off-heap.size": 128,  # Beam's gRPC channels to the SDK workers (netty)
    # Beam's fused stages exchange data through many channels: less fails with "Insufficient number
    # of network buffers" as soon as a job has a few shuffles at parallelism 2.
    "taskmanager.memory.network.min": 160,
    "taskmanager.memory.network.max": 160,
    "taskmanager.memory.jvm-metaspace.size": 192,
    "taskmanager.memory.jvm-overhead.min": 64,
    "taskmanager.memory.jvm-overhead.max": 64,
}
JM_HEAP_MB = 384


CLUSTER_DIR_ENV = "WIREWATCH_FLINK_CLUSTER_DIR"


def cluster_dir() -> Path:
    """Where the cluster keeps its state, config and logs; $WIREWATCH_FLINK_CLUSTER_DIR addresses a
    second cluster beside the default one (each stops only its own processes)."""
    return Path(os.environ.get(CLUSTER_DIR_ENV) or cache_dir() / "cluster")


def state_path() -> Path:
    return cluster_dir() / "cluster.json"


@dataclass
class ClusterState:
    """What `start` wrote and `stop`/`status` read back."""

    cluster_id: str
    rest_port: int
    pids: dict[str, int] = field(default_factory=dict)  # process name → pid
    taskmanagers: int = 2

    @property
    def master(self) -> str:
        return f"127.0.0.1:{self.rest_port}"


def read_state() -> ClusterState | None:
    try:
        data: dict[str, Any] = json.loads(state_path().read_text())
        return ClusterState(**data)
    except (OSError, ValueError, TypeError):
        return None


def ours(pid: int, cluster_id: str) -> bool:
    """Is `pid` still a JVM of this cluster? (A recycled pid has another command line.)"""
    try:
        return f"{MARKER}{cluster_id}".encode() in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def live_pids(state: ClusterState) -> dict[str, int]:
    return {name: pid for name, pid in state.pids.items() if ours(pid, state.cluster_id)}


def settings(rest_port: int, rpc_port: int, slots: int, work: Path) -> dict[str, Any]:
    """The cluster's config.yaml: loopback only, small, parent-first class loading."""
    return {
        "jobmanager.rpc.address": "127.0.0.1",
        "jobmanager.rpc.port": rpc_port,
        "jobmanager.bind-host": "127.0.0.1",
        "rest.address": "127.0.0.1",
        "rest.bind-address": "127.0.0.1",
        "rest.port": rest_port,
        "taskmanager.host": "127.0.0.1",
        "taskmanager.bind-host": "127.0.0.1",
        "taskmanager.numberOfTaskSlots": slots,
        "taskmanager.cpu.cores": slots,
        "parallelism.default": 2,
        # Spread a job's tasks over all TaskManagers instead of filling the first one's slots.
        "cluster.evenly-spread-out-slots": True,
        # The job server jar is on every JVM's class path already; child-first loading of the job's
        # copy of it breaks on Beam's vendored netty (IllegalAccessError).
        "classloader.resolve-order": "parent-first",
        "classloader.check-leaked-classloader": False,
        "io.tmp.dirs": str(work / "tmp"),
        "web.tmpdir": str(work / "tmp"),
        "state.checkpoints.dir": f"file://{work / 'checkpoints'}",
        "state.savepoints.dir": f"file://{work / 'savepoints'}",
        "blob.server.port": "0",
        "metrics.internal.query-service.port": "0",
        **{key: f"{mb}m" for key, mb in TM_MEMORY_MB.items()},
    }


def jvm_command(java: str, jar: Path, main: str, conf: Path, cluster_id: str, memory: list[str]) -> list[str]:
    return [
        java,
        *memory,
        *JAVA_17_OPENS,
        f"{MARKER}{cluster_id}",
        "-cp",
        str(jar),
        main,
        "--configDir",
        str(conf),
    ]


def taskmanager_memory_flags() -> list[str]:
    mb = TM_MEMORY_MB
    heap = mb["taskmanager.memory.framework.heap.size"] + mb["taskmanager.memory.task.heap.size"]
    direct = (
        mb["taskmanager.memory.framework.off-heap.size"]
        + mb["taskmanager.memory.task.off-heap.size"]
        + mb["taskmanager.memory.network.max"]
    )
    return [f"-Xmx{heap}m", f"-Xms{heap}m", f"-XX:MaxDirectMemorySize={direct}m",
            f"-XX:MaxMetaspaceSize={mb['taskmanager.memory.jvm-metaspace.size']}m"]  # fmt: skip


def rest(port: int, path: str) -> Any:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
        return json.load(response)


def registered_taskmanagers(port: int) -> int | None:
    """How many TaskManagers the JobManager knows, or None while its REST API does not answer."""
    try:
        return len(rest(port, "/taskmanagers").get("taskmanagers", []))
    except (OSError, ValueError):
        return None


def spawn(command: list[str], log: Path, env: dict[str, str]) -> int:
    """Start a cluster JVM and return its pid. It outlives this process (`make flink-cluster-start`
    returns at once), so no Popen object that would complain about a child still running; in a
    session of its own, so that stop signals the JVM and the SDK workers it started, nothing else."""
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, str(log), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644),
        (os.POSIX_SPAWN_DUP2, 1, 2),
    ]
    return os.posix_spawn(command[0], command, env, file_actions=actions, setsid=True)


def exit_status(pid: int) -> int | None:
    """The exit status of a child that has ended (reaping it), None while it runs."""
    try:
        done, status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:  # not our child (any more): count it as ended only if it is gone
        return None if Path(f"/proc/{pid}").exists() else 0
    return os.waitstatus_to_exitcode(status) if done else None


def tail(log: Path, lines: int = 25) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@contextlib.contextmanager
def _exclusive() -> Iterator[None]:
    """One start or stop at a time per cluster folder: two test sessions starting at once would
    otherwise both start a cluster, and the state file would name only one of them."""
    cluster_dir().mkdir(parents=True, exist_ok=True)
    with (cluster_dir() / ".lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def start(taskmanagers: int = 2, slots: int = 2, timeout_s: float = START_TIMEOUT_S) -> ClusterState:
    """Start the cluster (or return the running one) and wait until all TaskManagers registered."""
    with _exclusive():
        return _start(taskmanagers, slots, timeout_s)


def _start(taskmanagers: int, slots: int, timeout_s: float) -> ClusterState:
    running = read_state()
    if running is not None and live_pids(running):
        if len(live_pids(running)) == len(running.pids):
            return running
        raise ConfigError(f"a partly running local Flink cluster is at {running.master}: stop it first")
    if not 1 <= taskmanagers <= 8:
        raise ConfigError(f"--taskmanagers must be between 1 and 8, not {taskmanagers}")
    if not 1 <= slots <= 16:
        raise ConfigError(f"--slots must be between 1 and 16, not {slots}")
    jar, java = job_server_jar(), find_java()
    work = cluster_dir()
    _clear_scratch(work)
    for sub in ("conf", "logs", "tmp", "checkpoints", "savepoints"):
        (work / sub).mkdir(parents=True, exist_ok=True)
    state = ClusterState(cluster_id=uuid.uuid4().hex[:12], rest_port=free_port(), taskmanagers=taskmanagers)
    conf = work / "conf"
    config = settings(state.rest_port, free_port(), slots, work)
    (conf / "config.yaml").write_text("".join(f"{k}: {json.dumps(v)}\n" for k, v in config.items()))
    env = {**os.environ, "FLINK_CONF_DIR": str(conf)}
    logs = work / "logs"
    for old in logs.glob("*.log"):
        old.unlink()
    processes = {"jobmanager": jvm_command(java, jar, JOBMANAGER_MAIN, conf, state.cluster_id,
                                           [f"-Xmx{JM_HEAP_MB}m", f"-Xms{JM_HEAP_MB}m"])}  # fmt: skip
    for n in range(1, taskmanagers + 1):
        command = jvm_command(java, jar, TASKMANAGER_MAIN, conf, state.cluster_id, taskmanager_memory_flags())
        processes[f"taskmanager-{n}"] = [*command, f"-Dtaskmanager.resource-id=taskmanager-{n}"]
    try:
        for name, command in processes.items():
            state.pids[name] = spawn(command, logs / f"{name}.log", env)
        state_path().write_text(json.dumps(asdict(state), indent=2))
        wait_until_ready(state, logs, timeout_s)
    except BaseException:
        _stop(state, grace_s=15.0)
        raise
    return state


def _clear_scratch(work: Path) -> None:
    """Remove the stopped cluster's scratch folder (io.tmp.dirs).

    Each TaskManager keeps there a copy of every submitted job's jar (~150 MB) under a folder named
    after its resource id, which the next cluster reuses; stopped by a signal, it never deletes
    them, so without this the folder grew by gigabytes a day. Nothing in it outlives a cluster:
    checkpoints and savepoints are kept elsewhere.
    """
    shutil.rmtree(work / "tmp", ignore_errors=True)


def wait_until_ready(state: ClusterState, logs: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        for name, pid in state.pids.items():
            status = exit_status(pid)
            if status is not None:
                raise ConfigError(
                    f"Flink {name} exited at start (status {status}); "
                    f"last lines of {logs / (name + '.log')}:\n{tail(logs / (name + '.log'))}"
                )
        if registered_taskmanagers(state.rest_port) == state.taskmanagers:
            return
        if time.monotonic() > deadline:
            raise ConfigError(
                f"the local Flink cluster did not report {state.taskmanagers} TaskManagers within "
                f"{timeout_s:g} s; logs in {logs}"
            )
        time.sleep(POLL_S)


def stop(state: ClusterState | None = None, grace_s: float = 15.0) -> list[int]:
    """Stop the processes the cluster state names (and their SDK workers); returns their pids."""
    with _exclusive():
        return _stop(state or read_state(), grace_s)


def _stop(state: ClusterState | None, grace_s: float) -> list[int]:
    if state is None:
        return []
    pids = list(live_pids(state).values())
    for sig, wait in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 5.0)):
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and any(ours(pid, state.cluster_id) for pid in pids):
            for pid in pids:  # reap our own children, else they stay zombies that look alive
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, os.WNOHANG)
            time.sleep(0.1)
        if not any(ours(pid, state.cluster_id) for pid in pids):
            _clear_scratch(cluster_dir())
            break
    with contextlib.suppress(FileNotFoundError):
        if (read_state() or state).cluster_id == state.cluster_id:
            state_path().unlink()
    return pids


def status() -> dict[str, Any]:
    state = read_state()
    if state is None or not live_pids(state):
        return {"running": False}
    return {
        "running": True,
        "master": state.master,
        "web_ui": f"http://{state.master}",
        "processes": live_pids(state),
        "taskmanagers_registered": registered_taskmanagers(state.rest_port),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pipelines.flink_cluster", description=__doc__.split("\n\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    begin = commands.add_parser("start", help="start the cluster and print FLINK_MASTER=HOST:PORT")
    begin.add_argument("--taskmanagers", type=int, default=2)
    begin.add_argument("--slots", type=int, default=2, help="task slots per TaskManager")
    begin.add_argument("--timeout", type=float, default=START_TIMEOUT_S, help="seconds to wait for it")
    commands.add_parser("stop", help="stop the processes start started")
    commands.add_parser("status", help="JSON: running, master, pids")
    commands.add_parser("master", help="print HOST:PORT of the running cluster")
    commands.add_parser("jar", help="build the job server jar once and print its path (make flink)")
    args = parser.parse_args(argv)
    try:
        if args.command == "jar":
            print(job_server_jar())
        elif args.command == "start":
            state = start(args.taskmanagers, args.slots, args.timeout)
            print(f"FLINK_MASTER={state.master}")
        elif args.command == "stop":
            stopped = stop()
            print(f"stopped {len(stopped)} process(es)" if stopped else "no local Flink cluster was running")
        elif args.command == "status":
            print(json.dumps(status(), indent=2))
        else:
            now = status()
            if not now["running"]:
                raise ConfigError("no local Flink cluster is running (make flink-cluster-start)")
            print(now["master"])
    except ConfigError as exc:
        print(f"wirewatch: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
