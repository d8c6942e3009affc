"""Beam's Prism runner binary for streaming on one machine, built once with Go and cached.

Beam's DirectRunner cannot run an unbounded source (it hangs), and Beam downloads Prism from
GitHub releases, which a machine behind a package-registry-only proxy cannot reach. The Go module
proxy can serve Prism's source, so it is built from there and kept under ~/.cache/wirewatch.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile

import apache_beam

from pipelines.user_dirs import user_cache_dir
from schemas.errors import ConfigError

_log = logging.getLogger(__name__)
MODULE = "github.com/apache/beam/sdks/v2/go/cmd/prism"
BUILD_TIMEOUT_S = 1800


def cache_dir() -> str:
    return str(user_cache_dir("prism", f"v{apache_beam.__version__}"))


def prism_binary() -> str:
    """Path to a Prism binary matching the installed Beam, building it on first use."""
    path = os.path.join(cache_dir(), "prism")
    if os.access(path, os.X_OK):
        return path
    go = shutil.which("go")
    if go is None:
        raise ConfigError(
            "wirewatch stream runs on Beam's Prism runner, which is built with Go: install Go, or pass "
            "--prism_location=PATH (a prism binary), or --runner=FlinkRunner"
        )
    os.makedirs(cache_dir(), exist_ok=True)
    _log.info(
        "building Beam's Prism runner v%s with Go (first time only; a few minutes)…", apache_beam.__version__
    )
    with tempfile.TemporaryDirectory(dir=cache_dir()) as gobin:
        command = [go, "install", "-trimpath", "-ldflags=-s -w", f"{MODULE}@v{apache_beam.__version__}"]
        try:
            done = subprocess.run(
                command,
                env={**os.environ, "GOBIN": gobin, "CGO_ENABLED": "0"},
                capture_output=True,
                text=True,
                timeout=BUILD_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise ConfigError(f"building Prism took over {BUILD_TIMEOUT_S} s; try again") from exc
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise ConfigError(f"building Prism with `go install` failed: {last}")
        # Rename within one folder is atomic: a concurrent first run never sees half a binary.
        os.replace(os.path.join(gobin, "prism"), path)
    return path
