"""Both generated actor files are what their generators make of the committed extracts, offline, and
`--check` notices a file edited by hand."""

from __future__ import annotations

import shutil
from pathlib import Path
from types import ModuleType

import pytest

from pipelines import actors_officeholders, actors_parties

FOLDER = Path(__file__).resolve().parents[2] / "seeds" / "actors"

# generator, its summary figure of what it generated and that figure's floor, a name in its file
GENERATORS = [
    pytest.param(actors_officeholders, "people", 1500, "Sergey Lavrov", id="officeholders"),
    pytest.param(actors_parties, "parties", 200, "United Russia", id="parties"),
]


@pytest.mark.parametrize(("gen", "figure", "floor", "name"), GENERATORS)
def test_the_committed_file_is_what_the_generator_makes(
    gen: ModuleType, figure: str, floor: int, name: str, capsys: pytest.CaptureFixture[str]
):
    # No network: the extract is committed next to the registry.
    assert gen.main(["--check"]) == 0, capsys.readouterr().err
    text, stats = gen.build(gen.read_extract(FOLDER / gen.EXTRACT_FILE), FOLDER)
    assert text == (FOLDER / gen.OUTPUT_FILE).read_text(encoding="utf-8")
    assert stats[figure] >= floor


@pytest.mark.parametrize(("gen", "figure", "floor", "name"), GENERATORS)
def test_check_fails_on_a_stale_file(
    gen: ModuleType, figure: str, floor: int, name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    folder = tmp_path / "actors"
    shutil.copytree(FOLDER, folder)
    stale = folder / gen.OUTPUT_FILE
    text = stale.read_text(encoding="utf-8")
    assert name in text
    stale.write_text(text.replace(name, name[:-1] + "x", 1), encoding="utf-8")
    assert gen.main(["--check", "--folder", str(folder)]) == 1
    assert "is stale" in capsys.readouterr().err
