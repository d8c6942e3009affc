"""The topic taxonomy: what an article can be about, read from `seeds/topics.yaml`.

A topic has a hierarchical id (`military.arms_transfer`; its parent is `military`, which must exist
too), a label, a score `threshold` in (0, 1] and weighted rules:

- `phrases`: phrase -> weight. Matched case-insensitively on word boundaries, with punctuation and
  hyphens folded to spaces (`spy-satellite` ~ `spy satellite`, `Putin's` ~ `Putin s`). A phrase
  ending in `*` is a prefix at its end (`sanction*` matches sanction, sanctions, sanctioned).
- `exact`: phrase -> weight, matched case-sensitively (acronyms such as `ICBM`, `JCPOA`); no `*`.
- `regexes`: pattern -> weight, Python regular expressions searched in the matching text: the
  article lower-cased (ASCII letters), punctuation replaced by spaces, padded with one space at each
  end (see `pipelines.tag_match`). Each regex is one more scan of the article, so keep them few and
  start them with a literal (`violat`), which `re` finds quickly.

A weight is in [-1, 1] and not 0; a negative weight is counter-evidence (`satellite state` for
`space.satellites`). Evidence adds up (a longer phrase also hits the shorter phrases inside it).
The matcher turns the weighted hits into a score in [0, 1] (see `pipelines.tag_match.topic_score`);
the topic is assigned when the score reaches `threshold`.

The taxonomy has a date-based `version` that every tag records. `validate_taxonomy` lists semantic
problems one line each (unique well-formed ids, parents exist, weights sane, thresholds in (0, 1]
and reachable, regexes compile, phrases not empty once normalized); the models only check shapes.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from schemas.actors import VERSION_RE, normalize_alias

TOPIC_ID_RE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$")
DEFAULT_FILE = Path(__file__).resolve().parent.parent / "seeds" / "topics.yaml"

_MODEL = ConfigDict(frozen=True, extra="forbid")


class Topic(BaseModel):
    """One node of the taxonomy."""

    model_config = _MODEL

    id: str
    label: str
    description: str | None = None
    threshold: float = 0.5
    phrases: dict[str, float] = {}
    exact: dict[str, float] = {}
    regexes: dict[str, float] = {}

    @property
    def parent(self) -> str | None:
        """The id one level up (`military` for `military.arms_transfer`), None for a root."""
        return self.id.rsplit(".", 1)[0] if "." in self.id else None

    def rules(self) -> Iterator[tuple[str, str, float]]:
        """(kind, text, weight) for every rule: kind is `phrase`, `exact` or `regex`."""
        for kind, rules in (("phrase", self.phrases), ("exact", self.exact), ("regex", self.regexes)):
            for text, weight in rules.items():
                yield kind, text, weight

    def max_score(self) -> float:
        """The score every positive rule hitting once would give (what the threshold must not exceed)."""
        positive = sum(weight for _, _, weight in self.rules() if weight > 0)
        return 1.0 - math.exp(-positive)


class Taxonomy(BaseModel):
    """The whole taxonomy: a date-based `version` and the topics, parents before children or not."""

    model_config = _MODEL

    version: str
    topics: tuple[Topic, ...]

    @cached_property
    def by_id(self) -> Mapping[str, Topic]:
        return {topic.id: topic for topic in self.topics}

    def get(self, topic_id: str) -> Topic | None:
        return self.by_id.get(topic_id)

    def children(self, topic_id: str) -> list[Topic]:
        return [topic for topic in self.topics if topic.parent == topic_id]

    def ancestors(self, topic_id: str) -> list[str]:
        """The ids above `topic_id`, nearest first (`military` for `military.arms_transfer`)."""
        parts = topic_id.split(".")
        return [".".join(parts[:i]) for i in range(len(parts) - 1, 0, -1)]


class TaxonomyError(ValueError):
    """The taxonomy file cannot be read into models; `problems` holds one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(
            "; ".join(problems[:5]) + (f" (+{len(problems) - 5} more)" if len(problems) > 5 else "")
        )
        self.problems = problems


# libyaml's parser when PyYAML has it: several times faster on the alert rules and the taxonomy.
_SafeLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class UniqueKeyLoader(_SafeLoader):  # type: ignore[misc]
    """A safe loader that refuses a mapping with the same key twice (PyYAML keeps the last silently)."""


def _construct_unique_mapping(loader: UniqueKeyLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    mapping: dict[Any, Any] = loader.construct_mapping(node)
    return mapping


UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique_mapping)


