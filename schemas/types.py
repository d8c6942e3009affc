"""Annotated types shared by every model: UTC datetimes, non-empty strings, web URLs."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, ConfigDict, StringConstraints


def to_utc(value: datetime) -> datetime:
    """Return `value` in UTC; a naive datetime is a bug upstream, so it is refused, not guessed."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("datetime must carry a timezone")
    return value.astimezone(UTC)


def check_web_url(value: str) -> str:
    """Accept absolute http(s) URLs only; everything else is not a link an analyst can open."""
    parts = urlsplit(value.strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an absolute http(s) URL: {value[:200]!r}")
    return value.strip()


UtcDatetime = Annotated[datetime, AfterValidator(to_utc)]
NonEmptyStr = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
WebUrl = Annotated[str, AfterValidator(check_web_url)]
HexId = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{32}$")]
Sha256Hex = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]

# Every record is immutable and rejects unknown fields: a typo in a producer fails loudly.
FROZEN = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=False)
