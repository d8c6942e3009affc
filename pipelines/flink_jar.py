"""Beam's Flink 1.19 job server jar, built once from deploy/flink/pom.xml, and a JDK to run it.

Beam publishes no `beam-runners-flink-*-job-server` jar that a registry-only machine can fetch, but
it does publish the runner module; `mvn package` on our pom shades it into a runnable job server,
cached under ~/.cache/wirewatch/flink/ keyed by the pom's hash. No Beam import here: the local
cluster commands (pipelines.flink_cluster) use this module too.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from pipelines.user_dirs import user_cache_dir
from schemas.errors import ConfigError

_log = logging.getLogger(__name__)

# The one Flink whose Beam runner the Maven repository serves (beam-runners-flink-1.19); Beam's own
# default (the newest it publishes a job server for) has no runner there, so it is not buildable.
FLINK_VERSION = "1.19"
POM = Path(__file__).resolve().parents[1] / "deploy" / "flink" / "pom.xml"
JAR_NAME = "wirewatch-flink-job-server.jar"
BUILD_TIMEOUT_S = 1800
JVM_ROOT = Path("/usr/lib/jvm")
# Flink 2.x runs on Java 11, 17 and 21; 17 is what Beam builds and tests the job server with.
SUPPORTED_JAVA = (17, 21, 11)
# Flink serializes JDK classes reflectively; on Java 17 its own launch scripts open these modules.
JAVA_17_OPENS = tuple(
    f"--add-opens=java.base/{package}=ALL-UNNAMED"
    for package in (
        "java.lang",
        "java.lang.reflect",
        "java.io",
        "java.net",
        "java.nio",
        "java.text",
        "java.time",
        "java.util",
        "java.util.concurrent",
        "java.util.concurrent.atomic",
        "sun.nio.ch",
    )
)


def cache_dir() -> Path:
    return user_cache_dir("flink")


def pom_digest(pom: Path = POM) -> str:
    return hashlib.sha256(pom.read_bytes()).hexdigest()[:16]


def jar_path(pom: Path = POM) -> Path:
    """Where the job server built from `pom` is cached (it may not be yet): keyed by the pom's
    hash, so a changed pom builds a new jar and an unchanged one is never rebuilt."""
    return cache_dir() / f"job-server-{pom_digest(pom)}" / JAR_NAME


def job_server_jar(pom: Path = POM) -> Path:
    """The job server jar, built from `pom` with Maven (`mvn package`, shade) the first time."""
    if not pom.is_file():
        raise ConfigError(
            f"--runner=FlinkRunner needs Beam's Flink job server, built from {pom}, which this "
            "installation lacks: run from a clone of the repository, or pass --flink_job_server_jar=PATH"
        )
    path = jar_path(pom)
    if path.is_file():
        return path
    mvn = shutil.which("mvn")
    if mvn is None:
        raise ConfigError(
            "--runner=FlinkRunner needs Beam's Flink job server, built once with Maven: "
            "install Maven (mvn), or pass --flink_job_server_jar=PATH"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    _log.info(
        "building Beam's Flink %s job server with mvn (first time only; ~200 MB download)…", FLINK_VERSION
    )
    with tempfile.TemporaryDirectory(dir=path.parent) as build:
        shutil.copy(pom, Path(build) / "pom.xml")
        command = [mvn, "-B", "-q", "-Dstyle.color=never", "package"]
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S, check=False, cwd=build
            )
        except subprocess.TimeoutExpired as exc:
            raise ConfigError(
                f"building the Flink job server took over {BUILD_TIMEOUT_S} s; try again"
            ) from exc
        built = Path(build) / "target" / JAR_NAME
        if done.returncode != 0 or not built.is_file():
            output = done.stdout + done.stderr
            errors = [
                line.split("[ERROR]", 1)[1].strip() for line in output.splitlines() if "[ERROR]" in line
            ]
            why = errors[0][:300] if errors else f"mvn exit {done.returncode}"
            raise ConfigError(
                f"could not build Beam's Flink job server from {pom}: {why} "
                "(pass --flink_job_server_jar=PATH to use a jar you have)"
            )
        # Rename within one folder is atomic: a concurrent first run never sees half a jar.
        os.replace(built, path)
    return path


def java_major(home: Path) -> int:
    try:
        text = (home / "release").read_text(errors="replace")
    except OSError:
        return 0
    found = re.search(r'^JAVA_VERSION="(\d+)', text, re.M)
    return int(found.group(1)) if found else 0


def find_java(env: dict[str, str] | None = None) -> str:
    """The `java` to start the job server with: $JAVA_HOME's when it is a supported version, else
    the most preferred supported JDK under /usr/lib/jvm, else `java` from PATH."""
    env = dict(os.environ) if env is None else env
    homes = [Path(env["JAVA_HOME"])] if env.get("JAVA_HOME") else []
    if JVM_ROOT.is_dir():
        homes += sorted(JVM_ROOT.iterdir())
    usable = {h.resolve(): java_major(h) for h in homes if (h / "bin" / "java").is_file()}
    usable = {h: v for h, v in usable.items() if v in SUPPORTED_JAVA}
    if env.get("JAVA_HOME") and Path(env["JAVA_HOME"]).resolve() in usable:
        return str(Path(env["JAVA_HOME"]).resolve() / "bin" / "java")
    if usable:
        best = min(usable, key=lambda h: SUPPORTED_JAVA.index(usable[h]))
        return str(best / "bin" / "java")
    java = shutil.which("java")
    if java is None:
        raise ConfigError(
            "--runner=FlinkRunner starts Beam's Flink job server, a Java program: install a JDK 17 "
            "(or set JAVA_HOME), or pass --job_server_java_launcher=PATH"
        )
    return java
