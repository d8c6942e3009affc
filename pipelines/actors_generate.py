"""Generate `seeds/actors/countries.yaml` from rigour's territory data plus the hand-kept enrichment.

    python -m pipelines.actors_generate            # rewrite seeds/actors/countries.yaml
    python -m pipelines.actors_generate --check    # exit 1 when the committed file is stale

The base list — which countries and territories exist, their ISO 3166-1 alpha-3 codes, Wikidata
QIDs, names in many languages and English Wikipedia links — is the territory table of the `rigour`
package (OpenSanctions' territory data, MIT). rigour is not installed: its dependencies (`normality`
brings a compiled `pyicu` and `chardet`, and an importable `chardet` changes feedparser's encoding
detection) do not belong in the runtime or the test environment. The generator instead fetches one
pinned wheel, checks its sha256, and reads the table out of it (`territories_jsonl`). The wheel is kept
in the project's wheel cache (~/.cache/wirewatch/wheels, the Makefile's `WHEELS`), so a regeneration
needs the network only once. `seeds/actors/enrichment.yaml` adds what rigour does not carry and an
analyst curates: demonyms, capitals and metonyms with their weights, ambiguity flags, Wikipedia
title fixes, names to drop, and which sub-national territories to include.

Selection: every current (non-historical) territory with an alpha-3 code, plus the codes listed
under `include` (occupied or disputed areas such as Crimea, which take their parent's code).
Aliases: the canonical and full names, rigour's strong names (any script), and its weak names only
in non-Latin scripts — its weak Latin-script names are mostly other languages' exonyms that collide
with English words (`Shine`, `Sina`, `Kina`) or name predecessor states. Names with parentheses,
commas or slashes (`Korea, North`, `Holy See (Vatican)`) are dropped: news text does not use them.
A name two territories share goes to the one that holds it at the strongest tier (display name,
strong name, weak name) or, on a tie, to neither. The output is sorted, so a rerun on the same
rigour version and enrichment gives the same bytes.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import subprocess
import sys
import unicodedata
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import orjson
import yaml
import zstandard

from schemas.actors import DEFAULT_FOLDER, ENRICHMENT_FILE, normalize_alias

COUNTRIES_FILE = "countries.yaml"
ALIAS_TYPES = ("demonym", "capital", "metonym")
_TIER_NAME, _TIER_STRONG, _TIER_WEAK = 0, 1, 2
_SKIP_CHARS = set("(),;/[]")
_CJK_PREFIXES = ("CJK", "HIRAGANA", "KATAKANA", "HANGUL")


# The one rigour build regeneration reads, pinned by version and content. `pip download` asks for this
# exact file whatever the host (platform, Python and ABI are given), so every machine reads the same
# bytes; upgrading rigour means changing these three lines and rerunning the generator.
RIGOUR_VERSION = "2.6.1"
RIGOUR_WHEEL = f"rigour-{RIGOUR_VERSION}-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
RIGOUR_WHEEL_SHA256 = "b2e19a4da4f047fb780d5075b036099fe9a9b2a6e0ff1c18de1bf4826103d3f8"
_WHEEL_TARGET = (
    "--platform manylinux_2_17_x86_64 --python-version 3.11 --implementation cp --abi cp311".split()
)
WHEEL_CACHE = Path.home() / ".cache" / "wirewatch" / "wheels"  # the Makefile's WHEELS

_ZSTD_MAGIC = re.compile(re.escape(b"\x28\xb5\x2f\xfd"))
_PROBE_BYTES = 1 << 16  # compressed input read to see whether a frame starts with a territory record
_RECORD_KEYS = frozenset({"code", "name", "qid"})


class RigourWheelError(RuntimeError):
    """The pinned rigour wheel is not the pinned file, or does not hold the territory table."""


class WheelUnavailable(RigourWheelError):
    """The pinned rigour wheel is not cached and cannot be downloaded (offline, index unreachable)."""


def fetch_rigour_wheel(cache: Path = WHEEL_CACHE) -> Path:
    """The pinned rigour wheel in `cache`, downloaded first when missing; its sha256 is checked."""
    path = cache / RIGOUR_WHEEL
    if not path.is_file():
        cache.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "pip", "download", f"rigour=={RIGOUR_VERSION}", "--no-deps"]
        command += ["--only-binary=:all:", *_WHEEL_TARGET, "--dest", str(cache)]
        command += ["--quiet", "--disable-pip-version-check", "--retries", "2", "--timeout", "60"]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0 or not path.is_file():
            errors = [line for line in done.stderr.splitlines() if line.startswith("ERROR")]
            why = (errors or done.stderr.strip().splitlines() or [f"pip exited {done.returncode}"])[0]
            raise WheelUnavailable(f"cannot download {RIGOUR_WHEEL} into {cache}: {why}")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != RIGOUR_WHEEL_SHA256:
        raise RigourWheelError(
            f"{path}: sha256 {digest} is not the pinned {RIGOUR_WHEEL_SHA256}; delete it to download again"
        )
    return path


def territories_jsonl(wheel: Path) -> str:
    """rigour's territory table (one JSON record a line), read out of the wheel without installing it.

    rigour 2.x ships no data files for territories: its Rust extension (`rigour/_core.*.so`) embeds
    the table as a zstd frame and `rigour._core.territories_jsonl()` only decompresses it. So does
    this: of the zstd frames in the extension, the one whose first line is a territory record. For
    2.6.1 that gives the very string `territories_jsonl()` returns (checked byte for byte).
    """
    with zipfile.ZipFile(wheel) as archive:
        cores = [
            name
            for name in archive.namelist()
            if name.startswith("rigour/_core.") and name.endswith((".so", ".pyd"))
        ]
        if len(cores) != 1:
            raise RigourWheelError(f"{wheel}: expected one rigour/_core extension, found {cores}")
        blob = archive.read(cores[0])
    tables = list(_territory_frames(blob))
    if len(tables) != 1:
        raise RigourWheelError(f"{wheel}: expected one territory table in {cores[0]}, found {len(tables)}")
    return tables[0]


def _territory_frames(blob: bytes) -> Iterator[str]:
    """The zstd frames embedded in `blob` whose text starts with a JSON territory record."""
    for match in _ZSTD_MAGIC.finditer(blob):
        start = match.start()
        frame = zstandard.ZstdDecompressor().decompressobj()
        try:
            head = frame.decompress(blob[start : start + _PROBE_BYTES])
        except zstandard.ZstdError:
            continue  # the magic number by chance, or a frame this decoder does not take
        if not _starts_with_record(head):
            continue
        try:
            rest = b"" if frame.eof else frame.decompress(blob[start + _PROBE_BYTES :])
        except zstandard.ZstdError as exc:
            raise RigourWheelError(f"the territory table's zstd frame is corrupt: {exc}") from exc
        if not frame.eof:
            raise RigourWheelError("the territory table's zstd frame is truncated")
        yield (head + rest).decode("utf-8")


def _starts_with_record(head: bytes) -> bool:
    first, newline, _ = head.partition(b"\n")
    if not newline or not first.startswith(b"{"):
        return False
    try:
        record = orjson.loads(first)
    except orjson.JSONDecodeError:
        return False
    return isinstance(record, dict) and record.keys() >= _RECORD_KEYS


def load_territories(wheel_cache: Path = WHEEL_CACHE) -> list[dict[str, Any]]:
    """rigour's territory records as plain dicts (the raw table, which carries the names too)."""
    text = territories_jsonl(fetch_rigour_wheel(wheel_cache))
    return [orjson.loads(line) for line in text.splitlines() if line.strip()]


