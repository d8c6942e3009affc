"""The records that cross pipeline stages: what a connector read, the normalized article, a dead letter."""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping
from typing import Any, Literal, NamedTuple, Self, TypeVar

import orjson
from pydantic import BaseModel, Field, GetCoreSchemaHandler
from pydantic_core import CoreSchema, core_schema

from schemas.ids import stable_id
from schemas.types import FROZEN, HexId, NonEmptyStr, Sha256Hex, UtcDatetime, WebUrl

SourceKind = Literal["seed", "feed"]
BodyFormat = Literal["text", "html"]
# Which field a date came from: feeds are inconsistent, and "fetched" marks a fallback, not a fact.
DateSource = Literal["seed", "published", "updated", "dc:date", "fetched"]

# Where an article's body came from: its seed file, its feed item, or the linked page (issue 18).
BodySource = Literal["seed", "feed", "extracted"]
# What fetching an item's linked page came to. Anything but "extracted" keeps the feed's text.
PageStatus = Literal[
    "extracted",
    "http_error",  # 4xx/5xx (a 429/503's Retry-After also holds the host off)
    "timeout",
    "too_large",
    "not_html",
    "robots_disallowed",  # robots.txt forbids the path, or could not be read (5xx, unreachable)
    "unreachable",  # DNS, connection or TLS failure
    "refused",  # a private address or a scheme we never fetch (the SSRF rules of the feed fetcher)
    "host_waiting",  # the host asked (Retry-After) for a longer pause than the run waits
    "no_text",  # the page held no article text longer than the feed's own
]

# Dead letters keep the offending input so nothing is lost, but a 50 MB file must not be copied around.
MAX_PAYLOAD_CHARS = 64 * 1024

_M = TypeVar("_M", bound=BaseModel)
_set_slot = object.__setattr__


def _trusted(cls: type[_M], values: dict[str, Any]) -> _M:
    """A `cls` holding `values` unvalidated: what `model_construct` makes, without its Python loop
    over the fields. `values` names every field, in declaration order, with values of the field's
    exact type, as validation would have left them (a float field holds a float, never an int)."""
    model = cls.__new__(cls)
    _set_slot(model, "__dict__", values)
    _set_slot(model, "__pydantic_fields_set__", set(values))
    _set_slot(model, "__pydantic_extra__", None)
    _set_slot(model, "__pydantic_private__", None)
    return model


class Source(BaseModel):
    """Where an article came from: a seed file, or an item of a feed."""

    model_config = FROZEN

    kind: SourceKind
    name: NonEmptyStr
    feed_url: str | None = None
    file: str | None = None


# How an item whose GUID its feed reused for different items is identified: by its own link (the
# items' links differ), else by its GUID with its content hash.
GuidShared = Literal["link", "content"]


class RawRecord(BaseModel):
    """What a connector read, before any cleaning."""

    model_config = FROZEN

    source: Source
    uri: NonEmptyStr
    body: str
    body_format: BodyFormat = "text"
    title: str | None = None
    summary: str | None = None
    url: str | None = None
    guid: str | None = None
    guid_is_permalink: bool = False
    # Set by the feed reader when its document gave this item's GUID to other, different items too
    # (`schemas.identity.mark_shared_guids`): how the item is told apart from them instead.
    guid_shared: GuidShared | None = None
    published_at: UtcDatetime | None = None
    date_source: DateSource | None = None
    date_rejected: str | None = None  # the source's date that was not used, and why (see Article)
    authors: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    media_urls: tuple[str, ...] = ()
    metadata: dict[str, str] = Field(default_factory=dict)
    fetched_at: UtcDatetime
    # Set by the page stage (pipelines.pages) when the item's text was short: with status
    # "extracted", `body` is the page's text and the feed's text moved to `summary`.
    page: PageExtraction | None = None


