"""What both stores share to re-tag the articles they hold (`wirewatch retag`): the request, the
decision for each stored document, and the running counts.

The stores do the reading and writing (`LocalStore.retag_articles`, `connectors.es_retag`); the
tagger comes in as a plain function, so nothing here depends on the matcher or on Beam.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from schemas.records import one_line
from schemas.store import RetagFailure, RetagSummary

# (title, body) -> the tag fields of a stored document as JSON, `pipeline` holding only the
# registry and taxonomy versions (see pipelines.tag_fields.tag_document).
TagDocument = Callable[[str, str], dict[str, Any]]

DEFAULT_BATCH_SIZE = 500
MAX_BATCH_SIZE = 10_000
# The report names this many failed documents; more are counted, not listed.
MAX_LISTED_FAILURES = 1_000


class UnretaggableError(ValueError):
    """A stored document that cannot be re-tagged (no title or body); the message says why."""


@dataclass(frozen=True)
class RetagRequest:
    """How to re-tag a store: `tag` computes the fields, `force` rewrites documents already
    current, `dry_run` writes nothing, `limit` caps how many are scanned, `progress` hears how
    many were scanned after each batch."""

    tag: TagDocument
    force: bool = False
    dry_run: bool = False
    limit: int | None = None
    batch_size: int = DEFAULT_BATCH_SIZE
    progress: Callable[[int], None] | None = None

    def __post_init__(self) -> None:
        if self.limit is not None and self.limit < 1:
            raise ValueError(f"limit must be at least 1, got {self.limit}")
        if not 1 <= self.batch_size <= MAX_BATCH_SIZE:
            raise ValueError(f"batch_size must be between 1 and {MAX_BATCH_SIZE}, got {self.batch_size}")


def retagged(source: Mapping[str, Any], tag: TagDocument) -> dict[str, Any]:
    """The tag fields for a stored document, computed from its title and body.

    An empty body is a valid article (a headline-only feed item); a missing one is not, and tagging
    the title alone would silently drop every tag the body gave it.
    """
    title, body = source.get("title"), source.get("body")
    if not isinstance(title, str) or not title.strip():
        raise UnretaggableError("the stored document has no title")
    if body is None:
        raise UnretaggableError("the stored document has no body")
    if not isinstance(body, str):
        raise UnretaggableError(f"the stored body is a {type(body).__name__}, not text")
    return tag(title, body)


def is_current(stored: Any, fields: Any) -> bool:
    """True when `stored` already holds every value of `fields`. Objects compare key by key, so the
    other keys of a document (and of its `pipeline`) do not count; lists compare whole."""
    if isinstance(fields, Mapping):
        return isinstance(stored, Mapping) and all(is_current(stored.get(k), v) for k, v in fields.items())
    return bool(stored == fields)


def merged(doc: Mapping[str, Any], fields: Mapping[str, Any]) -> dict[str, Any]:
    """`doc` with `fields` written in the way an Elasticsearch partial update writes them: objects
    merged key by key, every other value (lists too) replaced."""
    out = dict(doc)
    for key, value in fields.items():
        current = out.get(key)
        if isinstance(value, Mapping) and isinstance(current, Mapping):
            out[key] = merged(current, value)
        else:
            out[key] = value
    return out


class RetagRun:
    """One retag in progress: what each stored document needs, and the counts for the summary."""

    def __init__(self, request: RetagRequest, location: str) -> None:
        self.request = request
        self._location = location
        self.scanned = self.changed = self.unchanged = self.failed = 0
        self._failures: list[RetagFailure] = []
        self._started = time.monotonic()

    def next_batch_size(self) -> int:
        """How many documents the next batch reads: 0 once `limit` are scanned."""
        if self.request.limit is None:
            return self.request.batch_size
        return max(0, min(self.request.batch_size, self.request.limit - self.scanned))

    def fields_for(
        self, doc_id: str, source: Mapping[str, Any], tag: TagDocument | None = None
    ) -> dict[str, Any] | None:
        """The fields to write into this document, or None when it is current or cannot be
        re-tagged (either is counted here). `tag` replaces the request's (e.g. to add a store's
        own encoding, so the comparison sees what the store would hold)."""
        try:
            fields = retagged(source, tag or self.request.tag)
        except UnretaggableError as exc:
            self.fail(doc_id, str(exc))
            return None
        if not self.request.force and is_current(source, fields):
            self.unchanged += 1
            return None
        return fields

    def fail(self, doc_id: str, reason: str) -> None:
        self.failed += 1
        if len(self._failures) < MAX_LISTED_FAILURES:
            self._failures.append(RetagFailure(id=doc_id, reason=one_line(reason, limit=300)))

    def batch_scanned(self, count: int) -> None:
        self.scanned += count
        if self.request.progress is not None and count:
            self.request.progress(count)

    def summary(self) -> RetagSummary:
        return RetagSummary(
            location=self._location,
            dry_run=self.request.dry_run,
            scanned=self.scanned,
            changed=self.changed,
            unchanged=self.unchanged,
            failed=self.failed,
            failures=tuple(self._failures),
            elapsed_s=round(time.monotonic() - self._started, 3),
        )