def _is_latin(text: str) -> bool:
    """True when every letter in `text` is Latin (so the name is an exonym in a Latin-script language)."""
    letters = [char for char in text if char.isalpha()]
    return all("LATIN" in unicodedata.name(char, "") for char in letters)


# An Arabic name of a country ending in alif (تركيا, سوريا) has the adjective, also a given name,
# as the same stem ending in yeh: تركي is "Turkish" and "Turki", سوري "Syrian". (Not so in Persian,
# where country names themselves end in yeh: لیبی, استونی.)
_ARABIC_ALIF, _ARABIC_YEH = "\u0627", "\u064a"
_ARABIC_SCRIPT = re.compile(r"^[\u0600-\u06ff ]+$")


def _arabic_script_adjectives(texts: set[str]) -> set[str]:
    """The names among `texts` that are the nisba adjective of another of them (not the country)."""
    return {
        text
        for text in texts
        if text.endswith(_ARABIC_YEH) and _ARABIC_SCRIPT.match(text) and text + _ARABIC_ALIF in texts
    }


def _is_cjk(text: str) -> bool:
    return any(unicodedata.name(char, "").startswith(_CJK_PREFIXES) for char in text)


def _is_acronym(text: str) -> bool:
    letters = text.replace(".", "")
    return 2 <= len(letters) <= 6 and letters.isascii() and letters.isalpha() and letters.isupper()


def _tidy(text: str) -> str:
    """Collapse whitespace; capitalize Latin/Cyrillic names rigour lists in lower case (`россия`)."""
    text = " ".join(text.split())
    letters = [char for char in text if char.isalpha()]
    bicameral = all(unicodedata.name(char, "").startswith(("LATIN", "CYRILLIC")) for char in letters)
    if bicameral and text == text.lower():
        text = " ".join(word[:1].upper() + word[1:] for word in text.split(" "))
    return text


