"""The actor registry: who and what an article can be tagged with, read from `seeds/actors/*.yaml`.

An actor is a person, country, territory, organisation or armed group. Its id is its Wikidata QID,
so a tag stays meaningful outside Wirewatch and two registries can be merged. Every actor has the
English Wikipedia title of its article (the evaluation joins on it), a display name, an ISO 3166-1
alpha-3 `country`, and aliases: the surface forms the matcher looks for, each with a weight in
(0, 1] (how strongly a mention names the actor: 1.0 for a name, about 0.7 for a capital that can be
just a place), a case rule (`exact` for acronyms such as NATO, DPRK) and an `ambiguous` flag for
names that need context (Georgia, Jordan, Chad, Turkey, "the North"). Persons also carry
`surnames`, which the matcher accepts alone when they are distinctive (`distinctive_surnames`,
schemas/surnames.py) and otherwise only after the full name appeared in the same article, and
date-bounded `roles` (`end: null` while current).

Files: `registry.yaml` holds the `version` and the `shared_aliases` resolutions; every other YAML
file, and every JSON file, holds an `actors:` list, except `enrichment.yaml`, which is the hand-kept
input of the countries generator (`python -m pipelines.actors_generate`) and is not read here. The
JSON files are generated (`people_officeholders.json`, `organisations_parties.json`, see
`pipelines/actors_officeholders.py` and `pipelines/actors_parties.py`): JSON loads much faster.

No alias silently maps to two actors. Aliases are compared after `normalize_alias` (NFKC, casefold,
punctuation and spaces folded). A normalized alias claimed by two or more actors is a validation
problem unless `registry.yaml` lists it under `shared_aliases` with the exact set of claimants and
the one that wins; `Registry.alias_owner` then gives the winner, and the other claimants keep the
alias only as evidence nobody resolves to. This keeps every ambiguity a reviewed, written decision.

Every actor but a country or territory names its `source` (where its QID was checked), and every role
of a person is dated (a start or an end) unless the person's `note` says why not: a validation problem
otherwise.

`validate_registry` reports semantic problems as one-line strings, so a broken registry can be
loaded and all of its problems listed at once (`wirewatch actors validate`); the models themselves
only enforce shapes and types.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, date, datetime
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

import orjson
import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError, field_validator

from schemas import surnames as surname_rules

ActorKind = Literal["person", "country", "territory", "organisation", "armed_group"]
AliasType = Literal["name", "acronym", "demonym", "capital", "metonym"]
CaseRule = Literal["fold", "exact"]

QID_RE = re.compile(r"^Q[1-9][0-9]*$")
ISO3_RE = re.compile(r"^[A-Z]{3}$")
VERSION_RE = re.compile(r"^[0-9]{4}\.[0-9]{2}\.[0-9]{2}(\.[0-9]+)?$")  # a date, .N for a same-day revision
PARTIAL_DATE_RE = re.compile(r"^[0-9]{4}(-[0-9]{2}(-[0-9]{2})?)?$")

REGISTRY_FILE = "registry.yaml"
ENRICHMENT_FILE = "enrichment.yaml"
DEFAULT_FOLDER = Path(__file__).resolve().parent.parent / "seeds" / "actors"

_SPACE_RE = re.compile(r"\s+")

_MODEL = ConfigDict(frozen=True, extra="forbid")

try:  # libyaml's parser is several times faster; the registry is loaded once per worker.
    _YamlLoader: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _YamlLoader = yaml.SafeLoader


_APOSTROPHE_CHARS = "'’ʼ`"
_APOSTROPHES = re.compile(f"[{_APOSTROPHE_CHARS}]")


def normalize_alias(text: str) -> str:
    """The comparison key of an alias: NFKC, casefolded, punctuation and whitespace folded to one space.

    `Kim Jong-un`, `Kim Jong Un` and `KIM JONG UN` share a key; `U.S.` and `US` share `u s`/`us`
    only where their letters do (`u s` ≠ `us`), which is why both spellings are listed when both
    are meant. Letters and combining marks of every script are kept, so `김정은` keys as itself.
    """
    text = unicodedata.normalize("NFKC", text).casefold()
    out = []
    for char in text:
        category = unicodedata.category(char)
        if category[0] in "LNM":
            out.append(char)
        elif char in _APOSTROPHE_CHARS:  # an apostrophe joins: "Côte d'Ivoire" ~ "Cote dIvoire"
            continue
        else:
            out.append(" ")
    return _SPACE_RE.sub(" ", "".join(out)).strip()


def _alias_from_str(value: Any) -> Any:
    return {"text": value} if isinstance(value, str) else value


def _date_to_str(value: Any) -> Any:
    """YAML reads 2012-05-07 as a date and 2011 as an int; both become the ISO text."""
    if isinstance(value, date):
        return value.isoformat()
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


class Alias(BaseModel):
    """One surface form of an actor. In YAML a bare string stands for `{text: ...}`."""

    model_config = _MODEL

    text: str
    type: AliasType = "name"
    lang: str | None = None  # BCP 47-ish language tag, informative (e.g. ko, ru, zh-Hant)
    weight: float = 1.0
    case: CaseRule = "fold"
    ambiguous: bool = False

    @cached_property
    def key(self) -> str:
        """The normalized form used to detect aliases claimed by two actors."""
        return normalize_alias(self.text)


AliasIn = Annotated[Alias, BeforeValidator(_alias_from_str)]
PartialDate = Annotated[str | None, BeforeValidator(_date_to_str)]


class Role(BaseModel):
    """A position a person holds or held: `President of Russia`, of Q159, from 2012-05-07, `end: null`."""

    model_config = _MODEL

    title: str
    of: str | None = None  # the actor id of the country or organisation, when it is in the registry
    start: PartialDate = None  # YYYY, YYYY-MM or YYYY-MM-DD: as precise as the source is
    end: PartialDate = None  # null while the role is current (as far as the registry knows)
    seat: bool = False  # a seat in a legislature (one of its members), not an office of its own

    @property
    def current(self) -> bool:
        return self.end is None

    def bounds(self) -> tuple[date | None, date | None]:
        """The earliest possible start and latest possible end as dates (None when unknown/open)."""
        return _lower(self.start), _upper(self.end)


def _lower(value: str | None) -> date | None:
    if value is None or not PARTIAL_DATE_RE.match(value):
        return None
    parts = [int(p) for p in value.split("-")] + [1, 1]
    return date(parts[0], parts[1], parts[2])


def _upper(value: str | None) -> date | None:
    if value is None or not PARTIAL_DATE_RE.match(value):
        return None
    parts = [int(p) for p in value.split("-")]
    if len(parts) == 1:
        return date(parts[0], 12, 31)
    if len(parts) == 2:
        following = date(parts[0] + parts[1] // 12, parts[1] % 12 + 1, 1)
        return date.fromordinal(following.toordinal() - 1)
    return date(parts[0], parts[1], parts[2])


class Actor(BaseModel):
    """One registry entry."""

    model_config = _MODEL

    id: str  # Wikidata QID
    kind: ActorKind
    name: str
    wikipedia: str | None = None  # English Wikipedia article title, spaces not underscores
    country: str | None = None  # ISO 3166-1 alpha-3; an organisation's seat only where meaningful
    aliases: tuple[AliasIn, ...] = ()
    surnames: tuple[str, ...] = ()  # persons only; matched only after the full name in the same article
    roles: tuple[Role, ...] = ()  # persons only
    source: str | None = None  # where the QID was checked (required for all but countries and territories)
    note: str | None = None

    @field_validator("aliases", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return () if value is None else value

    @cached_property
    def all_aliases(self) -> tuple[Alias, ...]:
        """The aliases, with the display name first unless an alias already spells it (with its flags)."""
        name_key = normalize_alias(self.name)
        if any(alias.key == name_key for alias in self.aliases):
            return self.aliases
        return (Alias(text=self.name), *self.aliases)


class SharedAlias(BaseModel):
    """A reviewed decision: `alias` is claimed by every id in `claimants`; `winner` resolves it."""

    model_config = _MODEL

    alias: str
    claimants: tuple[str, ...]
    winner: str
    reason: str

    @cached_property
    def key(self) -> str:
        return normalize_alias(self.alias)


class Registry(BaseModel):
    """The whole registry: a date-based `version`, the actors and the shared-alias resolutions."""

    model_config = _MODEL

    version: str
    actors: tuple[Actor, ...]
    shared_aliases: tuple[SharedAlias, ...] = ()
    files: tuple[str, ...] = ()  # the files it was read from, for messages
    surname_evidence: dict[str, surname_rules.Evidence] = {}  # sources/surnames.csv
    surnames_alone: dict[
        str, str
    ] = {}  # reviewed: surname -> why it stands alone although the lists reject it

    @cached_property
    def distinctive_surnames(self) -> Mapping[str, tuple[str, ...]]:
        """Person id -> the surnames that name it alone, without the full name (schemas/surnames.py)."""
        return surname_rules.distinctive_surnames(
            self.actors, self.surname_evidence, normalize_alias, self.version_date, self.surnames_alone
        )

    @property
    def version_date(self) -> date:
        """The day of `version` (YYYY.MM.DD[.N]); today when it is not a date (validation says so)."""
        try:
            year, month, day = (int(part) for part in self.version.split(".")[:3])
            return date(year, month, day)
        except ValueError:
            return datetime.now(tz=UTC).date()

    @cached_property
    def by_id(self) -> Mapping[str, Actor]:
        return {actor.id: actor for actor in self.actors}

    def get(self, actor_id: str) -> Actor | None:
        return self.by_id.get(actor_id)

    def of_kind(self, kind: ActorKind) -> list[Actor]:
        return [actor for actor in self.actors if actor.kind == kind]

    @cached_property
    def alias_claims(self) -> Mapping[str, tuple[str, ...]]:
        """Normalized alias -> the ids of every actor that lists it (in registry order, once each)."""
        claims: dict[str, list[str]] = {}
        for actor in self.actors:
            for alias in actor.all_aliases:
                ids = claims.setdefault(alias.key, [])
                if actor.id not in ids:
                    ids.append(actor.id)
        return {key: tuple(ids) for key, ids in claims.items()}

    @cached_property
    def alias_owner(self) -> Mapping[str, str]:
        """Normalized alias -> the one actor id it resolves to (shared aliases go to their winner)."""
        winners = {shared.key: shared.winner for shared in self.shared_aliases}
        owner: dict[str, str] = {}
        for key, ids in self.alias_claims.items():
            if len(ids) == 1:
                owner[key] = ids[0]
            elif key in winners and winners[key] in ids:
                owner[key] = winners[key]
        return owner

    @cached_property
    def country_codes(self) -> frozenset[str]:
        """The ISO 3166-1 alpha-3 codes of the countries and territories in the registry."""
        return frozenset(
            actor.country
            for actor in self.actors
            if actor.kind in ("country", "territory") and actor.country is not None
        )


class RegistryError(ValueError):
    """The registry files cannot be read into models; `problems` holds one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(
            "; ".join(problems[:5]) + (f" (+{len(problems) - 5} more)" if len(problems) > 5 else "")
        )
        self.problems = problems


