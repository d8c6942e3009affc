"""Generate `seeds/actors/people_officeholders.json` from public Wikidata-derived office-holder tables.

    python -m pipelines.actors_officeholders            # rewrite the JSON from the committed extract
    python -m pipelines.actors_officeholders --check    # exit 1 when the committed file is stale
    python -m pipelines.actors_officeholders --extract DIR   # first re-read the extract from snapshots

Two steps, so that regeneration and its check need no network:

1. `--extract DIR` reads EveryPolitician scraper repositories (snapshots of public GitHub repositories,
   each a bare git directory under DIR named `every-politician-scrapers+<name>/repo`) and writes the
   rows this project uses to `seeds/actors/sources/officeholders.csv`: one row per dated role of a
   person, with the person's Wikidata QID, label, the other spellings the sources use, the role and
   where it was read. The repositories hold Wikidata query results (CC0) next to the same office's
   Wikipedia list, the cabinet's English Wikipedia article or the official government page; a row is
   kept only when the two agree on the person (see `_agreeing`), so every QID is checked against a
   second, independent source.
2. The default step turns that extract into registry entries, after the hand-kept files: a person
   already hand-kept is left to the hand-kept entry, and an alias (normalized as the registry does)
   that another actor already claims, or that two generated persons share, is dropped rather than
   guessed — a person whose own name is taken is left out and counted in the summary line.

Persons are kept when they hold one of the selected offices and a role of theirs ended in or after
`SINCE` or is open. An open role (`end: null`) means "in office when the source was read"; the
source's date is in every entry's `source` field, because these tables are older than the registry.
Aliases are full names only (no surnames): the Wikidata label, the other spellings the sources use
(`Sergei`/`Sergey`), and the name without diacritics where it has any (`Erdogan` for `Erdoğan`).
"""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
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
from schemas.surnames import is_latin

OUTPUT_FILE = "people_officeholders.json"
EXTRACT_FILE = Path("sources") / "officeholders.csv"
LEGISLATORS_FILE = Path("sources") / "legislators.csv"  # written by pipelines.actors_legislators
EXTRACT_COLUMNS = ("qid", "name", "variants", "wikipedia", "title", "of", "start", "end", "source")
SINCE = 1991  # roles that ended before this are history, not news
OWNER = "every-politician-scrapers"

# Each scraper repository is one state's offices; its country comes from the registry by ISO code.
REPO_COUNTRY = {
    "albania-cabinet": "ALB",
    "angola": "AGO",
    "argentina-ministers": "ARG",
    "armenia-ministers": "ARM",
    "australia-cabinet": "AUS",
    "belarus-ministers": "BLR",
    "bolivia-ministers": "BOL",
    "bosnia-herzegovina-ministers": "BIH",
    "brazil-ministers": "BRA",
    "bulgaria-cabinet": "BGR",
    "canada-cabinet": "CAN",
    "china-ministers": "CHN",
    "congo-kinshasa-ministers": "COD",
    "czech-ministers": "CZE",
    "denmark-cabinet": "DNK",
    "egypt-ministers": "EGY",
    "ethiopia-ministers": "ETH",
    "finland-cabinet": "FIN",
    "france-cabinet": "FRA",
    "georgia-ministers": "GEO",
    "ghana-ministers": "GHA",
    "greece-cabinet": "GRC",
    "india-ministers": "IND",
    "indonesia-ministers": "IDN",
    "iran-ministers": "IRN",
    "iraq-ministers": "IRQ",
    "ireland-ministers": "IRL",
    "israel-ministers": "ISR",
    "italy-ministers": "ITA",
    "japan-ministers": "JPN",
    "jordan-ministers": "JOR",
    "kazakhstan-cabinet": "KAZ",
    "kenya": "KEN",
    "kosovo-cabinet": "XKX",
    "kuwait-ministers": "KWT",
    "lithuania": "LTU",
    "malaysia-ministers": "MYS",
    "mexico-ministers": "MEX",
    "mongolia-ministers": "MNG",
    "montenegro-cabinet": "MNE",
    "mozambique": "MOZ",
    "netherlands-cabinet": "NLD",
    "new-zealand-cabinet": "NZL",
    "nigeria": "NGA",
    "north-macedonia-ministers": "MKD",
    "norway-cabinet": "NOR",
    "pakistan-ministers": "PAK",
    "philippines-ministers": "PHL",
    "poland-cabinet": "POL",
    "portugal-cabinet": "PRT",
    "romania-cabinet": "ROU",
    "russia-cabinet": "RUS",
    "rwanda-ministers": "RWA",
    "saudi-ministers": "SAU",
    "senegal-ministers": "SEN",
    "singapore-ministers": "SGP",
    "slovenia-cabinet": "SVN",
    "somalia-cabinet": "SOM",
    "south-africa-cabinet": "ZAF",
    "south-korea-ministers": "KOR",
    "south-sudan": "SSD",
    "spain-ministers": "ESP",
    "sri-lanka-cabinet": "LKA",
    "sudan": "SDN",
    "sweden-cabinet": "SWE",
    "syria": "SYR",
    "taiwan": "TWN",
    "tanzania-ministers": "TZA",
    "turkey-ministers": "TUR",
    "uae-ministers": "ARE",
    "ukraine-cabinet": "UKR",
    "united-kingdom-cabinet": "GBR",
    "us-cabinet": "USA",
    "venezuela": "VEN",
    "vietnam": "VNM",
    "yemen": "YEM",
    "zambia-ministers": "ZMB",
    "zimbabwe": "ZWE",
}
# Folders of legislatures (hundreds of members each, rarely in international news) are not offices here.
_SKIP_FOLDER = re.compile(
    r"(duma|rada|assembly|representatives|federal-council|cabinets?/|cabinet-|chief-ministers$|governors$|governors-enwiki$)"
)