def _wikipedia_title(url: str | None) -> str | None:
    if not url:
        return None
    parts = urlsplit(url)
    if not parts.netloc.startswith("en.") or not parts.path.startswith("/wiki/"):
        return None
    return unquote(parts.path.removeprefix("/wiki/")).replace("_", " ")


class _Entry:
    """A territory being built: its record, enrichment and candidate aliases by normalized key."""

    def __init__(self, record: dict[str, Any], enrichment: Mapping[str, Any], alpha3: str) -> None:
        self.record = record
        self.code: str = record["code"]
        self.enrichment = enrichment
        self.alpha3 = alpha3
        self.candidates: dict[str, tuple[int, dict[str, Any]]] = {}

    def offer(self, tier: int, alias: dict[str, Any]) -> None:
        key = normalize_alias(alias["text"])
        if not key:
            return
        held = self.candidates.get(key)
        if held is None or tier < held[0] or (tier == held[0] and alias.get("type", "name") != "name"):
            self.candidates[key] = (tier, alias)


def _alias(text: str, kind: str = "name", weight: float | None = None, **flags: Any) -> dict[str, Any]:
    alias: dict[str, Any] = {"text": text}
    if kind != "name":
        alias["type"] = kind
    if _is_acronym(text):
        alias.setdefault("type", "acronym")
        alias["case"] = "exact"
    if weight is not None and weight != 1.0:
        alias["weight"] = weight
    alias.update({key: value for key, value in flags.items() if value})
    return alias


def _enrichment_aliases(spec: Mapping[str, Any], weights: Mapping[str, float]) -> Iterable[dict[str, Any]]:
    for text in spec.get("aliases") or ():
        yield _alias_from_spec(text, "name", weights)
    for kind in ALIAS_TYPES:
        for text in spec.get(kind + "s") or ():
            yield _alias_from_spec(text, kind, weights)


def _alias_from_spec(item: Any, kind: str, weights: Mapping[str, float]) -> dict[str, Any]:
    if isinstance(item, str):
        return _alias(item, kind, weights.get(kind))
    item = dict(item)
    text = item.pop("text")
    weight = item.pop("weight", weights.get(kind))
    alias = _alias(text, item.pop("type", kind), weight)
    alias.update(item)
    return alias


