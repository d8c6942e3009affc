"""`wirewatch show` in text: the analysis (actors and topics with their evidence in context, the
outlets that carried the story, the copy's original, alerts met), read from a real run."""

from __future__ import annotations

import json
import pathlib
import re
from typing import Any

import pytest

from tests.conftest import SEEDS
from tests.integration.test_cli import wirewatch

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[pathlib.Path, str]:
    """The satellites seed from two outlets, the second a lightly edited copy, through `run`."""
    folder = tmp_path_factory.mktemp("show")
    original = (SEEDS / "000_c188ed1eebfaaab7.txt").read_text(encoding="utf-8")
    for outlet, text in (
        ("one.example", original),
        ("two.example", original.replace("significant", "major")),
    ):
        (folder / "seeds" / outlet).mkdir(parents=True)
        (folder / "seeds" / outlet / "story.txt").write_text(text, encoding="utf-8")
    path = str(folder / "store")
    result = wirewatch(
        "run", "--seeds", str(folder / "seeds" / "*" / "*.txt"), "--store", path, "--json", cwd=folder
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["duplicates"] == 1
    return folder, path


def _docs(folder: pathlib.Path, path: str) -> list[dict[str, Any]]:
    result = wirewatch("search", "satellites", "--all-copies", "--json", "--store", path, cwd=folder)
    hits: list[dict[str, Any]] = json.loads(result.stdout)
    return hits


def test_show_gives_the_tags_with_their_evidence_and_the_outlets(store):
    folder, path = store
    canonical = next(hit for hit in _docs(folder, path) if not hit["duplicate_of"])
    shown = wirewatch("show", canonical["id"], "--store", path, cwd=folder)
    assert shown.returncode == 0, shown.stderr
    text = shown.stdout
    stored = json.loads(wirewatch("show", canonical["id"], "--json", "--store", path, cwd=folder).stdout)
    for actor in stored["actors"]:
        assert f"{actor['name']} ({actor['id']}" in text
    for topic in stored["topics"]:
        assert f"  {topic['id']} (" in text
    # Evidence in its context, marked, as the text has it
    assert re.search(r"leader \[\[Kim Jong Un\]\] recently", text)
    assert "[[satellite" in text
    assert "outlets     2 carried this story:" in text
    assert "one.example" in text
    assert "two.example" in text
    assert stored["alerts"]  # the seed meets the example rules: their ids must show
    for rule in stored["alerts"]:
        assert rule in text.split("alerts", 1)[1].splitlines()[0]


def test_show_says_which_article_a_copy_repeats(store):
    folder, path = store
    copy = next(hit for hit in _docs(folder, path) if hit["duplicate_of"])
    text = wirewatch("show", copy["id"], "--store", path, cwd=folder).stdout
    assert f"copy of     {copy['duplicate_of']} (near, similarity 0." in text


def test_a_short_prefix_is_refused_with_the_minimum(store):
    folder, path = store
    result = wirewatch("show", "2ab87", "--store", path, cwd=folder)
    assert result.returncode == 2
    assert "at least 6 characters" in result.stderr