class PageExtraction(BaseModel):
    """What fetching a feed item's linked page gave (connectors.page_fetch): kept on the article
    whether or not the text was used, so `show` and `stats` can say why a body is still a teaser."""

    model_config = FROZEN

    status: PageStatus
    reason: str | None = None  # one line when status is not "extracted"
    url: str  # the page asked for; `final_url` after redirects
    final_url: str | None = None
    http_status: int | None = None
    word_count: int = Field(default=0, ge=0)  # of the extracted text
    extractor: str  # e.g. "trafilatura 2.3.1"
    fetched_at: UtcDatetime


class PipelineInfo(BaseModel):
    """Which code and which run produced a document (and which registry and taxonomy tagged it)."""

    model_config = FROZEN

    version: NonEmptyStr
    run_id: NonEmptyStr
    registry_version: str | None = None
    taxonomy_version: str | None = None


class Evidence(NamedTuple):
    """Why a tag was given: `title + "\n\n" + body` [start:end] is `text`, matched through `via`.

    A named tuple, not a model: the tagger builds these (`pipelines.tag_match.Span` is this class)
    and an article carries them as built, dozens per article, neither copied nor validated again.
    In JSON it is an object of the five fields, validated on the way in as a model would be.
    """

    start: int
    end: int
    text: str
    via: str
    weight: float

    @classmethod
    def __get_pydantic_core_schema__(cls, source: object, handler: GetCoreSchemaHandler) -> CoreSchema:
        return _EVIDENCE_SCHEMA


def _evidence_from_fields(fields: dict[str, Any]) -> Evidence:
    return Evidence(fields["start"], fields["end"], fields["text"], fields["via"], fields["weight"])


def _evidence_as_is(value: Any, validate: core_schema.ValidatorFunctionWrapHandler) -> Evidence:
    # Evidence objects pass as they are, like model instances do; anything else is read as an object.
    return value if type(value) is Evidence else validate(value)


_EVIDENCE_FROM_OBJECT = core_schema.no_info_after_validator_function(
    _evidence_from_fields,
    core_schema.typed_dict_schema(
        {
            "start": core_schema.typed_dict_field(core_schema.int_schema(ge=0)),
            "end": core_schema.typed_dict_field(core_schema.int_schema(ge=0)),
            "text": core_schema.typed_dict_field(core_schema.str_schema()),
            "via": core_schema.typed_dict_field(core_schema.str_schema()),
            "weight": core_schema.typed_dict_field(core_schema.float_schema()),
        },
        extra_behavior="forbid",
    ),
)
_EVIDENCE_SCHEMA = core_schema.json_or_python_schema(
    json_schema=_EVIDENCE_FROM_OBJECT,
    python_schema=core_schema.no_info_wrap_validator_function(_evidence_as_is, _EVIDENCE_FROM_OBJECT),
    serialization=core_schema.plain_serializer_function_ser_schema(Evidence._asdict),
)


class ActorTag(BaseModel):
    """An actor the article is about (pipelines.tagging), with the evidence for it."""

    model_config = FROZEN

    id: NonEmptyStr  # Wikidata QID
    name: NonEmptyStr
    kind: NonEmptyStr
    country: str | None = None
    mentions: int = Field(ge=0)
    salience: float = Field(ge=0.0, le=1.0)
    confidence: float = Field(ge=0.0, le=1.0)
    evidence: tuple[Evidence, ...] = ()

    @classmethod
    def trusted(
        cls,
        head: ActorTag,
        mentions: int,
        salience: float,
        confidence: float,
        evidence: tuple[Evidence, ...],
    ) -> Self:
        """`head` (a validated tag of the same actor, see `head`) with these figures, unvalidated:
        the tagger guarantees their types and ranges."""
        fields = head.__dict__
        return _trusted(
            cls,
            {
                "id": fields["id"],
                "name": fields["name"],
                "kind": fields["kind"],
                "country": fields["country"],
                "mentions": mentions,
                "salience": salience,
                "confidence": confidence,
                "evidence": evidence,
            },
        )

    @classmethod
    def head(cls, actor_id: str, name: str, kind: str, country: str | None) -> ActorTag:
        """A validated tag of this actor with no mentions: its id, name, kind and country as
        validation leaves them (stripped, non-empty), for `trusted` to copy."""
        return cls(
            id=actor_id, name=name, kind=kind, country=country, mentions=0, salience=0.0, confidence=0.0
        )