def _read_yaml(path: Path) -> Any:
    with path.open("rb") as handle:
        return yaml.load(handle, Loader=_YamlLoader)  # a safe loader (C or pure Python)


def _read_actor_file(path: Path) -> Any:
    """A hand-kept YAML file, or a generated JSON one: JSON parses some 30 times faster than YAML, and
    the generated files are most of the registry, which every worker loads before it tags."""
    if path.suffix != ".json":
        return _read_yaml(path)
    try:
        return orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise RegistryError([f"{path.name}: not valid JSON ({exc})"]) from exc


def actors_json(about: Iterable[str], actors: Iterable[Mapping[str, Any]]) -> str:
    """A generated actor file: `{"about": [lines], "actors": [...]}`, one actor a line for readable diffs."""
    lines = ["{", '  "about": [']
    about_lines = [orjson.dumps(line).decode() for line in about]
    lines += [f"    {line}," for line in about_lines[:-1]] + [f"    {line}" for line in about_lines[-1:]]
    lines += ["  ],", '  "actors": [']
    actor_lines = [orjson.dumps(actor).decode() for actor in actors]
    lines += [f"    {line}," for line in actor_lines[:-1]] + [f"    {line}" for line in actor_lines[-1:]]
    lines += ["  ]", "}"]
    return "\n".join(lines) + "\n"


