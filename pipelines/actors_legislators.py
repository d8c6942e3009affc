"""Extract the members of national legislatures from an EveryPolitician data snapshot, for the
generated office holders (`seeds/actors/people_officeholders.json`).

    python -m pipelines.actors_legislators --extract DIR   # re-read the extract, rewrite the JSON
    python -m pipelines.actors_legislators --check         # exit 1 when the committed JSON is stale

`--extract DIR` reads EveryPolitician's data repository (a bare git directory under DIR named
`tijmenb+everypolitician-data/repo`: a fork frozen at the upstream's merge of pull request #1764,
2015-11-30; the upstream, 2.5 GB with its history, is too large to snapshot here) and writes
`seeds/actors/sources/legislators.csv` in the columns of `sources/officeholders.csv`: one row per
person, chamber and run of consecutive terms. The generator of `people_officeholders.json`
(`pipelines.actors_officeholders`) builds from both extracts, so a minister who also sat in the
legislature is one entry with both roles.

Which legislatures: every chamber `countries.json` lists whose country is a country or territory of
the registry (by name or alias: Scotland's, Wales's and Northern Ireland's assemblies and the
chambers of unrecognised states are not), for the terms that ended in or after `SINCE` or are open.
Its largest files are absent from the snapshot (the US House of Representatives, the Bundestag, the
Sejm, Turkey's Grand National Assembly); they are counted, not guessed.

Which persons: those EveryPolitician reconciled with a Wikidata item, kept only when two sources
agree on the person: the chamber's membership list (the parliament's own site or the Wikipedia list
the scraper read) names them, and the words of that name and of Wikidata's English label (or the
English Wikipedia title Wikidata links) are one a subset of the other after folding case and
diacritics (`PASTORINO Luca` and `Luca Pastorino`, `Michael TIEN Puk-sun` and `Michael Tien`). The
Wikidata label, its English Wikipedia title and the membership dates are kept; the list's own
spelling is not (it is often `SURNAME Given`), so aliases stay the label and the title. Of those,
the holders of an office in `sources/officeholders.csv` are all kept (the seat adds a role and often
the Wikipedia title), the other members only when widely known (`MIN_LANGUAGES`).
"""

from __future__ import annotations

import json
import re
import subprocess
from collections import defaultdict
from collections.abc import Iterator, Mapping
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from pipelines.actors_extract import ExtractError, ascii_fold, generator_main, git
from pipelines.actors_officeholders import (
    EXTRACT_FILE,
    LEGISLATORS_FILE,
    OUTPUT_FILE,
    SINCE,
    Row,
    build,
    read_extract,
    read_extracts,
    write_extract,
)
from schemas.actors import DEFAULT_FOLDER, load_registry, normalize_alias

REPO = "tijmenb/everypolitician-data"
# A member without an office is kept when Wikidata links an article about them in at least this many
# language editions of Wikipedia (in the snapshot): the one measure of how widely a person is known
# that the data carries for every chamber alike. The figure is set by the tagger's build budget
# (README: 2 s for the whole registry on one core), not by any list of names: 6 keeps 942 of the
# 8,400 members who pass the check below (5: 1,213; 4: 1,797; 3: 2,834; 1: all), which costs the
# build about a tenth more time.
MIN_LANGUAGES = 6
# A later term within this many days of the previous one's end continues the same run of terms.
_GAP_DAYS = 400
_QUALIFIER = re.compile(r"\s*\([^)]*\)\s*$")
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)


class _Snapshot:
    """The bare snapshot of EveryPolitician's data repository, read with `git show`."""

    def __init__(self, mirror: Path) -> None:
        self.git = mirror / f"{REPO.replace('/', '+')}" / "repo"
        if not self.git.is_dir():
            raise ExtractError(f"{self.git}: no snapshot of {REPO} (fetch it first)")
        self.commit, self.date = git(self.git, "log", "-1", "--format=%h %ad", "--date=short").split()

    def json(self, path: str) -> Any:
        """The parsed file, or None when the snapshot lists it without its content (its largest files)."""
        done = subprocess.run(
            ["git", "-C", str(self.git), "show", f"HEAD:{path}"], capture_output=True, text=True
        )
        return json.loads(done.stdout) if done.returncode == 0 and done.stdout else None

    def where(self, path: str) -> str:
        return f"{REPO}@{self.commit} {path} (read {self.date})"


def _words(name: str) -> set[str]:
    return {normalize_alias(w) for w in _WORD.findall(ascii_fold(name))}


def names_agree(listed: str, wikidata: str) -> bool:
    """The membership list's name and Wikidata's: the words of one are all words of the other."""
    a, b = _words(listed), _words(wikidata)
    return bool(a) and bool(b) and (a <= b or b <= a)


_DATE = re.compile(r"\d{4}(-\d{2}(-\d{2})?)?")


def _date(value: str) -> str:
    """A date as the registry writes it (YYYY[-MM[-DD]]), or empty where the source's is malformed."""
    value = (value or "")[:10]
    return value if _DATE.fullmatch(value) else ""


def _title(url: str) -> str:
    return unquote(urlsplit(url).path.rsplit("/", 1)[-1]).replace("_", " ")


def _languages(person: Mapping[str, Any]) -> int:
    """In how many language editions of Wikipedia Wikidata links an article about the person."""
    notes = {link.get("note", "") for link in person.get("links", [])}
    return sum(1 for note in notes if note.startswith("Wikipedia (") and note != "Wikipedia (commons)")