class TopicTag(BaseModel):
    """A topic of the taxonomy the article is about, scored in [0, 1], with the evidence for it."""

    model_config = FROZEN

    id: NonEmptyStr
    label: NonEmptyStr
    score: float = Field(ge=0.0, le=1.0)
    evidence: tuple[Evidence, ...] = ()

    @classmethod
    def trusted(cls, head: TopicTag, score: float, evidence: tuple[Evidence, ...]) -> Self:
        """`head` (a validated tag of the same topic, see `head`) with this score and evidence,
        unvalidated: the tagger guarantees their types and ranges."""
        fields = head.__dict__
        return _trusted(
            cls, {"id": fields["id"], "label": fields["label"], "score": score, "evidence": evidence}
        )

    @classmethod
    def head(cls, topic_id: str, label: str) -> TopicTag:
        """A validated tag of this topic with score 0, for `trusted` to copy."""
        return cls(id=topic_id, label=label, score=0.0)


# How a copy was recognised: the same canonical URL, the same feed GUID, the same normalized text,
# or a near-duplicate text (MinHash similarity at or above the threshold).
DuplicateReason = Literal["url", "guid", "text", "near", "contained"]


class Sighting(BaseModel):
    """One outlet carrying a story: the canonical article's own appearance, or a copy folded into it."""

    model_config = FROZEN

    article_id: HexId
    outlet: NonEmptyStr
    url: str | None = None
    feed_url: str | None = None
    published_at: UtcDatetime | None = None
    seen_at: UtcDatetime


class Article(BaseModel):
    """A normalized, validated news article: the document every store indexes."""

    model_config = FROZEN

    id: HexId
    url: WebUrl | None = None
    canonical_url: WebUrl | None = None
    source: Source
    title: NonEmptyStr
    summary: str | None = None
    body: str
    body_source: BodySource | None = None
    page: PageExtraction | None = None  # when the linked page was fetched: how it went
    published_at: UtcDatetime | None = None
    date_source: DateSource | None = None
    # The date the source gave but that was not believed (unreadable, an impossible UTC offset,
    # outside the plausible window of schemas.dates), and why; `date_source` then says which
    # date was used instead ("fetched": the fetch time).
    date_rejected: str | None = None
    authors: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    media_urls: tuple[str, ...] = ()
    ingested_at: UtcDatetime
    language: str | None = Field(default=None, pattern=r"^[a-z]{2,3}$")
    word_count: int = Field(ge=0)
    content_hash: Sha256Hex
    pipeline: PipelineInfo
    guid: str | None = None
    # Deduplication (pipelines.dedup): the exact keys and LSH band keys later copies are looked up
    # by; on a copy, which canonical article it repeats and why; on a canonical article, every
    # outlet seen carrying it (itself first).
    dedup_keys: tuple[str, ...] = ()
    near_dup_keys: tuple[str, ...] = ()
    # A canonical article's MinHash signature (base64 of its little-endian uint32 values): later
    # runs compare new articles with it instead of recomputing it from the text.
    near_dup_signature: str | None = None
    # A canonical article's lead ladder (base64, `schemas.near_dup.lead_ladder`): how deep a teaser
    # sharing its first words shares its opening, without a lead key per depth in the index.
    near_dup_ladder: str | None = None
    duplicate_of: HexId | None = None
    duplicate_reason: DuplicateReason | None = None
    similarity: float | None = Field(default=None, ge=0.0, le=1.0)
    sources_seen: tuple[Sighting, ...] = ()
    first_seen: UtcDatetime | None = None
    source_count: int = Field(default=0, ge=0)
    independent_source_count: int = Field(default=0, ge=0)
    # Tagging (pipelines.tagging): the tags with their evidence, and flat keyword lists for Kibana.
    actors: tuple[ActorTag, ...] = ()
    topics: tuple[TopicTag, ...] = ()
    actor_ids: tuple[str, ...] = ()
    actor_names: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()  # ISO 3166-1 alpha-3
    topic_ids: tuple[str, ...] = ()
    # Alerting (pipelines.alerts): the ids of the alert rules this article meets.
    alerts: tuple[str, ...] = ()


