"""Seed paths that are not regular files (issue 15, item 3): a FIFO named *.txt once hung `run` with
no timeout and no dead letter; now such paths are dead letters and the other seeds are stored."""

from __future__ import annotations

import json
import os
import pathlib
import shutil

import pytest

from tests.conftest import SEEDS
from tests.integration.test_cli import wirewatch

pytestmark = pytest.mark.integration


def test_fifo_and_link_to_fifo_among_seeds_are_dead_letters(tmp_path: pathlib.Path):
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    for seed in sorted(SEEDS.glob("*.txt")):
        shutil.copy(seed, seeds / seed.name)
    fifo = seeds / "pipe.txt"
    os.mkfifo(fifo)  # nobody ever writes to it: opening it for reading would block for ever
    (seeds / "link.txt").symlink_to(fifo)  # a link is judged by its target
    store = tmp_path / "w.db"

    # wirewatch() times out after 300 s: the old hang fails the test instead of stalling the suite.
    result = wirewatch("run", "--seeds", str(seeds), "--store", str(store), "--json", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert (summary["read"], summary["written"], summary["dead_letters"]) == (4, 2, 2)
    rejected = {d["source"]: d["error"] for d in summary["rejected"]}
    assert rejected == {
        str(fifo): "is a FIFO (named pipe), not a seed file",
        str(seeds / "link.txt"): "is a FIFO (named pipe), not a seed file",
    }
    stats = wirewatch("stats", "--store", str(store), "--json", cwd=tmp_path)
    assert json.loads(stats.stdout)["articles"] == 2
