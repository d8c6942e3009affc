"""A helper process serving on a loopback port: pick the port, wait until it listens, stop it."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from collections.abc import Iterator


def free_port() -> int:
    """A loopback port nobody listens on now (bound once, then released for the service)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextlib.contextmanager
def serving(
    process: subprocess.Popen[bytes],
    port: int,
    *,
    within_s: float,
    what: str,
    error: type[Exception] = RuntimeError,
) -> Iterator[str]:
    """Yields `localhost:PORT` once `process` accepts connections there; stops it on exit
    (terminate, then kill after 10 s). Raises `error` naming `what` if it exits or does not
    listen within `within_s`."""
    try:
        deadline = time.monotonic() + within_s
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            if process.poll() is not None:
                raise error(f"{what} exited at start (status {process.returncode})")
            if time.monotonic() > deadline:
                raise error(f"{what} did not listen on port {port} within {within_s:g} s")
            time.sleep(0.1)
        yield f"localhost:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
