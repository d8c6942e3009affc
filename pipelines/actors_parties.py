"""Generate `seeds/actors/organisations_parties.json`: the parties that govern or governed recently.

    python -m pipelines.actors_parties            # rewrite the JSON from the committed extract
    python -m pipelines.actors_parties --check    # exit 1 when the committed file is stale
    python -m pipelines.actors_parties --extract DIR   # first re-read the extract from a snapshot

Source: Party Facts (github.com/hdigital/partyfactsdata, MIT), which links each party of its core list
to its English Wikipedia article and that article's Wikidata item (`import/wikipedia/`), and to two
independent government datasets: LeadGlob (the party of every head of state and government,
1880-2020) and WhoGov (the party of every cabinet member, 1966-2021). A party is kept when it gave
a head of state or government in or after `LEADER_SINCE`, or `MIN_MINISTERS` or more ministers to a
cabinet that sat in or after `CABINET_SINCE`, and when Party Facts has both its Wikipedia article
and its Wikidata item (Wikidata pairs the two, so the QID is checked against the article).

1. `--extract DIR` reads the bare snapshot `DIR/hdigital+partyfactsdata/repo` and writes the rows this
   project uses to `seeds/actors/sources/parties.csv`.
2. The default step builds registry entries from that extract, after every other registry file: a
   party already in the registry is left to its entry, and an alias another actor claims, or that two
   parties share, is dropped; a party whose own name is taken is left out.

Aliases are chosen so that a party name does not tag ordinary text: a name made only of the words
parties share (`Social Democratic Party`, `People's Front`, `Justice`) is never an alias — the
display name is then the Wikipedia title with its qualifier (`Social Democratic Party (Estonia)`),
which news text does not use — and acronyms are case-exact, three letters or more, and not an
English word or a common abbreviation (`ACRONYM_STOP`); a three-letter one only for the parties news
calls by it (`SHORT_ACRONYMS`).
"""

from __future__ import annotations

import csv
import io
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from pipelines.actors_extract import (
    ExtractError,
    about_lines,
    ascii_fold,
    generator_main,
    git,
    read_csv,
    taken_by_others,
    write_csv,
)
from schemas.actors import DEFAULT_FOLDER, actors_json, load_registry, normalize_alias

OUTPUT_FILE = "organisations_parties.json"
EXTRACT_FILE = Path("sources") / "parties.csv"
EXTRACT_COLUMNS = ("qid", "name", "wikipedia", "country", "aliases", "acronyms", "record", "source")
SNAPSHOT = "hdigital+partyfactsdata"
SOURCE_TAG = "partyfacts"  # every entry's `source`; the file header spells it out
REPOSITORY = "hdigital/partyfactsdata"
LEADER_SINCE = 2000
CABINET_SINCE = 2015
MIN_MINISTERS = 5
DISSOLVED_BEFORE = 2015  # a party dissolved before this is history

# Words party names share: a name made only of these names no party in particular.
GENERIC_WORDS = frozenset(
    """
    a action agrarian alliance alternative and bloc center centre change christian citizen
    citizens civic coalition communist communists congress conservative conservatives constitutional
    convention council democracy democrat democratic democrats development dignity direct ecological
    equality farmers federal federation for forum free freedom front future green greens hope
    independence independent independents islamic justice labor labour law league left liberal liberals
    liberation list movement national nationalist new of order organisation organization our party
    patriotic patriots peace peasant peasants people peoples popular progress progressive radical rally
    reform renewal republic republican republicans revolutionary right rights social socialist socialists
    solidarity the together union unity united victory we worker workers youth
    broad change grand grow moderate ordinary response rule society third truth way
    demokraatlik demokrat demokrata demokrati demokratik democrata democratico democratique democratica
    frente liberale movimento movimiento mouvement nacional nacionalista nationale nazzjonalista pati
    partai parti partei partido partidul partij partija partit partito partiya patriota popolare populaire
    radicale republicain republicano socialdemokrati sociale socialiste socialista socialisti socialni
    strana stranka laburista travailliste trabalhista
    """.split()
)
# Acronyms that are English words, other organisations' or countries' abbreviations, or headline words.
ACRONYM_STOP = frozenset(
    """
    ACT AIM ALL AND ART BAD BIG CAN CAR DAY DIE END FIT FOR FREE GOD HIS HOPE ICC ICJ IMF ISIS JOB
    LAW LET MAN MAP MEN MET NEW NOT NOW OAS OUR OUT PAN PER PRO PUT RED RUN SAD SET SUN THE TOP TWO
    UNDP UNICEF USA USSR WAR WAY WHO WIN YES YOU
    ARENA CDC CDS CSV FORD IDS INC MAR MAS MCA MDB MIC MPR MPS NPA NPS ODS PAS PDT PNP RDA SAP TGV UNC UNE UPR
    """.split()
)
# Single words that are a party's name in its language but ordinary words or nicknames elsewhere.
NOT_ALIASES = frozenset(
    ["Vamos", "Inite", "Inité", "Respublika", "Республика", "ביבי", "民主党", "Progressistas"]
)
# Three letters name too many things (MCP, UDP, PPM, RDP and PAP each tagged an unrelated text in the
# project's real feeds): a three-letter acronym is an alias only for the parties news calls by it.
SHORT_ACRONYMS = frozenset(
    """
    ALP ANC BJP BNP CCM CDA CDU CPC CSU DPP FPM GOP HDZ KMT MMD NLD NRM ODM PLP PNL PNM PTI SLD SPD UCR
    VVD WPK ZZS
    """.split()
)
_ACRONYM = re.compile(r"^[A-Z][A-Z0-9]{2,}$")
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_PAREN = re.compile(r"\s*\([^)]*\)\s*$")