def _person_facts(person: Mapping[str, Any]) -> tuple[str, str, str] | None:
    """(QID, Wikidata's English name, English Wikipedia title) or None without a QID or English name."""
    qid = next(
        (i.get("identifier", "") for i in person.get("identifiers", []) if i.get("scheme") == "wikidata"),
        "",
    )
    if not re.fullmatch(r"Q\d+", qid):
        return None
    label = next(
        (
            " ".join(o["name"].split())
            for o in person.get("other_names", [])
            if o.get("lang") == "en" and o.get("note") == "multilingual" and o.get("name")
        ),
        "",
    )
    wikipedia = next(
        (
            _title(link["url"])
            for link in person.get("links", [])
            if link.get("note") == "Wikipedia (en)" and "//en.wikipedia.org/wiki/" in link.get("url", "")
        ),
        "",
    )
    name = label or _QUALIFIER.sub("", wikipedia)
    return (qid, name, wikipedia) if name else None


def _runs(spans: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Merge (start, end) spans of consecutive terms; an empty end is open and ends the run."""
    runs: list[tuple[str, str]] = []
    for start, end in sorted(spans):
        if runs:
            last_start, last_end = runs[-1]
            if not last_end or (start and _days(last_end, start) <= _GAP_DAYS):
                if not last_end or not end:
                    runs[-1] = (last_start, "")
                else:
                    runs[-1] = (last_start, max(last_end, end))
                continue
        runs.append((start, end))
    return runs


def _days(earlier: str, later: str) -> int:
    def parse(value: str) -> date:  # `2015`, `2015-05` and `2015-05-07` all occur
        parts = [int(p) for p in re.findall(r"\d+", value)] + [1, 1]
        return date(parts[0], parts[1] or 1, parts[2] or 1)

    return (parse(later) - parse(earlier)).days


def _chamber_rows(
    snapshot: _Snapshot,
    popolo_path: str,
    popolo: Mapping[str, Any],
    chamber: str,
    country: tuple[str, str],
    office_holders: set[str],
) -> Iterator[Row]:
    country_qid, country_name = country
    periods = sorted(
        (_date(e.get("start_date", "")), _date(e.get("end_date", "")), e["id"])
        for e in popolo.get("events", [])
        if e.get("classification") == "legislative period" and e.get("id")
    )
    # A term without an end date ended when the next one began; only the last may be open.
    terms = {
        term: (start, end or (periods[i + 1][0] if i + 1 < len(periods) else ""))
        for i, (start, end, term) in enumerate(periods)
    }
    chambers = {o["id"] for o in popolo.get("organizations", []) if o.get("classification") == "legislature"}
    persons = {p["id"]: p for p in popolo.get("persons", []) if p.get("id")}
    spans: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for m in popolo.get("memberships", []):
        if m.get("organization_id") not in chambers or m.get("person_id") not in persons:
            continue
        term_start, term_end = terms.get(m.get("legislative_period_id", ""), ("", ""))
        start = _date(m.get("start_date") or term_start)
        end = _date(m.get("end_date") or term_end)
        if (start or end) and not (start and end and end < start):  # a few are typed back to front
            spans[m["person_id"]].append((start, end))
    source = snapshot.where(popolo_path) + ": Wikidata item + membership list"
    title = f"Member of the {chamber} ({country_name})"
    for person_id, person_spans in sorted(spans.items()):
        person = persons[person_id]
        facts = _person_facts(person)
        if facts is None or not names_agree(person.get("name", ""), facts[1]):
            continue
        qid, name, wikipedia = facts
        if qid not in office_holders and _languages(person) < MIN_LANGUAGES:
            continue
        for start, end in _runs(person_spans):
            if end and int(end[:4]) < SINCE:
                continue  # history, not news: left out of the extract
            yield Row(qid, name, (), wikipedia, title, country_qid, start, end, source)


def extract(mirror: Path, folder: Path = DEFAULT_FOLDER) -> list[Row]:
    """Every row the snapshot under `mirror` gives, in a stable order."""
    snapshot = _Snapshot(mirror)
    registry = load_registry(folder)
    places = {
        alias.key: (a.id, a.name)
        for a in registry.actors
        if a.kind in ("country", "territory")
        for alias in a.all_aliases
    }
    # the holders of an office keep their seats whatever the measure (a role and a Wikipedia title)
    office_holders = {row.qid for row in read_extract(folder / EXTRACT_FILE)}
    rows: list[Row] = []
    for country in snapshot.json("countries.json") or []:
        # `Congo-Kinshasa (DRC)`: the name, then without and within its parentheses
        name = country.get("name", "")
        names = [name, _QUALIFIER.sub("", name), *re.findall(r"\(([^)]*)\)", name)]
        place = next((places[k] for k in map(normalize_alias, names) if k in places), None)
        if place is None:
            continue  # a sub-national assembly (Scotland) or an unrecognised state's chamber
        for legislature in country.get("legislatures", []):
            popolo = snapshot.json(legislature["popolo"])
            if popolo is None:
                continue  # listed in the snapshot without its content
            chamber = next(
                (
                    o.get("name", "")
                    for o in popolo.get("organizations", [])
                    if o.get("classification") == "legislature"
                ),
                "",
            ) or legislature.get("name", "")
            rows.extend(
                _chamber_rows(snapshot, legislature["popolo"], popolo, chamber, place, office_holders)
            )
    unique = {tuple(r.as_csv()): r for r in rows}
    return sorted(unique.values(), key=lambda r: (r.qid, r.start, r.title, r.source))


def main(argv: list[str] | None = None) -> int:
    return generator_main(
        argv,
        module="pipelines.actors_legislators",
        description=__doc__.split("\n")[0],
        output_file=OUTPUT_FILE,
        extract=lambda snapshots, folder: write_extract(
            extract(snapshots, folder), folder / LEGISLATORS_FILE
        ),
        build=lambda folder: build(read_extracts(folder), folder),
    )


if __name__ == "__main__":
    raise SystemExit(main())
