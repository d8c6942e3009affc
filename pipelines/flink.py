"""Beam's portable Flink runner from the command line: the job server jar, a JDK and the SDK harness.

`--runner=FlinkRunner` alone runs the job on an embedded Flink mini-cluster inside Beam's Flink job
server (a Java process), with the Python SDK harness in this process (LOOPBACK): no Docker and no
cluster needed. Beam publishes no job server jar a registry-only machine can fetch, but it does
publish the runner module; Wirewatch builds the job server from it once with Maven
(deploy/flink/pom.xml), caches it under ~/.cache/wirewatch/flink/ keyed by the pom's hash, and
passes it as `--flink_job_server_jar`. With `--flink_master=HOST:PORT` the job goes to that
cluster and every TaskManager starts its Python workers with `wirewatch-sdk-worker` (PROCESS).
Every flag the user gives wins.
"""

from __future__ import annotations

import json
import logging
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from apache_beam.options.pipeline_options import (
    FlinkRunnerOptions,
    JobServerOptions,
    PipelineOptions,
    PortableOptions,
    StandardOptions,
)

from pipelines.flink_jar import FLINK_VERSION, JAVA_17_OPENS, find_java, job_server_jar
from schemas.errors import ConfigError

if TYPE_CHECKING:
    from apache_beam.options.pipeline_options import _BeamArgumentParser

_log = logging.getLogger(__name__)

BOOT_COMMAND = "wirewatch-sdk-worker"
_LOCAL_MASTERS = ("[auto]", "[local]")
# Streaming on Flink without checkpoints does not run: Flink then shuts the Impulse source down at
# once, and Beam's PeriodicImpulse stalls within a minute (its deferred residuals pile up on the
# heap). With checkpoints the source stays up; 30 s bounds what a restart replays.
STREAMING_CHECKPOINT_MS = 30_000


class FlinkCheckpointOptions(PipelineOptions):
    """`--checkpointing_interval`, a Java-side FlinkPipelineOptions flag that Beam's Python SDK does
    not declare; declared here so the portable runner passes it on to the job server."""

    @classmethod
    def _add_argparse_args(cls, parser: _BeamArgumentParser) -> None:
        parser.add_argument(
            "--checkpointing_interval",
            type=int,
            default=None,
            help=f"Flink: milliseconds between checkpoints (streaming default {STREAMING_CHECKPOINT_MS})",
        )


def is_local_master(master: str) -> bool:
    """Is `--flink_master` Beam's embedded mini-cluster rather than a cluster's REST address?"""
    return master.strip() in _LOCAL_MASTERS


def is_flink(options: PipelineOptions) -> bool:
    runner = options.view_as(StandardOptions).runner or ""
    return runner.rsplit(".", 1)[-1] == "FlinkRunner"


def boot_command() -> str:
    """This environment's `wirewatch-sdk-worker` (see pipelines/sdk_worker_boot.py)."""
    beside = Path(sys.executable).parent / BOOT_COMMAND
    found = str(beside) if beside.is_file() else shutil.which(BOOT_COMMAND)
    if found is None:
        raise ConfigError(
            f"--flink_master=HOST:PORT starts Python workers with {BOOT_COMMAND}, which is not installed "
            "here: install wirewatch (pip install -e .), or pass --environment_type and --environment_config"
        )
    return found


def prepare(options: PipelineOptions) -> None:
    """Fill in what `--runner=FlinkRunner` needs on this machine and the user did not say: Flink
    1.19, the job server jar (built once), a supported JDK for it, and the SDK harness — this
    process (LOOPBACK) for the embedded mini-cluster, a `wirewatch-sdk-worker` process per
    TaskManager (PROCESS) for a cluster. A no-op for any other runner."""
    if not is_flink(options):
        return
    flink = options.view_as(FlinkRunnerOptions)
    if not flink.flink_job_server_jar:
        if flink.flink_version == FlinkRunnerOptions.PUBLISHED_FLINK_VERSIONS[-1]:  # Beam's default
            flink.flink_version = FLINK_VERSION
        if flink.flink_version != FLINK_VERSION:
            raise ConfigError(
                f"--flink_version={flink.flink_version}: only Beam's Flink {FLINK_VERSION} runner can be "
                "built here; pass --flink_job_server_jar=PATH for another version"
            )
        # The uber-jar submission needs the jar too: it is the base the pipeline is packed into.
        flink.flink_job_server_jar = str(job_server_jar())
    server = options.view_as(JobServerOptions)
    if not flink.flink_submit_uber_jar and server.job_server_java_launcher == "java":
        server.job_server_java_launcher = find_java()  # Beam's default is whatever `java` PATH has
        if not server.job_server_jvm_properties:
            server.job_server_jvm_properties = list(JAVA_17_OPENS)
    checkpoints = options.view_as(FlinkCheckpointOptions)
    if options.view_as(StandardOptions).streaming and checkpoints.checkpointing_interval is None:
        checkpoints.checkpointing_interval = STREAMING_CHECKPOINT_MS
    portable = options.view_as(PortableOptions)
    local = is_local_master(flink.flink_master)
    if not portable.environment_type:
        if local:
            # One machine: the mini-cluster calls back into this process for the Python work.
            portable.environment_type = "LOOPBACK"
        else:
            # Beam would pick DOCKER, which needs a Docker engine on every TaskManager. LOOPBACK
            # breaks with two TaskManagers (both ask for the same worker id); PROCESS gives each
            # TaskManager its own worker, started from the same path on every node.
            portable.environment_type = "PROCESS"
            portable.environment_config = json.dumps({"command": boot_command()})
    _log.info(
        "Flink %s via %s (%s, SDK harness %s)",
        flink.flink_version,
        flink.flink_job_server_jar,
        "embedded mini-cluster" if local else flink.flink_master,
        portable.environment_type,
    )