# Offices left out as rarely in international news (deputies, staff, junior ministers, ambassadors
# other than to the UN, regional posts away from a war), which also keeps the tagger's build short.
_SKIP_OFFICE = re.compile(
    r"/ambassadors/ambassador-(?!un$)|/ambassador-(?!to-un)|/governors/|first-lady|-lt-gov|administrator|"
    r"(himachal-pradesh|kerala|manipur|nagaland|uttarakhand)-chief|punjab-(deputy|chief|governor)|-mayor|"
    r"ankara-governor|federal-subjects/(?!chechnya|crimea|sevastopol|belgorod|kursk)|-deputy$|labor-dep|"
    r"deputy-attorney-general|counsellor|vp-cos|wh-communications|economic-advisers|employment-minister|"
    r"puss-exports|paymaster-general|solicitor-general"
)

# Folders (`<repo>/<folder>`) left out of the repositories added for issue 16: offices below the
# national level, legislatures, deputies, minor councils, and copies of another folder's tables
# (Angola's "defence ministers" are Pakistan's; Montenegro's "justice" is its interior list).
_SKIP_IN_REPO = re.compile(
    r"^(?:angola/(minister-defence$|[a-z-]+-governor$)|argentina-ministers/wpoffice/governor-|"
    r"australia-cabinet/(QLD-|wpoffice/(qld|wa)-)|bosnia-herzegovina-ministers/(federation|srpska)-|"
    r"canada-cabinet/wpoffice/nova-scotia-|denmark-cabinet/copenhagen|ireland-ministers/leass?-|"
    r"kenya/mayor-|montenegro-cabinet/justice-enwiki$|mozambique/first-ladies|norway-cabinet/svalbard-|"
    r"singapore-ministers/parliament-|south-sudan/wpoffice/[a-z-]+-governor$|sudan/state-governors/|"
    r"taiwan/wpoffice/(agriculture|atomic|election|hakka|indigenous|national-development|personnel|"
    r"science|veterans)-|taiwan/cabinet/|uae-ministers/emir-|yemen/cabinet/sanaa/|"
    r"zimbabwe/(senate-|wpoffice/(deputy-|governor-|mayor-)))"
)
# Junior ministers on a government's own page or a cabinet list (the folders of offices skip them).
_JUNIOR = re.compile(r"^(Assistant|Associate|Deputy) Minister\b|^(Dutch )?State Secretary\b")