def iter_actor_files(folder: Path) -> Iterator[Path]:
    """The YAML and JSON files holding actors, in a stable order."""
    for path in sorted([*folder.glob("*.yaml"), *folder.glob("*.json")], key=lambda p: p.name):
        if path.name not in (REGISTRY_FILE, ENRICHMENT_FILE):
            yield path


def load_registry(folder: str | Path = DEFAULT_FOLDER) -> Registry:
    """Read `registry.yaml` and every actor file in `folder` into a `Registry` (not yet validated).

    Raises `RegistryError` when a file is missing, is not YAML of the expected shape, or an actor does
    not fit the model; run `validate_registry` on the result for the semantic checks.

    The same files, unchanged, give the same (immutable) registry without reading them again: a run
    loads it to check the alert rules, then its worker to build the tagger (~0.2 s each time).
    """
    folder = Path(folder).resolve()
    return _load_registry(folder, _files_state(folder))


def registry_files(folder: Path) -> list[Path]:
    """Every file a registry in `folder` may be read from (raises OSError when it cannot be listed)."""
    files = sorted(folder.iterdir())
    evidence = folder / surname_rules.EVIDENCE_FILE
    return [*files, evidence] if evidence.is_file() else files


def _files_state(folder: Path) -> tuple[tuple[str, int, int], ...]:
    """(name, modification time, size) of every file in `folder`: what a cached registry is of."""
    try:
        stats = [(str(path.relative_to(folder)), path.stat()) for path in registry_files(folder)]
    except OSError:
        return ()  # reading it fails the same way, and is not cached
    return tuple((name, st.st_mtime_ns, st.st_size) for name, st in stats)