@dataclass(frozen=True)
class Row:
    """One party, as the extract stores it."""

    qid: str
    name: str
    wikipedia: str
    country: str
    aliases: tuple[str, ...]
    acronyms: tuple[str, ...]
    record: str
    source: str

    def as_csv(self) -> list[str]:
        return [
            self.qid,
            self.name,
            self.wikipedia,
            self.country,
            "|".join(self.aliases),
            "|".join(self.acronyms),
            self.record,
            self.source,
        ]


def is_generic(name: str) -> bool:
    """True when every word of `name` is one that party names share (or it has no letters)."""
    words = [w.casefold() for w in _WORD.findall(ascii_fold(name).replace("'s", ""))]
    return all(w in GENERIC_WORDS for w in words)


# ---------------------------------------------------------------------------------------- extract


def _table(git_dir: Path, path: str, needed: Iterable[str]) -> list[dict[str, str]]:
    rows = list(csv.DictReader(io.StringIO(git(git_dir, "show", f"HEAD:{path}"))))
    missing = set(needed) - set(rows[0] if rows else ())
    if missing:
        raise ExtractError(f"{REPOSITORY} {path}: no column {', '.join(sorted(missing))}")
    return rows


def _year(value: str) -> int:
    digits = (value or "").strip()[:4]
    return int(digits) if digits.isdigit() else 0


def _record(
    party: str, leaders: Mapping[str, list[dict[str, str]]], cabinets: Mapping[str, list[dict[str, str]]]
) -> str:
    parts = []
    for row in leaders.get(party, []):
        parts.append(f"head of state or government {row['year_first']}-{row['year_last']} (LeadGlob)")
    for row in cabinets.get(party, []):
        parts.append(f"{row['n']} ministers {row['year_first']}-{row['year_last']} (WhoGov)")
    return "; ".join(parts)


def _candidate_aliases(title: str, url_row: Mapping[str, str], wd_row: Mapping[str, str]) -> list[str]:
    names = [
        _PAREN.sub("", title),
        wd_row.get("name", ""),
        url_row.get("name", ""),
        wd_row.get("name_native", ""),
    ]
    out: list[str] = []
    for name in names + [ascii_fold(n) for n in names]:
        name = " ".join(name.replace("&nbsp;", " ").split())
        if (
            not name
            or is_generic(name)
            or ascii_fold(name) in NOT_ALIASES
            or any(c in name for c in "(),;/[]")
        ):
            continue
        if normalize_alias(name) not in {normalize_alias(a) for a in out}:
            out.append(name)
    return out


def _acronyms(short: str) -> list[str]:
    found = []
    for part in short.split("/"):
        part = part.strip()
        if len(part) == 3 and part not in SHORT_ACRONYMS:
            continue
        if _ACRONYM.match(part) and part not in ACRONYM_STOP and part not in found:
            found.append(part)
    return found


def extract(mirror: Path) -> list[Row]:
    """Every party the snapshot under `mirror` gives, in QID order."""
    git_dir = mirror / SNAPSHOT / "repo"
    if not git_dir.is_dir():
        raise ExtractError(f"{git_dir}: no snapshot of {REPOSITORY} (fetch it first)")
    commit, date = git(git_dir, "log", "-1", "--format=%h %ad", "--date=short").split()
    wikidata = {
        r["partyfacts_id"]: r
        for r in _table(
            git_dir, "import/wikipedia/wikidata.csv", ("partyfacts_id", "wikidata_id", "name", "name_short")
        )
    }
    articles = {
        r["partyfacts_id"]: r
        for r in _table(git_dir, "import/wikipedia/wikipedia.csv", ("partyfacts_id", "url", "year_dissolved"))
    }
    leaders: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in _table(git_dir, "import/leadglob/leadglob.csv", ("party_id", "year_first", "year_last")):
        if _year(row["year_last"]) >= LEADER_SINCE:
            leaders[row["party_id"]].append(row)
    cabinets: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in _table(git_dir, "import/whogov/whogov.csv", ("partyfacts_id", "year_first", "year_last", "n")):
        if _year(row["year_last"]) >= CABINET_SINCE and int(row["n"] or 0) >= MIN_MINISTERS:
            cabinets[row["partyfacts_id"]].append(row)
    checked = "the Wikipedia article's Wikidata item + LeadGlob/WhoGov"
    where = f"{REPOSITORY}@{commit} import/ (read {date}): {checked}"
    rows: list[Row] = []
    for party in sorted(set(leaders) | set(cabinets)):
        wd_row, url_row = wikidata.get(party), articles.get(party)
        if not wd_row or not url_row or not wd_row.get("wikidata_id", "").startswith("Q"):
            continue  # no Wikidata item or no article: nothing to check the id against
        url = url_row["url"]
        if (
            "//en.wikipedia.org/wiki/" not in url
            or 0 < _year(url_row.get("year_dissolved", "")) < DISSOLVED_BEFORE
        ):
            continue
        title = unquote(urlsplit(url).path.rsplit("/", 1)[-1]).replace("_", " ")
        if is_generic(title) or ascii_fold(title) in NOT_ALIASES:
            continue  # an article titled only with shared or ordinary words names no party in particular
        rows.append(
            Row(
                wd_row["wikidata_id"],
                title,
                title,
                wd_row.get("country") or url_row.get("country", ""),
                tuple(_candidate_aliases(title, url_row, wd_row)),
                tuple(_acronyms(wd_row.get("name_short", ""))),
                _record(party, leaders, cabinets),
                where,
            )
        )
    unique: dict[str, Row] = {}
    for party_row in rows:  # two Party Facts ids for one Wikidata item (a party and its successor list)
        if party_row.qid not in unique or len(party_row.record) > len(unique[party_row.qid].record):
            unique[party_row.qid] = party_row
    return sorted(unique.values(), key=lambda r: int(r.qid[1:]))