# Office titles for folders whose source page is not an English Wikipedia article with the title.
OFFICE_TITLES = {
    "brazil-ministers/wpoffice/minister-education": "Minister of Education of Brazil",
    "brazil-ministers/wpoffice/minister-health": "Minister of Health of Brazil",
    "brazil-ministers/wpoffice/minister-justice": "Minister of Justice of Brazil",
    "iraq-ministers/defence-arwiki": "Minister of Defence of Iraq",
    "kenya/minister-agriculture": "Minister of Agriculture (Kenya)",
    "iraq-ministers/higher-education-arwiki": "Minister of Higher Education of Iraq",
    "iraq-ministers/interior-arwiki": "Minister of Interior of Iraq",
    "russia-cabinet/wpoffice/cogs": "Chief of the General Staff of the Russian Armed Forces",
    "south-africa-cabinet/wpoffice/army-chief": "Chief of the South African Army",
    "russia-cabinet/wpoffice/ministers/minister-regional-development": (
        "Minister of Regional Development of Russia"
    ),
    "russia-cabinet/wpoffice/federal-subjects/belgorod-governor": "Governor of Belgorod Oblast",
    "russia-cabinet/wpoffice/federal-subjects/kursk-governor": "Governor of Kursk Oblast",
    "russia-cabinet/wpoffice/federal-subjects/ryazan-governor": "Governor of Ryazan Oblast",
    "russia-cabinet/wpoffice/federal-subjects/sevastopol-governor": "Governor of Sevastopol",
    "russia-cabinet/wpoffice/federal-subjects/tomsk-governor": "Governor of Tomsk Oblast",
    "south-korea-ministers/wpoffice/army-chief": "Chief of Staff of the Republic of Korea Army",
    "south-korea-ministers/wpoffice/education-minister": "Minister of Education of South Korea",
    "south-korea-ministers/wpoffice/financial-services-kowiki": (
        "Chairman of the Financial Services Commission (South Korea)"
    ),
    "south-korea-ministers/wpoffice/veterans-kowiki": (
        "Minister of Patriots and Veterans Affairs of South Korea"
    ),
    "syria/wpoffice/foreign-minister": "Minister of Foreign Affairs of Syria",
    "turkey-ministers/wpoffice/ankara-governor-trwiki": "Governor of Ankara",
    "turkey-ministers/wpoffice/bank-governor": "Governor of the Central Bank of Turkey",
    "turkey-ministers/wpoffice/cogs-trwiki": "Chief of the General Staff of Turkey",
    "turkey-ministers/wpoffice/defence-trwiki": "Minister of National Defence of Turkey",
    "turkey-ministers/wpoffice/education-trwiki": "Minister of National Education of Turkey",
    "turkey-ministers/wpoffice/energy-trwiki": "Minister of Energy and Natural Resources of Turkey",
    "turkey-ministers/wpoffice/european-union-trwiki": "Minister for EU Affairs of Turkey",
    "turkey-ministers/wpoffice/finance-trwiki": "Minister of Finance of Turkey",
    "turkey-ministers/wpoffice/foreign-trwiki": "Minister of Foreign Affairs of Turkey",
    "turkey-ministers/wpoffice/health-trwiki": "Minister of Health of Turkey",
    "turkey-ministers/wpoffice/interior-trwiki": "Minister of the Interior of Turkey",
    "turkey-ministers/wpoffice/justice-trwiki": "Minister of Justice of Turkey",
    "turkey-ministers/wpoffice/transport-trwiki": "Minister of Transport of Turkey",
    "ukraine-cabinet/wpoffice/bank-governor": "Governor of the National Bank of Ukraine",
    "ukraine-cabinet/wpoffice/crimea-representative": "Presidential Representative of Ukraine in Crimea",
    "ukraine-cabinet/wpoffice/governor-cherkasy": "Governor of Cherkasy Oblast",
    "ukraine-cabinet/wpoffice/governor-chernihiv": "Governor of Chernihiv Oblast",
    "ukraine-cabinet/wpoffice/governor-luhansk": "Governor of Luhansk Oblast",
    "ukraine-cabinet/wpoffice/governor-odessa": "Governor of Odesa Oblast",
    "ukraine-cabinet/wpoffice/prosecutor-uawiki": "Prosecutor General of Ukraine",
    "ukraine-cabinet/wpoffice/security-service-uawiki": "Head of the Security Service of Ukraine",
}
# Titles derived from an article about the institution rather than the office.
_TITLE_FIXES = {
    "Central Bank of Russia": "Governor of the Central Bank of Russia",
    "Joint Staff Department of the Central Military Commission": (
        "Chief of the Joint Staff Department (China)"
    ),
    "Office of Management and Budget": "Director of the Office of Management and Budget",
    "Council of Economic Advisers": "Chair of the Council of Economic Advisers",
    "ADMINISTRATOR OF THE ENVIRONMENTAL PROTECTION AGENCY": (
        "Administrator of the Environmental Protection Agency"
    ),
    "Bank of South Sudan": "Governor of the Bank of South Sudan",
    "Central Bank of Ireland": "Governor of the Central Bank of Ireland",
    "Central Bank of Nigeria": "Governor of the Central Bank of Nigeria",
    "Commanders of the Air Force of Zimbabwe": "Commander of the Air Force of Zimbabwe",
    "Federal Ministry of Interior (Nigeria)": "Minister of Interior (Nigeria)",
    "Federal Ministry of Justice (Nigeria)": "Attorney General and Minister of Justice (Nigeria)",
    "House of Peoples' Representatives": "Speaker of the House of Peoples' Representatives (Ethiopia)",
    "National Bank of Georgia": "Governor of the National Bank of Georgia",
    "National Intelligence Agency (Nigeria)": (
        "Director General of the National Intelligence Agency (Nigeria)"
    ),
    "Office of the Attorney General (Angola)": "Attorney General of Angola",
    "Polish General Staff": "Chief of the General Staff of the Polish Armed Forces",
    "Reserve Bank of Zimbabwe": "Governor of the Reserve Bank of Zimbabwe",
    "Secretariat of National Defense (Mexico)": "Secretary of National Defense (Mexico)",
    "State Security Service (Nigeria)": "Director General of the State Security Service (Nigeria)",
}
_PLURAL_HEADS = {"Ambassadors of": "Ambassador of", "Justices of": "Justice of", "Judges of": "Judge of"}
# US state legislatures and offices in the scraper repositories: local, not international news.
_SKIP_TITLE = re.compile(r"Legislature|House of Representatives|Senate|Montana|Colorado|Arizona")
# A position label naming only a portfolio (Pakistan's official list: "Defence", "Interior").
_OFFICE_WORD = re.compile(
    r"Minister|Secretary|Director|Administrator|Representative|Chair|Advis|Counselor|President|Premier|"
    r"Chief|Attorney|Governor|Ambassador|Speaker|Head|Commissioner"
)
_AMBASSADOR_TO = {"bih": "Bosnia and Herzegovina", "uk": "the United Kingdom", "usa": "the United States"}
_BRAZIL_STATES = {
    "acre": "Acre",
    "alagoas": "Alagoas",
    "amazonas": "Amazonas",
    "ceara": "Ceará",
    "espirito-santo": "Espírito Santo",
    "maranhao": "Maranhão",
    "mato-grosso-do-sul": "Mato Grosso do Sul",
    "paraiba": "Paraíba",
    "rondonia": "Rondônia",
    "roraima": "Roraima",
}
_PLURALS = {
    "ministers": "minister",
    "governors": "governor",
    "presidents": "president",
    "speakers": "speaker",
    "chairmen": "chairman",
    "administrators": "administrator",
    "heads": "head",
    "Ministers": "Minister",
}
_NAME_TOKEN = re.compile(r"[^\W\d_]", re.UNICODE)
_QUALIFIER = re.compile(r"\s*\([^)]*\)\s*$")  # `John Smith (politician)`