@functools.lru_cache(maxsize=4)
def _load_registry(folder: Path, _state: tuple[tuple[str, int, int], ...]) -> Registry:
    problems: list[str] = []
    meta_path = folder / REGISTRY_FILE
    if not meta_path.is_file():
        raise RegistryError([f"{meta_path}: missing (it holds the registry version)"])
    meta = _read_yaml(meta_path)
    if not isinstance(meta, dict) or "version" not in meta:
        raise RegistryError([f"{meta_path}: expected a mapping with a `version`"])
    actors: list[Any] = []
    files = [REGISTRY_FILE]
    for path in iter_actor_files(folder):
        data = _read_actor_file(path)
        if not isinstance(data, dict) or not isinstance(data.get("actors"), list):
            problems.append(f"{path.name}: expected a mapping with an `actors:` list")
            continue
        files.append(path.name)
        for index, raw in enumerate(data["actors"]):
            try:
                actors.append(Actor.model_validate(raw))
            except ValidationError as exc:
                label = raw.get("id", f"#{index}") if isinstance(raw, dict) else f"#{index}"
                for error in exc.errors():
                    where = ".".join(str(part) for part in error["loc"])
                    problems.append(f"{path.name}: actor {label}: {where}: {error['msg']}")
    try:
        registry = Registry(
            version=str(meta["version"]),
            actors=tuple(actors),
            shared_aliases=tuple(meta.get("shared_aliases") or ()),
            files=tuple(files),
            surname_evidence=surname_rules.read_evidence(folder / surname_rules.EVIDENCE_FILE),
            surnames_alone=dict(meta.get("surnames_alone") or {}),
        )
    except ValidationError as exc:
        problems.extend(f"{REGISTRY_FILE}: {error['loc']}: {error['msg']}" for error in exc.errors())
    if problems:
        raise RegistryError(problems)
    return registry


