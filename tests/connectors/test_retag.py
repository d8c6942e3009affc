"""What both stores share to re-tag: the per-document decision, the merge, the counts."""

from __future__ import annotations

from typing import Any

import pytest

from connectors.retag import (
    MAX_LISTED_FAILURES,
    RetagRequest,
    RetagRun,
    UnretaggableError,
    is_current,
    merged,
    retagged,
)

FIELDS = {"actor_ids": ["Q1"], "pipeline": {"registry_version": "2026.01.01"}}
STORED = {
    "id": "a1",
    "title": "T",
    "body": "B",
    "actor_ids": ["Q1"],
    "pipeline": {"run_id": "r", "registry_version": "2026.01.01"},
}


def _tag(title: str, body: str) -> dict[str, Any]:
    return FIELDS


def test_a_document_holding_every_value_is_current_whatever_else_it_holds():
    assert is_current(STORED, FIELDS)
    assert not is_current({**STORED, "actor_ids": ["Q1", "Q2"]}, FIELDS)  # lists compare whole
    assert not is_current({**STORED, "pipeline": {"run_id": "r"}}, FIELDS)
    assert not is_current({"title": "T"}, FIELDS)


def test_merge_writes_like_a_partial_update():
    doc = merged({**STORED, "actor_ids": ["Q9", "Q8"]}, {**FIELDS, "pipeline": {"registry_version": "new"}})
    assert doc["actor_ids"] == ["Q1"]
    assert doc["pipeline"] == {"run_id": "r", "registry_version": "new"}
    assert doc["body"] == "B"


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ({"body": "B"}, "the stored document has no title"),
        ({"title": " ", "body": "B"}, "the stored document has no title"),
        ({"title": "T"}, "the stored document has no body"),
        ({"title": "T", "body": None}, "the stored document has no body"),
        ({"title": "T", "body": ["B"]}, "the stored body is a list, not text"),
    ],
)
def test_a_document_without_text_cannot_be_retagged(source: dict[str, Any], reason: str):
    with pytest.raises(UnretaggableError, match=f"^{reason}$"):
        retagged(source, _tag)


def test_an_empty_body_is_tagged_from_the_title():
    assert retagged({"title": "T", "body": ""}, _tag) == FIELDS


def test_the_run_counts_current_changed_and_failed_documents():
    run = RetagRun(RetagRequest(tag=_tag), "here")
    assert run.fields_for("a1", STORED) is None
    assert run.fields_for("a2", {**STORED, "actor_ids": []}) == FIELDS
    assert run.fields_for("a3", {"title": "T"}) is None
    summary = run.summary()
    assert (summary.unchanged, summary.failed) == (1, 1)
    assert [(f.id, f.reason) for f in summary.failures] == [("a3", "the stored document has no body")]
    assert RetagRun(RetagRequest(tag=_tag, force=True), "here").fields_for("a1", STORED) == FIELDS


def test_batches_stop_at_the_limit_and_progress_hears_each():
    heard: list[int] = []
    run = RetagRun(RetagRequest(tag=_tag, limit=5, batch_size=2, progress=heard.append), "here")
    sizes = []
    while (size := run.next_batch_size()) > 0:
        sizes.append(size)
        run.batch_scanned(size)
    assert sizes == heard == [2, 2, 1]


def test_failures_past_the_listing_cap_are_counted_not_listed():
    run = RetagRun(RetagRequest(tag=_tag), "here")
    for n in range(MAX_LISTED_FAILURES + 5):
        run.fail(f"id{n}", "broken")
    summary = run.summary()
    assert (summary.failed, len(summary.failures)) == (MAX_LISTED_FAILURES + 5, MAX_LISTED_FAILURES)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"limit": 0}, "limit must be at least 1, got 0"),
        ({"batch_size": 0}, "batch_size must be between 1 and 10000, got 0"),
        ({"batch_size": 10_001}, "batch_size must be between 1 and 10000, got 10001"),
    ],
)
def test_a_request_refuses_nonsense(options: dict[str, Any], message: str):
    with pytest.raises(ValueError, match=f"^{message}$"):
        RetagRequest(tag=_tag, **options)
