"""The office-holder generator's build keeps hand-kept entries, drops shared aliases and leaves out
persons whose name is taken (its committed file and `--check`: test_actors_extract.py)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from pipelines import actors_officeholders as gen
from schemas.actors import load_registry, normalize_alias, validate_folder

FOLDER = Path(__file__).resolve().parents[2] / "seeds" / "actors"


def test_every_generated_person_is_sourced_dated_and_from_a_second_source():
    data = json.loads((FOLDER / gen.OUTPUT_FILE).read_text(encoding="utf-8"))
    legend = " ".join(data["about"])
    sources = {source for a in data["actors"] for source in a["source"].split("; ")}
    for repo in {source.split("/")[1] for source in sources if source.startswith("eps/")}:
        assert f"eps/{repo}: github.com/every-politician-scrapers/{repo} at " in legend, repo
    assert "epd: github.com/tijmenb/everypolitician-data at " in legend  # the legislatures
    one = r"(eps/\S+ P39\+(list|official|bio)|epd/[^/\s]+/\S+ WD\+members)"
    for actor in data["actors"]:
        # a repository folder and how the QID was agreed; the header's legend dates each repository
        assert re.fullmatch(rf"{one}(; {one})*", actor["source"]), actor["source"]
        for role in actor["roles"]:
            assert role["start"] or role["end"], (actor["id"], role)
            # a seat in a chamber comes from the legislatures' extract
            assert not role.get("seat") or "epd/" in actor["source"], (actor["id"], role)
        if "eps/" not in actor["source"]:  # a member of a chamber and no more: every role a seat
            assert all(role.get("seat") for role in actor["roles"]), actor["id"]
        for alias in [actor["name"], *actor.get("aliases", [])]:
            assert len(alias.split()) >= 2, (actor["id"], alias)  # full names only, never a surname


def _row(
    qid: str, name: str, variants: tuple[str, ...] = (), title: str = "Minister of Defence", **extra: str
) -> gen.Row:
    fields = {"wikipedia": "", "of": "Q159", "start": "2020-01-01", "end": "", "source": "test"} | extra
    return gen.Row(
        qid,
        name,
        variants,
        fields["wikipedia"],
        title,
        fields["of"],
        fields["start"],
        fields["end"],
        fields["source"],
    )


def test_build_resolves_collisions_and_keeps_hand_kept_entries(tmp_path):
    folder = tmp_path / "actors"
    shutil.copytree(FOLDER, folder)
    (folder / gen.OUTPUT_FILE).unlink()
    rows = [
        _row("Q7747", "Vladimir Putin", title="President of Russia"),  # hand-kept: left to people.yaml
        # a label read from the Russian Wikipedia: the English article's title is the display name
        _row(
            "Q900000001",
            "Иван Тестов",
            ("Iwan Testow", "Ivan Petrov Jr"),
            wikipedia="Ivan Testov (politician)",
        ),
        _row("Q900000002", "Pyotr Probin", ("Ivan Petrov Jr",)),  # shares a variant: dropped from both
        _row("Q900000003", "Kim Jong-un"),  # a hand-kept alias: this person is left out
        _row("Q900000004", "Old Minister", start="1950", end="1960"),  # history, not news
        _row("Q900000005", "Zoë Ångström"),
        _row("Q900000006", "Mononym"),
        _row("Q900000007", "Дмитрий Тестович"),  # no diacritic folding outside the Latin script
    ]
    text, stats = gen.build(rows, folder)
    (folder / gen.OUTPUT_FILE).write_text(text, encoding="utf-8")
    problems = validate_folder(folder)
    assert problems == [  # a new family name needs its evidence row (python -m pipelines.actors_surnames)
        "sources/surnames.csv: no row for the surnames Probin, Testov, Ångström: "
        "run python -m pipelines.actors_surnames --extract"
    ]
    with (folder / "sources" / "surnames.csv").open("a", encoding="utf-8") as evidence:
        evidence.write("Probin,,,0\nTestov,,,0\nÅngström,,,0\n")
    assert validate_folder(folder) == []
    registry = load_registry(folder)
    owner = registry.alias_owner
    assert owner[normalize_alias("Vladimir Putin")] == "Q7747"
    putin = registry.get("Q7747")
    assert putin is not None
    assert putin.source != "test"  # the hand-kept entry, not the generated row
    assert owner[normalize_alias("Iwan Testow")] == "Q900000001"
    assert owner[normalize_alias("Иван Тестов")] == "Q900000001"
    ivan = registry.get("Q900000001")
    assert ivan is not None
    assert (ivan.name, ivan.wikipedia) == ("Ivan Testov", "Ivan Testov (politician)")
    assert ivan.surnames == ("Testov",)  # the family name, for headlines ("Testov said")
    assert registry.distinctive_surnames["Q900000001"] == ("Testov",)
    assert owner[normalize_alias("Дмитрий Тестович")] == "Q900000007"
    assert normalize_alias("Дмитрии Тестович") not in owner
    assert normalize_alias("Ivan Petrov Jr") not in owner
    assert owner[normalize_alias("Pyotr Probin")] == "Q900000002"
    assert registry.get("Q900000003") is None
    assert registry.get("Q900000004") is None
    assert registry.get("Q900000006") is None
    assert owner[normalize_alias("Zoe Angstrom")] == "Q900000005"  # the name without diacritics
    assert (stats["hand_kept"], stats["name_taken"], stats["old"], stats["not_a_full_name"]) == (1, 1, 1, 1)
    assert stats["people"] == 4


def test_a_broken_extract_is_one_line_and_exit_2(tmp_path, capsys):
    folder = tmp_path / "actors"
    shutil.copytree(FOLDER, folder)
    (folder / gen.EXTRACT_FILE).write_text("qid,name\nQ1,x\n", encoding="utf-8")
    assert gen.main(["--check", "--folder", str(folder)]) == 2
    err = capsys.readouterr().err.strip()
    assert "expected columns" in err
    assert "\n" not in err


def test_extract_needs_the_snapshots(tmp_path, capsys):
    assert gen.main(["--extract", str(tmp_path), "--folder", str(FOLDER)]) == 2
    assert "fetch it first" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("name", "country", "expected"),
    [
        ("Sergey Lavrov", "RUS", ["Lavrov"]),
        ("Bashar al-Assad", "SYR", ["al-Assad", "Assad"]),  # headlines drop the article
        ("Richard M. Mills Jr.", "USA", ["Mills"]),
        ("Wang Yi", "CHN", []),  # the family name comes first and hundreds are shared
        ("Bjarni Benediktsson", "ISL", []),  # a patronymic
        ("Mononym", "RUS", []),
    ],
)
def test_the_family_names_a_headline_may_use(name: str, country: str, expected: list[str]):
    assert gen.family_names(name, country) == expected
