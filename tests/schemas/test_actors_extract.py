"""Both generated actor files are what their generators make of the committed extracts, offline, and
`--check` notices a file edited by hand."""

from __future__ import annotations

import shutil
from pathlib import Path
from types import ModuleType

import pytest

from pipelines import actors_legislators, actors_officeholders, actors_parties

FOLDER = Path(__file__).resolve().parents[2] / "seeds" / "actors"

# generator, its summary figure of what it generated and that figure's floor, a name in its file
GENERATORS = [
    pytest.param(actors_officeholders, "people", 4000, "Sergey Lavrov", id="officeholders"),
    # the legislatures' extract feeds the same file: its command checks it too
    pytest.param(actors_legislators, "people", 4000, "John Cornyn", id="legislators"),
    pytest.param(actors_parties, "parties", 200, "United Russia", id="parties"),
]


def _rows(gen: ModuleType) -> list[object]:
    """What the generator builds from: the office holders' file has two extracts."""
    if gen in (actors_officeholders, actors_legislators):
        return list(actors_officeholders.read_extracts(FOLDER))
    return list(gen.read_extract(FOLDER / gen.EXTRACT_FILE))


@pytest.mark.parametrize(("gen", "figure", "floor", "name"), GENERATORS)
def test_the_committed_file_is_what_the_generator_makes(
    gen: ModuleType, figure: str, floor: int, name: str, capsys: pytest.CaptureFixture[str]
):
    # No network: the extract is committed next to the registry.
    assert gen.main(["--check"]) == 0, capsys.readouterr().err
    text, stats = gen.build(_rows(gen), FOLDER)
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