def actors_outside(folder: str | Path, generated: str) -> list[Actor]:
    """Every actor in `folder` except those of the file named `generated`: what a generator must leave
    alone (an actor kept by hand, or made by another generator, wins over a generated one)."""
    actors: list[Actor] = []
    for path in iter_actor_files(Path(folder)):
        if path.name == generated:
            continue
        data = _read_actor_file(path)
        if isinstance(data, dict) and isinstance(data.get("actors"), list):
            actors.extend(Actor.model_validate(raw) for raw in data["actors"])
    return actors


def validate_folder(folder: str | Path = DEFAULT_FOLDER) -> list[str]:
    """Load and validate `folder`; every problem (load or semantic) as one line."""
    try:
        registry = load_registry(folder)
    except RegistryError as exc:
        return exc.problems
    return validate_registry(registry)


def validate_registry(registry: Registry) -> list[str]:
    """Every semantic problem of `registry`, one line each; an empty list means it is sound."""
    problems: list[str] = []
    if not VERSION_RE.match(registry.version):
        problems.append(f"version {registry.version!r} is not YYYY.MM.DD or YYYY.MM.DD.N")
    seen: set[str] = set()
    for actor in registry.actors:
        if actor.id in seen:
            problems.append(f"{actor.id}: duplicate id")
        seen.add(actor.id)
        problems.extend(_actor_problems(actor, registry))
    problems.extend(_alias_problems(registry))
    declared = {surname for actor in registry.actors for surname in actor.surnames}
    for surname, reason in registry.surnames_alone.items():
        if surname not in declared:
            problems.append(f"surnames_alone: {surname!r} is no person's surname; drop the decision")
        if not str(reason).strip():
            problems.append(f"surnames_alone: {surname!r} needs its reason")
    missing = sorted(surname_rules.declared_latin_surnames(registry.actors) - set(registry.surname_evidence))
    if missing:
        shown = ", ".join(missing[:8]) + (f" (+{len(missing) - 8} more)" if len(missing) > 8 else "")
        problems.append(
            f"{surname_rules.EVIDENCE_FILE}: no row for the surnames {shown}: "
            "run python -m pipelines.actors_surnames --extract"
        )
    return problems


def _actor_problems(actor: Actor, registry: Registry) -> Iterator[str]:
    label = f"{actor.id} ({actor.name})"
    if not QID_RE.match(actor.id):
        yield f"{label}: id is not a Wikidata QID (Q followed by digits, no leading zero)"
    if not actor.name.strip():
        yield f"{label}: empty name"
    if actor.wikipedia is not None and (not actor.wikipedia.strip() or "_" in actor.wikipedia):
        yield f"{label}: wikipedia title {actor.wikipedia!r} must be non-empty and use spaces"
    if actor.country is not None:
        if not ISO3_RE.match(actor.country):
            yield f"{label}: country {actor.country!r} is not an ISO 3166-1 alpha-3 code"
        elif actor.kind not in ("country", "territory") and actor.country not in registry.country_codes:
            yield f"{label}: country {actor.country} is not the code of a country in the registry"
    elif actor.kind == "country":
        yield f"{label}: a country needs its ISO 3166-1 alpha-3 code in `country`"
    if actor.kind not in ("country", "territory") and not (actor.source or "").strip():
        # Countries come from the pinned rigour build; every other entry says where its QID was checked.
        yield f"{label}: no `source` (where the QID was checked)"
    if actor.kind == "person":
        if not actor.roles:
            yield f"{label}: a person needs at least one role"
        elif any(role.start is None and role.end is None for role in actor.roles) and not actor.note:
            yield f"{label}: a role has neither start nor end; date it, or say why not in `note`"
    else:
        if actor.roles:
            yield f"{label}: only persons have roles"
        if actor.surnames:
            yield f"{label}: only persons have surnames"
    for role in actor.roles:
        yield from _role_problems(label, role, registry)
    keys: set[str] = set()
    spellings: set[tuple[str, str]] = set()
    for alias in actor.all_aliases:
        # Spellings that differ by an apostrophe share a key (it joins: "Da'esh" ~ "Daesh") but are
        # matched apart (in text an apostrophe separates), so listing both is no repeat.
        spelling = (alias.key, normalize_alias(_APOSTROPHES.sub(" ", alias.text)))
        if not alias.key:
            yield f"{label}: alias {alias.text!r} is empty once normalized"
        elif spelling in spellings:
            yield f"{label}: alias {alias.text!r} is listed twice (normalized {alias.key!r})"
        keys.add(alias.key)
        spellings.add(spelling)
        if not 0.0 < alias.weight <= 1.0:
            yield f"{label}: alias {alias.text!r} weight {alias.weight} is not in (0, 1]"
        if alias.case == "exact" and alias.text == alias.text.lower():
            yield f"{label}: alias {alias.text!r} is case-exact but has no capital letter"
    for surname in actor.surnames:
        key = normalize_alias(surname)
        if not key:
            yield f"{label}: surname {surname!r} is empty once normalized"
        elif key in keys:
            yield f"{label}: surname {surname!r} is also a full alias; keep surnames under `surnames` only"


