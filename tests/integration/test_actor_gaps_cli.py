"""`wirewatch actors gaps` on a real run's store, embedded and Elasticsearch: the names the
articles mention that no actor covers, most widespread first; registry actors never listed."""

from __future__ import annotations

import json
import pathlib

import pytest

from tests.integration.conftest import StoreUnderTest
from tests.integration.test_cli import wirewatch

pytestmark = pytest.mark.integration

# Made-up names (no registry can have them) among real actors; each article is different text.
ARTICLES = [
    "Envoys of the Qarvath Liberation Front met Zorblat Quennik in Moscow on Tuesday, and Russian "
    "President Vladimir Putin sent a message.",
    "A spokesman said Zorblat Quennik would travel to Beijing next week. Officials in China declined "
    "to comment on the visit.",
    "Fighters loyal to the Qarvath Liberation Front shelled the town, residents told reporters, while "
    "Zorblat Quennik called for calm.",
    "The Velmora Accord was mentioned once by a delegate from Ukraine at the talks in Geneva.",
]


def test_gaps_lists_what_the_registry_lacks(tmp_path: pathlib.Path, store: StoreUnderTest):
    flags, read = store
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    for number, body in enumerate(ARTICLES):
        (seeds / f"{number}.txt").write_text(f"date 2024-05-0{number + 1} {body}", encoding="utf-8")
    made = wirewatch("run", "--seeds", str(seeds), *flags, "--json", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    assert len(read()) == len(ARTICLES)

    result = wirewatch("actors", "gaps", *flags, "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["scanned"] == len(ARTICLES)
    names = [gap["name"] for gap in report["gaps"]]
    assert names[0] == "Zorblat Quennik"  # in 3 articles
    assert "Qarvath Liberation Front" in names  # in 2
    assert report["gaps"][0]["articles"] == 3
    assert "Velmora Accord" not in names  # one article: under --min-articles 2
    for known in ("Vladimir Putin", "Putin", "Moscow", "Beijing", "China", "Russian", "Ukraine"):
        assert known not in names
    example = report["gaps"][0]["examples"][0]
    assert "Zorblat Quennik" in example["context"]

    every = wirewatch("actors", "gaps", *flags, "--min-articles", "1", cwd=tmp_path)
    assert every.returncode == 0, every.stderr
    assert "Velmora Accord" in every.stdout
    assert f"in {len(ARTICLES)} articles" in every.stderr


def test_gaps_without_a_store_says_so_in_one_line(tmp_path: pathlib.Path):
    result = wirewatch("actors", "gaps", "--store", str(tmp_path / "none.db"), cwd=tmp_path)
    assert result.returncode != 0
    assert "run `wirewatch run` first" in result.stderr
    assert "Traceback" not in result.stderr
