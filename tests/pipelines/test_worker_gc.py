"""The collector settings of the processes that run pipeline stages (pipelines/worker_gc.py)."""

from __future__ import annotations

import datetime as dt
import gc
from collections.abc import Iterator

import pytest

from pipelines.normalize import _NormalizeFn
from pipelines.tagging import _TagFn
from pipelines.worker_gc import THRESHOLDS, tune_for_throughput
from schemas.actors import DEFAULT_FOLDER
from schemas.dates import DateWindow
from schemas.records import PipelineInfo
from schemas.topics import DEFAULT_FILE

CPYTHON_DEFAULTS = (700, 10, 10)


@pytest.fixture(autouse=True)
def restore_thresholds() -> Iterator[None]:
    before = gc.get_threshold()
    gc.set_threshold(*CPYTHON_DEFAULTS)
    yield
    gc.set_threshold(*before)


def test_raises_the_defaults_to_the_worker_thresholds() -> None:
    tune_for_throughput()
    assert gc.get_threshold() == THRESHOLDS
    tune_for_throughput()
    assert gc.get_threshold() == THRESHOLDS


def test_never_lowers_a_threshold_set_higher() -> None:
    gc.set_threshold(THRESHOLDS[0] * 4, 5, THRESHOLDS[2] * 2)
    tune_for_throughput()
    assert gc.get_threshold() == (THRESHOLDS[0] * 4, THRESHOLDS[1], THRESHOLDS[2] * 2)


def test_the_stages_every_worker_runs_tune_their_process() -> None:
    normalize = _NormalizeFn(
        dt.datetime(2026, 1, 1, tzinfo=dt.UTC), PipelineInfo(version="t", run_id="r"), DateWindow()
    )
    normalize.setup()
    assert gc.get_threshold() == THRESHOLDS
    gc.set_threshold(*CPYTHON_DEFAULTS)
    _TagFn(str(DEFAULT_FOLDER), str(DEFAULT_FILE)).setup()
    assert gc.get_threshold() == THRESHOLDS
