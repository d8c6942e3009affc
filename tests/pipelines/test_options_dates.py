"""--earliest-date and --max-future-days: validated into the config's date window before a run."""

from __future__ import annotations

import datetime as dt
import pathlib

import pytest
from apache_beam.options.pipeline_options import PipelineOptions

from pipelines.options import load_config
from schemas.dates import DEFAULT_DATE_WINDOW, DateWindow
from schemas.errors import ConfigError
from tests.conftest import SEEDS

NOW = dt.datetime(2026, 12, 7, 3, 0, tzinfo=dt.UTC)


def config_with(tmp_path: pathlib.Path, *flags: str) -> DateWindow:
    args = ["--seeds", str(SEEDS), "--store", str(tmp_path / "w.db"), "--no-alerts", *flags]
    return load_config(PipelineOptions(args), env={}, now=NOW).dates


def test_the_default_window_is_1990_to_a_day_after_the_start(tmp_path: pathlib.Path):
    window = config_with(tmp_path)
    assert window == DEFAULT_DATE_WINDOW
    assert (window.earliest, window.latest(NOW)) == (
        dt.datetime(1990, 1, 1, tzinfo=dt.UTC),
        dt.datetime(2026, 12, 8, 3, 0, tzinfo=dt.UTC),
    )


def test_the_flags_set_the_window(tmp_path: pathlib.Path):
    window = config_with(tmp_path, "--earliest-date", "2015-06-01", "--max-future-days", "0.5")
    assert window == DateWindow(earliest=dt.datetime(2015, 6, 1, tzinfo=dt.UTC), max_future_days=0.5)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--earliest-date", "1.1.1990"], "--earliest-date must be a date YYYY-MM-DD, got '1.1.1990'"),
        (["--earliest-date", "2027-01-01"], "--earliest-date must be before today, got 2027-01-01"),
        (["--max-future-days", "-1"], "--max-future-days must be between 0 and 366, got -1.0"),
        (["--max-future-days", "nan"], "--max-future-days must be between 0 and 366, got nan"),
    ],
)
def test_bad_values_are_one_line_naming_the_flag(tmp_path: pathlib.Path, flags: list[str], message: str):
    with pytest.raises(ConfigError) as info:
        config_with(tmp_path, *flags)
    assert str(info.value) == message