def build_countries(territories: list[dict[str, Any]], enrichment: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The country and territory actors, as plain dicts in the registry's YAML shape."""
    by_code = {record["code"]: record for record in territories}
    include = set(enrichment.get("include") or ())
    exclude = set(enrichment.get("exclude") or ())
    specs: Mapping[str, Any] = enrichment.get("territories") or {}
    weights: Mapping[str, float] = enrichment.get("weights") or {}
    unknown = sorted((set(specs) | include | exclude) - set(by_code))
    if unknown:
        raise SystemExit(f"{ENRICHMENT_FILE}: unknown rigour territory codes: {', '.join(unknown)}")

    entries: list[_Entry] = []
    for code in sorted(by_code):
        record = by_code[code]
        if code in exclude or record.get("is_historical"):
            continue
        alpha3 = record.get("alpha3")
        if code in include:
            parent = record
            while not alpha3 and parent.get("parent"):
                parent = by_code[parent["parent"]]
                alpha3 = parent.get("alpha3")
        elif not alpha3:
            continue
        entries.append(_Entry(record, specs.get(code) or {}, (alpha3 or "").upper()))

    for entry in entries:
        spec, record = entry.enrichment, entry.record
        drop = {normalize_alias(text) for text in spec.get("drop") or ()}
        ambiguous = {normalize_alias(text) for text in spec.get("ambiguous") or ()}
        name = spec.get("name") or record["name"]
        offered: list[tuple[int, dict[str, Any]]] = [(_TIER_NAME, _alias(name))]
        for text in (record["name"], record.get("full_name") or record["name"]):
            offered.append((_TIER_NAME, _alias(_tidy(text))))
        offered.extend((_TIER_STRONG, _alias(_tidy(text))) for text in record.get("names_strong") or ())
        for text in record.get("names_weak") or ():
            text = _tidy(text)
            if _is_latin(text) or len(text) < (2 if _is_cjk(text) else 3):
                continue
            offered.append((_TIER_WEAK, _alias(text)))
        offered.extend((_TIER_NAME, alias) for alias in _enrichment_aliases(spec, weights))
        adjectives = _arabic_script_adjectives({alias["text"] for _, alias in offered})
        for tier, alias in offered:
            key = normalize_alias(alias["text"])
            if key in drop or alias["text"] in adjectives or _SKIP_CHARS & set(alias["text"]):
                continue
            if key in ambiguous:
                alias["ambiguous"] = True
            entry.offer(tier, alias)

    _resolve_shared_names(entries)

    actors = []
    for entry in entries:
        record, spec = entry.record, entry.enrichment
        name = spec.get("name") or record["name"]
        name_key = normalize_alias(name)
        aliases = sorted(
            (alias for key, (_, alias) in entry.candidates.items()),
            key=lambda alias: (normalize_alias(alias["text"]) != name_key, _type_rank(alias), alias["text"]),
        )
        actor: dict[str, Any] = {
            "id": record["qid"],
            "kind": "country" if record.get("is_country") else "territory",
            "name": name,
            "wikipedia": spec.get("wikipedia") or _wikipedia_title(record.get("wikipedia_url")),
            "country": entry.alpha3 or None,
            "aliases": [_compact(alias) for alias in aliases],
        }
        if actor["wikipedia"] is None:
            del actor["wikipedia"]
        if actor["country"] is None:
            del actor["country"]
        actors.append(actor)
    actors.sort(key=lambda actor: (actor["kind"] != "country", actor["name"]))
    return actors


def _type_rank(alias: Mapping[str, Any]) -> int:
    return ("name", "acronym", *ALIAS_TYPES).index(alias.get("type", "name"))


def _compact(alias: Mapping[str, Any]) -> Any:
    """A bare string when the alias has only defaults, else a small mapping."""
    return alias["text"] if set(alias) == {"text"} else dict(alias)


def _resolve_shared_names(entries: list[_Entry]) -> None:
    """A normalized name offered by several territories stays only with the strongest holder."""
    holders: dict[str, list[tuple[int, _Entry]]] = {}
    for entry in entries:
        for key, (tier, _) in entry.candidates.items():
            holders.setdefault(key, []).append((tier, entry))
    for key, held in holders.items():
        if len(held) < 2:
            continue
        best = min(tier for tier, _ in held)
        strongest = [entry for tier, entry in held if tier == best]
        if best == _TIER_NAME and len(strongest) > 1:
            codes = ", ".join(entry.code for entry in strongest)
            raise SystemExit(f"{key!r} is a display name or enrichment alias of {codes}: drop it in one")
        for tier, entry in held:
            if tier != best or len(strongest) > 1:
                del entry.candidates[key]


def render(actors: list[dict[str, Any]], rigour_version: str) -> str:
    """The YAML text of `countries.yaml`, header included."""
    header = (
        "# GENERATED FILE - do not edit by hand.\n"
        f"# Built by `python -m pipelines.actors_generate` from rigour {rigour_version} territory data\n"
        "# (which territories exist, ISO 3166-1 alpha-3 codes, Wikidata QIDs, names in many languages,\n"
        "# English Wikipedia links) merged with the hand-kept seeds/actors/enrichment.yaml (demonyms,\n"
        "# capitals, metonyms and their weights, ambiguity flags, fixes). To change an entry, edit\n"
        "# enrichment.yaml or upgrade rigour, then rerun the generator; a test fails while it is stale.\n"
    )
    body = yaml.safe_dump(
        {"actors": actors},
        allow_unicode=True,
        sort_keys=False,
        default_flow_style=None,
        width=100,
    )
    return header + body


def generate(folder: Path = DEFAULT_FOLDER, wheel_cache: Path = WHEEL_CACHE) -> str:
    """The up-to-date text of `folder/countries.yaml` (raises `RigourWheelError` without the wheel)."""
    enrichment = yaml.safe_load((folder / ENRICHMENT_FILE).read_text(encoding="utf-8")) or {}
    return render(build_countries(load_territories(wheel_cache), enrichment), RIGOUR_VERSION)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--folder", type=Path, default=DEFAULT_FOLDER, help="the seeds/actors folder")
    parser.add_argument("--check", action="store_true", help="exit 1 if the committed file is stale")
    parser.add_argument("--wheels", type=Path, default=WHEEL_CACHE, help="where the rigour wheel is kept")
    args = parser.parse_args(argv)
    target = args.folder / COUNTRIES_FILE
    try:
        text = generate(args.folder, args.wheels)
    except RigourWheelError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    current = target.read_text(encoding="utf-8") if target.exists() else None
    if args.check:
        if current != text:
            print(f"{target} is stale: run python -m pipelines.actors_generate", file=sys.stderr)
            return 1
        print(f"{target} is up to date")
        return 0
    if current != text:
        target.write_text(text, encoding="utf-8")
    print(f"{target}: {text.count(chr(10) + '- id: ')} actors")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
