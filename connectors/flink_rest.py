"""Flink's REST API, read-only, for what Beam's job service does not report while a job runs.

Beam's Flink job server answers metric queries only once a job has finished; Flink itself
publishes every Beam counter as a per-subtask operator metric (`<subtask>.<operator>.<namespace>_<name>`)
on its REST API. `job_counters` sums them, so `wirewatch stream` on a cluster shows live counts.
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from typing import Any

TIMEOUT_S = 5.0


class FlinkRestError(Exception):
    """The REST API did not answer, or answered something unexpected."""


def base_url(master: str) -> str:
    master = master.strip().rstrip("/")
    return master if master.startswith(("http://", "https://")) else f"http://{master}"


def _call(master: str, path: str, method: str = "GET") -> Any:
    request = urllib.request.Request(f"{base_url(master)}{path}", method=method)
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            body = response.read()
            return json.loads(body) if body else None
    except (OSError, ValueError) as exc:  # URLError, HTTPError and timeouts are OSErrors
        raise FlinkRestError(f"Flink REST API at {base_url(master)}: {exc}") from None


def running_job_id(master: str, name: str) -> str | None:
    """The id of the running Flink job called `name` (Beam names it after its own job id)."""
    jobs = _call(master, "/jobs/overview").get("jobs", [])
    found = [job["jid"] for job in jobs if job.get("name") == name and job.get("state") == "RUNNING"]
    return found[0] if found else None


def job_counters(master: str, job_id: str, namespace: str) -> dict[str, int]:
    """Beam counters of `namespace` summed over every operator and subtask of a running job."""
    totals: dict[str, int] = {}
    suffix = f".{namespace}_"
    for vertex in _call(master, f"/jobs/{job_id}").get("vertices", []):
        path = f"/jobs/{job_id}/vertices/{vertex['id']}/metrics"
        ids = [m["id"] for m in _call(master, path) if suffix in m["id"]]
        if not ids:
            continue
        for metric in _call(master, f"{path}?get={urllib.parse.quote(','.join(ids), safe=',')}"):
            name = metric["id"].rsplit(suffix, 1)[1]
            totals[name] = totals.get(name, 0) + int(float(metric.get("value") or 0))
    return totals


def cancel_job(master: str, job_id: str) -> None:
    """Ask Flink to cancel a job (a no-op for a job that already ended)."""
    _call(master, f"/jobs/{job_id}?mode=cancel", method="PATCH")
