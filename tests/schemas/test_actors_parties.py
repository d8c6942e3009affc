"""The party generator: party names that would tag ordinary text never become aliases (its committed
file and `--check`: test_actors_extract.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from pipelines import actors_parties as gen
from pipelines.tag_match import Tagger
from schemas.actors import load_registry, normalize_alias, validate_folder

FOLDER = Path(__file__).resolve().parents[2] / "seeds" / "actors"


@pytest.mark.parametrize(
    ("name", "generic"),
    [
        ("Social Democratic Party", True),
        ("People's Front", True),
        ("Partido Socialista", True),
        ("Parti socialiste", True),
        ("Partido Democrático", True),  # accents fold before the word list
        ("Justice", True),
        ("United Russia", False),
        ("Bharatiya Janata Party", False),
        ("Likud", False),
        ("Social Democratic Party (Estonia)", False),  # the qualifier names it
    ],
)
def test_generic_party_names(name, generic):
    assert gen.is_generic(name) is generic


def test_no_generic_name_and_no_stop_acronym_is_an_alias():
    data = json.loads((FOLDER / gen.OUTPUT_FILE).read_text(encoding="utf-8"))
    assert "hdigital/partyfactsdata@" in data["about"][-1]  # what `source: partyfacts` stands for
    for actor in data["actors"]:
        assert actor["kind"] == "organisation"
        assert actor["wikipedia"], actor["id"]
        assert actor["country"], actor["id"]
        assert actor["source"] == gen.SOURCE_TAG, actor["id"]
        for alias in [actor["name"], *actor.get("aliases", [])]:
            if isinstance(alias, dict):
                assert alias["case"] == "exact", actor["id"]
                assert alias["text"] not in gen.ACRONYM_STOP, actor["id"]
                assert len(alias["text"]) >= 3, actor["id"]
            else:
                assert not gen.is_generic(alias), (actor["id"], alias)
                assert alias not in gen.NOT_ALIASES, (actor["id"], alias)


def test_ruling_parties_the_issue_names_resolve():
    registry = load_registry(FOLDER)
    owner = registry.alias_owner
    for alias in ("United Russia", "Bharatiya Janata Party", "Likud", "Fidesz", "African National Congress"):
        actor = registry.get(owner[normalize_alias(alias)])
        assert actor is not None, alias
        assert actor.kind == "organisation", alias
    assert registry.get(owner[normalize_alias("Workers' Party of Korea")]) is not None


def _row(qid: str, name: str, aliases: tuple[str, ...] = (), acronyms: tuple[str, ...] = ()) -> gen.Row:
    return gen.Row(qid, name, name, "RUS", aliases, acronyms, "test record", "test")


def test_build_drops_shared_and_taken_aliases(tmp_path):
    folder = tmp_path / "actors"
    shutil.copytree(FOLDER, folder)
    (folder / gen.OUTPUT_FILE).unlink()
    rows = [
        _row("Q900000011", "Alpha Bloc Party", ("Alphabloc",), ("ABP", "NATO")),  # NATO: taken
        _row(
            "Q900000012", "Beta Bloc Party", ("Alphabloc",), ("BBP",)
        ),  # shares Alphabloc: dropped from both
        _row("Q900000013", "Vladimir Putin"),  # a person's name: this party is left out
        _row("Q7184", "Nato Duplicate"),  # already in the registry
    ]
    text, stats = gen.build(rows, folder)
    (folder / gen.OUTPUT_FILE).write_text(text, encoding="utf-8")
    assert validate_folder(folder) == []
    owner = load_registry(folder).alias_owner
    assert owner[normalize_alias("ABP")] == "Q900000011"
    assert owner[normalize_alias("NATO")] == "Q7184"
    assert normalize_alias("Alphabloc") not in owner
    assert owner[normalize_alias("Beta Bloc Party")] == "Q900000012"
    assert (stats["in_registry"], stats["name_taken"], stats["parties"]) == (1, 1, 2)


def test_extract_needs_the_snapshot_and_a_bad_extract_is_one_line(tmp_path, capsys):
    assert gen.main(["--extract", str(tmp_path), "--folder", str(FOLDER)]) == 2
    assert "fetch it first" in capsys.readouterr().err
    folder = tmp_path / "actors"
    shutil.copytree(FOLDER, folder)
    (folder / gen.EXTRACT_FILE).write_text("qid\nQ1\n", encoding="utf-8")
    assert gen.main(["--folder", str(folder)]) == 2
    err = capsys.readouterr().err.strip()
    assert "expected columns" in err
    assert "\n" not in err


@pytest.fixture(scope="module")
def tagger() -> Tagger:
    return Tagger.from_files(FOLDER)


@pytest.mark.parametrize(
    ("title", "body", "expected"),
    [
        ("Labour wins vote", "Labour costs rose in the quarter.", set()),
        ("Labour wins vote", "Rishi Sunak said Labour has no plan.", {"Q9630", "Q20055561"}),
        ("Vote", "The Conservatives and Labour clashed in the UK parliament.", {"Q9626", "Q9630", "Q145"}),
        ("Markets", "Labour market data for Australia.", {"Q408"}),
    ],
)
def test_british_party_short_names_need_british_context(tagger, title, body, expected):
    assert {actor.id for actor in tagger.tag(title, body).actors} == expected
