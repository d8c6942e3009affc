"""Alert rules (what an analyst wants to be told about) and alerts (what fired), as data.

Rules live in YAML (`seeds/alerts.yaml` as examples, any file through `--alerts`); `load_rules`
reads one into an `AlertRules` (shape errors, one line each), `validate_rules` checks it against the
actor registry and the topic taxonomy (unknown ids, one line each). Matching and firing are
`pipelines.alert_match` and `pipelines.alerts`; this module only says what a rule and an alert are.

A rule fires about a *story* (a canonical article and every copy deduplication folded into it),
never once per copy:
- a plain rule fires once per story whose canonical article meets `when`; copies that arrive later
  update that alert (its source counts and latest article);
- `threshold` fires once `count` matching stories arrived within `window`;
- `surge` fires when the stories naming one actor, topic or country in the current `bucket`
  exceed the trailing baseline (`mean + k * std` over the previous `baseline`);
- `cooldown` suppresses a new alert of the same rule for that long after one fired.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, Field, ValidationError, field_validator, model_validator

from schemas.actors import Registry
from schemas.feeds import Reliability
from schemas.topics import Taxonomy, UniqueKeyLoader  # the loader refuses a key given twice
from schemas.types import FROZEN, HexId, NonEmptyStr, UtcDatetime

DEFAULT_FILE = Path(__file__).resolve().parent.parent / "seeds" / "alerts.yaml"
Severity = Literal["info", "low", "medium", "high", "critical"]
AlertKind = Literal["story", "threshold", "surge"]
MAX_ARTICLE_IDS = 20  # article ids an alert keeps (the latest); `article_count` counts them all
MAX_OUTLETS = 50  # outlets an alert lists; `independent_source_count` counts them all

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_RULE_ID = r"^[a-z0-9][a-z0-9_.-]{0,62}$"


def parse_duration(value: object) -> int:
    """Seconds in a duration written `30s`, `15m`, `1h`, `7d` or `2w` (or already an int)."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    match = _DURATION.match(str(value))
    if not match:
        raise ValueError(
            f"bad duration {value!r}: expected a number and a unit s/m/h/d/w, e.g. 15m, 1h or 7d"
        )
    return int(match.group(1)) * _UNITS[match.group(2)]


def format_duration(seconds: int) -> str:
    """The shortest exact spelling of `seconds` (`604800` -> `1w`, `5400` -> `90m`)."""
    for unit in ("w", "d", "h", "m"):
        if seconds and seconds % _UNITS[unit] == 0:
            return f"{seconds // _UNITS[unit]}{unit}"
    return f"{seconds}s"


Duration = Annotated[int, BeforeValidator(parse_duration)]  # seconds


class Conditions(BaseModel):
    """What a story's canonical article must show. Every condition given must hold."""

    model_config = FROZEN

    actors_all: tuple[NonEmptyStr, ...] = ()  # registry ids (Wikidata QIDs), all of them tagged
    actors_any: tuple[NonEmptyStr, ...] = ()  # at least one of them tagged
    topics_any: tuple[NonEmptyStr, ...] = ()  # taxonomy ids; a parent also matches its children
    countries_any: tuple[Annotated[str, Field(pattern=r"^[A-Z]{3}$")], ...] = ()  # ISO 3166-1 alpha-3
    keywords_any: tuple[NonEmptyStr, ...] = ()  # phrases, case-insensitive, in the title or body
    query: NonEmptyStr | None = None  # a Lucene query string over the indexed fields, as Kibana takes it
    min_reliability: Reliability | None = None  # Admiralty grade of the outlet, A best
    min_independent_sources: int = Field(default=1, ge=1)

    @property
    def empty(self) -> bool:
        return not (
            self.actors_all
            or self.actors_any
            or self.topics_any
            or self.countries_any
            or self.keywords_any
            or self.query
            or self.min_reliability
            or self.min_independent_sources > 1
        )


class Threshold(BaseModel):
    """Fire when `count` matching stories arrived within `window`."""

    model_config = FROZEN

    count: int = Field(ge=2)
    window: Duration = Field(gt=0)


class Surge(BaseModel):
    """Fire when one actor's, topic's or country's stories in a bucket rise above their baseline."""

    model_config = FROZEN

    actor: NonEmptyStr | None = None
    topic: NonEmptyStr | None = None
    country: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] | None = None
    bucket: Duration = Field(default=86400, gt=0)
    baseline: Duration = Field(default=7 * 86400, gt=0)
    k: float = Field(default=3.0, gt=0)
    min_count: int = Field(default=3, ge=1)  # never fire on fewer stories than this in a bucket

    @model_validator(mode="after")
    def _one_subject(self) -> Surge:
        given = [name for name in ("actor", "topic", "country") if getattr(self, name)]
        if len(given) != 1:
            raise ValueError("a surge watches exactly one of actor, topic or country")
        if self.baseline < 2 * self.bucket:
            raise ValueError("the baseline must span at least two buckets")
        return self

    @property
    def subject(self) -> tuple[str, str]:
        """(field, value): ("actor_ids", "Q56226"), ("topic_ids", ...) or ("countries", ...)."""
        if self.actor:
            return "actor_ids", self.actor
        if self.topic:
            return "topic_ids", self.topic
        return "countries", self.country or ""


