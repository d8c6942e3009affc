"""`wirewatch tag` and `wirewatch actors`, as a user runs them."""

from __future__ import annotations

import json
import pathlib
import shutil

import pytest

from tests.conftest import SEEDS
from tests.integration.test_cli import wirewatch

pytestmark = pytest.mark.integration
REGISTRY = SEEDS / "actors"


def _article(tmp_path: pathlib.Path) -> pathlib.Path:
    body = (SEEDS / "000_c188ed1eebfaaab7.txt").read_text(encoding="utf-8").split(" ", 3)[3]
    path = tmp_path / "article.txt"
    path.write_text(f"Kim ends his visit to Russia\n{body}", encoding="utf-8")
    return path


def test_tag_prints_actors_and_topics_with_their_evidence(tmp_path: pathlib.Path):
    text = _article(tmp_path)
    result = wirewatch("tag", str(text), "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    tags = json.loads(result.stdout)
    document = "Kim ends his visit to Russia\n\n" + text.read_text(encoding="utf-8").split("\n", 1)[1].strip()
    by_id = {a["id"]: a for a in tags["actors"]}
    assert {"Q56226", "Q7747", "Q423", "Q159"} <= set(by_id)
    # "Kim" in the title is Kim Jong Un, named in full in the body; every span is the text it cites.
    assert any(span["start"] == 0 and span["text"] == "Kim" for span in by_id["Q56226"]["evidence"])
    for actor in tags["actors"]:
        for span in actor["evidence"]:
            assert document[span["start"] : span["end"]] == span["text"]
    assert "military.arms_transfer" in tags["topic_ids"]

    plain = wirewatch("tag", cwd=tmp_path, stdin=text.read_text(encoding="utf-8"))
    assert plain.returncode == 0, plain.stderr
    assert "Q56226" in plain.stdout
    assert "Kim Jong Un" in plain.stdout


def test_tag_refuses_an_empty_text_in_one_line(tmp_path: pathlib.Path):
    empty = tmp_path / "empty.txt"
    empty.write_text("  \n", encoding="utf-8")
    result = wirewatch("tag", str(empty), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"wirewatch: {empty}: no text to tag"]


def test_actors_list_show_and_validate(tmp_path: pathlib.Path):
    listed = wirewatch("actors", "list", "--kind", "person", "--json", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert len(json.loads(listed.stdout)) >= 300

    shown = wirewatch("actors", "show", "Vladimir Putin", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith("Vladimir Putin (Q7747, person, RUS)")
    ambiguous = wirewatch("actors", "show", "Kim", cwd=tmp_path)
    assert ambiguous.returncode == 2
    assert "could be" in ambiguous.stderr

    assert wirewatch("actors", "validate", cwd=tmp_path).returncode == 0


def test_validate_reports_every_problem_of_a_broken_registry(tmp_path: pathlib.Path):
    broken = tmp_path / "actors"
    shutil.copytree(REGISTRY, broken)
    people = broken / "people.yaml"
    people.write_text(
        people.read_text(encoding="utf-8").replace("id: Q7747", "id: Q7747x", 1), encoding="utf-8"
    )
    result = wirewatch("actors", "validate", "--actors", str(broken), cwd=tmp_path)
    assert result.returncode == 1
    assert any("Q7747x" in line for line in result.stdout.splitlines())
