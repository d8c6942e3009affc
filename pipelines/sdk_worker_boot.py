"""`wirewatch-sdk-worker`: the boot command a Flink TaskManager runs for Beam's PROCESS environment.

With `--environment_type=PROCESS` each TaskManager starts its own Python SDK worker by running a
command with `--id=… --provision_endpoint=HOST:PORT` (Beam's container contract). This command
does what Beam's Go `boot` binary does inside its Docker image, minus installing anything: it asks
the provision service for the pipeline options and the worker's endpoints, then replaces itself
with Beam's SDK worker (`apache_beam.runners.worker.sdk_worker_main`) in this Python environment,
which must already hold wirewatch and its locked dependencies (the venv, or the worker image).

Why not LOOPBACK or one shared worker pool: with two TaskManagers both ask the one pool for a
worker under the same id, and the second is refused; PROCESS gives each TaskManager its own.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile

import grpc
from apache_beam.portability.api import beam_provision_api_pb2, beam_provision_api_pb2_grpc, endpoints_pb2
from google.protobuf import json_format, text_format

PROVISION_TIMEOUT_S = 60

_log = logging.getLogger("wirewatch-sdk-worker")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="wirewatch-sdk-worker", description=__doc__.split("\n\n")[0])
    parser.add_argument("--id", required=True, help="the worker id the runner assigned")
    parser.add_argument("--provision_endpoint", required=True, help="HOST:PORT of Beam's provision service")
    # Older runners pass these as flags; newer ones only through the provision info.
    parser.add_argument("--logging_endpoint", default="")
    parser.add_argument("--control_endpoint", default="")
    parser.add_argument("--artifact_endpoint", default="")
    parser.add_argument("--semi_persist_dir", default="")
    return parser.parse_args(argv)


def provision_info(endpoint: str, worker_id: str) -> beam_provision_api_pb2.ProvisionInfo:
    """The pipeline options and endpoints for `worker_id` (the service tells workers apart by the
    `worker_id` header)."""
    with grpc.insecure_channel(endpoint) as channel:
        stub = beam_provision_api_pb2_grpc.ProvisionServiceStub(channel)
        response = stub.GetProvisionInfo(
            beam_provision_api_pb2.GetProvisionInfoRequest(),
            metadata=[("worker_id", worker_id)],
            timeout=PROVISION_TIMEOUT_S,
        )
    info: beam_provision_api_pb2.ProvisionInfo = response.info
    return info


def _descriptor(endpoint: endpoints_pb2.ApiServiceDescriptor | None, fallback: str) -> str:
    url = endpoint.url if endpoint is not None and endpoint.url else fallback
    descriptor: str = text_format.MessageToString(endpoints_pb2.ApiServiceDescriptor(url=url))
    return descriptor


def worker_environment(
    info: beam_provision_api_pb2.ProvisionInfo, args: argparse.Namespace, base: dict[str, str]
) -> dict[str, str]:
    """The environment Beam's SDK worker reads its configuration from."""
    control = info.control_endpoint.url or args.control_endpoint
    if not control:
        raise SystemExit("wirewatch-sdk-worker: the runner gave no control endpoint")
    env = dict(base)
    env.update(
        WORKER_ID=args.id,
        PIPELINE_OPTIONS=json_format.MessageToJson(info.pipeline_options),
        SEMI_PERSISTENT_DIRECTORY=args.semi_persist_dir or tempfile.mkdtemp(prefix="beam-worker-"),
        CONTROL_API_SERVICE_DESCRIPTOR=_descriptor(info.control_endpoint, control),
        RUNNER_CAPABILITIES=" ".join(info.runner_capabilities),
    )
    logging_url = info.logging_endpoint.url or args.logging_endpoint
    if logging_url:
        env["LOGGING_API_SERVICE_DESCRIPTOR"] = _descriptor(info.logging_endpoint, logging_url)
    if info.status_endpoint.url:
        env["STATUS_API_SERVICE_DESCRIPTOR"] = _descriptor(info.status_endpoint, "")
    return env


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        info = provision_info(args.provision_endpoint, args.id)
    except grpc.RpcError as exc:
        raise SystemExit(
            f"wirewatch-sdk-worker: no provision info from {args.provision_endpoint}: {exc.code().name}"
        ) from None
    if info.dependencies:
        # Staged files (requirements, extra packages) are not installed: this environment is the
        # deployment unit, so a worker never pip-installs at start.
        _log.info("worker %s: %d staged file(s) left alone", args.id, len(info.dependencies))
    env = worker_environment(info, args, dict(os.environ))
    _log.info("worker %s: starting Beam's Python SDK worker (control %s)", args.id, info.control_endpoint.url)
    command = [sys.executable, "-m", "apache_beam.runners.worker.sdk_worker_main"]
    os.execve(sys.executable, command, env)


if __name__ == "__main__":
    main()