class StdoutChannel(BaseModel):
    model_config = FROZEN
    type: Literal["stdout"] = "stdout"


class WebhookChannel(BaseModel):
    """A JSON POST per alert (or a Slack-compatible `{"text": ...}` payload)."""

    model_config = FROZEN

    type: Literal["webhook"] = "webhook"
    url: Annotated[str, Field(pattern=r"^https?://")]
    format: Literal["json", "slack"] = "json"
    # The HMAC-SHA256 key is read from this environment variable, never written in the rule file.
    secret_env: Annotated[str, Field(pattern=r"^[A-Z_][A-Z0-9_]*$")] | None = None
    timeout_s: float = Field(default=5.0, gt=0, le=60)
    retries: int = Field(default=3, ge=0, le=10)
    allow_private: bool = False  # loopback/private receivers only when the rule says so


Channel = Annotated[StdoutChannel | WebhookChannel, Field(discriminator="type")]


class AlertRule(BaseModel):
    """One rule, as written in the rules file."""

    model_config = FROZEN

    id: Annotated[str, Field(pattern=_RULE_ID)]
    name: NonEmptyStr
    severity: Severity = "medium"
    description: str | None = None
    enabled: bool = True
    when: Conditions = Conditions()
    threshold: Threshold | None = None
    surge: Surge | None = None
    cooldown: Duration = 0
    channels: tuple[Channel, ...] = ()

    @field_validator("channels", mode="before")
    @classmethod
    def _bare_channel_names(cls, value: object) -> object:
        """`stdout` may be written as a bare string."""
        if isinstance(value, list | tuple):
            return [{"type": item} if isinstance(item, str) else item for item in value]
        return value

    @model_validator(mode="after")
    def _says_something(self) -> AlertRule:
        if self.threshold and self.surge:
            raise ValueError("a rule has a threshold or a surge, not both")
        if self.when.empty and not self.surge:
            raise ValueError("a rule needs at least one condition under `when` (or a surge)")
        return self

    @property
    def kind(self) -> AlertKind:
        return "surge" if self.surge else "threshold" if self.threshold else "story"

    @property
    def lookback_s(self) -> int:
        """How much history the rule's memory spans: its window, its surge baseline, its cooldown.
        A run or a restart replays that much from the store, so nothing depends on where it began."""
        spans = [self.cooldown]
        if self.threshold:
            spans.append(self.threshold.window)
        if self.surge:
            spans.append(self.surge.baseline + self.surge.bucket)
        return max(spans)


class AlertRules(BaseModel):
    """A rules file: a version and the rules, each id once."""

    model_config = FROZEN

    version: NonEmptyStr
    rules: tuple[AlertRule, ...] = ()

    @field_validator("rules")
    @classmethod
    def _unique_ids(cls, rules: tuple[AlertRule, ...]) -> tuple[AlertRule, ...]:
        seen: set[str] = set()
        for rule in rules:
            if rule.id in seen:
                raise ValueError(f"rule id {rule.id!r} is used twice")
            seen.add(rule.id)
        return rules

    def get(self, rule_id: str) -> AlertRule | None:
        return next((rule for rule in self.rules if rule.id == rule_id), None)


