"""The deduplication side of Elasticsearch: earlier articles by key, and lineage updates without scripts.

Answers like the embedded store (connectors.localstore, see connectors.store.DedupIndex):
- `lookup` finds every stored article having one of the exact keys in `dedup_keys`, and every
  canonical one (no `duplicate_of`) having one of the band keys in `near_dup_keys`. It searches
  the articles alias, so it sees what has been refreshed (within `refresh_interval`); the
  resolver remembers what it decided until then.
- `add_sightings` reads the canonical article by id in real time (a document written a moment
  ago is found before any refresh), merges the new sightings in Python and writes the lineage
  fields back with a partial update conditioned on the version read (`if_seq_no` and
  `if_primary_term`); a concurrent writer makes it read again. The local distribution has no
  scripting module, so no script or update_by_query is ever used.
"""

from __future__ import annotations

import functools
import random
import time
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from elasticsearch import ConflictError, Elasticsearch, NotFoundError

from connectors.es_client import DEFAULT_RETRY, RetryPolicy, call_with_retries
from connectors.es_indices import (
    IndexNames,
    alias_indices,
    article_fields_document,
    search_pages,
    server_errors,
    server_url,
)
from connectors.store import StoreError
from schemas.dedup import (
    Lineage,
    LineageUpdate,
    StoredDoc,
    crowded_keys,
    merge_sightings,
    stored_ladder,
    stored_signature,
)
from schemas.records import Sighting

# Terms (exact and band keys together) in one search; more keys mean more searches.
MAX_TERMS = 1_000
# Hits per page. Bodies come back (signatures are computed from them), so pages stay moderate;
# every page is read, never just the first.
PAGE_SIZE = 500
# Conditional writes that lose to a concurrent writer are retried this many times in all.
MAX_UPDATE_ATTEMPTS = 20
_MAX_BACKOFF_S = 0.25

# The text is fetched only for the articles whose signature must be made from it (stored before
# signatures were kept): ~3 KB per hit, where a grown store answers a chunk with thousands.
_LOOKUP_SOURCE = [
    "id",
    "duplicate_of",
    "dedup_keys",
    "near_dup_keys",
    "near_dup_signature",
    "near_dup_ladder",
]


@dataclass
class _Found:
    duplicate_of: str | None
    signature: bytes
    exact: set[str] = field(default_factory=set)
    near: set[str] = field(default_factory=set)
    body: str = ""
    ladder: bytes = b""


@dataclass(frozen=True)
class _Stored:
    """A canonical article as read for an update: where it is, its version, its sightings."""

    index: str
    seq_no: int
    primary_term: int
    sightings: tuple[Sighting, ...]


def _values(value: Any) -> list[Any]:
    """A multi-valued field of `_source` as a list (JSON may hold one value, a list or nothing)."""
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _lookup_query(exact: list[str], near: list[str]) -> dict[str, Any]:
    """Docs having any of `exact` as a dedup key, or canonical docs having any of `near` (filters:
    no scoring)."""
    should: list[dict[str, Any]] = []
    if exact:
        should.append({"terms": {"dedup_keys": exact}})
    if near:
        should.append(
            {
                "bool": {
                    "filter": [{"terms": {"near_dup_keys": near}}],
                    "must_not": [{"exists": {"field": "duplicate_of"}}],
                }
            }
        )
    return {"bool": {"filter": [{"bool": {"should": should, "minimum_should_match": 1}}]}}


def _chunks(exact: list[str], near: list[str]) -> Iterator[tuple[list[str], list[str]]]:
    """(exact, near) key lists of at most MAX_TERMS terms together, covering every key once."""
    terms = [(True, key) for key in exact] + [(False, key) for key in near]
    for start in range(0, len(terms), MAX_TERMS):
        chunk = terms[start : start + MAX_TERMS]
        yield [key for is_exact, key in chunk if is_exact], [key for is_exact, key in chunk if not is_exact]


