"""What a store answers: search hits, counts, write outcomes; shared by SQLite and Elasticsearch stores."""

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


HIGHLIGHT_START = "[["
HIGHLIGHT_END = "]]"
