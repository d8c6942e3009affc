"""`wirewatch stream`: the streaming graph on Prism, a live status line, and a clean stop on a signal."""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from types import FrameType

import apache_beam as beam
from apache_beam.options.pipeline_options import (
    PipelineOptions,
    PortableOptions,
    PrismRunnerOptions,
    StandardOptions,
)
from apache_beam.runners.runner import PipelineResult, PipelineState

from connectors.localstore import LocalStore
from pipelines import flink
from pipelines.ingest import build
from pipelines.local_service import free_port, serving
from pipelines.options import IngestConfig, load_config, move_url_credentials
from pipelines.prism import prism_binary
from pipelines.run_metrics import counter_totals
from schemas.errors import ConfigError

_log = logging.getLogger(__name__)
STATUS_EVERY_S = 2.0


def _wants_local_prism(options: PipelineOptions) -> bool:
    # DirectRunner hangs on an unbounded source; Prism is Beam's local streaming runner.
    return options.view_as(StandardOptions).runner in (None, "DirectRunner", "PrismRunner")


def _die_with_parent() -> None:
    """In the child before exec: the kernel sends it SIGTERM when we die, even by SIGKILL."""
    libc = ctypes.CDLL(None, use_errno=True)
    pr_set_pdeathsig = 1
    libc.prctl(pr_set_pdeathsig, signal.SIGTERM)


@contextmanager
def _prism_job_server(binary: str) -> Iterator[str]:
    """A Prism job server in its own session, yielding its endpoint.

    Its own session keeps a terminal's Ctrl-C (sent to the whole foreground group) from killing
    the runner before the job is cancelled; Beam's own launcher would share our group.
    """
    port = free_port()
    process = subprocess.Popen(
        # Idle shutdown: if this process dies hard (SIGKILL, OOM), Prism exits on its own once the
        # job is gone instead of lingering as an orphan holding its port.
        [
            binary,
            f"--job_port={port}",
            "--serve_http=false",
            "--log_level=warn",
            "--idle_shutdown_timeout=10s",
        ],
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=_die_with_parent if sys.platform == "linux" else None,
    )
    with serving(
        process, port, within_s=30, what=f"the Prism runner ({binary})", error=ConfigError
    ) as endpoint:
        yield endpoint


def run_stream(
    argv: Sequence[str],
    *,
    on_status: Callable[[dict[str, int], float], None],
    stop: threading.Event | None = None,
) -> dict[str, int]:
    """Run until SIGINT/SIGTERM (or `stop` is set); call `on_status` every few seconds with the
    counters so far. Returns the final counters."""
    options = PipelineOptions(list(argv))
    options.view_as(StandardOptions).streaming = True
    move_url_credentials(options, os.environ)  # for the workers we start; never into the graph
    config: IngestConfig = load_config(options)
    if not config.feeds:
        raise ConfigError("wirewatch stream polls feeds: pass --feeds CATALOG (e.g. seeds/feeds.yaml)")
    if config.elasticsearch is None:
        LocalStore(config.store_path).close()  # create the file and schema before workers race to
    stop = stop or threading.Event()
    if not _wants_local_prism(options):
        flink.prepare(options)  # --runner=FlinkRunner: the cached job server jar, a JDK, LOOPBACK
        # Other runners start their job server inside run(), which owns SIGINT until it returns.
        return _run(options, config, on_status, stop, handle_signals_after_run=True)
    binary = options.view_as(PrismRunnerOptions).prism_location or prism_binary()
    # Our own job server: signals are ours from before it starts, so a SIGTERM during start-up
    # still stops it (a service manager sends SIGTERM whenever it likes).
    with _signals_set(stop), _prism_job_server(binary) as endpoint:
        options.view_as(StandardOptions).runner = "PortableRunner"
        portable = options.view_as(PortableOptions)
        portable.job_endpoint = endpoint
        portable.environment_type = "LOOPBACK"
        return _run(options, config, on_status, stop, handle_signals_after_run=False)


@contextmanager
def _signals_set(stop: threading.Event) -> Iterator[None]:
    """SIGINT and SIGTERM set `stop` instead of killing the process, for the duration."""
    previous = {sig: signal.signal(sig, _setter(stop)) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _run(
    options: PipelineOptions,
    config: IngestConfig,
    on_status: Callable[[dict[str, int], float], None],
    stop: threading.Event,
    *,
    handle_signals_after_run: bool,
) -> dict[str, int]:
    pipeline = beam.Pipeline(options=options)
    build(pipeline, config, streaming=True)
    started = time.monotonic()
    result = pipeline.run()
    failure: list[BaseException] = []
    waiter = threading.Thread(target=_wait, args=(result, stop, failure), daemon=True)
    waiter.start()
    signals = _signals_set(stop) if handle_signals_after_run else contextlib.nullcontext()
    try:
        with signals:
            while not stop.wait(STATUS_EVERY_S):
                on_status(counter_totals(result), time.monotonic() - started)
    finally:
        if not PipelineState.is_terminal(result.state):
            result.cancel()
        waiter.join(timeout=30)
    if failure and result.state == PipelineState.FAILED:
        raise failure[0]
    return counter_totals(result)


def _setter(stop: threading.Event) -> Callable[[int, FrameType | None], None]:
    def handler(signum: int, frame: FrameType | None) -> None:
        _log.info("stopping after %s…", signal.Signals(signum).name)
        stop.set()

    return handler


def _wait(result: PipelineResult, stop: threading.Event, failure: list[BaseException]) -> None:
    """wait_until_finish() once, without a duration: a second call breaks the job's gRPC stream."""
    try:
        result.wait_until_finish()
    except Exception as exc:  # noqa: BLE001  (a failed or cancelled job: reported by the caller)
        failure.append(exc)
    stop.set()
