#!/usr/bin/env python3
"""Run a throwaway single-node Elasticsearch on 127.0.0.1 for Wirewatch tests and development.

The official integ-test-zip distribution is fetched with Maven (no Docker) and cached under
$XDG_CACHE_HOME/wirewatch/elasticsearch/<version>/ together with the node's config, data and
logs, so nothing lands in the repository. Stdlib only; see README.md beside this file.

    local_es.py start [--version X] [--port N] [--heap 512m] [--timeout 180]
    local_es.py stop | status [--json] | url

Every command takes --name NAME to address a separate node (own directory, state file and port)
beside the default one; only such a node can run with security on, for local tests only:

    LOCAL_ES_PASSWORD=... local_es.py start --name secure --security --user NAME
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path
from typing import Any

DEFAULT_VERSION = "9.5.3"  # newest 9.x whose integ-test-zip mvn can resolve (see README)
ARTIFACT = "org.elasticsearch.distribution.integ-test-zip:elasticsearch:{v}:zip"
JVM_ROOT = Path("/usr/lib/jvm")
MIN_JAVA = 21
POLL = 0.5  # seconds between health polls
DEFAULT_NAME = "default"  # the node `make test` uses: node/ and node.json, as before names existed
DEFAULT_PORT, NAMED_PORT = 9200, 9201  # each falls back to any free port when taken
PASSWORD_ENV = "LOCAL_ES_PASSWORD"  # the secured node's password: never a flag, never printed
AUTH_GRACE = 10.0  # seconds of steady 401 answers before start gives up on the credentials
NAME_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
USER_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.@-]{0,63}")

State = dict[str, Any]
Auth = tuple[str, str] | None  # (user, password) for HTTP basic auth


class Fail(Exception):
    """An expected failure: reported as one line, without a traceback."""


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def timed(label: str, t0: float) -> None:
    log(f"  {label}: {time.monotonic() - t0:.1f}s")


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "wirewatch" / "elasticsearch"


def state_file(name: str = DEFAULT_NAME) -> Path:
    # One file per node name for all versions: stop/status/url must work without knowing the version.
    return cache_root() / ("node.json" if name == DEFAULT_NAME else f"node-{name}.json")


def node_dir(vdir: Path, name: str) -> Path:
    return vdir / ("node" if name == DEFAULT_NAME else f"node-{name}")


def fetch_zip(version: str, vdir: Path) -> Path:
    """Return the cached distribution zip, asking mvn for it only when it is absent."""
    zip_path = vdir / f"elasticsearch-{version}.zip"
    if zip_path.is_file():
        return zip_path
    mvn = shutil.which("mvn")
    if mvn is None:
        raise Fail("mvn not found on PATH (needed once to fetch the distribution)")
    vdir.mkdir(parents=True, exist_ok=True)
    artifact = ARTIFACT.format(v=version)
    log(f"fetching {artifact} with mvn ...")
    t0 = time.monotonic()
    cmd = [mvn, "-B", "-q", "-Dstyle.color=never", "dependency:copy"]
    cmd += [f"-Dartifact={artifact}", f"-DoutputDirectory={vdir}"]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=vdir, check=False)
    if proc.returncode != 0 or not zip_path.is_file():
        out = proc.stdout + proc.stderr
        errors = [line.split("[ERROR]", 1)[1].strip() for line in out.splitlines() if "[ERROR]" in line]
        why = errors[0][:160] if errors else f"exit {proc.returncode}"
        if "Could not find artifact" in out:
            why = "no such artifact (not every 9.x release has an integ-test-zip)"
        raise Fail(f"mvn could not fetch {artifact}: {why}")
    timed("mvn fetch", t0)
    return zip_path


def unpack(version: str, vdir: Path, zip_path: Path) -> Path:
    """Unpack once into vdir/dist; unzip to a temp dir and rename so a half-unzip is never reused."""
    home = vdir / "dist" / f"elasticsearch-{version}"
    if (home / "bin" / "elasticsearch").is_file():
        return home
    t0 = time.monotonic()
    tmp = vdir / "dist.partial"
    shutil.rmtree(tmp, ignore_errors=True)
    with zipfile.ZipFile(zip_path) as zf:
        for info in zf.infolist():
            target = Path(zf.extract(info, tmp))
            mode = info.external_attr >> 16
            if mode and not info.is_dir():  # zipfile drops the exec bits that bin/ needs
                target.chmod(mode & 0o777)
    shutil.rmtree(vdir / "dist", ignore_errors=True)
    tmp.rename(vdir / "dist")
    timed("unzip", t0)
    return home


def java_major(jdk: Path) -> int:
    try:
        text = (jdk / "release").read_text(errors="replace")
    except OSError:
        return 0
    m = re.search(r'^JAVA_VERSION="(\d+)', text, re.M)
    return int(m.group(1)) if m else 0


def find_jdk() -> Path:
    """Newest JDK >= 21 under /usr/lib/jvm: the integ-test-zip ships without a bundled JDK."""
    jdks = JVM_ROOT.glob("*") if JVM_ROOT.is_dir() else iter(())
    found = {j.resolve(): java_major(j) for j in jdks if (j / "bin" / "java").is_file()}
    found = {j: v for j, v in found.items() if v >= MIN_JAVA}
    if not found:
        raise Fail(f"no JDK >= {MIN_JAVA} under {JVM_ROOT}")
    return max(found, key=lambda j: found[j])


def pick_port(wanted: int) -> int:
    with socket.socket() as s:
        # Like ES itself, ignore TIME_WAIT leftovers of the previous run: only a listener counts.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", wanted))
            return wanted
        except OSError:
            pass
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    log(f"port {wanted} is taken, using {port}")
    return port


def security_settings() -> dict[str, Any]:
    """Basic auth against the file realm only, over plain HTTP: good for local tests, nothing else."""
    return {
        "xpack.security.enabled": True,
        "xpack.security.http.ssl.enabled": False,  # no TLS: the password crosses loopback in clear
        "xpack.security.transport.ssl.enabled": False,  # one node on loopback: only a warning
        # Only the file realm: the native realm and API keys need the .security index, which this
        # distribution cannot create (analysis-common is missing), and the reserved `elastic` user
        # would have no usable password. Anonymous requests get 401.
        "xpack.security.authc.realms.file.local.order": 0,
        "xpack.security.authc.reserved_realm.enabled": False,
    }


def write_config(home: Path, node: Path, port: int, heap: str, name: str, security: bool) -> Path:
    """Write a fresh per-node config on every start, so --port and --heap always apply."""
    conf = node / "config"
    shutil.rmtree(conf, ignore_errors=True)
    shutil.copytree(home / "config", conf)
    for sub in ("data", "logs", "tmp"):
        (node / sub).mkdir(parents=True, exist_ok=True)
    settings: dict[str, Any] = {
        "cluster.name": "wirewatch-dev" if name == DEFAULT_NAME else f"wirewatch-{name}",
        "node.name": "wirewatch-dev-1" if name == DEFAULT_NAME else f"wirewatch-{name}-1",
        "discovery.type": "single-node",
        "network.host": "127.0.0.1",
        "http.port": port,
        "path.data": str(node / "data"),
        "path.logs": str(node / "logs"),
        "xpack.security.enabled": False,
        "xpack.ml.enabled": False,  # accepted by x-pack-core; no ML module ships here anyway
        # Absolute free-space watermarks: a dev disk at 97% used still has room, yet the default
        # percentage flood stage would flip every index to read-only.
        "cluster.routing.allocation.disk.watermark.low": "1gb",
        "cluster.routing.allocation.disk.watermark.high": "500mb",
        "cluster.routing.allocation.disk.watermark.flood_stage": "200mb",
        "action.destructive_requires_name": False,  # lets tests delete indices by wildcard
    }
    if security:
        settings |= security_settings()
    yml = "".join(f"{k}: {json.dumps(v)}\n" for k, v in settings.items())
    (conf / "elasticsearch.yml").write_text(yml)
    (conf / "jvm.options.d" / "heap.options").write_text(f"-Xms{heap}\n-Xmx{heap}\n")
    return conf


def node_env(jdk: Path, conf: Path, node: Path) -> dict[str, str]:
    env = dict(os.environ, ES_JAVA_HOME=str(jdk), ES_PATH_CONF=str(conf), ES_TMPDIR=str(node / "tmp"))
    env.pop("ES_JAVA_OPTS", None)  # the heap comes from jvm.options.d; a stray -Xmx would win
    env.pop(PASSWORD_ENV, None)  # no child needs it in its environment (readable in /proc)
    return env


def add_user(home: Path, env: dict[str, str], user: str, password: str) -> None:
    """Add a superuser to the node's file realm (conf/users, bcrypt-hashed by ES's own tool).

    The password goes in on stdin, which the tool reads when there is no terminal: a -p flag
    would show it to anyone running ps.
    """
    t0 = time.monotonic()
    cmd = [str(home / "bin" / "elasticsearch-users"), "useradd", user, "-r", "superuser"]
    proc = subprocess.run(
        cmd, input=f"{password}\n{password}\n", env=env, capture_output=True, text=True, check=False
    )  # fmt: skip
    if proc.returncode != 0:
        out = (proc.stdout + proc.stderr).replace(password, "***")
        for prompt in ("Enter new password:", "Retype new password:"):
            out = out.replace(prompt, "")
        lines = [line.strip() for line in out.splitlines() if line.strip()]
        why = lines[-1][:160] if lines else f"exit {proc.returncode}"
        raise Fail(f"elasticsearch-users could not add user {user!r}: {why}")
    timed("add file-realm user", t0)


def read_password(user: str | None) -> str:
    password = os.environ.get(PASSWORD_ENV, "")
    if not password:
        raise Fail(f"--security needs the password of {user!r} in ${PASSWORD_ENV} (never a flag)")
    if len(password) < 6:  # the file realm's own minimum
        raise Fail(f"${PASSWORD_ENV} must be at least 6 characters long")
    if any(c in password for c in "\r\n\0"):
        raise Fail(f"${PASSWORD_ENV} must not contain line breaks or NUL")
    return password


def state_auth(st: State) -> Auth:
    """Credentials for a secured node's health checks: its user, the password from the env."""
    user = st.get("user")
    password = os.environ.get(PASSWORD_ENV, "")
    return (user, password) if user and password else None


