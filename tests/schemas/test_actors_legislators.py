"""The legislatures' extract (pipelines/actors_legislators.py): which chambers, persons and terms it
keeps from an EveryPolitician snapshot, and that a minister's seat joins the minister's entry."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from pipelines import actors_legislators as leg
from pipelines import actors_officeholders as gen

FOLDER = Path(__file__).resolve().parents[2] / "seeds" / "actors"


@pytest.mark.parametrize(
    ("listed", "wikidata", "agree"),
    [
        ("PASTORINO Luca", "Luca Pastorino", True),  # the list's own order and case
        ("Michael TIEN Puk-sun", "Michael Tien", True),  # one name's words within the other's
        ("Gérald Darmanin", "Gerald Darmanin", True),
        ("Donald Dewar", "Paul Dewar", False),  # a reconciliation to the wrong person
        ("", "Paul Dewar", False),
    ],
)
def test_the_list_and_wikidata_must_name_the_same_person(listed: str, wikidata: str, agree: bool):
    assert leg.names_agree(listed, wikidata) is agree


def test_consecutive_terms_are_one_run():
    spans = [("2005-05-05", "2010-04-12"), ("2010-05-06", "2015-03-30"), ("2017-06-08", "")]
    assert leg._runs(spans) == [("2005-05-05", "2015-03-30"), ("2017-06-08", "")]
    assert leg._runs([("2011", "2015"), ("2015", "")]) == [("2011", "")]


def _person(pid: str, name: str, qid: str, label: str, languages: int) -> dict[str, Any]:
    links = [{"note": "Wikipedia (commons)", "url": "https://commons.wikipedia.org/wiki/X"}]
    links += [
        {"note": f"Wikipedia ({code})", "url": f"https://{code}.wikipedia.org/wiki/{label.replace(' ', '_')}"}
        for code in ["en", "de", "fr", "it", "es", "nl", "sv"][:languages]
    ]
    return {
        "id": pid,
        "name": name,
        "identifiers": [{"scheme": "wikidata", "identifier": qid}],
        "other_names": [{"lang": "en", "name": label, "note": "multilingual"}],
        "links": links,
    }


def _popolo(persons: list[dict[str, Any]], memberships: list[tuple[str, str]]) -> dict[str, Any]:
    return {
        "persons": persons,
        "organizations": [{"id": "legislature", "classification": "legislature", "name": "Chamber"}],
        "events": [
            {"id": "term/1", "classification": "legislative period", "start_date": "1985-01-01"},
            {"id": "term/2", "classification": "legislative period", "start_date": "1989-01-01"},
            {"id": "term/3", "classification": "legislative period", "start_date": "2011-06-02"},
        ],
        "memberships": [
            {"person_id": pid, "organization_id": "legislature", "legislative_period_id": term}
            for pid, term in memberships
        ],
    }


def _snapshot(root: Path, files: dict[str, Any]) -> Path:
    repo = root / "tijmenb+everypolitician-data" / "repo"
    for path, content in files.items():
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_text(json.dumps(content), encoding="utf-8")
    env = ["-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run(["git", "-C", str(repo), "add", "."], check=True)
    subprocess.run(["git", "-C", str(repo), *env, "commit", "-qm", "snapshot"], check=True)
    return root


def test_extract_keeps_agreed_known_members_of_registry_states(tmp_path: Path):
    folder = tmp_path / "actors"
    shutil.copytree(FOLDER, folder)
    canada = "data/Canada/Commons/ep-popolo-v1.0.json"
    scotland = "data/Scotland/Parliament/ep-popolo-v1.0.json"
    persons = [
        _person("a", "CORNWALL Ann", "Q900000001", "Ann Cornwall", 6),  # kept: agreed, widely known
        _person("b", "Bob Other", "Q900000002", "Robert Smythe", 6),  # the names disagree
        _person("c", "Cid Little", "Q900000003", "Cid Little", 2),  # known in too few languages
        _person("d", "Najib Razak", "Q57675", "Najib Razak", 1),  # an office holder: kept
        _person("e", "Old Member", "Q900000005", "Old Member", 9),  # only before 1991
    ]
    memberships = [("a", "term/2"), ("a", "term/3"), ("b", "term/3"), ("c", "term/3")]
    memberships += [("d", "term/3"), ("e", "term/1")]
    countries = [
        # a qualified name is looked up without its parentheses (`Congo-Kinshasa (DRC)`)
        {"name": "Canada (CA)", "legislatures": [{"name": "House of Commons", "popolo": canada}]},
        {"name": "Scotland", "legislatures": [{"name": "Parliament", "popolo": scotland}]},
    ]
    mirror = _snapshot(
        tmp_path / "mirror",
        {
            "countries.json": countries,
            canada: _popolo(persons, memberships),
            scotland: _popolo([_person("s", "Sam Scot", "Q900000009", "Sam Scot", 9)], [("s", "term/3")]),
        },
    )
    rows = leg.extract(mirror, folder)
    assert [(r.qid, r.name, r.start, r.end) for r in rows] == [
        ("Q57675", "Najib Razak", "2011-06-02", ""),
        ("Q900000001", "Ann Cornwall", "1989-01-01", ""),  # two terms, one run; the last is open
    ]
    cornwall = rows[1]
    assert (cornwall.title, cornwall.of, cornwall.wikipedia) == (
        "Member of the Chamber (Canada)",
        "Q16",
        "Ann Cornwall",
    )
    assert cornwall.source.startswith("tijmenb/everypolitician-data@")
    assert canada in cornwall.source
    # built with the office holders: a member is an entry whose one role is a seat
    text, _ = gen.build([*gen.read_extract(folder / gen.EXTRACT_FILE), *rows], folder)
    entry = next(json.loads(line.rstrip(",")) for line in text.splitlines() if "Q900000001" in line)
    assert entry["source"] == "epd/Canada/Commons WD+members"
    assert entry["roles"] == [
        {
            "title": "Member of the Chamber (Canada)",
            "of": "Q16",
            "start": "1989-01-01",
            "end": None,
            "seat": True,
        }
    ]


def test_an_office_holders_name_wins_over_a_member_without_office(tmp_path: Path):
    folder = tmp_path / "actors"
    shutil.copytree(FOLDER, folder)
    (folder / gen.OUTPUT_FILE).unlink()
    source = "tijmenb/everypolitician-data@abc data/Canada/Commons/ep-popolo-v1.0.json (read 2015-11-30): x"
    minister = gen.Row(
        "Q900000001", "Ann Duplicate", (), "", "Minister of Defence", "Q16", "2020", "", "test"
    )
    member = gen.Row(
        "Q900000002", "Ann Duplicate", (), "", "Member of the Chamber (Canada)", "Q16", "2011", "", source
    )
    members = [member, dataclasses.replace(member, qid="Q900000003")]
    text, stats = gen.build([minister, *members], folder)
    ids = {
        json.loads(line.rstrip(","))["id"] for line in text.splitlines() if line.strip().startswith('{"id"')
    }
    assert ids == {"Q900000001"}  # Wikidata's duplicate items of a minister are mostly such members
    assert stats["name_taken"] >= 1


def test_extract_needs_the_snapshot(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    assert leg.main(["--extract", str(tmp_path), "--folder", str(FOLDER)]) == 2
    assert "fetch it first" in capsys.readouterr().err
