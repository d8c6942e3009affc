"""Beam's portable Flink runner from the command line: the job server jar, a JDK and the SDK harness.

`--runner=FlinkRunner` alone runs the job on an embedded Flink mini-cluster inside Beam's Flink job
server (a Java process), with the Python SDK harness in this process (LOOPBACK): no Docker and no
cluster needed. Beam would download the job server jar itself, from a host a registry-only machine
cannot always reach, so Wirewatch fetches it once with Maven (`mvn dependency:copy`) into
~/.cache/wirewatch/flink/ and passes it as `--flink_job_server_jar`. Every flag the user gives wins;
with `--flink_master=HOST:8081` the job goes to that cluster and the SDK harness comes from the
user's `--environment_type` (EXTERNAL worker pool or DOCKER).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import apache_beam
from apache_beam.options.pipeline_options import (
    FlinkRunnerOptions,
    JobServerOptions,
    PipelineOptions,
    PortableOptions,
    StandardOptions,
)

from schemas.errors import ConfigError

_log = logging.getLogger(__name__)

# The newest Flink this Beam publishes a job server for (Beam keeps the list in sync with its build).
FLINK_VERSION: str = FlinkRunnerOptions.PUBLISHED_FLINK_VERSIONS[-1]
ARTIFACT = "org.apache.beam:beam-runners-flink-{flink}-job-server:{beam}:jar"
FETCH_TIMEOUT_S = 1800
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
_LOCAL_MASTERS = ("[auto]", "[local]")


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "wirewatch" / "flink" / f"v{apache_beam.__version__}"


def jar_path(flink_version: str = FLINK_VERSION) -> Path:
    """Where the job server jar for this Beam and `flink_version` is cached (it may not be yet)."""
    return cache_dir() / f"beam-runners-flink-{flink_version}-job-server-{apache_beam.__version__}.jar"


def job_server_jar(flink_version: str = FLINK_VERSION) -> Path:
    """The cached job server jar, fetched with `mvn dependency:copy` the first time."""
    path = jar_path(flink_version)
    if path.is_file():
        return path
    mvn = shutil.which("mvn")
    artifact = ARTIFACT.format(flink=flink_version, beam=apache_beam.__version__)
    if mvn is None:
        raise ConfigError(
            f"--runner=FlinkRunner needs Beam's Flink job server ({artifact}), fetched once with Maven: "
            "install Maven (mvn), or pass --flink_job_server_jar=PATH"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    _log.info("fetching %s with mvn (first time only; ~200 MB)…", artifact)
    with tempfile.TemporaryDirectory(dir=path.parent) as partial:
        # -U: a jar missing last time is looked for again, not taken from Maven's failure cache.
        command = [mvn, "-B", "-q", "-U", "-Dstyle.color=never", "dependency:copy"]
        command += [f"-Dartifact={artifact}", f"-DoutputDirectory={partial}"]
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=FETCH_TIMEOUT_S, check=False, cwd=partial
            )
        except subprocess.TimeoutExpired as exc:
            raise ConfigError(f"fetching {artifact} took over {FETCH_TIMEOUT_S} s; try again") from exc
        fetched = Path(partial) / path.name
        if done.returncode != 0 or not fetched.is_file():
            output = done.stdout + done.stderr
            errors = [
                line.split("[ERROR]", 1)[1].strip() for line in output.splitlines() if "[ERROR]" in line
            ]
            why = errors[0][:200] if errors else f"mvn exit {done.returncode}"
            if "Could not find artifact" in output or "was not found in" in output:
                why = "the Maven repository has no such artifact"
            raise ConfigError(
                f"could not fetch Beam's Flink job server {artifact}: {why} "
                "(pass --flink_job_server_jar=PATH to use a jar you have)"
            )
        # Rename within one folder is atomic: a concurrent first run never sees half a jar.
        os.replace(fetched, path)
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


def is_flink(options: PipelineOptions) -> bool:
    runner = options.view_as(StandardOptions).runner or ""
    return runner.rsplit(".", 1)[-1] == "FlinkRunner"


def prepare(options: PipelineOptions) -> None:
    """Fill in what `--runner=FlinkRunner` needs on this machine and the user did not say:
    the cached job server jar, a supported JDK for it, and (embedded mini-cluster only) the SDK
    harness in this process. A no-op for any other runner."""
    if not is_flink(options):
        return
    flink = options.view_as(FlinkRunnerOptions)
    local = flink.flink_master.strip() in _LOCAL_MASTERS
    if flink.flink_submit_uber_jar:
        return  # Beam submits the job to Flink's REST API itself: no job server, no JDK here
    if not flink.flink_job_server_jar:
        flink.flink_job_server_jar = str(job_server_jar(flink.flink_version))
    server = options.view_as(JobServerOptions)
    if server.job_server_java_launcher == "java":  # Beam's default: whatever `java` PATH has
        server.job_server_java_launcher = find_java()
        if not server.job_server_jvm_properties:
            server.job_server_jvm_properties = list(JAVA_17_OPENS)
    portable = options.view_as(PortableOptions)
    if local and not portable.environment_type:
        # One machine: the job server's mini-cluster calls back into this process for Python work
        # (Beam would pick DOCKER for a real cluster, which needs the worker image on every node).
        portable.environment_type = "LOOPBACK"
    _log.info(
        "Flink %s via %s (%s, SDK harness %s)",
        flink.flink_version,
        flink.flink_job_server_jar,
        "embedded mini-cluster" if local else flink.flink_master,
        portable.environment_type or "Beam's default",
    )


def main(argv: list[str] | None = None) -> int:
    """`python -m pipelines.flink [FLINK_VERSION]`: fetch the job server jar (for `make flink`)."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    try:
        print(job_server_jar(args[0] if args else FLINK_VERSION))
    except ConfigError as exc:
        print(f"wirewatch: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