def write_extract(rows: Iterable[Row], path: Path) -> None:
    write_csv(path, EXTRACT_COLUMNS, (row.as_csv() for row in rows))


def read_extract(path: Path) -> list[Row]:
    return [
        Row(
            r["qid"],
            r["name"],
            r["wikipedia"],
            r["country"],
            tuple(a for a in r["aliases"].split("|") if a),
            tuple(a for a in r["acronyms"].split("|") if a),
            r["record"],
            r["source"],
        )
        for r in read_csv(path, EXTRACT_COLUMNS)
    ]


# ------------------------------------------------------------------------------------------ build


def build(rows: list[Row], folder: Path = DEFAULT_FOLDER) -> tuple[str, dict[str, int]]:
    """The JSON text of the parties and counts for the summary line."""
    registry = load_registry(folder)
    taken_ids, taken_keys = taken_by_others(folder, OUTPUT_FILE)
    codes = registry.country_codes
    stats = {"rows": len(rows), "in_registry": 0, "no_country": 0, "name_taken": 0}
    kept = []
    for row in rows:
        if row.qid in taken_ids:
            stats["in_registry"] += 1
        elif row.country not in codes:
            stats["no_country"] += 1
        else:
            kept.append(row)
    claims: dict[str, set[str]] = defaultdict(set)
    for row in kept:
        for text in (row.name, *row.aliases, *row.acronyms):
            claims[normalize_alias(text)].add(row.qid)

    def free(text: str) -> bool:
        key = normalize_alias(text)
        return bool(key) and key not in taken_keys and len(claims[key]) == 1

    entries = []
    for row in kept:
        if not free(row.name):
            stats["name_taken"] += 1
            continue
        aliases: list[dict[str, Any] | str] = [
            a for a in row.aliases if free(a) and normalize_alias(a) != normalize_alias(row.name)
        ]
        aliases += [{"text": a, "type": "acronym", "case": "exact"} for a in row.acronyms if free(a)]
        entry: dict[str, Any] = {
            "id": row.qid,
            "kind": "organisation",
            "name": row.name,
            "wikipedia": row.wikipedia,
        }
        entry["country"] = row.country
        entry["source"] = SOURCE_TAG
        entry["note"] = f"Political party; {row.record}."
        if aliases:
            entry["aliases"] = aliases
        entries.append(entry)
    stats["parties"] = len(entries)
    return _dump(entries, rows), stats


_HEADER = """\
# GENERATED by `python -m pipelines.actors_parties` from seeds/actors/sources/parties.csv; do not edit
# by hand (fix the extract, the word lists in the generator, or another registry file).
# Parties that gave a head of state or government since {leaders} (LeadGlob) or {ministers}+ ministers to a
# cabinet sitting since {cabinets} (WhoGov), as linked by Party Facts (MIT) to their English Wikipedia
# article and its Wikidata item (CC0). A name made only of words parties share is not an alias.
# `source: {tag}` is {where}
"""


def _dump(entries: list[dict[str, Any]], rows: Iterable[Row] = ()) -> str:
    where = next((r.source for r in rows), REPOSITORY)
    header = _HEADER.format(
        leaders=LEADER_SINCE, ministers=MIN_MINISTERS, cabinets=CABINET_SINCE, tag=SOURCE_TAG, where=where
    )
    return actors_json(about_lines(header), entries)


def main(argv: list[str] | None = None) -> int:
    return generator_main(
        argv,
        module="pipelines.actors_parties",
        description=__doc__.split("\n")[0],
        output_file=OUTPUT_FILE,
        extract=lambda snapshots, folder: write_extract(extract(snapshots), folder / EXTRACT_FILE),
        build=lambda folder: build(read_extract(folder / EXTRACT_FILE), folder),
    )


if __name__ == "__main__":
    raise SystemExit(main())