def parse_taxonomy(text: str, source: str = "topics.yaml") -> Taxonomy:
    """Read taxonomy YAML text into a `Taxonomy` (not yet validated); raises `TaxonomyError`."""
    try:
        data = yaml.load(text, Loader=UniqueKeyLoader)  # a safe loader
    except yaml.YAMLError as exc:
        raise TaxonomyError([f"{source}: not valid YAML: {exc}"]) from exc
    if not isinstance(data, dict) or "version" not in data or not isinstance(data.get("topics"), list):
        raise TaxonomyError([f"{source}: expected a mapping with a `version` and a `topics:` list"])
    problems: list[str] = []
    topics: list[Topic] = []
    for index, raw in enumerate(data["topics"]):
        try:
            topics.append(Topic.model_validate(raw))
        except ValidationError as exc:
            label = raw.get("id", f"#{index}") if isinstance(raw, dict) else f"#{index}"
            for error in exc.errors():
                where = ".".join(str(part) for part in error["loc"])
                problems.append(f"{source}: topic {label}: {where}: {error['msg']}")
    if problems:
        raise TaxonomyError(problems)
    return Taxonomy(version=str(data["version"]), topics=tuple(topics))


def load_taxonomy(path: str | Path = DEFAULT_FILE) -> Taxonomy:
    """Read `seeds/topics.yaml` (or `path`) into a `Taxonomy`; run `validate_taxonomy` on the result."""
    path = Path(path)
    if not path.is_file():
        raise TaxonomyError([f"{path}: missing"])
    return parse_taxonomy(path.read_text(encoding="utf-8"), source=path.name)


def validate_file(path: str | Path = DEFAULT_FILE) -> list[str]:
    """Load and validate `path`; every problem (load or semantic) as one line."""
    try:
        taxonomy = load_taxonomy(path)
    except TaxonomyError as exc:
        return exc.problems
    return validate_taxonomy(taxonomy)


def validate_taxonomy(taxonomy: Taxonomy) -> list[str]:
    """Every semantic problem of `taxonomy`, one line each; an empty list means it is sound."""
    problems: list[str] = []
    if not VERSION_RE.match(taxonomy.version):
        problems.append(f"version {taxonomy.version!r} is not YYYY.MM.DD or YYYY.MM.DD.N")
    if not taxonomy.topics:
        problems.append("no topics")
    seen: set[str] = set()
    for topic in taxonomy.topics:
        if topic.id in seen:
            problems.append(f"{topic.id}: duplicate id")
        seen.add(topic.id)
    for topic in taxonomy.topics:
        problems.extend(_topic_problems(topic, taxonomy, seen))
    return problems


def _topic_problems(topic: Topic, taxonomy: Taxonomy, ids: set[str]) -> Iterator[str]:
    label = topic.id
    if not TOPIC_ID_RE.match(topic.id):
        yield f"{label}: id must be lower-case dotted words (e.g. military.arms_transfer)"
    if topic.parent is not None and topic.parent not in ids:
        yield f"{label}: parent {topic.parent} is not a topic"
    if not topic.label.strip():
        yield f"{label}: empty label"
    if not 0.0 < topic.threshold <= 1.0:
        yield f"{label}: threshold {topic.threshold} is not in (0, 1]"
    has_children = any(other.parent == topic.id for other in taxonomy.topics)
    positive = [weight for _, _, weight in topic.rules() if weight > 0]
    if not positive and not has_children:
        yield f"{label}: no rule with a positive weight and no sub-topic: it can never be assigned"
    elif positive and topic.max_score() < topic.threshold:
        yield (
            f"{label}: threshold {topic.threshold} is above {topic.max_score():.3f}, the score of every "
            "positive rule hitting once"
        )
    keys: dict[str, str] = {}
    for kind, text, weight in topic.rules():
        where = f"{label}: {kind} {text!r}"
        if not math.isfinite(weight) or not -1.0 <= weight <= 1.0 or weight == 0.0:
            yield f"{where}: weight {weight} is not in [-1, 1] \\ {{0}}"
        if kind == "regex":
            try:
                re.compile(text)
            except re.error as exc:
                yield f"{where}: does not compile: {exc}"
            continue
        body = text[:-1] if text.endswith("*") else text
        if "*" in body or (kind == "exact" and text.endswith("*")):
            yield f"{where}: `*` is allowed only at the end of a case-insensitive phrase (a prefix)"
        key = normalize_alias(body)
        if not key:
            yield f"{where}: empty once normalized"
            continue
        if kind == "exact" and body == body.lower():
            yield f"{where}: case-exact but has no capital letter; put it under `phrases`"
        dedup = f"{kind}:{key}{'*' if text.endswith('*') else ''}"
        if dedup in keys:
            yield f"{where}: same phrase as {keys[dedup]!r} once normalized"
        keys[dedup] = text


__all__ = [
    "DEFAULT_FILE",
    "TOPIC_ID_RE",
    "Taxonomy",
    "TaxonomyError",
    "Topic",
    "load_taxonomy",
    "parse_taxonomy",
    "validate_file",
    "validate_taxonomy",
]
