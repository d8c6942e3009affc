"""The records that cross pipeline stages: what a connector read, the normalized article, a dead letter."""

from __future__ import annotations

import hashlib
from typing import Literal

from pydantic import BaseModel, Field

from schemas.ids import stable_id
from schemas.types import FROZEN, HexId, NonEmptyStr, Sha256Hex, UtcDatetime, WebUrl

SourceKind = Literal["seed", "feed"]
BodyFormat = Literal["text", "html"]
# Which field a date came from: feeds are inconsistent, and "fetched" marks a fallback, not a fact.
DateSource = Literal["seed", "published", "updated", "dc:date", "fetched"]

# Dead letters keep the offending input so nothing is lost, but a 50 MB file must not be copied around.
MAX_PAYLOAD_CHARS = 64 * 1024


class Source(BaseModel):
    """Where an article came from: a seed file, or an item of a feed."""

    model_config = FROZEN

    kind: SourceKind
    name: NonEmptyStr
    feed_url: str | None = None
    file: str | None = None


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
    published_at: UtcDatetime | None = None
    date_source: DateSource | None = None
    authors: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    media_urls: tuple[str, ...] = ()
    metadata: dict[str, str] = Field(default_factory=dict)
    fetched_at: UtcDatetime


class PipelineInfo(BaseModel):
    """Which code and which run produced a document (and which registry and taxonomy tagged it)."""

    model_config = FROZEN

    version: NonEmptyStr
    run_id: NonEmptyStr
    registry_version: str | None = None
    taxonomy_version: str | None = None


class Evidence(BaseModel):
    """Why a tag was given: `title + "\n\n" + body` [start:end] is `text`, matched through `via`."""

    model_config = FROZEN

    start: int = Field(ge=0)
    end: int = Field(ge=0)
    text: str
    via: str
    weight: float


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


class TopicTag(BaseModel):
    """A topic of the taxonomy the article is about, scored in [0, 1], with the evidence for it."""

    model_config = FROZEN

    id: NonEmptyStr
    label: NonEmptyStr
    score: float = Field(ge=0.0, le=1.0)
    evidence: tuple[Evidence, ...] = ()


# How a copy was recognised: the same canonical URL, the same feed GUID, the same normalized text,
# or a near-duplicate text (MinHash similarity at or above the threshold).
DuplicateReason = Literal["url", "guid", "text", "near"]


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
    published_at: UtcDatetime | None = None
    date_source: DateSource | None = None
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
