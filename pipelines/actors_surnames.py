"""Write `seeds/actors/sources/surnames.csv`: what name and word lists say of each declared surname.

    python -m pipelines.actors_surnames --extract     # download the lists (cached), rewrite the CSV
    python -m pipelines.actors_surnames --check       # exit 1 when a declared surname has no row

The registry reads the CSV to decide which surnames stand alone (schemas/surnames.py). Its sources,
both downloaded through their ordinary package clients into ~/.cache/wirewatch/sources/:

- the US Census Bureau's 1990 name lists (public domain: `dist.all.last`, `dist.male.first`,
  `dist.female.first`, each name with its rank), as shipped in the sdist of the `names` package on
  PyPI (`pip download names==0.3.0`);
- SCOWL's size-35 English word list (Kevin Atkinson; permissive licence, see sources/NOTICE.md), as
  shipped in Debian's `wamerican-small` (`apt-get download wamerican-small`).

Only the rows of surnames the registry declares are written: the lists themselves are not copied.
Run it again after adding a person with a new Latin-script surname (validation says so).
"""

from __future__ import annotations

import argparse
import io
import subprocess
import sys
import tarfile
from pathlib import Path

from pipelines.actors_extract import ExtractError, ascii_fold, write_csv
from schemas import surnames as rules
from schemas.actors import DEFAULT_FOLDER, load_registry

CACHE = Path.home() / ".cache" / "wirewatch" / "sources"
NAMES_SDIST = "names-0.3.0.tar.gz"
CENSUS_SURNAMES, CENSUS_GIVEN_NAMES = "dist.all.last", ("dist.male.first", "dist.female.first")
WORDS_PACKAGE = "wamerican-small"
WORDS_PATH = "./usr/share/dict/american-english-small"


def names_sdist(cache: Path = CACHE) -> Path:
    """The `names` sdist (which carries the Census lists), downloaded once."""
    path = cache / NAMES_SDIST
    if not path.is_file():
        cache.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:"]
        _run([*command, "--dest", str(cache), "names==0.3.0"], "download the Census name lists (pip)")
    return path


def words_deb(cache: Path = CACHE) -> Path:
    """Debian's wamerican-small package (SCOWL size 35), downloaded once."""
    found = sorted(cache.glob(f"{WORDS_PACKAGE}_*.deb"))
    if not found:
        cache.mkdir(parents=True, exist_ok=True)
        _run(["apt-get", "download", WORDS_PACKAGE], "download SCOWL's word list (apt-get)", cwd=cache)
        found = sorted(cache.glob(f"{WORDS_PACKAGE}_*.deb"))
    if not found:
        raise ExtractError(f"apt-get left no {WORDS_PACKAGE}_*.deb in {cache}")
    return found[-1]


def _run(command: list[str], what: str, cwd: Path | None = None) -> bytes:
    try:
        return subprocess.run(command, check=True, capture_output=True, cwd=cwd).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        raise ExtractError(f"could not {what}: {exc} {detail.decode(errors='replace')[-300:]}") from None


def census_ranks(sdist: Path) -> tuple[dict[str, int], dict[str, int]]:
    """(surname -> rank, given name -> best rank of either sex), names in upper case as listed."""

    def ranks(archive: tarfile.TarFile, name: str) -> dict[str, int]:
        member = next(m for m in archive.getmembers() if m.name.endswith(f"/names/{name}"))
        handle = archive.extractfile(member)
        assert handle is not None
        rows = (line.split() for line in io.TextIOWrapper(handle, encoding="ascii"))
        return {row[0]: int(row[3]) for row in rows if len(row) == 4}

    with tarfile.open(sdist) as archive:
        surnames = ranks(archive, CENSUS_SURNAMES)
        given: dict[str, int] = {}
        for name in CENSUS_GIVEN_NAMES:
            for first, rank in ranks(archive, name).items():
                given[first] = min(rank, given.get(first, rank))
    return surnames, given


def english_words(deb: Path) -> set[str]:
    """The lower-case words of the list (its capitalized entries are proper names, not words)."""
    data = _run(["dpkg-deb", "--fsys-tarfile", str(deb)], f"unpack {deb.name} (dpkg-deb)")
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        handle = archive.extractfile(WORDS_PATH)
        if handle is None:
            raise ExtractError(f"{deb.name} holds no {WORDS_PATH}")
        words = handle.read().decode("utf-8").split()
    return {word for word in words if word.islower()}


def extract(folder: Path = DEFAULT_FOLDER, cache: Path = CACHE) -> int:
    surnames, given = census_ranks(names_sdist(cache))
    words = english_words(words_deb(cache))
    declared = sorted(rules.declared_latin_surnames(load_registry(folder).actors))
    rows = []
    for surname in declared:
        upper = ascii_fold(surname).upper()
        rows.append(
            (
                surname,
                str(surnames.get(upper, "")),
                str(given.get(upper, "")),
                "1" if ascii_fold(surname).lower() in words else "0",
            )
        )
    write_csv(folder / rules.EVIDENCE_FILE, rules.EVIDENCE_COLUMNS, rows)
    return len(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pipelines.actors_surnames", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--extract", action="store_true", help="download the lists and rewrite the CSV")
    parser.add_argument("--check", action="store_true", help="exit 1 when a declared surname has no row")
    parser.add_argument("--folder", type=Path, default=DEFAULT_FOLDER, help="the registry folder")
    args = parser.parse_args(argv)
    if args.extract:
        try:
            count = extract(args.folder)
        except ExtractError as exc:
            print(f"actors_surnames: {exc}", file=sys.stderr)
            return 2
        print(f"{args.folder / rules.EVIDENCE_FILE}: {count} surnames")
    registry = load_registry(args.folder)
    missing = rules.declared_latin_surnames(registry.actors) - set(registry.surname_evidence)
    distinctive = sum(len(found) for found in registry.distinctive_surnames.values())
    print(f"{distinctive} distinctive surnames; {len(missing)} declared surnames without a row")
    return 1 if args.check and missing else 0


if __name__ == "__main__":
    sys.exit(main())