@dataclass(frozen=True)
class Row:
    """One dated role of one person, as the extract stores it."""

    qid: str
    name: str
    variants: tuple[str, ...]
    wikipedia: str
    title: str
    of: str  # the QID of the state the office belongs to, or "" for international offices
    start: str
    end: str
    source: str

    def as_csv(self) -> list[str]:
        return [
            self.qid,
            self.name,
            "|".join(self.variants),
            self.wikipedia,
            self.title,
            self.of,
            self.start,
            self.end,
            self.source,
        ]


# ---------------------------------------------------------------------------------------- extract


class _Repo:
    """A bare snapshot of one scraper repository, read with `git show`."""

    def __init__(self, mirror: Path, name: str) -> None:
        self.name = name
        self.git = mirror / f"{OWNER}+{name}" / "repo"
        if not self.git.is_dir():
            raise ExtractError(f"{self.git}: no snapshot of {OWNER}/{name} (fetch it first)")
        log = git(self.git, "log", "-1", "--format=%h %ad", "--date=short")
        self.commit, self.date = log.split()

    def files(self) -> list[str]:
        return git(self.git, "ls-tree", "-r", "--name-only", "HEAD").splitlines()

    def text(self, path: str) -> str | None:
        done = subprocess.run(
            ["git", "-C", str(self.git), "show", f"HEAD:{path}"], capture_output=True, text=True
        )
        return done.stdout if done.returncode == 0 else None

    def table(self, path: str) -> list[dict[str, str]]:
        text = self.text(path)
        return [] if text is None else list(csv.DictReader(io.StringIO(text)))

    def where(self, path: str) -> str:
        return f"{OWNER}/{self.name}@{self.commit} {path} (read {self.date})"


def _year(value: str) -> str:
    """`2020-10-01T00:00:00Z` -> `2020-10-01`; empty stays empty."""
    return (value or "").strip()[:10]


def _clean_name(name: str) -> str:
    return " ".join((name or "").split())


def _is_full_name(name: str) -> bool:
    """Two or more words with letters and none of the punctuation news text does not use in names."""
    words = [w for w in name.split() if _NAME_TOKEN.search(w)]
    return len(words) >= 2 and not any(c in name for c in "(),;/[]0123456789")


def _title_from_source(folder: str, meta: Mapping[str, Any], country: str) -> str | None:
    title = _raw_title(folder, meta, country)
    if title is None or _SKIP_TITLE.search(title):
        return None
    for plural, singular in _PLURAL_HEADS.items():
        if title.startswith(plural):
            title = singular + title.removeprefix(plural)
    return _TITLE_FIXES.get(title, title)


def _raw_title(folder: str, meta: Mapping[str, Any], country: str) -> str | None:
    if folder in OFFICE_TITLES:
        return OFFICE_TITLES[folder]
    leaf = folder.rsplit("/", 1)[-1]
    if "/ambassadors/ambassador-" in folder:
        place = leaf.removeprefix("ambassador-")
        if place == "un":
            return f"Permanent Representative of {country} to the United Nations"
        return f"Ambassador of {country} to {_AMBASSADOR_TO.get(place, place.replace('-', ' ').title())}"
    if "/governors/" in folder and leaf in _BRAZIL_STATES:
        return f"Governor of {_BRAZIL_STATES[leaf]}"
    source = meta.get("source")
    if not isinstance(source, str) or "//en.wikipedia.org/wiki/" not in source:
        return None
    title = unquote(urlsplit(source).path.rsplit("/", 1)[-1]).replace("_", " ")
    if title.startswith(("Politics of", "Ambassade")):
        return None
    if title.startswith("Ministry of "):
        return "Minister of " + title.removeprefix("Ministry of ")
    if title.startswith("List of "):
        words = title.removeprefix("List of ").split(" ")
        for index, word in enumerate(words):
            if word in _PLURALS:
                words[index] = _PLURALS[word]
                break
        title = " ".join(words)
        return title[:1].upper() + title[1:]
    return title


def _agreeing(primary: list[dict[str, str]], check: list[dict[str, str]], key: str = "item") -> set[str]:
    """QIDs named by both tables: Wikidata's office holders and the Wikipedia list or official page."""
    return {r[key] for r in primary if r.get(key)} & {r.get("item") or r.get("wdid") or "" for r in check}