class ElasticsearchDedupIndex:
    """connectors.store.DedupIndex over the articles behind the alias of `names`.

    Owns `client` unless told otherwise: close() closes it. Safe to share between threads (the
    client is; the cached index list is replaced whole).
    """

    def __init__(
        self,
        client: Elasticsearch,
        names: IndexNames,
        *,
        owns_client: bool = True,
        retry: RetryPolicy = DEFAULT_RETRY,
    ) -> None:
        self._client = client
        self._retry = retry  # lineage updates wait out a write block or a busy cluster as writes do
        self._names = names
        self._owns_client = owns_client
        self._location = server_url(client)
        self._indices: list[str] | None = None  # behind the alias, write index first

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    # --- lookup -------------------------------------------------------------------------------

    def lookup(
        self, exact_keys: Collection[str], near_keys: Collection[str], *, max_holders: int | None = None
    ) -> list[StoredDoc]:
        """Stored articles having any of `exact_keys`, and canonical ones having any of `near_keys`;
        each with the keys among those asked for that it has. Sorted by article id."""
        exact = sorted(set(exact_keys))
        near = sorted(set(near_keys))
        asked_exact, asked_near = set(exact), set(near)
        found: dict[str, _Found] = {}
        with server_errors(self._location):
            for exact_chunk, near_chunk in _chunks(exact, near):
                for source in self._search_all(_lookup_query(exact_chunk, near_chunk)):
                    article_id = str(source["id"])
                    duplicate_of = source.get("duplicate_of") or None
                    doc = found.setdefault(
                        article_id,
                        _Found(duplicate_of, stored_signature(source.get("near_dup_signature"))),
                    )
                    doc.exact.update(asked_exact.intersection(_values(source.get("dedup_keys"))))
                    if duplicate_of is None:  # band keys only ever lead to canonical articles
                        stored_near = _values(source.get("near_dup_keys"))
                        doc.near.update(asked_near.intersection(stored_near))
                        # One stored before ladders were has every lead key instead: they give it.
                        doc.ladder = stored_ladder(source.get("near_dup_ladder"), stored_near)
            # Crowded near keys find nobody: their holders are dropped before any text is fetched.
            crowded = crowded_keys((key for doc in found.values() for key in doc.near), max_holders)
            if crowded:
                for article_id, doc in list(found.items()):
                    doc.near -= crowded
                    if not doc.exact and not doc.near:
                        del found[article_id]
            unsigned = sorted(i for i, doc in found.items() if doc.near and not doc.signature)
            for start in range(0, len(unsigned), PAGE_SIZE):
                ids = unsigned[start : start + PAGE_SIZE]
                for source in self._search_all({"terms": {"id": ids}}, ["id", "body"]):
                    found[str(source["id"])].body = str(source.get("body") or "")
        return [
            StoredDoc(
                article_id,
                doc.duplicate_of,
                frozenset(doc.exact),
                frozenset(doc.near),
                doc.body,
                doc.signature,
                doc.ladder if doc.near else b"",
            )
            for article_id, doc in sorted(found.items())
        ]

    def _search_all(
        self, query: Mapping[str, Any], fields: list[str] = _LOOKUP_SOURCE
    ) -> Iterator[dict[str, Any]]:
        """The `_source` (`fields` of it) of every hit, page after page; a missing alias has none."""
        for page in search_pages(
            self._client, self._names.articles_alias, query, PAGE_SIZE, source_includes=fields
        ):
            for hit in page:
                yield dict(hit["_source"])

    # --- lineage ------------------------------------------------------------------------------

    def add_sightings(self, update: LineageUpdate) -> bool:
        """Merge copies into a stored canonical article's lineage (idempotent: nothing is written
        when every sighting is there already); False when that article is not stored (yet).

        A write that loses to a concurrent one (409) reads again and retries, up to
        MAX_UPDATE_ATTEMPTS times with short jittered pauses; then StoreError.
        """
        rng = random.Random()
        article_id = update.canonical_id
        with server_errors(self._location):
            for attempt in range(1, MAX_UPDATE_ATTEMPTS + 1):
                stored = self._read(article_id)
                if stored is None:
                    return False
                merged = merge_sightings(stored.sightings, update.sightings)
                if len(merged) == len(stored.sightings):
                    return True
                doc = article_fields_document(Lineage.of(merged).model_dump(mode="json"))
                try:
                    update_once = functools.partial(
                        self._client.update,
                        index=stored.index,
                        id=article_id,
                        doc=doc,
                        if_seq_no=stored.seq_no,
                        if_primary_term=stored.primary_term,
                    )
                    call_with_retries(update_once, self._retry, f"lineage of article {article_id}")
                    return True
                except ConflictError:
                    if attempt < MAX_UPDATE_ATTEMPTS:
                        time.sleep(rng.uniform(0, min(_MAX_BACKOFF_S, 0.005 * 2**attempt)))
                except NotFoundError:
                    continue  # deleted since it was read (or its index was): the next read tells
        raise StoreError(
            f"cannot update the lineage of article {article_id} at {self._location}: "
            f"{MAX_UPDATE_ATTEMPTS} concurrent writes in a row got there first"
        )

    def _read(self, article_id: str) -> _Stored | None:
        """The article by id, read in real time from the indices behind the alias (write index
        first); the index list is cached and looked up again when the article is not found."""
        cached = self._indices
        if cached is not None:
            stored = self._mget(cached, article_id)
            if stored is not None:
                return stored
        fresh = alias_indices(self._client, self._names.articles_alias)
        self._indices = fresh
        return self._mget(fresh, article_id) if fresh != cached else None

    def _mget(self, indices: list[str], article_id: str) -> _Stored | None:
        if not indices:
            return None
        response = self._client.mget(
            docs=[{"_index": index, "_id": article_id} for index in indices],
            source_includes=["sources_seen"],
            realtime=True,
        )
        for doc in response["docs"]:
            if doc.get("found"):  # an index deleted meanwhile answers with an error entry instead
                source = doc.get("_source") or {}
                return _Stored(
                    index=str(doc["_index"]),
                    seq_no=int(doc["_seq_no"]),
                    primary_term=int(doc["_primary_term"]),
                    sightings=tuple(Sighting.model_validate(s) for s in _values(source.get("sources_seen"))),
                )
        return None