def launch_cmd(home: Path) -> list[str]:
    cmd = [str(home / "bin" / "elasticsearch")]
    if os.geteuid() != 0:
        return cmd
    # ES refuses to boot as root, and CI here runs as root. In a new user namespace it sees
    # uid 1000 while file access stays root's, so the cache under a 0700 home still works.
    unshare = shutil.which("unshare")
    if unshare is None:
        raise Fail("running as root needs util-linux 'unshare' (Elasticsearch refuses root)")
    return [unshare, "--user", "--map-user=1000", "--map-group=1000", "--", *cmd]


def read_state(name: str = DEFAULT_NAME) -> State | None:
    try:
        st: State = json.loads(state_file(name).read_text())
    except (OSError, ValueError):
        return None
    return st


def alive(pid: int) -> bool:
    # Match the cmdline as well, so a recycled pid is never mistaken for the node.
    try:
        return b"elasticsearch" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def running_state(name: str = DEFAULT_NAME) -> State | None:
    st = read_state(name)
    return st if st and alive(st["pid"]) else None


def probe(url: str, wait: str = "", auth: Auth = None) -> tuple[int | None, State | None]:
    """(HTTP status or None if no answer, cluster health or None)."""
    query = f"?wait_for_status={wait}&timeout=1s" if wait else ""
    req = urllib.request.Request(f"{url}/_cluster/health{query}")
    if auth is not None:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode("ascii")
        req.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            h: State = json.load(resp)
            return resp.status, h
    except urllib.error.HTTPError as e:
        e.close()
        return e.code, None
    except (OSError, ValueError):  # URLError and timeouts are OSErrors
        return None, None


