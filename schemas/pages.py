"""How the page stage (pipelines.pages) treats feed items whose text is short: the flags of
`wirewatch run` and `stream`, validated once."""

from __future__ import annotations

from pydantic import BaseModel, Field

from schemas.types import FROZEN

DEFAULT_MIN_WORDS = 150  # feed texts shorter than this are teasers worth the page's text
DEFAULT_MAX_HOST_WAIT_S = 60.0
DEFAULT_PAGE_MAX_BYTES = 5 * 1024 * 1024  # the largest news pages are ~2 MB of HTML


class PageConfig(BaseModel):
    model_config = FROZEN

    enabled: bool = True
    min_words: int = Field(default=DEFAULT_MIN_WORDS, ge=1)
    # A host's Retry-After up to this long is waited out; a longer one marks its pages
    # "host_waiting" for the rest of the wait rather than holding the run up.
    max_host_wait_s: float = Field(default=DEFAULT_MAX_HOST_WAIT_S, ge=0, le=3600)
    timeout_s: float = Field(default=20.0, gt=0, le=300)
    max_bytes: int = Field(default=DEFAULT_PAGE_MAX_BYTES, ge=1024)