def _wpoffice_rows(
    repo: _Repo, country_qid: str, country_name: str, enwiki: Mapping[str, str]
) -> Iterator[Row]:
    files = set(repo.files())
    for meta_path in sorted(f for f in files if f.startswith("sources/") and f.endswith("/meta.json")):
        folder_path = meta_path.removesuffix("/meta.json")
        folder = f"{repo.name}/{folder_path.removeprefix('sources/')}"
        if (
            _SKIP_FOLDER.search(folder_path)
            or folder_path.endswith("/official")
            or "official-" in folder_path
            or _SKIP_OFFICE.search(folder_path)
            or _SKIP_IN_REPO.search(folder)
        ):
            continue
        meta = json.loads(repo.text(meta_path) or "{}")
        title = _title_from_source(folder, meta, country_name)
        if title is None:
            continue
        wikidata = repo.table(f"{folder_path}/wikidata.csv")
        scraped = repo.table(f"{folder_path}/scraped.csv")
        if not wikidata or "startDate" not in wikidata[0]:
            continue
        agreed = _agreeing(wikidata, scraped)
        spellings = _spellings(scraped)
        for row in wikidata:
            qid = row.get("item", "")
            if qid not in agreed:
                continue
            source = repo.where(folder_path) + ": Wikidata P39 + Wikipedia list"
            yield _wikidata_row(row, spellings, enwiki, title, country_qid, source)


def _official_rows(repo: _Repo, country_qid: str, enwiki: Mapping[str, str]) -> Iterator[Row]:
    """Cabinet members on the government's own page, where Wikidata dates their position."""
    for path in sorted(
        f for f in repo.files() if f.startswith("sources/official") and f.endswith("/wikidata.csv")
    ):
        english = _page_language(json.loads(repo.text(path.replace("wikidata.csv", "meta.json")) or "{}"))
        for row in repo.table(path):
            start = _year(row.get("start", "") or row.get("startDate", ""))
            qid, label, official = (
                row.get("wdid", ""),
                _clean_name(row.get("wdLabel", "")),
                _clean_name(row.get("name", "")),
            )
            if not (qid and start and label and row.get("position")) or _JUNIOR.search(row["position"]):
                continue
            variants = tuple(v for v in (official,) if v and v != label)
            title = _clean_name(row["position"])
            if title.startswith("Ministry of "):
                title = "Minister of " + title.removeprefix("Ministry of ")
            # a page in another language names the office in that language (`Ministro da Defesa`)
            elif english in ("", "en") and not _OFFICE_WORD.search(title):
                title = f"Minister of {title}"
            yield Row(
                qid,
                label,
                variants,
                enwiki.get(qid, ""),
                _TITLE_FIXES.get(title, title),
                country_qid,
                start,
                "",
                repo.where(path.rsplit("/", 1)[0]) + ": Wikidata P39 + official government page",
            )


def _page_language(meta: Mapping[str, Any]) -> str:
    """The language code of an official page's `meta.json` (`"source": {"lang": {"code": "pt"}}`)."""
    source = meta.get("source")
    lang = source.get("lang") if isinstance(source, dict) else None
    code = lang.get("code") if isinstance(lang, dict) else None
    return code if isinstance(code, str) else ""


def _cabinet_rows(repo: _Repo, country_qid: str, enwiki: Mapping[str, str]) -> Iterator[Row]:
    """Members of a cabinet as its English Wikipedia article lists them, where Wikidata's position
    held agrees on the person; Wikidata's English label of the position is the title."""
    for path in sorted(f for f in repo.files() if f.startswith("sources/") and f.endswith("/wikidata.csv")):
        folder_path = path.removesuffix("/wikidata.csv")
        folder = f"{repo.name}/{folder_path.removeprefix('sources/')}"
        wikidata = repo.table(path)
        if not wikidata or not {"item", "positionLabel", "startDate"} <= set(wikidata[0]):
            continue
        meta = json.loads(repo.text(f"{folder_path}/meta.json") or "{}")
        reference = meta.get("reference")
        page = reference.get("P4656") if isinstance(reference, dict) else meta.get("source")
        if (
            not isinstance(page, str)
            or "//en.wikipedia.org/wiki/" not in page
            or meta.get("lang", "en") != "en"
            or "governor" in folder_path
            or _SKIP_OFFICE.search(folder_path)
            or _SKIP_IN_REPO.search(folder)
        ):
            continue
        scraped = repo.table(f"{folder_path}/scraped.csv")
        agreed = _agreeing(wikidata, scraped)
        spellings = _spellings(scraped)
        for row in wikidata:
            qid, title = row.get("item", ""), _clean_name(row.get("positionLabel", ""))
            if qid not in agreed or not title or re.fullmatch(r"Q\d+", title) or _JUNIOR.search(title):
                continue
            source = repo.where(folder_path) + ": Wikidata P39 + Wikipedia list of the cabinet"
            yield _wikidata_row(row, spellings, enwiki, _TITLE_FIXES.get(title, title), country_qid, source)


def _wikidata_row(
    row: Mapping[str, str],
    spellings: Mapping[str, set[str]],
    enwiki: Mapping[str, str],
    title: str,
    country_qid: str,
    source: str,
) -> Row:
    """One dated role from a Wikidata P39 row the second source agrees with."""
    qid, name = row.get("item", ""), _clean_name(row.get("itemLabel", ""))
    return Row(
        qid,
        name,
        tuple(sorted(spellings[qid] - {name})),
        enwiki.get(qid, ""),
        title,
        country_qid,
        _year(row.get("startDate", "")),
        _year(row.get("endDate", "")),
        source,
    )