class DeadLetter(BaseModel):
    """A record a stage could not process, with the reason in one human line and the input kept."""

    model_config = FROZEN

    id: HexId
    stage: NonEmptyStr
    error_type: NonEmptyStr
    error: NonEmptyStr
    payload: str
    source: str | None = None
    occurred_at: UtcDatetime
    run_id: str | None = None
    # The article id the rejected record would have had, when it could be computed: lets the feed
    # reader tell "rejected" from "lost" (see connectors.rssio).
    record_id: str | None = None

    @classmethod
    def build(
        cls,
        *,
        stage: str,
        error: str,
        error_type: str,
        payload: str | bytes,
        source: str | None,
        occurred_at: UtcDatetime,
        run_id: str | None = None,
        record_id: str | None = None,
    ) -> DeadLetter:
        """Make a dead letter whose id is stable for the same input at the same stage.

        Re-running over the same broken input replaces its dead letter instead of adding another.
        """
        text = payload_text(payload)
        fingerprint = hashlib.sha256(text.encode("utf-8")).hexdigest()
        return cls(
            id=stable_id("dead-letter", f"{stage}\x00{source or ''}\x00{fingerprint}"),
            stage=stage,
            error_type=error_type,
            error=one_line(error),
            payload=text,
            source=source,
            occurred_at=occurred_at,
            run_id=run_id,
            record_id=record_id,
        )


def _fields(value: object) -> dict[str, Any]:
    """What orjson does not write itself (called once per model or evidence), as its fields."""
    if type(value) is Evidence:
        start, end, text, via, weight = value
        return {"start": start, "end": end, "text": text, "via": via, "weight": weight}
    if isinstance(value, BaseModel):
        return value.__dict__
    raise TypeError(f"not a record: {type(value).__name__}")


def to_json(value: object) -> bytes:
    """`value` (records, and dicts, lists and tuples of them and of JSON values) as JSON, every
    record written as its `model_dump_json` writes it (see `document_json`). Raises
    orjson.JSONEncodeError for what orjson cannot write (an integer past 64 bits, a lone surrogate)."""
    return orjson.dumps(value, default=_fields, option=orjson.OPT_UTC_Z)


def document_json(
    record: BaseModel, exclude: Collection[str] = (), blank: Mapping[str, Any] | None = None
) -> bytes:
    """`record.model_dump_json(exclude=exclude)`, byte for byte, in one orjson pass (twice as fast
    on a tagged article): what a store writes per article. tests/schemas/test_document_json.py and
    tests/pipelines/test_tag_documents.py hold the two equal. `blank`: fields written with these
    values instead of the record's (in their place), as `record.model_copy(update=blank)` would.

    This holds for the records of this module and their schemas.types fields: plain fields kept in
    declaration order (no aliases, serializers or computed fields), UTC datetimes ending in `Z` as
    pydantic writes them. What orjson cannot write goes to pydantic, which writes it or fails as
    before.
    """
    fields = record.__dict__
    if exclude or blank:
        # dict operations in C, not a Python loop over the ~45 fields: a blanked field keeps its place
        fields = dict(fields)
        for name in exclude:
            fields.pop(name, None)
        fields.update({name: value for name, value in (blank or {}).items() if name in fields})
    try:
        return to_json(fields)
    except orjson.JSONEncodeError:
        copy = record.model_copy(update=blank) if blank else record
        return copy.model_dump_json(exclude=set(exclude)).encode("utf-8")


def one_line(message: str, limit: int = 500) -> str:
    """Collapse a message to one line of bounded length, as shown to the user."""
    flat = " ".join(message.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def payload_text(payload: str | bytes, limit: int = MAX_PAYLOAD_CHARS) -> str:
    """A dead letter's payload as text: undecodable bytes escaped, long input cut with a marker."""
    text = payload.decode("utf-8", "backslashreplace") if isinstance(payload, bytes) else payload
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n…[truncated {len(text) - limit} characters]"
