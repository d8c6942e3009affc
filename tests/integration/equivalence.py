"""What two runs of the same input must agree on, whatever the runner: documents and alerts minus
the fields that only say when, and by which run, they were made."""

from __future__ import annotations

from typing import Any

# Fields that say *when* and *by which run* a document was made, not what it is; each run has its
# own, whatever the runner:
# - `ingested_at`: the run's start time (a batch stamps every article with it);
# - `pipeline.run_id`: the run's label (timestamp + random suffix);
# - `seen_at` of each `sources_seen` entry, and `first_seen` (the earliest of them): when this run
#   read the seed file or fetched the feed item.
# Everything else must match: ids, text, hashes, dedup keys, `duplicate_of` and its reason and
# similarity, the rest of the lineage, actors, topics, the flat tag fields and `alerts`.
VOLATILE_ARTICLE = ("ingested_at", "first_seen")
VOLATILE_PIPELINE = ("run_id",)
VOLATILE_SIGHTING = ("seen_at",)
# Alerts: `first_fired_at`/`updated_at` are wall-clock times of the decision and the notification
# record carries its send time (its channel and status are compared); the rest (id, rule, story,
# articles, counts, outlets) must match.
VOLATILE_ALERT = ("first_fired_at", "updated_at", "notifications")


def stable(doc: dict[str, Any]) -> dict[str, Any]:
    """`doc` without the per-run fields listed above."""
    out = {k: v for k, v in doc.items() if k not in VOLATILE_ARTICLE}
    if isinstance(out.get("pipeline"), dict):
        out["pipeline"] = {k: v for k, v in out["pipeline"].items() if k not in VOLATILE_PIPELINE}
    if isinstance(out.get("sources_seen"), list):
        out["sources_seen"] = [
            {k: v for k, v in s.items() if k not in VOLATILE_SIGHTING} for s in out["sources_seen"]
        ]
    return out


def stable_alert(alert: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in alert.items() if k not in VOLATILE_ALERT}
    out["article_ids"] = sorted(out.get("article_ids") or [])
    out["notified"] = sorted((n["channel"], n["status"]) for n in alert.get("notifications") or [])
    return out
