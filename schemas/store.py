"""What a store answers: search hits, counts, write and retag outcomes; the same from both stores."""

from __future__ import annotations

from pydantic import BaseModel, Field

from schemas.types import FROZEN, UtcDatetime


class SearchHit(BaseModel):
    """One ranked search result; `snippet` marks matches with ``[[`` and ``]]``."""

    model_config = FROZEN

    id: str
    published_at: UtcDatetime | None
    title: str
    snippet: str
    score: float


class StoreStats(BaseModel):
    """How much a store holds."""

    model_config = FROZEN

    location: str
    articles: int = Field(ge=0)
    dead_letters: int = Field(ge=0)
    earliest_published: UtcDatetime | None = None
    latest_published: UtcDatetime | None = None


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
