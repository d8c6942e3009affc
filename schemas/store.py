"""What a store answers: search hits, counts, write and retag outcomes; the same from both stores."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, Field

from schemas.types import FROZEN, UtcDatetime

SNIPPET_CHARS = 200  # a hit whose body did not match shows this much of its start
TITLE_BOOST = 4  # in a search's ranking a word in the title counts as four in the body, in both stores
HIT_ACTORS = 3  # the actors and topics a hit names: the most salient / best scored
HIT_TOPICS = 3
# What a store reads of each hit's document.
HIT_FIELDS = (
    "id",
    "title",
    "published_at",
    "url",
    "source",
    "source_count",
    "actors",
    "topics",
    "duplicate_of",
)


class SearchHit(BaseModel):
    """One ranked search result; `snippet` marks matches with ``[[`` and ``]]``. `sources` counts
    the outlets that carried the story (the article and its copies)."""

    model_config = FROZEN

    id: str
    published_at: UtcDatetime | None
    title: str
    snippet: str
    score: float
    url: str | None = None
    outlet: str | None = None
    sources: int = 1
    actors: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()
    duplicate_of: str | None = None


def lead(text: str) -> str:
    """The start of a text as a snippet: about SNIPPET_CHARS characters, cut at a word."""
    if len(text) <= SNIPPET_CHARS:
        return text
    return text[:SNIPPET_CHARS].rsplit(" ", 1)[0] + "…"


def hit_fields(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The SearchHit fields read from a stored document (either store's JSON)."""
    actors = sorted(doc.get("actors") or (), key=lambda a: -float(a.get("salience") or 0))
    topics = sorted(doc.get("topics") or (), key=lambda t: -float(t.get("score") or 0))
    return {
        "id": doc["id"],
        "published_at": doc.get("published_at"),
        "title": doc.get("title") or "",
        "url": doc.get("url"),
        "outlet": (doc.get("source") or {}).get("name"),
        "sources": max(doc.get("source_count") or 0, 1),
        "actors": tuple(a["name"] for a in actors[:HIT_ACTORS]),
        "topics": tuple(t["id"] for t in topics[:HIT_TOPICS]),
        "duplicate_of": doc.get("duplicate_of"),
    }


class StoreStats(BaseModel):
    """How much a store holds."""

    model_config = FROZEN

    location: str
    articles: int = Field(ge=0)
    dead_letters: int = Field(ge=0)
    earliest_published: UtcDatetime | None = None
    latest_published: UtcDatetime | None = None


FACET_SIZE = 10  # values listed per facet, most frequent first (ties: by value)
FACET_DAYS = 14  # the most recent days with articles
Counts = tuple[tuple[str, int], ...]


class StoreFacets(BaseModel):
    """What a store holds, counted by value, the same from both stores (`wirewatch stats`).

    `per_day` and `outlets` count every article, copies included (an outlet's copy is its output);
    `actors`, `topics` and `countries` count canonical articles only, so a story carried by five
    outlets counts once."""

    model_config = FROZEN

    canonical: int = Field(ge=0)
    copies: int = Field(ge=0)
    per_day: Counts = ()  # (YYYY-MM-DD in UTC, articles), newest first
    outlets: Counts = ()
    actors: Counts = ()
    topics: Counts = ()
    countries: Counts = ()
    # Every article, copies included: where bodies came from, and how fetching linked pages went.
    body_sources: Counts = ()
    page_statuses: Counts = ()
    dead_letters_by_stage: Counts = ()
    alerts_by_rule: Counts = ()


class QueryFacets(BaseModel):
    """What a search matches, counted by the store: `total` matching articles (canonical ones only
    unless the request's filters.all_copies — the same articles `search` pages through), and per
    facet the most frequent values among them (ties by value), the same from both stores."""

    model_config = FROZEN

    total: int = Field(ge=0)
    actors: Counts = ()  # actor_names values
    actor_ids: Counts = ()  # actor_ids (QIDs): the app filters by these
    topics: Counts = ()  # topic_ids
    countries: Counts = ()
    outlets: Counts = ()  # source.name
    languages: Counts = ()
    per_day: Counts = ()  # (YYYY-MM-DD in UTC, articles), oldest first: FACET_DAYS days to the newest
    feeds: Counts = ()  # source.feed_url (the feeds page asks for all of them)


class WriteCounts(BaseModel):
    """Outcome of writing a batch: new documents, and ones the store already had (same id)."""

    model_config = FROZEN

    written: int = Field(ge=0)
    duplicates: int = Field(ge=0)


class RetagFailure(BaseModel):
    """A stored article `wirewatch retag` could not re-tag, and why (one line)."""

    model_config = FROZEN

    id: str
    reason: str


class RetagSummary(BaseModel):
    """What `wirewatch retag` did: every scanned article ends changed, unchanged or failed.

    On a dry run `changed` counts the articles that would have been written. `failures` lists the
    first failures only (`failed` counts them all), so a store of broken documents cannot make the
    report itself huge.
    """

    model_config = FROZEN

    location: str
    dry_run: bool
    scanned: int = Field(ge=0)
    changed: int = Field(ge=0)
    unchanged: int = Field(ge=0)
    failed: int = Field(ge=0)
    failures: tuple[RetagFailure, ...] = ()
    elapsed_s: float = Field(ge=0)


HIGHLIGHT_START = "[["
HIGHLIGHT_END = "]]"