def tail_log(node: Path, n: int = 30) -> str:
    # stdout.log is new on each start and also holds what ES prints before its logger is up.
    try:
        lines = (node / "logs" / "stdout.log").read_text(errors="replace").splitlines()
    except OSError:
        return "(no log written)"
    return "\n".join(lines[-n:]) or "(log is still empty)"


def kill_group(pid: int, grace: float) -> None:
    """SIGTERM the node's process group (CLI launcher + server JVM), SIGKILL after grace."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        deadline = time.monotonic() + wait
        try:
            os.killpg(pid, sig)
            while time.monotonic() < deadline:
                time.sleep(0.1)
                # If start gave up, the launcher is our child: unreaped, it would look alive.
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, os.WNOHANG)
                os.killpg(pid, 0)
        except ProcessLookupError:
            return


def wait_healthy(
    proc: subprocess.Popen[bytes], url: str, node: Path, timeout: float, auth: Auth = None
) -> State:
    deadline = time.monotonic() + timeout
    refused_since: float | None = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log(tail_log(node))
            raise Fail(f"elasticsearch exited early with code {proc.returncode}; log above")
        code, h = probe(url, "yellow", auth)
        if h and h.get("status") in ("yellow", "green"):
            return h
        if code == 401:  # up, but refusing us: give it a moment, then stop waiting for nothing
            refused_since = time.monotonic() if refused_since is None else refused_since
            if time.monotonic() - refused_since > AUTH_GRACE:
                kill_group(proc.pid, grace=10)
                who = f"user {auth[0]!r}" if auth else "anonymous requests"
                raise Fail(f"elasticsearch at {url} keeps answering 401 to {who}")
        else:
            refused_since = None
        time.sleep(POLL)
    log(tail_log(node))
    kill_group(proc.pid, grace=10)
    raise Fail(f"elasticsearch not healthy at {url} after {timeout:.0f}s; log above")


def node_label(name: str) -> str:
    return "Elasticsearch" if name == DEFAULT_NAME else f"Elasticsearch node {name!r}"


def check_security_args(args: argparse.Namespace) -> Auth:
    """The credentials a secured start needs, or None; every misuse is a one-line Fail."""
    if args.user is not None and not args.security:
        raise Fail("--user only applies with --security")
    if not args.security:
        return None
    if args.name == DEFAULT_NAME:
        raise Fail("--security needs --name NAME: the default node stays open (make test uses it)")
    if args.user is None:
        raise Fail("--security needs --user NAME")
    if not USER_RE.fullmatch(args.user):
        raise Fail(f"--user must be 1-64 of A-Z a-z 0-9 _ . @ - (not starting with . @ -), not {args.user!r}")
    return args.user, read_password(args.user)


def check_running(st: State, args: argparse.Namespace, auth: Auth) -> None:
    """A start that finds its node up succeeds only if the node is what was asked for."""
    label = node_label(args.name)
    if st["version"] != args.version:
        raise Fail(f"{label} {st['version']} already running at {st['url']}; stop it first")
    if st.get("user") != (auth and auth[0]):
        now = f"with security, user {st['user']!r}" if st.get("user") else "without security"
        raise Fail(f"{label} is already running {now} at {st['url']}; stop it first")
    if auth is not None and probe(st["url"], auth=auth)[0] == 401:
        raise Fail(f"{label} at {st['url']} refuses user {auth[0]!r} with ${PASSWORD_ENV}; stop it first")


def cmd_start(args: argparse.Namespace) -> int:
    auth = check_security_args(args)
    st = running_state(args.name)
    if st:
        check_running(st, args, auth)
        print(st["url"])
        return 0
    if not re.fullmatch(r"\d+[kmg]", args.heap, re.I):
        raise Fail(f"--heap must look like 512m or 1g, not {args.heap!r}")
    vdir = cache_root() / args.version
    home = unpack(args.version, vdir, fetch_zip(args.version, vdir))
    jdk, node = find_jdk(), node_dir(vdir, args.name)
    wanted = args.port if args.port is not None else DEFAULT_PORT if args.name == DEFAULT_NAME else NAMED_PORT
    port = pick_port(wanted)
    conf = write_config(home, node, port, args.heap, args.name, security=auth is not None)
    env = node_env(jdk, conf, node)
    if auth is not None:
        add_user(home, env, *auth)
    t0 = time.monotonic()
    with open(node / "logs" / "stdout.log", "wb") as out:
        # A new session: the node outlives this script and stop can signal its whole group.
        proc = subprocess.Popen(
            launch_cmd(home), env=env, cwd=node, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
            start_new_session=True,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    st = {"pid": proc.pid, "port": port, "url": url, "version": args.version, "node_dir": str(node)}
    if args.name != DEFAULT_NAME:  # the default node's state file keeps its old shape
        st |= {"name": args.name, "security": auth is not None, "user": auth and auth[0]}
    state_file(args.name).write_text(json.dumps(st, indent=2) + "\n")
    extra = f", security on for user {auth[0]!r}" if auth else ""
    log(
        f"starting {node_label(args.name)} {args.version} (java {java_major(jdk)}, pid {proc.pid}{extra}) ..."
    )
    try:
        h = wait_healthy(proc, url, node, args.timeout, auth)
    except Fail:
        state_file(args.name).unlink(missing_ok=True)
        raise
    timed("start to healthy", t0)
    log(f"cluster {h['cluster_name']} is {h['status']}")
    print(url)
    return 0


def cmd_stop(args: argparse.Namespace) -> int:
    st = read_state(args.name)
    if st and alive(st["pid"]):
        kill_group(st["pid"], grace=30)
        log(f"stopped {node_label(args.name)} pid {st['pid']}")
    else:
        log(f"no {node_label(args.name)} running")
    state_file(args.name).unlink(missing_ok=True)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    st = running_state(args.name) or {}
    code, h = probe(st["url"], auth=state_auth(st)) if st else (None, None)
    info = {"state": "running" if st else "stopped", "version": st.get("version"), "url": st.get("url")}
    # A secured node refuses the health check without $LOCAL_ES_PASSWORD: say so, not "no health".
    info |= {
        "pid": st.get("pid"),
        "health": h.get("status") if h else "unauthorized" if code == 401 else None,
    }
    if args.name != DEFAULT_NAME:
        info |= {"name": args.name, "security": st.get("security"), "user": st.get("user")}
    if args.json:
        print(json.dumps(info))
    else:
        print(" ".join(f"{k}={v}" for k, v in info.items() if v is not None))
    return 0 if st else 3


def cmd_url(args: argparse.Namespace) -> int:
    st = running_state(args.name)
    if st is None:
        log(f"no {node_label(args.name)} running")
        return 1
    print(st["url"])
    return 0


def node_name(value: str) -> str:
    if not NAME_RE.fullmatch(value):
        raise argparse.ArgumentTypeError(
            f"must be 1-32 of a-z 0-9 _ - (starting with a-z 0-9), not {value!r}"
        )
    return value


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    named = argparse.ArgumentParser(add_help=False)
    named.add_argument(
        "--name", type=node_name, default=DEFAULT_NAME,
        help="a separate node with its own directory, port and state file (default: %(default)s)",
    )  # fmt: skip
    s = sub.add_parser("start", help="fetch if needed, start, wait for yellow/green", parents=[named])
    s.add_argument("--version", default=DEFAULT_VERSION)
    s.add_argument(
        "--port", type=int, default=None,
        help=f"used if free, else any free port (default: {DEFAULT_PORT}; {NAMED_PORT} with --name)",
    )  # fmt: skip
    s.add_argument("--heap", default="512m", help="JVM -Xms/-Xmx")
    s.add_argument("--timeout", type=float, default=180, help="seconds to wait for health")
    s.add_argument(
        "--security", action="store_true",
        help=f"basic auth over plain HTTP, local tests only (needs --name, --user and ${PASSWORD_ENV})",
    )  # fmt: skip
    s.add_argument("--user", help=f"superuser to create in the file realm; password from ${PASSWORD_ENV}")
    s.set_defaults(fn=cmd_start)
    sub.add_parser("stop", help="SIGTERM, then SIGKILL", parents=[named]).set_defaults(fn=cmd_stop)
    st = sub.add_parser("status", help="exit 0 if running, 3 if stopped", parents=[named])
    st.add_argument("--json", action="store_true")
    st.set_defaults(fn=cmd_status)
    sub.add_parser("url", help="print the running node's URL", parents=[named]).set_defaults(fn=cmd_url)
    return p.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    cache_root().mkdir(parents=True, exist_ok=True)
    try:
        rc: int = args.fn(args)
    except Fail as e:
        log(f"local_es: error: {e}")
        return 1
    except KeyboardInterrupt:
        return 130
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