def _spellings(scraped: list[dict[str, str]]) -> dict[str, set[str]]:
    """QID -> the names the second source writes for it."""
    spellings: dict[str, set[str]] = defaultdict(set)
    for row in scraped:
        if row.get("item"):
            spellings[row["item"]].add(_clean_name(row.get("itemLabel", "")))
    return spellings


def _enwiki_titles(repo: _Repo) -> dict[str, str]:
    return {
        r["wikidata"]: r["title"]
        for r in repo.table("enwiki/index.csv")
        if r.get("wikidata") and r.get("title")
    }


def _world_rows(mirror: Path) -> Iterator[Row]:
    """Heads of state and government (2021-22), foreign ministers (2023) and heads of IGOs."""
    world = _Repo(mirror, "world")
    bio = {r["id"]: r for r in world.table("html/bio.csv") if r.get("id")}
    leaders = _Repo(mirror, "world-leaders-2021")
    listed = {
        r["officeholder"]: _clean_name(r["officeholderlabel"]) for r in leaders.table("data/wikipedia.csv")
    }
    for row in leaders.table("data/wikidata.csv"):
        qid, name = row["officeholder"], _clean_name(row["officeholderLabel"])
        if qid not in listed and qid not in bio:
            continue  # Wikidata alone: no second source names this person for the office
        variants = tuple(
            v for v in {listed.get(qid, ""), _clean_name(bio.get(qid, {}).get("name", ""))} if v and v != name
        )
        yield Row(
            qid,
            name,
            tuple(sorted(variants)),
            bio.get(qid, {}).get("enwiki", ""),
            row["positionLabel"],
            row["countryid"],
            row["start_year"],
            row["end_year"],
            leaders.where("data") + ": Wikidata P39 + Wikipedia list of heads of state and government",
        )
    scraped = {
        r["person"]: _clean_name(r["name"])
        for r in world.table("sources/foreign/scraped.csv")
        if r.get("person")
    }
    for row in world.table("sources/foreign/wikidata.csv"):
        qid, name = row.get("person", ""), _clean_name(row.get("name", ""))
        if not qid or qid not in scraped or not row.get("start"):
            continue
        variants = tuple(v for v in (scraped[qid],) if v != name)
        yield Row(
            qid,
            name,
            variants,
            bio.get(qid, {}).get("enwiki", ""),
            row["positionLabel"],
            row["country"],
            _year(row["start"]),
            "",
            world.where("sources/foreign") + ": Wikidata P39 + Wikipedia list of foreign ministers",
        )
    for row in world.table("html/holders21.csv"):
        qid = row.get("personID", "")
        if qid not in bio or not row.get("start"):
            continue  # the officeholder table and the biography table are separate Wikidata queries
        name = _clean_name(row["person"])
        yield Row(
            qid,
            name,
            (),
            bio[qid].get("enwiki", ""),
            row["position"],
            "",
            _year(row["start"]),
            _year(row["end"]),
            world.where("html/holders21.csv") + ": Wikidata P39 + officeholder biography table",
        )


def extract(mirror: Path, folder: Path = DEFAULT_FOLDER) -> list[Row]:
    """Every row the snapshots under `mirror` give, in a stable order."""
    registry = load_registry(folder)
    by_code = {a.country: a for a in registry.actors if a.kind == "country" and a.country}
    rows = list(_world_rows(mirror))
    for name, code in sorted(REPO_COUNTRY.items()):
        country = by_code[code]
        repo = _Repo(mirror, name)
        enwiki = _enwiki_titles(repo)
        rows.extend(_wpoffice_rows(repo, country.id, country.name, enwiki))
        rows.extend(_official_rows(repo, country.id, enwiki))
        rows.extend(_cabinet_rows(repo, country.id, enwiki))
    unique = {tuple(r.as_csv()): r for r in rows}
    return sorted(unique.values(), key=lambda r: (r.qid, r.start, r.title, r.source))


def write_extract(rows: Iterable[Row], path: Path) -> None:
    write_csv(path, EXTRACT_COLUMNS, (row.as_csv() for row in rows))


def read_extracts(folder: Path) -> list[Row]:
    """The rows of both extracts in `folder`: the offices and, where present, the legislatures."""
    rows = read_extract(folder / EXTRACT_FILE)
    legislators = folder / LEGISLATORS_FILE
    return rows + read_extract(legislators) if legislators.is_file() else rows


def read_extract(path: Path) -> list[Row]:
    return [
        Row(
            r["qid"],
            r["name"],
            tuple(v for v in r["variants"].split("|") if v),
            r["wikipedia"],
            r["title"],
            r["of"],
            r["start"],
            r["end"],
            r["source"],
        )
        for r in read_csv(path, EXTRACT_COLUMNS)
    ]


# ------------------------------------------------------------------------------------------ build


def _recent(row: Row) -> bool:
    end = row.end[:4]
    return not end or int(end) >= SINCE