def _role_problems(label: str, role: Role, registry: Registry) -> Iterator[str]:
    if not role.title.strip():
        yield f"{label}: role with an empty title"
    for field, value in (("start", role.start), ("end", role.end)):
        if value is not None and not PARTIAL_DATE_RE.match(value):
            yield f"{label}: role {role.title!r} {field} {value!r} is not YYYY[-MM[-DD]]"
        elif value is not None:
            try:
                _lower(value)
            except ValueError:
                yield f"{label}: role {role.title!r} {field} {value!r} is not a calendar date"
    try:
        start, end = _lower(role.start), _upper(role.end)
    except ValueError:
        start = end = None
    if start is not None and end is not None and end < start:
        yield f"{label}: role {role.title!r} ends ({role.end}) before it starts ({role.start})"
    if role.of is not None and role.of not in registry.by_id:
        yield f"{label}: role {role.title!r} is of {role.of}, which is not in the registry"


def _alias_problems(registry: Registry) -> Iterator[str]:
    resolutions: dict[str, SharedAlias] = {}
    for shared in registry.shared_aliases:
        if shared.key in resolutions:
            yield f"shared alias {shared.alias!r} is resolved twice"
        resolutions[shared.key] = shared
        if shared.winner not in shared.claimants:
            yield f"shared alias {shared.alias!r}: winner {shared.winner} is not one of its claimants"
    names = {actor.id: actor.name for actor in registry.actors}
    for key, ids in registry.alias_claims.items():
        if len(ids) < 2:
            continue
        resolution = resolutions.get(key)
        who = ", ".join(f"{i} ({names[i]})" for i in ids)
        if resolution is None:
            yield f"alias {key!r} maps to {len(ids)} actors: {who}; resolve it under shared_aliases"
        elif sorted(resolution.claimants) != sorted(ids):
            listed = sorted(resolution.claimants)
            yield f"shared alias {resolution.alias!r} lists claimants {listed}, but {who} claim it"
    for key, shared in resolutions.items():
        if len(registry.alias_claims.get(key, ())) < 2:
            yield f"shared alias {shared.alias!r} is not claimed by two actors any more; drop the resolution"


def iter_alias_rows(registry: Registry) -> Iterable[tuple[str, Alias, Actor]]:
    """(normalized key, alias, actor) for every alias that resolves to its actor, for the matcher."""
    owner = registry.alias_owner
    for actor in registry.actors:
        for alias in actor.all_aliases:
            if owner.get(alias.key) == actor.id:
                yield alias.key, alias, actor


__all__ = [
    "Actor",
    "ActorKind",
    "Alias",
    "AliasType",
    "Registry",
    "RegistryError",
    "Role",
    "SharedAlias",
    "actors_json",
    "actors_outside",
    "iter_alias_rows",
    "load_registry",
    "normalize_alias",
    "validate_folder",
    "validate_registry",
]
