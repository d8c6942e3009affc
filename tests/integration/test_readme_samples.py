"""The README's samples after `make run` (the seeds into a fresh store) come out as printed there."""

from __future__ import annotations

import pathlib
import re

import pytest

from tests.conftest import REPO, SEEDS
from tests.integration.test_cli import wirewatch

pytestmark = pytest.mark.integration

README = (REPO / "README.md").read_text(encoding="utf-8")


def _sample_after(command: str) -> str:
    """The output line the README prints after `$ <command>`."""
    lines = README.splitlines()
    return lines[lines.index(f"$ {command}") + 1]


def _shape(line: str) -> str:
    """A line with its versions, dates, times and durations masked: what may differ per day."""
    line = re.sub(r"\d{4}\.\d{2}\.\d{2}\.\d+", "V", line)
    line = re.sub(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", "T", line)
    return re.sub(r"elapsed \d+\.\ds", "elapsed E", line)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    here = tmp_path_factory.mktemp("readme")
    result = wirewatch("run", "--seeds", str(SEEDS), "--store", str(here / "store"), cwd=here)
    assert result.returncode == 0, result.stderr
    return here


@pytest.mark.parametrize("command", ["wirewatch retag", "wirewatch retag --force"])
def test_the_retag_samples(folder: pathlib.Path, command: str) -> None:
    result = wirewatch(*command.split()[1:], "--store", str(folder / "store"), cwd=folder)
    assert result.returncode == 0, result.stderr
    assert _shape(result.stdout.strip()) == _shape(_sample_after(command))


def test_the_alerts_test_sample(folder: pathlib.Path) -> None:
    command = "wirewatch alerts test seeds/alerts.yaml --since all"
    args = command.split()[1:]
    args[2] = str(REPO / "seeds" / "alerts.yaml")
    result = wirewatch(*args, "--store", str(folder / "store"), cwd=folder)
    assert result.returncode == 0, result.stderr
    printed = [_shape(line.replace(args[2], "seeds/alerts.yaml")) for line in result.stdout.splitlines()]
    lines = README.splitlines()
    start = lines.index(f"$ {command}") + 1
    assert printed == [_shape(line) for line in lines[start : start + len(printed)]]