class RulesError(ValueError):
    """The rules file cannot be used; `problems` holds one line per mistake."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(
            "; ".join(problems[:5]) + (f" (+{len(problems) - 5} more)" if len(problems) > 5 else "")
        )
        self.problems = problems


def parse_rules(text: str, source: str = "alerts.yaml") -> AlertRules:
    """Rules YAML text into `AlertRules` (shape only); raises `RulesError`, one line per mistake."""
    try:
        data = yaml.load(text, Loader=UniqueKeyLoader)
    except yaml.YAMLError as exc:
        raise RulesError([f"{source}: not valid YAML: {exc}"]) from exc
    if not isinstance(data, dict) or "version" not in data or not isinstance(data.get("rules"), list):
        raise RulesError([f"{source}: expected a mapping with a `version` and a `rules:` list"])
    problems: list[str] = []
    rules: list[AlertRule] = []
    for index, raw in enumerate(data["rules"]):
        label = raw.get("id", f"#{index + 1}") if isinstance(raw, dict) else f"#{index + 1}"
        try:
            rules.append(AlertRule.model_validate(raw))
        except ValidationError as exc:
            for error in exc.errors():
                where = ".".join(str(part) for part in error["loc"] if not str(part).startswith("function-"))
                message = str(error["msg"]).removeprefix("Value error, ")
                problems.append(f"{source}: rule {label}: {where + ': ' if where else ''}{message}")
    try:
        result = AlertRules(version=str(data["version"]), rules=tuple(rules))
    except ValidationError as exc:
        problems.extend(f"{source}: {str(e['msg']).removeprefix('Value error, ')}" for e in exc.errors())
    if problems:
        raise RulesError(problems)
    return result


def load_rules(path: str | Path = DEFAULT_FILE) -> AlertRules:
    path = Path(path)
    if not path.is_file():
        raise RulesError([f"{path}: no such rules file"])
    return parse_rules(path.read_text(encoding="utf-8"), source=path.name)


def validate_rules(
    rules: AlertRules,
    registry: Registry,
    taxonomy: Taxonomy,
    check_query: Callable[[str], str | None] | None = None,
) -> list[str]:
    """What in `rules` the registry and taxonomy do not know, one line each (empty: all good).

    `check_query(query) -> str | None` returns why a query string cannot be used (None: fine).
    """
    actor_ids = {actor.id for actor in registry.actors}
    topic_ids = {topic.id for topic in taxonomy.topics}
    country_codes = {a.country for a in registry.actors if a.kind in ("country", "territory") and a.country}
    problems: list[str] = []
    for rule in rules.rules:
        when, where = rule.when, f"rule {rule.id}"
        surge_actor = [rule.surge.actor] if rule.surge and rule.surge.actor else []
        for actor in (*when.actors_all, *when.actors_any, *surge_actor):
            if actor not in actor_ids:
                problems.append(f"{where}: unknown actor id {actor!r} (see `wirewatch actors list`)")
        surge_topic = [rule.surge.topic] if rule.surge and rule.surge.topic else []
        for topic in (*when.topics_any, *surge_topic):
            if topic not in topic_ids:
                problems.append(f"{where}: unknown topic {topic!r} (known: see seeds/topics.yaml)")
        surge_country = [rule.surge.country] if rule.surge and rule.surge.country else []
        for code in (*when.countries_any, *surge_country):
            if code not in country_codes:
                problems.append(f"{where}: unknown country code {code!r} (ISO 3166-1 alpha-3, e.g. PRK)")
        if when.query and check_query is not None and (why := check_query(when.query)):
            problems.append(f"{where}: query {when.query!r}: {why}")
    return problems


# --- what fired ------------------------------------------------------------------------------------


class AlertArticle(BaseModel):
    """The article an alert shows: the latest one of its story (or window)."""

    model_config = FROZEN

    id: HexId
    title: str
    url: str | None = None
    outlet: str | None = None
    published_at: UtcDatetime | None = None


class Notification(BaseModel):
    """One delivery of an alert to a channel: sent, or failed with the reason after the retries."""

    model_config = FROZEN

    channel: str  # "stdout", or "webhook <scheme://host>" (a webhook path is often its secret)
    status: Literal["sent", "failed"]
    attempts: int = Field(ge=1)
    error: str | None = None
    at: UtcDatetime


class Alert(BaseModel):
    """One alert: a rule firing about one story, one threshold window or one surge bucket.

    `id` is deterministic (rule id + `key`), so a re-run or a copy of the story updates the same
    alert instead of adding one.
    """

    model_config = FROZEN

    id: HexId
    rule_id: str
    rule_name: str
    severity: Severity
    kind: AlertKind
    key: str  # the story's canonical article id, the window start or the surge bucket (ISO time)
    story_id: HexId | None = None
    article_ids: tuple[HexId, ...] = ()
    article_count: int = Field(default=1, ge=1)
    latest: AlertArticle
    source_count: int = Field(default=1, ge=0)
    independent_source_count: int = Field(default=1, ge=0)
    outlets: tuple[str, ...] = ()  # the independent outlets (at most MAX_OUTLETS kept)
    count: int | None = None  # threshold: stories in the window; surge: stories in the bucket
    baseline_mean: float | None = None
    baseline_std: float | None = None
    suppressed: int = Field(default=0, ge=0)  # stories (windows, buckets) the cooldown held back since
    first_fired_at: UtcDatetime
    updated_at: UtcDatetime
    notifications: tuple[Notification, ...] = ()
    rules_version: str


def merge_alert(stored: Alert | None, new: Alert) -> Alert:
    """`new` (this run's view of an alert) merged into the stored one with the same id.

    Re-runs and restarts see a story afresh, so counts add only what the store has not seen:
    article ids are united, outlets too, the newest article stays `latest`, the first firing time
    and the notifications already sent are kept.
    """
    if stored is None:
        return new
    added = [article_id for article_id in new.article_ids if article_id not in stored.article_ids]
    outlets = tuple(dict.fromkeys((*stored.outlets, *new.outlets)))
    newer = new.latest.published_at is not None and (
        stored.latest.published_at is None or new.latest.published_at >= stored.latest.published_at
    )
    return new.model_copy(
        update={
            "article_ids": (*stored.article_ids, *added)[-MAX_ARTICLE_IDS:],
            "article_count": max(stored.article_count + len(added), new.article_count),
            "source_count": max(stored.source_count + len(added), new.source_count),
            "outlets": outlets[:MAX_OUTLETS],
            "independent_source_count": max(len(outlets), stored.independent_source_count),
            "latest": new.latest if newer else stored.latest,
            "count": max(stored.count or 0, new.count or 0) if new.count is not None else stored.count,
            "suppressed": max(stored.suppressed, new.suppressed),
            "first_fired_at": stored.first_fired_at,
            "notifications": (*stored.notifications, *new.notifications),
        }
    )
