"""Re-tag the articles stored in Elasticsearch (`wirewatch retag`), without update_by_query or scripts.

The local distribution has neither scripting nor an update_by_query we want to rely on, so the
articles are paged with `search_after` (sorted on `id`, then `_index`, as connectors.es_dedup
does: after a rollover one id can live in two indices), re-tagged from their `_source` title and
body, and written back with bulk partial updates of the tag fields and the two versions alone.
Each update goes to the concrete index the hit came from and is conditioned on the version read
(`if_seq_no`/`if_primary_term`): a lineage update written meanwhile is never overwritten; the
document is read again instead and decided anew.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from elasticsearch import Elasticsearch

from connectors.es_client import DEFAULT_RETRY, PartialUpdate, RetryPolicy, bulk_update, raise_if_exhausted
from connectors.es_indices import IndexNames, article_fields_document, search_pages, server_errors
from connectors.retag import RetagRequest, RetagRun, TagDocument
from schemas.store import RetagSummary

# Rounds of "read again, update again" for documents other writers keep changing under us.
MAX_CONFLICT_ROUNDS = 20
# What deciding needs: the text to tag, and the fields to compare (the tags and the versions).
_SOURCE = [
    "title",
    "body",
    "actors",
    "topics",
    "actor_ids",
    "actor_names",
    "countries",
    "topic_ids",
    "pipeline.registry_version",
    "pipeline.taxonomy_version",
]


def _as_stored(tag: TagDocument) -> TagDocument:
    """`tag` giving the fields as this store holds them: keyword values cut like every article
    document's, so a long evidence text compares equal to what was written before."""

    def stored(title: str, body: str) -> dict[str, Any]:
        return article_fields_document(tag(title, body))

    return stored


def retag_articles(
    client: Elasticsearch,
    names: IndexNames,
    location: str,
    request: RetagRequest,
    *,
    retry: RetryPolicy = DEFAULT_RETRY,
) -> RetagSummary:
    """Re-tag the articles behind the articles alias (see connectors.store.RetagStore); a missing
    alias is an empty store. Raises StoreError when Elasticsearch is unreachable, refuses the
    credentials or stays unavailable past `retry`."""
    run = RetagRun(request, location)
    tag = _as_stored(request.tag)
    alias = names.articles_alias
    with server_errors(location):
        # An article written a moment ago (within refresh_interval) must be scanned too.
        client.indices.refresh(index=alias, ignore_unavailable=True)
        for hits in _pages(client, alias, run):
            updates = [u for u in (_plan(run, tag, hit) for hit in hits) if u is not None]
            run.batch_scanned(len(hits))
            if request.dry_run:
                run.changed += len(updates)
            elif updates:
                _write(client, location, run, tag, updates, retry)
        if run.changed and not request.dry_run:
            client.indices.refresh(index=alias, ignore_unavailable=True)
    return run.summary()


def _pages(client: Elasticsearch, alias: str, run: RetagRun) -> Iterator[list[dict[str, Any]]]:
    """Pages of hits (with `_seq_no` and `_primary_term`) until the store or `limit` runs out."""
    return search_pages(
        client,
        alias,
        {"match_all": {}},
        run.next_batch_size,
        source_includes=_SOURCE,
        seq_no_primary_term=True,
    )


def _plan(run: RetagRun, tag: TagDocument, hit: dict[str, Any]) -> PartialUpdate | None:
    """The update this hit (or document read by id) needs, or None: current, or failed (counted)."""
    doc_id = str(hit["_id"])
    fields = run.fields_for(doc_id, hit.get("_source") or {}, tag)
    if fields is None:
        return None
    return PartialUpdate(
        id=doc_id,
        index=str(hit["_index"]),
        doc=fields,
        seq_no=int(hit["_seq_no"]),
        primary_term=int(hit["_primary_term"]),
    )


def _write(
    client: Elasticsearch,
    location: str,
    run: RetagRun,
    tag: TagDocument,
    updates: list[PartialUpdate],
    retry: RetryPolicy,
) -> None:
    """Send `updates`; documents changed by another writer since they were read are read again,
    re-decided and re-sent, up to MAX_CONFLICT_ROUNDS times."""
    pending = updates
    for _round in range(MAX_CONFLICT_ROUNDS):
        outcomes = bulk_update(client, pending, retry=retry, chunk_size=len(pending))
        # Past the retry bound the store is down, not one document wrong: stop the whole run.
        raise_if_exhausted(outcomes, location)
        conflicts: list[PartialUpdate] = []
        for update, outcome in zip(pending, outcomes, strict=True):
            if outcome.status == "updated":
                run.changed += 1
            elif outcome.status == "conflict":
                conflicts.append(update)
            else:
                status = f"{outcome.http_status} " if outcome.http_status is not None else ""
                run.fail(update.id, f"Elasticsearch refused the update: {status}{outcome.reason or ''}")
        if not conflicts:
            return
        pending = _replan(client, run, tag, conflicts)
        if not pending:
            return
    for update in pending:
        run.fail(update.id, f"{MAX_CONFLICT_ROUNDS} concurrent writes in a row got there first")


def _replan(
    client: Elasticsearch, run: RetagRun, tag: TagDocument, conflicts: Sequence[PartialUpdate]
) -> list[PartialUpdate]:
    """Read the conflicting documents again (real time, from the index each was in) and decide anew."""
    response = client.mget(
        docs=[{"_index": u.index, "_id": u.id} for u in conflicts],
        source_includes=_SOURCE,
        realtime=True,
    )
    again: list[PartialUpdate] = []
    for update, doc in zip(conflicts, response["docs"], strict=True):
        if not doc.get("found"):  # deleted (or its index was) since it was read
            run.fail(update.id, "the article was deleted while being re-tagged")
            continue
        planned = _plan(run, tag, doc)
        if planned is not None:
            again.append(planned)
    return again