def build(rows: list[Row], folder: Path = DEFAULT_FOLDER) -> tuple[str, dict[str, int]]:
    """The JSON text of the generated persons and counts for the summary line."""
    registry = load_registry(folder)
    taken_ids, taken_keys = taken_by_others(folder, OUTPUT_FILE)
    country_ids = {a.id: a.country for a in registry.actors if a.kind in ("country", "territory")}

    by_person: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        by_person[row.qid].append(row)
    people: dict[str, dict[str, Any]] = {}
    stats = {"rows": len(rows), "hand_kept": 0, "old": 0, "not_a_full_name": 0, "name_taken": 0}
    for qid, person_rows in sorted(by_person.items(), key=lambda item: int(item[0][1:])):
        if qid in taken_ids:
            stats["hand_kept"] += 1
            continue
        if not any(_recent(r) for r in person_rows):
            stats["old"] += 1
            continue
        # the offices' tables (read 2022-23) before the legislatures' (2015): newer names and titles
        person_rows = sorted(person_rows, key=lambda r: bool(_CHAMBER_SOURCE.match(r.source)))
        name = _display_name(person_rows)
        if not _is_full_name(name):
            stats["not_a_full_name"] += 1
            continue
        spellings = [name]
        for row in person_rows:
            spellings.extend([row.name, *row.variants])
        spellings += [ascii_fold(s) for s in list(spellings)]
        aliases: list[str] = []
        for text in spellings:
            key = normalize_alias(text)
            if _is_full_name(text) and key not in {normalize_alias(a) for a in aliases}:
                aliases.append(text)
        # the state of most of the person's roles; a tie goes to the first code, so reruns agree
        of_country = [country_ids[r.of] for r in person_rows if r.of in country_ids]
        people[qid] = {
            "name": name,
            "aliases": aliases,
            "wikipedia": next((r.wikipedia for r in person_rows if r.wikipedia), None),
            "country": max(sorted(set(of_country), key=str), key=of_country.count) if of_country else None,
            "roles": _roles(person_rows, country_ids),
            "source": "; ".join(sorted({_short_source(r.source) for r in person_rows})),
            "seat_only": all(_CHAMBER_SOURCE.match(r.source) for r in person_rows),
        }
    # An alias two generated persons share, or one a hand-kept actor has, resolves to nobody; but an
    # office holder's wins over members of a legislature without an office (one of thousands, and
    # Wikidata's duplicate items of a minister are mostly such members).
    claims: dict[str, set[str]] = defaultdict(set)
    for qid, person in people.items():
        for alias in person["aliases"]:
            claims[normalize_alias(alias)].add(qid)
    for key, claimants in claims.items():
        offices = {qid for qid in claimants if not people[qid]["seat_only"]}
        if len(claimants) > 1 and len(offices) == 1:
            claims[key] = offices
    entries = []
    for qid, person in people.items():
        keep = [
            a
            for a in person["aliases"]
            if normalize_alias(a) not in taken_keys and claims[normalize_alias(a)] == {qid}
        ]
        if normalize_alias(person["name"]) not in {normalize_alias(a) for a in keep}:
            stats["name_taken"] += 1
            continue
        entries.append(_entry(qid, person, keep))
    stats["people"] = len(entries)
    return _dump(entries, rows), stats


def _display_name(rows: list[Row]) -> str:
    """The English Wikipedia title without its qualifier (`Valery Gerasimov`, where a table read from
    the Russian Wikipedia has the Russian label), else the Wikidata label the most rows use (ties:
    the first in sorted order, so reruns agree)."""
    for row in rows:
        title = _QUALIFIER.sub("", row.wikipedia)
        if title and _is_full_name(title):
            return title
    counts: dict[str, int] = defaultdict(int)
    for row in rows:
        counts[row.name] += 1
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))[0][0]


def _roles(rows: list[Row], country_ids: Mapping[str, str | None]) -> list[dict[str, Any]]:
    roles: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rows:
        role: dict[str, Any] = {"title": row.title[:1].upper() + row.title[1:]}
        if row.of in country_ids:
            role["of"] = row.of
        role["start"] = row.start or None
        role["end"] = row.end or None
        if _CHAMBER_SOURCE.match(row.source):
            role["seat"] = True  # a member of the chamber, not an office (schemas/surnames.py)
        key = (row.title, row.start)
        if key not in roles or (roles[key]["end"] is None and role["end"] is not None):
            roles[key] = role
    return sorted(roles.values(), key=lambda r: (r["start"] or "", r["title"]))


def _entry(qid: str, person: Mapping[str, Any], aliases: list[str]) -> dict[str, Any]:
    entry: dict[str, Any] = {"id": qid, "kind": "person", "name": person["name"]}
    if person["wikipedia"]:
        entry["wikipedia"] = person["wikipedia"]
    if person["country"]:
        entry["country"] = person["country"]
    entry["source"] = person["source"]
    rest = [a for a in aliases if normalize_alias(a) != normalize_alias(person["name"])]
    if rest:
        entry["aliases"] = rest
    if surnames := family_names(person["name"], person["country"]):
        entry["surnames"] = surnames
    entry["roles"] = person["roles"]
    return entry


