"""Reading Wirewatch's Beam counters back from a running or finished pipeline."""

from __future__ import annotations

from apache_beam.metrics.metric import MetricsFilter
from apache_beam.runners.runner import PipelineResult

from connectors import counters


def counter_totals(result: PipelineResult) -> dict[str, int]:
    """Counter name → total over all steps; committed values where the runner has them."""
    # The portable runner caches its first metrics answer; drop it to read live values.
    if hasattr(result, "_metrics"):
        result._metrics = None
    totals: dict[str, int] = {}
    query = result.metrics().query(MetricsFilter().with_namespace(counters.NAMESPACE))
    for counter in query["counters"]:
        value = counter.committed if counter.committed is not None else counter.attempted
        totals[counter.key.metric.name] = totals.get(counter.key.metric.name, 0) + int(value or 0)
    return totals
