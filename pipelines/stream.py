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
import grpc
from apache_beam.options.pipeline_options import (
    FlinkRunnerOptions,
    PipelineOptions,
    PortableOptions,
    PrismRunnerOptions,
    StandardOptions,
)
from apache_beam.runners.runner import PipelineResult, PipelineState
from apache_beam.runners.worker.sdk_worker import BundleProcessorCache

from connectors import counters, flink_rest
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


def _quiet_watcher_rpc_errors() -> None:
    """Beam's own threads that watch the job (state and message streams) die with an RPC error when
    the job server goes away: on a terminal's Ctrl-C, which reaches it too, and when Beam stops it
    at exit. `_wait` reports a real failure once, as one line; their tracebacks would only repeat it
    at length. For the rest of the process, since the exit comes after we return."""
    previous = threading.excepthook

    def hook(args: threading.ExceptHookArgs) -> None:
        if isinstance(args.exc_value, grpc.RpcError):
            _log.debug("%s ended: %s", args.thread.name if args.thread else "a thread", args.exc_value)
        else:
            previous(args)

    threading.excepthook = hook


def _tolerate_bundles_ending_after_shutdown() -> None:
    """With LOOPBACK the SDK worker runs in this process. When the job is cancelled, Beam shuts the
    worker down and discards its active bundles while their threads still run; a bundle that then
    ends normally asks to release a processor that is no longer there, and Beam prints the
    KeyError's traceback to our stderr (seen on about one Ctrl-C in ten). Nothing is lost: the
    bundle's output was already handed over. Such a release is skipped instead."""
    release = BundleProcessorCache.release
    if getattr(release, "_wirewatch_tolerant", False):
        return

    def tolerant_release(cache: BundleProcessorCache, instruction_id: str) -> None:
        with cache._lock:
            discarded = instruction_id not in cache.active_bundle_processors
        if discarded:
            _log.debug("bundle %s ended after the worker shut down", instruction_id)
            return
        release(cache, instruction_id)

    tolerant_release._wirewatch_tolerant = True  # type: ignore[attr-defined]
    BundleProcessorCache.release = tolerant_release  # type: ignore[method-assign,assignment]


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
    _quiet_watcher_rpc_errors()
    _tolerate_bundles_ending_after_shutdown()
    started = time.monotonic()
    result = pipeline.run()
    cluster_job = _ClusterJob.of(options, result)
    read_counters = cluster_job.counters if cluster_job is not None else lambda: counter_totals(result)
    last: dict[str, int] = {}
    failure: list[BaseException] = []
    waiter = threading.Thread(target=_wait, args=(result, stop, failure), daemon=True)
    waiter.start()
    signals = _signals_set(stop) if handle_signals_after_run else contextlib.nullcontext()
    try:
        with signals:
            while not stop.wait(STATUS_EVERY_S):
                last = read_counters() or last
                on_status(last, time.monotonic() - started)
    finally:
        last = read_counters() or last
        _cancel(result, cluster_job)
        waiter.join(timeout=30)
    if cluster_job is not None:
        return last  # the job server may be gone; Flink's counters were read just before the cancel
    if failure and result.state == PipelineState.FAILED:
        raise failure[0]
    return counter_totals(result)


class _ClusterJob:
    """The Flink job behind `result` on a Flink cluster, through Flink's REST API: its live counters
    (Beam's Flink job service reports metrics only once a job ends) and a cancel that works even
    when the job server died first (a terminal's Ctrl-C reaches it as well as us)."""

    def __init__(self, master: str, beam_job_id: str) -> None:
        self._master = master
        self._name = beam_job_id.split("_", 1)[0]  # Beam names the Flink job after its id's first part
        self._id: str | None = None

    @classmethod
    def of(cls, options: PipelineOptions, result: PipelineResult) -> _ClusterJob | None:
        master = options.view_as(FlinkRunnerOptions).flink_master
        job_id = getattr(result, "_job_id", None)
        if not flink.is_flink(options) or flink.is_local_master(master) or not isinstance(job_id, str):
            return None
        return cls(master, job_id)

    def _job_id(self) -> str | None:
        if self._id is None:
            self._id = flink_rest.running_job_id(self._master, self._name)
        return self._id

    def counters(self) -> dict[str, int]:
        try:
            job_id = self._job_id()
            return flink_rest.job_counters(self._master, job_id, counters.NAMESPACE) if job_id else {}
        except flink_rest.FlinkRestError as exc:
            _log.debug("no live counters: %s", exc)
            return {}

    def cancel(self) -> None:
        try:
            job_id = self._job_id()
            if job_id is not None:
                flink_rest.cancel_job(self._master, job_id)
        except flink_rest.FlinkRestError as exc:
            _log.warning(
                "could not cancel the Flink job %s: %s (cancel it in the Flink web UI)", self._name, exc
            )


def _cancel(result: PipelineResult, cluster_job: _ClusterJob | None) -> None:
    """Cancel the job if it still runs, through its job server or, failing that, Flink's REST API."""
    try:
        if not PipelineState.is_terminal(result.state):
            result.cancel()
    except grpc.RpcError as exc:  # the job server is gone (a Ctrl-C to the whole process group)
        if cluster_job is None:
            raise
        _log.debug("job server unreachable (%s); cancelling through Flink's REST API", exc.code())
    if cluster_job is not None:
        cluster_job.cancel()  # a no-op once the job server has cancelled it


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