# Where no family name can stand for one person: China, Taiwan, Hong Kong, Macau and both Koreas
# write it first and a few hundred of them are shared by nearly everyone (Wang, Kim, Lee); Iceland,
# Ethiopia, Eritrea and Somalia use patronymics, as do Malaysia's and Brunei's Malays (Najib Razak's
# "Razak" is his father's name; a Malaysian Chinese name puts the family first); Myanmar, Indonesia,
# Thailand, Vietnam and Cambodia name people by a given name (by the state whose office was held).
_NO_FAMILY_NAME = frozenset(
    {"CHN", "TWN", "HKG", "MAC", "PRK", "KOR", "ISL", "ETH", "ERI", "SOM", "MYS", "BRN"}
    | {"MMR", "IDN", "THA", "VNM", "KHM"}
)
_NAME_SUFFIXES = frozenset({"Jr", "Jr.", "Sr", "Sr.", "II", "III", "IV"})


# An Arabic family name's article, which headlines drop: "al-Assad" is "Assad" there.
_ARTICLE = re.compile(r"^(?:al|el|Al|El)-(?=[A-Z])")


def family_names(name: str, country: str | None) -> list[str]:
    """The family name a headline may use alone ("Lavrov"; "al-Assad" and "Assad"), where the naming
    custom has one; the registry decides whether it is distinctive enough to (schemas/surnames.py)."""
    words = [word for word in name.split() if word not in _NAME_SUFFIXES]
    if len(words) < 2 or country in _NO_FAMILY_NAME:
        return []
    word = words[-1]
    if len(word) < 3 or not is_latin(word) or word.endswith("."):
        return []
    bare = _ARTICLE.sub("", word)
    return [word] if bare == word else [word, bare]


_SOURCE = re.compile(
    rf"^{OWNER}/(?P<repo>\S+)@(?P<commit>\S+) (?P<path>\S+) \(read (?P<date>[0-9-]+)\): (?P<how>.+)$"
)
# A chamber of EveryPolitician's data (pipelines.actors_legislators): its `ep-popolo-v1.0.json`.
_CHAMBER_SOURCE = re.compile(
    r"^(?P<repo>\S+/everypolitician-data)@(?P<commit>\S+) data/(?P<chamber>\S+)/ep-popolo-v1\.0\.json "
    r"\(read (?P<date>[0-9-]+)\): "
)
_HOW = (
    ("Wikipedia list", "P39+list"),
    ("official government page", "P39+official"),
    ("biography", "P39+bio"),
)


def _short_source(source: str) -> str:
    """`eps/<repo>/<folder> P39+list` or `epd/<country>/<chamber> WD+members`: the entry's source,
    spelled out once in the file's legend."""
    if chamber := _CHAMBER_SOURCE.match(source):
        return f"epd/{chamber['chamber']} WD+members"
    match = _SOURCE.match(source)
    if match is None:
        return source
    how = next((code for words, code in _HOW if words in match["how"]), match["how"])
    return f"eps/{match['repo']}/{match['path'].removeprefix('sources/')} {how}"


def _legend(rows: Iterable[Row]) -> str:
    seen = sorted({(m["repo"], m["commit"], m["date"]) for r in rows if (m := _SOURCE.match(r.source))})
    lines = [
        f"#   eps/{repo}: github.com/{OWNER}/{repo} at {commit}, read {date}" for repo, commit, date in seen
    ]
    data = sorted(
        {(m["repo"], m["commit"], m["date"]) for r in rows if (m := _CHAMBER_SOURCE.match(r.source))}
    )
    lines += [f"#   epd: github.com/{repo} at {commit}, read {date}" for repo, commit, date in data]
    return "\n".join(lines) + "\n"


_HEADER = """\
# GENERATED by `python -m pipelines.actors_officeholders` from seeds/actors/sources/officeholders.csv
# and sources/legislators.csv (`python -m pipelines.actors_legislators --extract DIR` re-reads that one);
# do not edit by hand (fix the extract, the office table in the generator, or a hand-kept file).
# Persons holding or having held (since {since}) the selected offices: heads of state and government,
# foreign ministers, heads of international bodies, the ministers, chiefs of staff, security
# chiefs and governors of {states} states, and the members of {chambers} national legislatures.
# Every QID is Wikidata's (CC0) and agreed by a second source.
# `source` names the table and folder: `P39+list` = Wikidata's position-held statements agreed by the
# office's Wikipedia list; `P39+official` = by the government's own page; `P39+bio` = by a separate
# Wikidata biography query; `WD+members` = EveryPolitician's Wikidata item for a member of the chamber,
# whose label agrees with the chamber's membership list. `end: null` means "in office when the source
# was read" (the dates are below), not necessarily today. The repositories:
"""


def _dump(entries: list[dict[str, Any]], rows: Iterable[Row] = ()) -> str:
    rows = list(rows)
    states = {m["repo"] for r in rows if (m := _SOURCE.match(r.source))} & set(REPO_COUNTRY)
    chambers = {m["chamber"] for r in rows if (m := _CHAMBER_SOURCE.match(r.source))}
    header = _HEADER.format(since=SINCE, states=len(states), chambers=len(chambers)) + _legend(rows)
    return actors_json(about_lines(header), entries)


# ------------------------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    return generator_main(
        argv,
        module="pipelines.actors_officeholders",
        description=__doc__.split("\n")[0],
        output_file=OUTPUT_FILE,
        extract=lambda snapshots, folder: write_extract(extract(snapshots, folder), folder / EXTRACT_FILE),
        build=lambda folder: build(read_extracts(folder), folder),
    )


if __name__ == "__main__":
    raise SystemExit(main())
